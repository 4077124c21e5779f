"""Merging duplicate cases: one case absorbs another's thread, attachments, contacts, tags and
pending promises. The absorbed case keeps its number, which keeps leading to the surviving case
(the status page follows :func:`surviving`); both cases' audit trails record the merge.

A merge never drops a promise: the absorbed case's pending promises move to the surviving case,
except where the surviving case already promises the same thing no later, in which case the
absorbed one is cancelled with the merge as its reason.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.errors import InvalidInput
from escucha.promises import service as promises
from escucha.tickets import planning, service
from escucha.tickets.models import (
    Ticket,
    TicketAttachment,
    TicketContact,
    TicketMerge,
    TicketMessage,
    TicketTag,
)

_MAX_HOPS = 50


def survivor_id(session: Session, ticket_id: int) -> int | None:
    """The case ``ticket_id`` was merged into, or ``None``."""
    return session.scalar(
        select(TicketMerge.survivor_id).where(TicketMerge.absorbed_id == ticket_id)
    )


def merged_into(session: Session, ticket_id: int) -> Ticket | None:
    """The case ``ticket_id`` was merged into (one hop), or ``None``."""
    survivor = survivor_id(session, ticket_id)
    return session.get(Ticket, survivor) if survivor is not None else None


def surviving(session: Session, ticket: Ticket) -> Ticket:
    """The case that now holds ``ticket`` (itself when it was never merged)."""
    current = ticket
    for _ in range(_MAX_HOPS):
        nxt = survivor_id(session, current.id)
        if nxt is None:
            return current
        found = session.get(Ticket, nxt)
        if found is None:
            return current
        current = found
    return current


def absorbed_numbers(session: Session, ticket_id: int) -> list[tuple[int, str]]:
    """The cases merged into ``ticket_id``: (id, number)."""
    rows = session.execute(
        select(Ticket.id, Ticket.number)
        .join(TicketMerge, TicketMerge.absorbed_id == Ticket.id)
        .where(TicketMerge.survivor_id == ticket_id)
        .order_by(TicketMerge.merged_at)
    )
    return [(int(i), str(n)) for i, n in rows]


def _move_promises(
    session: Session, survivor: Ticket, absorbed: Ticket, *, now: datetime
) -> tuple[int, int]:
    moved = cancelled = 0
    kept = {p.kind: p for p in planning.pending_promises(session, survivor.id)}
    for p in planning.pending_promises(session, absorbed.id):
        mine = kept.get(p.kind)
        if mine is not None and mine.due_at <= p.due_at:
            promises.cancel(session, p, now=now, reason=f"merged into {survivor.number}")
            cancelled += 1
        else:
            p.ticket_id = survivor.id
            p.team = str(survivor.team_id) if survivor.team_id is not None else p.team
            moved += 1
    return moved, cancelled


def merge(
    session: Session, survivor: Ticket, absorbed: Ticket, *, user: User, now: datetime
) -> TicketMerge:
    """``survivor`` absorbs ``absorbed`` (both locked by the caller)."""
    if survivor.id == absorbed.id:
        raise InvalidInput("case: a case cannot be merged into itself")
    if survivor_id(session, absorbed.id) is not None:
        raise InvalidInput(f"case: {absorbed.number} was already merged into another case")
    if survivor_id(session, survivor.id) is not None:
        raise InvalidInput(f"case: {survivor.number} was merged; merge into the case that holds it")
    messages = list(
        session.scalars(select(TicketMessage).where(TicketMessage.ticket_id == absorbed.id))
    )
    for m in messages:
        m.ticket_id = survivor.id
    for a in session.scalars(
        select(TicketAttachment).where(TicketAttachment.ticket_id == absorbed.id)
    ):
        a.ticket_id = survivor.id
    linked = set(
        session.scalars(
            select(TicketContact.contact_id).where(TicketContact.ticket_id == survivor.id)
        )
    )
    for c in session.scalars(select(TicketContact).where(TicketContact.ticket_id == absorbed.id)):
        if c.contact_id in linked:
            session.delete(c)
        else:
            c.ticket_id = survivor.id
    have = set(session.scalars(select(TicketTag.tag).where(TicketTag.ticket_id == survivor.id)))
    for t in session.scalars(select(TicketTag).where(TicketTag.ticket_id == absorbed.id)):
        if t.tag in have:
            session.delete(t)
        else:
            t.ticket_id = survivor.id
    moved, cancelled = _move_promises(session, survivor, absorbed, now=now)
    for earlier in session.scalars(
        select(TicketMerge).where(TicketMerge.survivor_id == absorbed.id)
    ):
        earlier.survivor_id = survivor.id
    if survivor.customer_id is None:
        survivor.customer_id = absorbed.customer_id
    record = TicketMerge(
        absorbed_id=absorbed.id, survivor_id=survivor.id, merged_at=now, merged_by_id=user.id
    )
    session.add(record)
    session.flush()
    text = "\n".join(p for p in (absorbed.subject, absorbed.description) if p)
    service.add_message(
        session,
        survivor,
        now=now,
        direction="note",
        visibility="internal",
        author_kind="agent",
        author=user,
        channel="note",
        subject=absorbed.number,
        body=text or absorbed.number,
    )
    service.system_event(session, survivor, "merged_from", now=now, detail=absorbed.number)
    service.system_event(session, absorbed, "merged_into", now=now, detail=survivor.number)
    absorbed.updated_at = survivor.updated_at = now
    facts = {
        "survivor": survivor.number,
        "absorbed": absorbed.number,
        "messages": len(messages),
        "promises_moved": moved,
        "promises_cancelled": cancelled,
    }
    for subject, action in ((survivor, "ticket.merged_from"), (absorbed, "ticket.merged_into")):
        service.audit_case(session, subject, action, now=now, actor=service.actor_of(user), **facts)
    session.flush()
    return record
