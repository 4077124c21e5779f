"""Closed queues and voicemail (W6): out of hours a caller is offered a callback at a concrete
time, never "as soon as possible", or leaves a message.

A queue closed by its calendar puts the call at :data:`~.turns.CLOSED_NODE` with the first free
callback slot and the time the queue opens; the caller's key or words take the callback or go to
the voicemail box (:data:`~.turns.VOICEMAIL_NODE`), whose message ends the call.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from escucha.callbacks import service as callbacks
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact
from escucha.errors import EscuchaError
from escucha.ivr import rules as ivr
from escucha.notifications.messages import at_phrase
from escucha.org.models import Queue
from escucha.promises import rules as prules
from escucha.promises import service as promises
from escucha.telephony import rules as R
from escucha.telephony.turns import (
    AFTER_HOURS,
    CLOSED_NODE,
    VOICEMAIL_NODE,
    _callback_said,
    _customer_of,
    _end,
    _no_queue,
    _queue_row,
    _retries,
    _turn,
    _when,
    _zone,
    callback_number,
)


def _first_slot(session: Session, queue: Queue, *, now: datetime) -> prules.Slot | None:
    try:
        found = callbacks.slots(session, queue.name, now=now, count=1)
    except (EscuchaError, prules.CalendarError):
        return None
    return found[0] if found else None


def _closed_offer(
    session: Session, contact: Contact, queue: Queue, *, now: datetime
) -> tuple[R.Gather, prules.Slot | None]:
    lang = contact.language
    customer = _customer_of(session, contact)
    slot = _first_slot(session, queue, now=now)
    can_call = (
        slot is not None and customer is not None and bool(callback_number(customer, contact))
    )
    when = (
        _when(session, slot.end, now=now, customer=customer, language=lang)
        if slot and can_call
        else None
    )
    closed = promises.closed_now(session, queue.calendar_id, now, lang=R.base_language(lang))
    tz = _zone(session, customer)
    opens = (
        at_phrase(closed.opens_at, now=now, tz=tz, lang=R.base_language(lang), speech=True)
        if closed.opens_at is not None
        else None
    )
    hints = (
        *R.CALLBACK_WORDS.get(R.base_language(lang), ()),
        *R.VOICEMAIL_WORDS.get(R.base_language(lang), ()),
    )
    gather = R.Gather(
        kind="menu",
        prompts=(R.Say(R.closed_prompt(lang, when, reason=closed.reason, opens=opens), lang),),
        language=lang,
        timeout_s=6.0,
        speech=True,
        hints=hints,
    )
    return gather, slot if can_call else None


def _closed(
    session: Session,
    contact: Contact,
    queue: Queue,
    said: tuple[R.Say, ...],
    *,
    now: datetime,
) -> R.Turn:
    """The queue is closed by its calendar: offer a callback at a concrete time, or a message."""
    contact.ivr_node = CLOSED_NODE
    contact.queue = queue.name
    gather, _slot = _closed_offer(session, contact, queue, now=now)
    gather = R.Gather(
        kind=gather.kind,
        prompts=(*said, *gather.prompts),
        language=gather.language,
        timeout_s=gather.timeout_s,
        speech=gather.speech,
        hints=gather.hints,
    )
    return _turn(session, contact, "closed", (gather,))


def _closed_input(
    session: Session,
    contact: Contact,
    digits: str | None,
    speech: str | None,
    key: str,
    *,
    now: datetime,
) -> R.Turn:
    lang = contact.language
    queue = _queue_row(session, contact.queue)
    if queue is None:
        return _no_queue(session, contact, (), now=now)
    gather, slot = _closed_offer(session, contact, queue, now=now)
    choice = R.closed_choice(digits, speech, lang)
    label = digits[:1] if digits else ("speech" if speech else "timeout")
    customer = _customer_of(session, contact)
    if choice == "callback" and slot is not None and customer is not None:
        contacts.ivr_choice(session, contact, node=AFTER_HOURS, key=label, now=now, dedupe_key=key)
        cb = callbacks.request_callback(
            session,
            now=now,
            queue=queue.name,
            customer=customer,
            contact=contact,
            phone=callback_number(customer, contact),
            slot_start=slot.start,
            slot_end=slot.end,
        )
        return _turn(
            session,
            contact,
            "callback",
            (_callback_said(session, contact, cb, now=now), R.Hangup()),
        )
    tries = _retries(session, contact, AFTER_HOURS)
    if choice == "voicemail" or tries + 1 > 2:
        contacts.ivr_choice(session, contact, node=AFTER_HOURS, key=label, now=now, dedupe_key=key)
        return _voicemail(session, contact, queue.name, (), message=False)
    contacts.transition(
        session,
        contact,
        "choose",
        at=now,
        dedupe_key=key,
        node=AFTER_HOURS,
        key=label,
        valid=False,
    )
    complaint = R.Say(
        ivr.phrase("no_input" if label == "timeout" else "invalid", R.base_language(lang)), lang
    )
    again = R.Gather(
        kind="menu",
        prompts=(complaint, *gather.prompts),
        language=lang,
        timeout_s=gather.timeout_s,
        speech=True,
        hints=gather.hints,
    )
    return _turn(session, contact, "closed", (again,))


def _voicemail(
    session: Session, contact: Contact, box: str, said: tuple[R.Say, ...], *, message: bool
) -> R.Turn:
    """Record a message into ``box``; ``message`` says whether the IVR already said its text."""
    lang = contact.language
    contact.ivr_node = VOICEMAIL_NODE
    contact.queue = box
    prompt = () if message else (R.Say(R.phrase("voicemail", lang), lang),)
    return _turn(session, contact, "voicemail", (*said, *prompt, R.Record()))


def _finish_voicemail(
    session: Session,
    contact: Contact,
    *,
    now: datetime,
    recording_url: str | None,
    text: str | None,
    duration_s: float | None,
) -> None:
    what = recording_url or (text or "").strip()
    if what:
        contact.notes = ((contact.notes or "") + f"\nMensaje de voz / Voicemail: {what}").strip()
    data: dict[str, Any] = {"box": contact.queue or ""}
    if recording_url:
        data["recording_url"] = recording_url[:500]
    if text:
        data["text"] = text.strip()[:2000]
    if duration_s is not None:
        data["duration_s"] = duration_s
    contact.outcome = "voicemail"
    _end(session, contact, now=now, reason="voicemail", **data)
