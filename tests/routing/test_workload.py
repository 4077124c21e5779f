"""The routing benchmark load (``escucha bench routing``)."""

from __future__ import annotations

import itertools

import pytest

from escucha.routing.engine import RoutingEngine
from escucha.routing.rules import AgentState, merge_requirements, qualifies
from escucha.routing.workload import (
    START_S,
    RoutingLoad,
    make_workload,
    run_routing_load,
)


def test_workload_is_reproducible_and_sized() -> None:
    load = RoutingLoad(agents=30, waiting=200, skills=5, decisions=50, seed=3)
    a = make_workload(load)
    assert a == make_workload(load)
    assert a != make_workload(RoutingLoad(agents=30, waiting=200, skills=5, decisions=50, seed=4))
    assert len(a.state.queues) == 5
    assert len(a.state.agents) == 30
    assert len(a.state.contacts) == 200
    assert len(a.arrivals) == 50
    assert all(agent.state is AgentState.BUSY for agent in a.state.agents)
    assert all(START_S - 3600 <= c.joined_at <= START_S for c in a.state.contacts)
    assert len({c.contact_id for c in a.state.contacts + a.arrivals}) == 250


def test_run_counts_decisions_and_keeps_the_line_full() -> None:
    load = RoutingLoad(agents=40, waiting=300, skills=4, decisions=200, seed=1)
    workload = make_workload(load)
    engine = RoutingEngine.from_state(workload.state)
    assert engine.match(START_S) == []
    ticks = itertools.count()
    result = run_routing_load(workload, engine, lambda: next(ticks) * 1e-6)
    assert result.decisions == 200
    assert engine.waiting_count == 300
    assert result.p50_ms == pytest.approx(1e-3)
    assert result.p99_ms >= result.p50_ms
    assert result.decisions_per_s > 0
    config = {q.queue_id: q for q in workload.state.queues}
    for agent in engine.agents():
        if agent.state is AgentState.AVAILABLE:
            for queue in config:
                for waiting in engine.waiting(queue):
                    reqs = merge_requirements(config[waiting.queue].skills, waiting.skills)
                    assert not qualifies(agent.skills, reqs)


def test_load_validates() -> None:
    with pytest.raises(ValueError, match=">= 1"):
        RoutingLoad(agents=0)
