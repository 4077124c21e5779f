"""The routing floor as the database holds it: queues, agents and waiting contacts, as the
pure engine's value types (read by :mod:`escucha.routing.service` and kept in step by
:mod:`escucha.routing.cache`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.contacts.models import Contact, Estimate
from escucha.org import models as org
from escucha.routing.engine import RoutingEngine
from escucha.routing.meters import WINDOW, Exit, Pair, exit_of, pair_of
from escucha.routing.models import AgentStatus
from escucha.routing.rules import (
    Agent,
    AgentState,
    ContactKind,
    EngineState,
    QueueConfig,
    WaitingContact,
)


def _ts(at: datetime) -> float:
    return at.timestamp()


def queue_configs(session: Session) -> list[QueueConfig]:
    out = []
    for q in session.scalars(select(org.Queue).order_by(org.Queue.name)):
        after = q.overflow_after_s
        overflow = q.overflow_queue if q.overflow_queue and after else None
        out.append(
            QueueConfig(
                queue_id=q.name,
                skills=q.skills,
                aging_per_s=0.0,
                overflow_after_s=float(after) if overflow and after else None,
                overflow_to=overflow,
                callback_offer_s=float(q.callback_threshold_s) if q.callback_threshold_s else None,
            )
        )
    return out


def _agent_skills(session: Session) -> dict[int, dict[str, int]]:
    return {
        p.user_id: {str(k): int(v) for k, v in p.skills.items()}
        for p in session.scalars(select(org.AgentProfile))
    }


def agent_value(a: AgentStatus, skills: Mapping[str, Any]) -> Agent:
    return Agent(
        agent_id=str(a.user_id),
        skills={str(k): int(v) for k, v in skills.items()},
        state=AgentState(a.state),
        idle_since=_ts(a.idle_since) if a.idle_since else None,
        contact_id=str(a.contact_id) if a.contact_id else None,
    )


def waiting_value(c: Contact) -> WaitingContact:
    return WaitingContact(
        contact_id=str(c.id),
        queue=c.queue or "",
        joined_at=_ts(c.joined_at or c.arrived_at),
        priority=c.priority,
        skills=c.skills,
        kind=ContactKind.CALLBACK if c.channel == "callback" else ContactKind.LIVE,
        queued_at=_ts(c.queued_at or c.arrived_at),
    )


def load_engine(session: Session) -> RoutingEngine:
    """The routing engine as the database says it is now (a full read of the floor)."""
    skills = _agent_skills(session)
    agents = tuple(
        agent_value(a, skills.get(a.user_id, {})) for a in session.scalars(select(AgentStatus))
    )
    configs = tuple(queue_configs(session))
    known = {q.queue_id for q in configs}
    waiting = tuple(
        waiting_value(c)
        for c in session.scalars(select(Contact).where(Contact.state == "queued"))
        if c.queue in known
    )
    return RoutingEngine.from_state(EngineState(configs, agents, waiting))


def exits(session: Session, queue: str, *, window: int = WINDOW) -> list[tuple[int, Exit]]:
    """The latest ``window`` callers who left the queue's line, by id (a narrow read)."""
    rows = session.execute(
        select(Contact.id, Contact.state, Contact.queued_at, Contact.answered_at, Contact.ended_at)
        .where(
            Contact.queue == queue,
            Contact.queued_at.is_not(None),
            (Contact.answered_at.is_not(None)) | (Contact.state == "abandoned"),
            Contact.state.not_in(("queued", "offered")),  # back in line: not left it
        )
        .order_by(Contact.id.desc())
        .limit(window)
    ).all()
    out = []
    for cid, state, queued, answered, ended in rows:
        sample = exit_of(state, queued, answered, ended)
        if sample is not None:
            out.append((int(cid), sample))
    return out


def pairs(session: Session, queue: str, *, window: int = WINDOW) -> list[tuple[int, Pair]]:
    """The latest ``window`` estimates of the queue whose callers reached an agent, by id."""
    rows = session.execute(
        select(Estimate.id, Estimate.estimate_s, Estimate.actual_wait_s)
        .where(
            Estimate.queue == queue,
            Estimate.outcome == "answered",
            Estimate.actual_wait_s.is_not(None),
        )
        .order_by(Estimate.id.desc())
        .limit(window)
    ).all()
    out = []
    for eid, estimate_s, actual_s in rows:
        sample = pair_of("answered", estimate_s, actual_s)
        if sample is not None:
            out.append((int(eid), sample))
    return out
