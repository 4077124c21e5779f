"""The database path of ``escucha bench routing --db`` makes real, persisted assignments."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha.config import Settings
from escucha.contacts.models import Contact
from escucha.errors import Conflict
from escucha.routing.benchdb import DbRouter, _dt, run_bursts
from escucha.routing.engine import RoutingEngine
from escucha.routing.models import AgentStatus, RoutingDecision
from escucha.routing.workload import START_S, RoutingLoad, make_workload, run_routing_load
from tests.factories import demo


def test_the_bench_load_runs_through_the_database(settings: Settings, session: Session) -> None:
    workload = make_workload(RoutingLoad(agents=5, waiting=20, skills=2, decisions=10, seed=3))
    router = DbRouter(settings, workload)
    result = run_routing_load(workload, router, time.perf_counter)
    assert result.decisions == 10
    assert session.scalar(select(func.count()).select_from(RoutingDecision)) >= 10
    router.close()


def test_callers_who_join_during_the_load_are_routed(settings: Settings, session: Session) -> None:
    # Two callers waiting at the start: the other eight decisions need the arrivals.
    workload = make_workload(RoutingLoad(agents=3, waiting=2, skills=1, decisions=10, seed=6))
    engine = RoutingEngine.from_state(workload.state)
    engine.match(START_S)
    in_memory = run_routing_load(workload, engine, time.perf_counter)
    router = DbRouter(settings, workload)
    result = run_routing_load(workload, router, time.perf_counter)
    router.close()
    assert result.decisions == in_memory.decisions == 10
    arrived = session.scalar(
        select(func.count())
        .select_from(RoutingDecision)
        .join(Contact, Contact.id == RoutingDecision.contact_id)
        .where(Contact.joined_at > _dt(START_S))
    )
    assert arrived == 8


def test_bursts_assign_in_one_pass_each(settings: Settings, session: Session) -> None:
    workload = make_workload(RoutingLoad(agents=12, waiting=40, skills=2, decisions=24, seed=2))
    router = DbRouter(settings, workload)
    result = run_bursts(workload, router, time.perf_counter, 6)
    router.close()
    assert result.decisions >= 24
    rows = session.execute(select(RoutingDecision.contact_id, RoutingDecision.agent_id)).all()
    assert len(rows) == result.decisions
    assert len({c for c, _ in rows}) == len(rows)  # no contact given twice
    # Every agent holds at most one contact, and it is the last one given to it.
    held = session.execute(
        select(AgentStatus.user_id, AgentStatus.contact_id).where(
            AgentStatus.contact_id.is_not(None)
        )
    ).all()
    assert len({c for _, c in held}) == len(held)
    offered = session.scalars(select(Contact.id).where(Contact.state == "offered")).all()
    assert sorted(offered) == sorted(c for _, c in held)


def test_it_refuses_a_live_database(settings: Settings, session: Session) -> None:
    demo(session)
    session.commit()
    workload = make_workload(RoutingLoad(agents=2, waiting=2, skills=1, decisions=1))
    with pytest.raises(Conflict, match="scratch"):
        DbRouter(settings, workload)
