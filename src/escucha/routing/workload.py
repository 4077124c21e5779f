"""A reproducible routing load for ``escucha bench routing`` (in memory or through a database).

The load: ``skills`` queues (queue ``q<i>`` needs skill ``s<i>``), ``agents`` agents with one to
four skills at levels 1-5, and ``waiting`` contacts in line, each asking its queue's skill at
level 1-3, one in five also a second skill (a language, say), one in ten with priority 1,
joined over the last hour. Every queue ages priority at 0.01 per second. All agents start busy.

One step: a busy agent goes to wrap-up, then becomes available and the router matches
(timed: this is a *decision* when it yields an assignment); after a decision a new contact
arrives (timed too, and a decision if it finds an agent), so the line stays at ``waiting``.

:func:`run_routing_load` drives any router with the same three methods as
:class:`~escucha.routing.engine.RoutingEngine`; the database-backed router runs the identical
load. The timer is passed in (``time.perf_counter``), so this module reads no clock itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from escucha.routing.rules import (
    Agent,
    AgentState,
    Assignment,
    EngineState,
    QueueConfig,
    WaitingContact,
)

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = [
    "RouterLike",
    "RoutingBenchResult",
    "RoutingLoad",
    "RoutingWorkload",
    "make_workload",
    "run_routing_load",
]

START_S = 1_700_000_000.0
"""Virtual start of the load (POSIX seconds)."""

STEP_S = 0.01
"""Virtual time between steps."""


class RouterLike(Protocol):
    """What the load needs from a router."""

    def set_agent_state(self, agent_id: str, state: AgentState, now: float) -> None: ...

    def add_contact(self, contact: WaitingContact) -> None: ...

    def match(self, now: float) -> list[Assignment]: ...


@dataclass(frozen=True, slots=True)
class RoutingLoad:
    """Size of the load."""

    agents: int = 1000
    waiting: int = 10_000
    skills: int = 20
    decisions: int = 20_000
    seed: int = 7

    def __post_init__(self) -> None:
        if self.agents < 1 or self.skills < 1 or self.decisions < 1:
            raise ValueError("agents, skills and decisions must be >= 1")
        if self.waiting < 1:
            raise ValueError("waiting must be >= 1")


@dataclass(frozen=True, slots=True)
class RoutingWorkload:
    """The generated load: the starting state, the arrivals to come, the agents to free."""

    load: RoutingLoad
    state: EngineState
    arrivals: tuple[WaitingContact, ...]
    picks: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RoutingBenchResult:
    """Throughput and latency of routing decisions."""

    decisions: int
    engine_s: float
    decisions_per_s: float
    p50_ms: float
    p99_ms: float


def _contact(
    rng: np.random.Generator, load: RoutingLoad, number: int, joined_at: float
) -> WaitingContact:
    queue = int(rng.integers(load.skills))
    skills = {f"s{queue}": int(rng.integers(1, 4))}
    if load.skills > 1 and rng.random() < 0.2:
        other = int(rng.integers(load.skills - 1))
        other += other >= queue
        skills[f"s{other}"] = 1
    return WaitingContact(
        contact_id=f"c{number:07d}",
        queue=f"q{queue}",
        joined_at=joined_at,
        priority=int(rng.random() < 0.1),
        skills=skills,
    )


def make_workload(load: RoutingLoad) -> RoutingWorkload:
    """Generate the load from its seed."""
    rng = np.random.default_rng(load.seed)
    queues = tuple(QueueConfig(f"q{i}", {f"s{i}": 1}, aging_per_s=0.01) for i in range(load.skills))
    agents = []
    for number in range(load.agents):
        count = int(rng.integers(1, min(4, load.skills) + 1))
        chosen = rng.choice(load.skills, size=count, replace=False)
        skills = {f"s{int(s)}": int(rng.integers(1, 6)) for s in chosen}
        agents.append(Agent(f"a{number:05d}", skills, AgentState.BUSY))
    contacts = tuple(
        _contact(rng, load, number, START_S - float(rng.random()) * 3600.0)
        for number in range(load.waiting)
    )
    arrivals = tuple(
        _contact(rng, load, load.waiting + number, START_S) for number in range(load.decisions)
    )
    picks = tuple(int(x) for x in rng.integers(0, 2**31, size=2 * load.decisions))
    return RoutingWorkload(load, EngineState(queues, tuple(agents), contacts), arrivals, picks)


def run_routing_load(
    workload: RoutingWorkload, router: RouterLike, timer: Callable[[], float]
) -> RoutingBenchResult:
    """Drive ``router`` (already loaded with ``workload.state``) through the steps.

    ``decisions_per_s`` is assignments divided by the time spent in all router calls
    (wrap-ups and arrivals included); the percentiles are of the calls that produced an
    assignment (state change plus ``match``).
    """
    now = START_S
    busy = [agent.agent_id for agent in workload.state.agents]
    latencies: list[float] = []
    engine_s = 0.0
    decisions = 0
    arrivals = iter(workload.arrivals)
    target = workload.load.decisions
    for pick in workload.picks:
        if decisions >= target or not busy:
            break
        now += STEP_S
        slot = pick % len(busy)
        agent_id = busy[slot]
        busy[slot] = busy[-1]
        busy.pop()
        start = timer()
        router.set_agent_state(agent_id, AgentState.WRAP_UP, now)
        middle = timer()
        router.set_agent_state(agent_id, AgentState.AVAILABLE, now)
        out = router.match(now)
        end = timer()
        engine_s += end - start
        if not out:
            continue
        latencies.append(end - middle)
        decisions += len(out)
        busy.extend(a.agent_id for a in out)
        contact = next(arrivals, None)
        if contact is None:
            break
        contact = replace(contact, joined_at=now, queued_at=now)
        start = timer()
        router.add_contact(contact)
        out = router.match(now)
        end = timer()
        engine_s += end - start
        if out:
            latencies.append(end - start)
            decisions += len(out)
            busy.extend(a.agent_id for a in out)
    if not latencies:
        return RoutingBenchResult(decisions, engine_s, 0.0, 0.0, 0.0)
    ms = np.asarray(latencies) * 1000.0
    return RoutingBenchResult(
        decisions=decisions,
        engine_s=engine_s,
        decisions_per_s=decisions / engine_s if engine_s > 0 else float("inf"),
        p50_ms=float(np.percentile(ms, 50)),
        p99_ms=float(np.percentile(ms, 99)),
    )
