"""The customer's status page: a case found by its number and code (compared in constant time,
the same answer whether the number or the code is wrong), and what the customer sees of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.tickets import rules as trules
from escucha.tickets.models import Ticket
from escucha.tickets.planning import next_promise, org_context, promises_of
from escucha.tickets.rules import TicketKind, TicketStatus
from escucha.tickets.service import customer_of, safe_text, thread

_DUMMY_CODE = "QQQQQQQQ"


def find_for_customer(session: Session, number: str, code: str) -> Ticket | None:
    """The ticket when number and code match; ``None`` otherwise, the same for both cases.

    The code is compared in constant time even when the number does not exist.
    """
    ticket: Ticket | None = None
    try:
        parsed = trules.parse_ticket_number(safe_text(number)[:64])
    except (trules.InvalidTicketNumberError, ValueError):
        parsed = None
    if parsed is not None:
        ticket = session.scalar(select(Ticket).where(Ticket.number == str(parsed)))
    expected = ticket.verification_code if ticket is not None else _DUMMY_CODE
    matches = trules.verification_code_matches(expected, safe_text(code)[:32])
    return ticket if ticket is not None and matches else None


@dataclass(frozen=True)
class HistoryItem:
    at: datetime
    who: str  # customer, agent, system
    code: str  # message, registered, resolved, promise_changed, status:<x>, ...
    body: str


@dataclass(frozen=True)
class StatusView:
    """What the customer sees: no internal note, no agent name, no other customer's data."""

    number: str
    kind: str
    status: str
    created_at: datetime
    history: list[HistoryItem]
    next_kind: str | None
    next_due: datetime | None
    promises: list[tuple[str, datetime, str]]
    description_missing: bool
    can_appeal: bool
    resolution: str | None
    timezone: str
    language: str


def customer_view(session: Session, ticket: Ticket) -> StatusView:
    ctx = org_context(session)
    customer = customer_of(session, ticket)
    items: list[HistoryItem] = []
    for m in thread(session, ticket.id, customer_only=True):
        if m.author_kind == "system" and m.channel == "system":
            items.append(HistoryItem(m.created_at, "system", m.subject, m.body))
        elif m.author_kind == "system":
            continue  # the acknowledgment itself: its content is the status page
        else:
            who = "customer" if m.direction == "in" else "agent"
            items.append(HistoryItem(m.created_at, who, "message", m.body))
    listed = [
        (p.kind, p.due_at, p.state)
        for p in promises_of(session, ticket.id)
        if p.kind != "acknowledgment" and p.state != "cancelled"
    ]
    nxt = next_promise(session, ticket.id)
    return StatusView(
        number=ticket.number,
        kind=ticket.kind,
        status=ticket.status,
        created_at=ticket.created_at,
        history=items,
        next_kind=nxt.kind if nxt is not None else None,
        next_due=nxt.due_at if nxt is not None else None,
        promises=listed,
        description_missing=ticket.description_missing,
        can_appeal=ticket.kind == TicketKind.COMPLAINT
        and ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED),
        resolution=ticket.resolution,
        timezone=customer.timezone if customer is not None else ctx.timezone,
        language=ticket.language,
    )
