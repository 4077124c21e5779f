"""A case's record (P1-P6): its text, its thread and audit trail, and reading it.

What every other module of the tickets domain writes and reads through: a line in the thread
(:func:`add_message`, :func:`system_event`), a line of the audit trail, a message to the
customer noted in the thread, the description shown on the case and kept whole beside it when
it is longer than :data:`MAX_DESCRIPTION` (ADR 27), one case by id or number with its thread,
attachments, contacts and messages sent, and the inbox ordered by the next promise due.

Opening a case is :mod:`escucha.tickets.opening`; planning its promises
:mod:`escucha.tickets.planning`; estimating a written reply :mod:`escucha.tickets.estimates`;
working it :mod:`escucha.tickets.handling`; the promise jobs :mod:`escucha.tickets.breaches`;
the customer's status page :mod:`escucha.tickets.status_page`; the supervisor's view and the
complaints register :mod:`escucha.tickets.reporting`.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.orm import Session

from escucha.audit import service as audit
from escucha.auth.models import User
from escucha.contacts.models import Contact, Customer
from escucha.errors import EscuchaError, InvalidInput, NotFound
from escucha.notifications import service as notifications
from escucha.notifications.models import Notification
from escucha.org import models as org
from escucha.org.reach import Reach
from escucha.promises.models import Promise
from escucha.tickets import rules as trules
from escucha.tickets.models import (
    Ticket,
    TicketAttachment,
    TicketContact,
    TicketMerge,
    TicketMessage,
)

MAX_DESCRIPTION = 5000
"""Characters of description a case shows (after cleaning); longer text is kept whole as an
attached file, :data:`FULL_TEXT_FILE`."""
FULL_TEXT_FILE = "description.txt"
_CUT_NOTE = "\n[…]"
MAX_SUBJECT = 300
MAX_NAME = 200
OPEN_STATUSES: tuple[str, ...] = ("new", "open", "waiting_customer", "reopened", "appealed")
WRITTEN_CHANNELS: tuple[str, ...] = ("email", "web")
AT_RISK_WITHIN = timedelta(hours=1)


# --- small helpers --------------------------------------------------------------------------------


def safe_text(text: str | None) -> str:
    """``text`` with lone surrogates replaced, so any Unicode can be stored and encoded."""
    if not text:
        return ""
    return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


def one_line(text: str | None, max_len: int) -> str:
    """Cleaned single-line text cut at ``max_len`` characters."""
    return " ".join(trules.clean_text(safe_text(text)).split())[:max_len]


def actor_of(user: User | None, fallback: str = "system") -> str:
    return f"user:{user.id}:{user.username}" if user is not None else fallback


def status_url(base_url: str, number: str) -> str:
    return f"{base_url.rstrip('/')}/status?number={number}"


def aware_utc(value: datetime, name: str) -> datetime:
    """``value`` in UTC; a clear error naming ``name`` when it has no time zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{name}: give a time with its time zone")
    return value.astimezone(UTC)


# --- thread ---------------------------------------------------------------------------------------


def add_message(
    session: Session,
    ticket: Ticket,
    *,
    now: datetime,
    direction: str,
    visibility: str,
    author_kind: str,
    channel: str,
    body: str = "",
    subject: str = "",
    author: User | None = None,
    from_address: str | None = None,
    message_id: str | None = None,
    notification_id: int | None = None,
    work_s: float | None = None,
) -> TicketMessage:
    msg = TicketMessage(
        ticket_id=ticket.id,
        created_at=now,
        direction=direction,
        visibility=visibility,
        author_kind=author_kind,
        author_id=author.id if author is not None else None,
        channel=channel,
        from_address=from_address[:320] if from_address else None,
        subject=subject[:MAX_SUBJECT],
        body=body,
        message_id=message_id[:300] if message_id else None,
        notification_id=notification_id,
        work_s=work_s,
    )
    session.add(msg)
    ticket.updated_at = now
    session.flush()
    return msg


def system_event(
    session: Session,
    ticket: Ticket,
    code: str,
    *,
    now: datetime,
    detail: str = "",
    customer_visible: bool = False,
) -> TicketMessage:
    """A line in the thread written by escucha: ``code`` names the event, screens translate it."""
    return add_message(
        session,
        ticket,
        now=now,
        direction="note",
        visibility="customer" if customer_visible else "internal",
        author_kind="system",
        channel="system",
        subject=code,
        body=detail,
    )


def audit_case(
    session: Session,
    ticket: Ticket,
    action: str,
    *,
    now: datetime,
    actor: str,
    **data: Any,
) -> None:
    """A line of the audit trail about the case, with its kind and status."""
    audit.record(
        session,
        action=action,
        actor=actor,
        subject_kind="ticket",
        subject_id=ticket.id,
        subject_ref=ticket.number,
        now=now,
        data={"kind": ticket.kind, "status": ticket.status, **data},
    )


def tell_customer(
    session: Session,
    ticket: Ticket,
    customer: Customer,
    kind: str,
    *,
    now: datetime,
    key: str,
    in_thread: bool = True,
    **fields: Any,
) -> Notification | None:
    """:func:`notifications.notify` in a savepoint, shown in the thread (``in_thread``).

    A message that cannot be rendered or sent never undoes the ticket: it is noted in the
    thread (``ack_not_sent``) and ``None`` comes back.
    """
    try:
        with session.begin_nested():
            note = notifications.notify(session, customer, kind, now=now, key=key, **fields)
    except EscuchaError as exc:
        system_event(session, ticket, "ack_not_sent", now=now, detail=exc.message)
        return None
    if in_thread:
        add_message(
            session,
            ticket,
            now=now,
            direction="out",
            visibility="customer",
            author_kind="system",
            channel=note.channel,
            subject=note.subject,
            body=note.body,
            notification_id=note.id,
        )
    return note


# --- the text kept whole --------------------------------------------------------------------------


def shown_part(text: str) -> str:
    """What a case shows of a cleaned text: all of it, or its start with a mark that the rest
    is in :data:`FULL_TEXT_FILE`."""
    if len(text) <= MAX_DESCRIPTION:
        return text
    return trules.cut_visible(text, MAX_DESCRIPTION - len(_CUT_NOTE)) + _CUT_NOTE


def keep_whole_text(
    session: Session,
    ticket: Ticket,
    message: TicketMessage | None,
    text: str,
    *,
    now: datetime,
    filename: str = FULL_TEXT_FILE,
) -> TicketAttachment:
    """Attach ``text`` whole (UTF-8) to the case, beside the cut text of ``message``."""
    data = text.encode("utf-8")
    att = TicketAttachment(
        ticket_id=ticket.id,
        message_id=message.id if message is not None else None,
        filename=filename,
        content_type="text/plain; charset=utf-8",
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        created_at=now,
    )
    session.add(att)
    session.flush()
    return att


# --- reading --------------------------------------------------------------------------------------


def get_ticket(session: Session, ref: int | str, *, lock: bool = False) -> Ticket:
    """A ticket by id or by number (as people write it)."""
    stmt = select(Ticket)
    text = str(ref).strip()
    if isinstance(ref, int) or (text.isdigit() and len(text) < 10):
        stmt = stmt.where(Ticket.id == int(text))
    else:
        try:
            stmt = stmt.where(Ticket.number == str(trules.parse_ticket_number(text)))
        except trules.InvalidTicketNumberError as exc:
            raise NotFound(str(exc)) from None
    if lock:
        stmt = stmt.with_for_update()
    ticket = session.scalar(stmt)
    if ticket is None:
        raise NotFound(f"ticket {ref} not found")
    return ticket


def thread(session: Session, ticket_id: int, *, customer_only: bool = False) -> list[TicketMessage]:
    stmt = select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
    if customer_only:
        stmt = stmt.where(TicketMessage.visibility == "customer")
    return list(session.scalars(stmt.order_by(TicketMessage.created_at, TicketMessage.id)))


def attachments_of(session: Session, ticket_id: int) -> list[TicketAttachment]:
    stmt = (
        select(TicketAttachment)
        .where(TicketAttachment.ticket_id == ticket_id)
        .order_by(TicketAttachment.id)
    )
    return list(session.scalars(stmt))


def linked_contacts(session: Session, ticket_id: int) -> list[Contact]:
    stmt = (
        select(Contact)
        .join(TicketContact, TicketContact.contact_id == Contact.id)
        .where(TicketContact.ticket_id == ticket_id)
        .order_by(Contact.arrived_at)
    )
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class InboxRow:
    ticket: Ticket
    customer: str
    team: str
    assignee: str
    next_due: datetime | None
    next_kind: str | None
    at_risk: bool
    broken: int


def _next_due_column() -> Any:
    return (
        select(func.min(Promise.due_at))
        .where(Promise.ticket_id == Ticket.id, Promise.state == "pending")
        .correlate(Ticket)
        .scalar_subquery()
    )


def _risk_clause(now: datetime) -> Any:
    return exists().where(
        Promise.ticket_id == Ticket.id,
        Promise.state == "pending",
        or_(Promise.escalate_at <= now, Promise.due_at <= now + AT_RISK_WITHIN),
    )


def inbox(
    session: Session,
    *,
    now: datetime,
    team_id: int | None = None,
    kind: str | None = None,
    channel: str | None = None,
    at_risk: bool = False,
    status: str = "open",
    assignee_id: int | None = None,
    limit: int = 200,
    reach: Reach | None = None,
) -> list[InboxRow]:
    """Tickets ordered by the next promise due (none last), with filters (fixed query count);
    ``reach`` keeps only the tickets an agent may see (ADR 17)."""
    next_due = _next_due_column().label("next_due")
    risky = _risk_clause(now).label("risky")
    stmt = select(Ticket, next_due, risky).where(
        ~exists().where(TicketMerge.absorbed_id == Ticket.id)  # a merged duplicate lives on
    )
    if status == "open":
        stmt = stmt.where(Ticket.status.in_(OPEN_STATUSES))
    elif status and status != "all":
        stmt = stmt.where(Ticket.status == status)
    if team_id is not None:
        stmt = stmt.where(Ticket.team_id == team_id)
    if kind:
        stmt = stmt.where(Ticket.kind == kind)
    if channel:
        stmt = stmt.where(Ticket.channel == channel)
    if assignee_id is not None:
        stmt = stmt.where(Ticket.assignee_id == assignee_id)
    if reach is not None and not reach.everything:
        mine = or_(Ticket.assignee_id == reach.user_id, Ticket.created_by_id == reach.user_id)
        if reach.team_id is not None:
            mine = or_(mine, Ticket.team_id == reach.team_id)
        stmt = stmt.where(mine)
    if at_risk:
        stmt = stmt.where(_risk_clause(now))
    stmt = stmt.order_by(case((next_due.is_(None), 1), else_=0), next_due, Ticket.id).limit(limit)
    rows = session.execute(stmt).all()
    tickets = [r[0] for r in rows]
    ids = [t.id for t in tickets]
    customers = _names(session, Customer, {t.customer_id for t in tickets}, "name")
    teams = _names(session, org.Team, {t.team_id for t in tickets}, "display_name")
    users = _names(session, User, {t.assignee_id for t in tickets}, "display_name")
    soonest: dict[int, tuple[datetime, str]] = {}
    broken: dict[int, int] = defaultdict(int)
    if ids:
        for p in session.scalars(
            select(Promise).where(
                Promise.ticket_id.in_(ids), Promise.state.in_(("pending", "broken"))
            )
        ):
            if p.ticket_id is None:
                continue
            if p.state == "broken":
                broken[p.ticket_id] += 1
                continue
            current = soonest.get(p.ticket_id)
            if current is None or p.due_at < current[0]:
                soonest[p.ticket_id] = (p.due_at, p.kind)
    return [
        InboxRow(
            ticket=t,
            customer=customers.get(t.customer_id or 0, ""),
            team=teams.get(t.team_id or 0, ""),
            assignee=users.get(t.assignee_id or 0, ""),
            next_due=due,
            next_kind=soonest[t.id][1] if t.id in soonest else None,
            at_risk=bool(risk),
            broken=broken.get(t.id, 0),
        )
        for t, due, risk in rows
    ]


def _names(session: Session, model: Any, ids: set[int | None], attr: str) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(model.id, getattr(model, attr)).where(model.id.in_(wanted)))
    return {int(i): str(name or "") for i, name in rows}


# --- the case's customer and what was sent to them ------------------------------------------------


def customer_of(session: Session, ticket: Ticket) -> Customer | None:
    """The case's customer, or ``None`` when it has none."""
    return session.get(Customer, ticket.customer_id) if ticket.customer_id else None


def delivery_states(session: Session, ticket_id: int) -> list[Notification]:
    """Messages to the customer about this ticket, with their delivery state."""
    return notifications.list_for(session, ticket_id=ticket_id)
