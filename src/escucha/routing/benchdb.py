"""``escucha bench routing --db``: the benchmark load through the production routing path.

Every step goes through :mod:`escucha.routing.service` in its own transaction, as requests do:
an agent wraps up and becomes available (a routing pass that persists its assignments with
compare-and-set updates), a new caller joins. Run it against an empty scratch database; it
refuses a database that already has an organisation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from itertools import islice

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from escucha.auth.models import User
from escucha.config import Settings
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact, Estimate
from escucha.db import migrate
from escucha.db.engine import make_engine, make_sessionmaker
from escucha.db.session import transaction
from escucha.errors import Conflict
from escucha.org import models as org
from escucha.routing import cache, service
from escucha.routing.models import AgentStatus, RoutingDecision
from escucha.routing.rules import (
    AgentPolicy,
    AgentState,
    Assignment,
    ContactKind,
    MatchReason,
    WaitingContact,
)
from escucha.routing.workload import START_S, STEP_S, RoutingBenchResult, RoutingWorkload


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class DbRouter:
    """A :class:`~escucha.routing.workload.RouterLike` on the database."""

    def __init__(self, settings: Settings, workload: RoutingWorkload) -> None:
        self.db = make_engine(settings)
        migrate.upgrade(self.db)
        self.factory: sessionmaker[Session] = make_sessionmaker(self.db)
        self.agents: dict[str, int] = {}
        self.names: dict[int, str] = {}
        self.contact_ids: dict[int, str] = {}
        self.pending: list[Assignment] = []
        self.last_decision = 0
        try:
            with transaction(self.factory) as s:
                if s.scalar(select(func.count()).select_from(org.Organisation)):
                    raise Conflict("bench --db needs an empty scratch database, not a live one")
                self._load(s, workload)
        except BaseException:
            self.db.dispose()
            raise

    def close(self) -> None:
        self.db.dispose()

    def _load(self, s: Session, workload: RoutingWorkload) -> None:
        now = _dt(workload.state.contacts[0].joined_at)
        s.add(
            org.Organisation(
                name="bench",
                country="ES",
                timezone="Europe/Madrid",
                language="es",
                regulatory_profile="generic",
                ivr={},
            )
        )
        cal = org.Calendar(name="bench", timezone="Europe/Madrid", hours={}, closures=[])
        s.add(cal)
        s.flush()
        team = org.Team(name="bench", display_name="bench", calendar_id=cal.id)
        s.add(team)
        s.flush()
        for q in workload.state.queues:
            s.add(
                org.Queue(
                    name=q.queue_id,
                    display_name={},
                    team_id=team.id,
                    calendar_id=cal.id,
                    skills=dict(q.skills),
                    callback_threshold_s=0,
                )
            )
        s.execute(
            insert(User),
            [
                {
                    "username": a.agent_id,
                    "display_name": a.agent_id,
                    "role": "agent",
                    "language": "es",
                    "active": True,
                    "session_epoch": 0,
                    "created_at": now,
                }
                for a in workload.state.agents
            ],
        )
        ids: dict[str, int] = {row[0]: row[1] for row in s.execute(select(User.username, User.id))}
        self.agents = {a.agent_id: ids[a.agent_id] for a in workload.state.agents}
        self.names = {uid: name for name, uid in self.agents.items()}
        s.execute(
            insert(org.AgentProfile),
            [
                {"user_id": self.agents[a.agent_id], "skills": dict(a.skills), "languages": ["es"]}
                for a in workload.state.agents
            ],
        )
        service.seed_agents(
            s,
            [self.agents[a.agent_id] for a in workload.state.agents],
            state=AgentState.BUSY,
            now=now,
        )
        contacts.seed_queued(s, [self._row(c) for c in workload.state.contacts], orm=False)
        s.flush()

    @staticmethod
    def _row(c: WaitingContact) -> dict[str, object]:
        at = _dt(c.joined_at)
        return {
            "channel": "voice",
            "queue": c.queue,
            "language": "es",
            "provider": "bench",
            "ivr_path": [],
            "priority": c.priority,
            "skills": dict(c.skills),
            "arrived_at": at,
            "queued_at": at,
            "joined_at": at,
        }

    def _collect(self, s: Session) -> None:
        for d in s.scalars(
            select(RoutingDecision)
            .where(RoutingDecision.id > self.last_decision)
            .order_by(RoutingDecision.id)
        ):
            self.last_decision = d.id
            self.pending.append(
                Assignment(
                    contact_id=str(d.contact_id),
                    agent_id=self._agent_name(d.agent_id),
                    queue=d.queue,
                    decided_at=d.decided_at.timestamp(),
                    reason=MatchReason(d.reason),
                    kind=ContactKind(d.kind),
                    waited_s=d.waited_s,
                )
            )

    def _agent_name(self, user_id: int) -> str:
        return self.names.get(user_id, str(user_id))

    def set_agent_state(self, agent_id: str, state: AgentState, now: float) -> None:
        uid, at = self.agents[agent_id], _dt(now)
        with transaction(self.factory) as s:
            status = s.get(AgentStatus, uid)
            contact_id = status.contact_id if status is not None else None
            if state is AgentState.WRAP_UP and contact_id is not None:
                service.answer(s, uid, contact_id, now=at)
                service.end_call(s, uid, contact_id, now=at, ended_by="agent")
            elif state is AgentState.AVAILABLE and contact_id is not None:
                service.wrap_up(
                    s, uid, contact_id, now=at, outcome="bench", resolved=True, recap=""
                )
            else:
                service.set_agent_state(s, uid, state.value, now=at)
            self._collect(s)

    def add_contact(self, contact: WaitingContact) -> None:
        with transaction(self.factory) as s:
            contacts.seed_queued(s, [self._row(contact)])
            service.dispatch(s, now=_dt(contact.joined_at))
            self._collect(s)

    def burst(
        self,
        agent_ids: list[str],
        arrivals: list[WaitingContact],
        now: float,
        timer: Callable[[], float],
    ) -> tuple[list[Assignment], float]:
        """``agent_ids`` finish their calls, become available and ``arrivals`` join; then one
        routing pass assigns whatever it can.

        The floor's changes go through the service as requests make them (each wrap-up its own
        transaction, into a break; then one transaction in which the agents become available
        and the callers join, as requests committed while a pass runs): not timed. Timed: the
        routing pass that finds them, as a pass after a burst (the floor opening, a router
        taking over), with its assignments written before anything acts on them.
        """
        at = _dt(now)
        uids = [self.agents[a] for a in agent_ids]
        for uid in uids:
            with transaction(self.factory) as s:
                status = s.get(AgentStatus, uid)
                cid = status.contact_id if status is not None else None
                if cid is not None:
                    service.answer(s, uid, cid, now=at)
                    service.wrap_up(
                        s,
                        uid,
                        cid,
                        now=at,
                        outcome="bench",
                        resolved=True,
                        recap="",
                        next_state="break",
                    )
                else:
                    service.set_agent_state(s, uid, AgentState.WRAP_UP.value, now=at)
                    service.set_agent_state(s, uid, AgentState.BREAK.value, now=at)
        with transaction(self.factory) as s:
            service.make_available(s, uids, now=at)
            contacts.seed_queued(s, [self._row(c) for c in arrivals])
        start = timer()
        with transaction(self.factory) as s:
            service.dispatch(s, now=at)
        elapsed = timer() - start
        with transaction(self.factory) as s:
            self._collect(s)
        return self.match(now), elapsed

    def match(self, now: float) -> list[Assignment]:
        out, self.pending = self.pending, []
        return out


def run_bursts(
    workload: RoutingWorkload, router: DbRouter, timer: Callable[[], float], size: int
) -> RoutingBenchResult:
    """Drive ``router`` in bursts of ``size`` agents freed at once (see :meth:`DbRouter.burst`).

    ``decisions_per_s`` is assignments divided by the time of the routing passes (each its own
    transaction, committed); the percentiles are of those passes, not of single decisions.
    """
    now = START_S
    busy = [agent.agent_id for agent in workload.state.agents]
    arrivals = iter(workload.arrivals)
    picks = iter(workload.picks)
    spent: list[float] = []
    decisions = 0
    while decisions < workload.load.decisions and busy:
        now += STEP_S
        freed = []
        for pick in picks:
            slot = pick % len(busy)
            freed.append(busy[slot])
            busy[slot] = busy[-1]
            busy.pop()
            if len(freed) == size or not busy:
                break
        if not freed:
            break
        joining = [replace(c, joined_at=now, queued_at=now) for c in islice(arrivals, len(freed))]
        out, elapsed = router.burst(freed, joining, now, timer)
        spent.append(elapsed)
        decisions += len(out)
        busy.extend(a.agent_id for a in out)
    total = sum(spent)
    ms = np.asarray(spent or [0.0]) * 1000.0
    return RoutingBenchResult(
        decisions=decisions,
        engine_s=total,
        decisions_per_s=decisions / total if total > 0 else 0.0,
        p50_ms=float(np.percentile(ms, 50)),
        p99_ms=float(np.percentile(ms, 99)),
    )


def make_db_router(settings: Settings) -> object:
    """The factory ``escucha bench routing --db`` uses (policy: longest idle, as production)."""

    def factory(workload: RoutingWorkload, policy: AgentPolicy) -> DbRouter:
        return DbRouter(settings, workload)

    return factory


def seed_floor(
    session: Session,
    *,
    queue: str,
    agents: int,
    waiting: int,
    history: int,
    now: datetime,
    seed: int = 0,
) -> list[int]:
    """A floor written at once for the wait estimate's benchmark and tests: ``agents`` agents
    (busy, in wrap-up, on a break or offline; some without the queue's skill, so nobody is
    free to take a caller), ``waiting`` callers in the line of ``queue``, and ``history``
    callers who left it (served or hung up) with their estimates settled. The queue must
    exist. Returns the waiting contacts' ids, by id."""
    rng = np.random.default_rng(seed)
    skills = dict(session.scalars(select(org.Queue.skills).where(org.Queue.name == queue)).one())
    start = now.timestamp() - 3600.0
    first = int(session.scalar(select(func.coalesce(func.max(User.id), 0))) or 0) + 1
    names = [f"floor{seed}-{first + n}" for n in range(agents)]
    if names:
        session.execute(
            insert(User),
            [
                {
                    "username": name,
                    "display_name": name,
                    "role": "agent",
                    "language": "es",
                    "active": True,
                    "session_epoch": 0,
                    "created_at": now,
                }
                for name in names
            ],
        )
        ids = list(session.scalars(select(User.id).where(User.username.in_(names))))
        session.execute(
            insert(org.AgentProfile),
            [
                {
                    "user_id": uid,
                    "skills": {k: int(rng.integers(1, 4)) for k in skills}
                    if rng.random() < 0.8
                    else {"other": 1},
                    "languages": ["es"],
                }
                for uid in ids
            ],
        )
        states = ("busy", "wrap_up", "break", "offline")
        service.seed_agent_states(
            session, {uid: states[int(rng.integers(4))] for uid in ids}, now=now
        )
    left: list[dict[str, object]] = []
    gone: list[bool] = []
    for n in range(history):
        queued = start + n
        wait = float(rng.exponential(40.0))
        row: dict[str, object] = {
            "channel": "voice",
            "queue": queue,
            "language": "es",
            "provider": "bench",
            "ivr_path": [],
            "skills": {},
            "arrived_at": _dt(queued),
            "queued_at": _dt(queued),
            "joined_at": _dt(queued),
        }
        served = rng.random() < 0.8
        if served:
            row |= {
                "answered_at": _dt(queued + wait),
                "ended_at": _dt(queued + wait + float(rng.exponential(200.0))),
            }
        else:
            row |= {"ended_at": _dt(queued + wait)}
        left.append(row)
        gone.append(not served)
    if left:
        contacts.seed_over(session, left, gone)
        answered = session.execute(
            select(Contact.id, Contact.queued_at, Contact.answered_at).where(
                Contact.queue == queue, Contact.answered_at.is_not(None)
            )
        ).all()
        session.execute(
            insert(Estimate),
            [
                {
                    "contact_id": cid,
                    "queue": queue,
                    "given_at": queued,
                    "position": 1,
                    "estimate_s": float(rng.exponential(40.0)),
                    "bound_s": 60.0,
                    "predictor": "bench",
                    "actual_wait_s": (answered_at - queued).total_seconds()
                    if answered_at and queued
                    else None,
                    "outcome": "answered",
                }
                for cid, queued, answered_at in answered
            ],
        )
    rows = [
        {
            "channel": "voice",
            "queue": queue,
            "language": "es",
            "provider": "bench",
            "ivr_path": [],
            "priority": int(rng.choice([0, 0, 0, 5])),
            "skills": {},
            "arrived_at": _dt(start + history + n * 0.1),
            "queued_at": _dt(start + history + n * 0.1),
            "joined_at": _dt(start + history + n * 0.1),
        }
        for n in range(waiting)
    ]
    if rows:
        contacts.seed_queued(session, rows, orm=False)
    session.flush()
    cache.invalidate(session)  # written behind the hooks' back: this process reads it again
    return list(
        session.scalars(
            select(Contact.id)
            .where(Contact.queue == queue, Contact.state == "queued")
            .order_by(Contact.id)
        )
    )
