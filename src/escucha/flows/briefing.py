"""The customer's situation before answering (C2): everything the agent should know so the
customer repeats nothing, gathered from contacts, callbacks, tickets and promises."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.callbacks.models import Callback
from escucha.contacts import service as contacts
from escucha.contacts.desk import HandleTime, handle_time, mask_email, mask_phone
from escucha.contacts.models import Contact, Customer, Estimate
from escucha.org import models as org
from escucha.promises.models import Promise
from escucha.tickets.models import Ticket


@dataclass(frozen=True)
class IvrStep:
    node: str
    key: str
    label: str


@dataclass(frozen=True)
class TicketView:
    ticket_id: int
    number: str
    kind: str
    status: str
    subject: str
    created_at: datetime


@dataclass(frozen=True)
class TransferView:
    at: datetime
    from_queue: str | None
    to_queue: str
    note: str
    agent: str


@dataclass(frozen=True)
class Situation:
    """Everything the agent should know before answering, so the customer repeats nothing."""

    contact: Contact
    customer: Customer | None
    phone_masked: str
    email_masked: str
    ivr: tuple[IvrStep, ...]
    recent: tuple[Contact, ...]
    promises: tuple[Promise, ...]
    tickets: tuple[TicketView, ...]
    callback: Callback | None
    transfers: tuple[TransferView, ...]
    last_estimate: Estimate | None
    waited_s: float | None
    handle: HandleTime


def _ivr_label(ivr: dict[str, Any], node: str, key: str, lang: str) -> str:
    """The option's label in the organisation's IVR, or ``""`` when it cannot be found."""
    nodes = ivr.get("nodes") if isinstance(ivr, dict) else None
    spec = nodes.get(node) if isinstance(nodes, dict) else None
    options = spec.get("options") if isinstance(spec, dict) else None
    if not isinstance(options, list):
        return ""
    for opt in options:
        if isinstance(opt, dict) and str(opt.get("key")) == str(key):
            label = opt.get("label")
            if isinstance(label, dict):
                return str(label.get(lang) or label.get("es") or next(iter(label.values()), ""))
            return str(label or "")
    return ""


def open_tickets(session: Session, customer_id: int) -> tuple[TicketView, ...]:
    """The customer's tickets not yet closed."""
    rows = session.scalars(
        select(Ticket)
        .where(Ticket.customer_id == customer_id, Ticket.status != "closed")
        .order_by(Ticket.created_at.desc())
        .limit(20)
    )
    return tuple(
        TicketView(
            ticket_id=t.id,
            number=t.number,
            kind=t.kind,
            status=t.status,
            subject=t.subject,
            created_at=t.created_at,
        )
        for t in rows
    )


def situation(session: Session, contact: Contact, *, now: datetime, lang: str) -> Situation:
    """The customer's whole situation for the agent (C2): who, in which language, what they
    chose in the IVR, the last contacts, open promises and tickets, the callback's original
    place, transfers with their notes, what wait they were told, and the holds so far."""
    customer = session.get(Customer, contact.customer_id) if contact.customer_id else None
    ivr_spec = session.scalar(select(org.Organisation.ivr).limit(1)) or {}
    steps = tuple(
        IvrStep(
            node=str(step.get("node", "")),
            key=str(step.get("key", "")),
            label=_ivr_label(ivr_spec, str(step.get("node", "")), str(step.get("key", "")), lang),
        )
        for step in contact.ivr_path
        if isinstance(step, dict)
    )
    recent: tuple[Contact, ...] = ()
    pending: tuple[Promise, ...] = ()
    tickets: tuple[TicketView, ...] = ()
    if customer is not None:
        recent = tuple(
            c for c in contacts.recent_contacts(session, customer.id, limit=7) if c.id != contact.id
        )[:6]
        pending = tuple(
            session.scalars(
                select(Promise)
                .where(Promise.customer_id == customer.id, Promise.state == "pending")
                .order_by(Promise.due_at)
            )
        )
        tickets = open_tickets(session, customer.id)
    callback = session.scalar(select(Callback).where(Callback.contact_id == contact.id))
    events = contacts.events_of(session, contact.id)
    movers = {e.agent_id for e in events if e.event == "transferred" and e.agent_id}
    names: dict[int, str] = {
        row.id: row.display_name
        for row in session.execute(select(User.id, User.display_name).where(User.id.in_(movers)))
    }
    transfers: list[TransferView] = []
    queue_before: str | None = None
    for e in events:
        if e.event == "transferred" and not e.data.get("overflow_from"):
            transfers.append(
                TransferView(
                    at=e.at,
                    from_queue=queue_before,
                    to_queue=str(e.data.get("to", "")),
                    note=str(e.data.get("note", "")),
                    agent=names.get(e.agent_id or 0, ""),
                )
            )
        if e.event == "queued":
            queue_before = e.queue
    told_ids = [contact.id, *([contact.parent_id] if contact.parent_id else [])]
    last_estimate = session.scalar(
        select(Estimate)
        .where(Estimate.contact_id.in_(told_ids))
        .order_by(Estimate.id.desc())
        .limit(1)
    )
    joined = contact.joined_at or contact.queued_at
    waited_end = contact.answered_at if contact.state != "offered" else now
    waited = (
        max(0.0, ((waited_end or now) - joined).total_seconds()) if joined is not None else None
    )
    return Situation(
        contact=contact,
        customer=customer,
        phone_masked=mask_phone(customer.phone if customer else None),
        email_masked=mask_email(customer.email if customer else None),
        ivr=steps,
        recent=recent,
        promises=pending,
        tickets=tickets,
        callback=callback,
        transfers=tuple(transfers),
        last_estimate=last_estimate,
        waited_s=waited,
        handle=handle_time(events, contact, now),
    )
