"""Write a customer message to the outbox, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.contacts.models import Customer
from escucha.errors import InvalidInput
from escucha.jobs.service import enqueue
from escucha.notifications.messages import render_message
from escucha.notifications.models import Notification


def channel_for(customer: Customer, preferred: str | None = None) -> tuple[str, str]:
    """(channel, address): the preferred one when the customer has it, else SMS, else email."""
    options = {"sms": customer.phone, "email": customer.email}
    if preferred and options.get(preferred):
        return preferred, str(options[preferred])
    for channel in ("sms", "email"):
        if options[channel]:
            return channel, str(options[channel])
    raise InvalidInput("the customer has neither a phone number nor an email address")


def notify(
    session: Session,
    customer: Customer,
    kind: str,
    *,
    now: datetime,
    key: str,
    channel: str | None = None,
    ticket_id: int | None = None,
    callback_id: int | None = None,
    sms_to: str | None = None,
    **fields: Any,
) -> Notification:
    """Render ``kind`` in the customer's language and zone and queue it for sending.

    ``key`` makes it idempotent: the same key gives back the first notification. ``sms_to``
    sends it by SMS to that number (a callback's confirmation goes to the number that will be
    called, which a web caller may have typed without being a known customer).
    """
    existing = queued(session, key)
    if existing is not None:
        return existing
    chosen, address = ("sms", sms_to) if sms_to else channel_for(customer, channel)
    message = render_message(kind, customer.language, now=now, tz=customer.timezone, **fields)
    return write_outbox(
        session,
        customer,
        channel=chosen,
        address=address,
        kind=str(kind),
        subject=message.subject,
        body=message.body_text if chosen == "email" else message.sms_text,
        key=key,
        now=now,
        ticket_id=ticket_id,
        callback_id=callback_id,
    )


def queued(session: Session, key: str) -> Notification | None:
    """The notification already written with idempotency ``key``, if any."""
    return session.scalar(select(Notification).where(Notification.idempotency_key == key))


def write_outbox(
    session: Session,
    customer: Customer,
    *,
    channel: str,
    address: str,
    kind: str,
    subject: str,
    body: str,
    key: str,
    now: datetime,
    ticket_id: int | None = None,
    callback_id: int | None = None,
) -> Notification:
    """Write a rendered message to the outbox with its send job (keyed ``send:<key>``)."""
    note = Notification(
        customer_id=customer.id,
        channel=channel,
        to_address=address,
        language=customer.language,
        kind=kind,
        subject=subject,
        body=body,
        status="pending",
        idempotency_key=key,
        attempts=0,
        created_at=now,
        ticket_id=ticket_id,
        callback_id=callback_id,
    )
    session.add(note)
    session.flush()
    enqueue(
        session,
        "notifications.send",
        {"notification_id": note.id},
        now=now,
        idempotency_key=f"send:{key}",
    )
    return note


def list_for(
    session: Session, *, ticket_id: int | None = None, callback_id: int | None = None
) -> list[Notification]:
    stmt = select(Notification).order_by(Notification.id)
    if ticket_id is not None:
        stmt = stmt.where(Notification.ticket_id == ticket_id)
    if callback_id is not None:
        stmt = stmt.where(Notification.callback_id == callback_id)
    return list(session.scalars(stmt))
