"""What every part of a call's flow builds its turns from (used by :mod:`.calls`,
:mod:`.after_hours` and :mod:`.dialer`).

A call's key (``"<provider>:<call id>"``), the pseudo IVR nodes a call can wait at, the
:class:`~escucha.telephony.rules.Turn` a provider renders (numbered by the inputs taken), the
caller as a customer and the number a callback rings, the queue an IVR node names, a promised
time in words, and the end of a call.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.callbacks.models import Callback
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact, ContactEvent, Customer
from escucha.errors import InvalidInput
from escucha.notifications.messages import when_phrase
from escucha.org import home
from escucha.org.models import Queue
from escucha.telephony import rules as R

log = logging.getLogger("escucha.telephony")

PROVIDERS = ("twilio", "browser", "asterisk")
#: Pseudo IVR nodes (IVR node ids are lower-case words, so these never clash).
CLOSED_NODE = "!closed"  # the queue is closed: callback at a stated time, or a message
VOICEMAIL_NODE = "!voicemail"  # recording a message; ``Contact.queue`` holds the box
#: Hearing the recording notice, which can be refused; ``Contact.queue`` holds the queue next.
NOTICE_NODE = "!recording_notice"
#: The name the closed-queue choice has in the path shown to agents and in the event log.
AFTER_HOURS = "after_hours"

# --------------------------------------------------------------------------------------------
# A call, its turn, and what every part of the flow says
# --------------------------------------------------------------------------------------------


def call_key(provider: str, call_ref: str) -> str:
    """The ``provider_ref`` of a call: ``"twilio:CA…"``, ``"browser:…"``, ``"asterisk:<id>"``."""
    if provider not in PROVIDERS:
        raise InvalidInput(f"provider: one of {', '.join(PROVIDERS)}")
    if not call_ref or len(call_ref) > 80:
        raise InvalidInput("call id: 1 to 80 characters")
    return f"{provider}:{call_ref}"


def _inputs(session: Session, contact: Contact) -> int:
    """How many caller inputs of this call have been taken."""
    prefix = f"{contact.provider_ref}:input:"
    keys = session.scalars(
        select(ContactEvent.dedupe_key).where(
            ContactEvent.contact_id == contact.id, ContactEvent.dedupe_key.is_not(None)
        )
    )
    return sum(1 for k in keys if k is not None and k.startswith(prefix))


def _retries(session: Session, contact: Contact, node: str) -> int:
    """Failed tries at ``node`` since the caller last got somewhere."""
    n = 0
    for ev in reversed(contacts.events_of(session, contact.id)):
        if ev.event != "ivr_choice":
            continue
        if ev.data.get("valid") is False and ev.data.get("node") == node:
            n += 1
        else:
            break
    return n


def _turn(
    session: Session, contact: Contact, phase: R.Phase, actions: Sequence[R.Action]
) -> R.Turn:
    session.flush()
    return R.Turn(
        call=contact.provider_ref or "",
        contact_id=contact.id,
        phase=phase,
        language=contact.language,
        actions=tuple(actions),
        seq=_inputs(session, contact) + 1,
        agent_id=contact.agent_id,
    )


def _customer_of(session: Session, contact: Contact) -> Customer | None:
    return session.get(Customer, contact.customer_id) if contact.customer_id else None


def callback_number(customer: Customer | None, contact: Contact) -> str | None:
    """Where a callback for this contact rings: the customer's verified phone, else the number
    the caller typed for this call."""
    if customer is not None and customer.phone:
        return customer.phone
    return contact.caller_number


def _queue_row(session: Session, name: str | None) -> Queue | None:
    """The queue an IVR node names; an unknown name goes to the first queue, with a log line."""
    queue = session.scalar(select(Queue).where(Queue.name == name)) if name else None
    if queue is not None:
        return queue
    queue = session.scalar(select(Queue).order_by(Queue.name).limit(1))
    if queue is None:
        log.error("the IVR sends callers to queue %r but the organisation has no queues", name)
    else:
        log.warning(
            "the IVR names queue %r, which the organisation does not have; callers go to %r",
            name,
            queue.name,
        )
    return queue


def _zone(session: Session, customer: Customer | None) -> str:
    return home.customer_zone(session, customer.timezone if customer is not None else None)


def _when(
    session: Session, at: datetime, *, now: datetime, customer: Customer | None, language: str
) -> str:
    tz = _zone(session, customer)
    return when_phrase(at, now=now, tz=tz, lang=R.base_language(language), speech=True)


def _end(session: Session, contact: Contact, *, now: datetime, reason: str, **data: Any) -> None:
    contact.outcome = contact.outcome or reason
    contacts.transition(session, contact, "finish", at=now, reason=reason, **data)


def _no_queue(
    session: Session, contact: Contact, said: tuple[R.Say, ...], *, now: datetime
) -> R.Turn:
    """The call's queue does not exist (any more): say so and end the call."""
    lang = contact.language
    _end(session, contact, now=now, reason="no_queue")
    return _turn(
        session, contact, "ended", (*said, R.Say(R.phrase("no_queue", lang), lang), R.Hangup())
    )


def _callback_said(session: Session, contact: Contact, cb: Callback, *, now: datetime) -> R.Say:
    when = _when(
        session,
        cb.due_at,
        now=now,
        customer=_customer_of(session, contact),
        language=contact.language,
    )
    return R.Say(R.phrase("callback_taken", contact.language, when=when), contact.language)
