"""A case's activity feed: every event of its life in time order, built from the records that
already exist (the thread, the promises and the audit trail), nothing stored twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.audit.models import AuditEvent
from escucha.auth.models import User
from escucha.tickets import planning, service
from escucha.tickets.models import Ticket

#: Audit actions already shown by a line of the thread.
_IN_THREAD = frozenset(
    {
        "ticket.replied",
        "ticket.noted",
        "ticket.customer_wrote",
        "ticket.status",
        "ticket.reassigned",
        "promise.rescheduled",
        "ticket.merged_from",
        "ticket.merged_into",
        "ticket.created",
        "ticket.resolved",
        "ticket.kind_changed",
        "ticket.appealed",
        "ticket.deemed_accepted",
    }
)


@dataclass(frozen=True)
class FeedItem:
    at: datetime
    kind: str  # message, event, promise, audit
    code: str  # in/out/note; the event code; promise state; the audit action
    who: str = ""
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def _people(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    return {int(i): str(n) for i, n in rows}


def _actor(actor: str, names: dict[int, str]) -> str:
    """``user:3:ana`` -> the person's name; ``customer``, ``system`` as they are."""
    parts = actor.split(":")
    if parts[0] == "user" and len(parts) > 1 and parts[1].isdigit():
        return names.get(int(parts[1]), parts[-1])
    return actor


def feed(session: Session, ticket: Ticket) -> list[FeedItem]:
    """The case's events, oldest first."""
    items: list[FeedItem] = []
    messages = service.thread(session, ticket.id)
    events = list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_kind == "ticket", AuditEvent.subject_id == ticket.id)
            .order_by(AuditEvent.seq)
        )
    )
    ids = {m.author_id for m in messages if m.author_id is not None}
    for e in events:
        parts = e.actor.split(":")
        if parts[0] == "user" and len(parts) > 1 and parts[1].isdigit():
            ids.add(int(parts[1]))
    names = _people(session, ids)
    for m in messages:
        if m.author_kind == "system" and m.channel == "system":
            items.append(FeedItem(m.created_at, "event", m.subject, "escucha", m.body))
        elif m.author_kind == "system":
            items.append(FeedItem(m.created_at, "event", "acknowledged", "escucha", ""))
        else:
            who = names.get(m.author_id or 0, "") if m.author_kind == "agent" else ""
            items.append(
                FeedItem(m.created_at, "message", m.direction, who, m.body, {"channel": m.channel})
            )
    for p in planning.promises_of(session, ticket.id):
        items.append(
            FeedItem(p.created_at, "promise", "made", "", "", {"promise": p.kind, "due": p.due_at})
        )
        if p.settled_at is not None and p.state in ("kept", "broken"):
            items.append(FeedItem(p.settled_at, "promise", p.state, "", "", {"promise": p.kind}))
    for e in events:
        if e.action in _IN_THREAD:
            continue
        items.append(FeedItem(e.at, "audit", e.action, _actor(e.actor, names), "", dict(e.data)))
    order = {"message": 0, "event": 1, "promise": 2, "audit": 3}
    return sorted(items, key=lambda i: (i.at, order[i.kind]))
