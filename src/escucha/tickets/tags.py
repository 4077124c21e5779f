"""Tags and priority: how agents label and sort cases (short words and low-to-urgent), audited."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.errors import InvalidInput
from escucha.tickets import service
from escucha.tickets.models import Ticket, TicketTag

MAX_TAG = 40
MAX_TAGS = 20
_TAG = re.compile(r"^[\w][\w\-]*$")


def normalise(raw: str) -> str:
    """``" Facturación  Duplicada "`` -> ``facturación-duplicada``; refused when not a word."""
    tag = "-".join(service.safe_text(raw).casefold().split())
    if not tag:
        raise InvalidInput("tag: write a word (letters, digits, - or _)")
    if len(tag) > MAX_TAG:
        raise InvalidInput(f"tag: at most {MAX_TAG} characters")
    if not _TAG.match(tag):
        raise InvalidInput(f"tag: {tag!r} may hold only letters, digits, - and _")
    return tag


def tags_of(session: Session, ticket_ids: Iterable[int]) -> dict[int, list[str]]:
    ids = set(ticket_ids)
    found: dict[int, list[str]] = defaultdict(list)
    if ids:
        rows = session.execute(
            select(TicketTag.ticket_id, TicketTag.tag)
            .where(TicketTag.ticket_id.in_(ids))
            .order_by(TicketTag.tag)
        )
        for tid, tag in rows:
            found[int(tid)].append(str(tag))
    return dict(found)


def all_tags(session: Session) -> list[tuple[str, int]]:
    """Every tag in use with how many cases carry it, most used first."""
    count = func.count(TicketTag.id)
    rows = session.execute(
        select(TicketTag.tag, count).group_by(TicketTag.tag).order_by(count.desc(), TicketTag.tag)
    )
    return [(str(t), int(n)) for t, n in rows]


def add(session: Session, ticket: Ticket, raw: str, *, user: User | None, now: datetime) -> str:
    tag = normalise(raw)
    have = tags_of(session, [ticket.id]).get(ticket.id, [])
    if tag in have:
        return tag
    if len(have) >= MAX_TAGS:
        raise InvalidInput(f"tag: a case carries at most {MAX_TAGS} tags")
    session.add(
        TicketTag(ticket_id=ticket.id, tag=tag, added_at=now, added_by_id=user.id if user else None)
    )
    ticket.updated_at = now
    _audit(session, ticket, "ticket.tagged", tag, user=user, now=now)
    session.flush()
    return tag


def remove(session: Session, ticket: Ticket, tag: str, *, user: User | None, now: datetime) -> None:
    gone = session.execute(
        delete(TicketTag).where(TicketTag.ticket_id == ticket.id, TicketTag.tag == tag)
    )
    if getattr(gone, "rowcount", 0):
        ticket.updated_at = now
        _audit(session, ticket, "ticket.untagged", tag, user=user, now=now)


def _audit(
    session: Session, ticket: Ticket, action: str, tag: str, *, user: User | None, now: datetime
) -> None:
    service.audit_case(session, ticket, action, now=now, actor=service.actor_of(user), tag=tag)


PRIORITIES = ("low", "normal", "high", "urgent")


def set_priority(
    session: Session, ticket: Ticket, priority: str, *, user: User | None, now: datetime
) -> None:
    if priority not in PRIORITIES:
        raise InvalidInput(f"priority: one of {', '.join(PRIORITIES)}")
    if priority == ticket.priority:
        return
    old, ticket.priority, ticket.updated_at = ticket.priority, priority, now
    actor = service.actor_of(user)
    service.audit_case(
        session, ticket, "ticket.priority", now=now, actor=actor, old=old, new=priority
    )
