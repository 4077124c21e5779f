"""The end of a contact at the agent's desk (C3, P3): the contact wrapped up in routing, a case
(ticket) with the promised time when it was not solved, and the recap sent to the customer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.callbacks import service as callbacks
from escucha.contacts.models import Contact, Customer
from escucha.errors import InvalidInput
from escucha.notifications.messages import find_vague_phrases, when_phrase
from escucha.notifications.models import Notification
from escucha.notifications.service import notify
from escucha.org import home
from escucha.promises import service as promises
from escucha.promises.models import Promise
from escucha.routing import service as routing
from escucha.tickets import opening


@dataclass(frozen=True)
class WrapUp:
    """A contact wrapped up: the ticket or promise opened when not solved, and the recap sent."""

    contact: Contact
    ticket_number: str | None
    promise: Promise | None
    recap: Notification | None


MAX_RECAP = 2000
TICKET_KINDS = ("query", "fault", "request", "complaint")


def wrap_up_with_recap(
    session: Session,
    user: User,
    contact_id: int,
    *,
    now: datetime,
    outcome: str,
    resolved: bool,
    recap: str,
    promised_at: datetime | None = None,
    ticket_kind: str = "query",
    next_state: str = "available",
    base_url: str = "",
) -> WrapUp:
    """Close the contact (C3, P3): outcome, a recap sent to the customer, and, when it was not
    solved, a ticket with the time the customer was promised (a promise when tickets are not
    available). Everything is checked before anything is written."""
    recap = recap.strip()
    if len(recap) > MAX_RECAP:
        raise InvalidInput(f"recap: at most {MAX_RECAP} characters")
    vague = find_vague_phrases(recap)
    if vague:
        raise InvalidInput(
            f"recap: {', '.join(vague)} promises no time; write the date and time instead"
        )
    if not resolved:
        if promised_at is None:
            raise InvalidInput(
                "promised_at: when it is not solved, tell the customer when they will be "
                "contacted (a date and time)"
            )
        if promised_at.tzinfo is None:
            raise InvalidInput("promised_at: an aware date and time is needed")
        if promised_at <= now:
            raise InvalidInput("promised_at: the promised time must be in the future")
        if ticket_kind not in TICKET_KINDS:
            raise InvalidInput(f"ticket_kind: one of {', '.join(TICKET_KINDS)}")
    contact = routing.wrap_up(
        session,
        user.id,
        contact_id,
        now=now,
        outcome=outcome,
        resolved=resolved,
        recap=recap,
        next_state=next_state,
    )
    customer = session.get(Customer, contact.customer_id) if contact.customer_id else None
    number: str | None = None
    promise: Promise | None = None
    if not resolved and promised_at is not None:
        opener = _ticket_opener()
        if opener is not None:
            opened = opener(
                session,
                contact,
                kind=ticket_kind,
                description=recap or outcome,
                user=user,
                now=now,
                base_url=base_url,
                promised_at=promised_at,
            )
            number = opened.ticket.number
            promise = next((p for p in opened.promises if p.due_at == promised_at), None)
        else:
            tz = home.customer_zone(session, customer.timezone if customer else None)
            lang = customer.language if customer else contact.language
            promise = promises.create(
                session,
                kind="update",
                due_at=promised_at,
                now=now,
                channel=contact.channel,
                subject_kind=ticket_kind,
                told=when_phrase(promised_at, now=now, tz=tz, lang=lang),
                customer_id=customer.id if customer else None,
            )
    note = None
    # A web caller known only by the number they typed gets the recap there (it tells nothing
    # about anyone else: their record has no history but this call's).
    typed = None
    if customer is not None and not (customer.phone or customer.email):
        cb = callbacks.for_contact(session, contact.id)
        typed = contact.caller_number or (cb.phone if cb is not None else None)
    if recap and customer is not None and (customer.phone or customer.email or typed):
        note = notify(
            session,
            customer,
            "wrapup_recap",
            now=now,
            key=f"contact:{contact.id}:recap",
            agreed=[line.strip() for line in recap.splitlines() if line.strip()],
            due=promised_at if not resolved and promised_at else now + timedelta(minutes=1),
            name=customer.name or None,
            number=number,
            sms_to=typed,
        )
    return WrapUp(contact=contact, ticket_number=number, promise=promise, recap=note)


def _ticket_opener() -> Callable[..., Any] | None:
    """How a case is opened for a contact not solved (replaced in tests to keep the promise
    alone)."""
    return opening.open_ticket_from_contact
