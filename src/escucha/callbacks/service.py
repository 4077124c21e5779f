"""Callbacks that keep the caller's place, are confirmed with a time, and are made (W2, W6, P1)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.callbacks.models import Callback
from escucha.contacts import lifecycle
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact, Customer, Estimate
from escucha.errors import Conflict, InvalidInput, NotFound
from escucha.i18n import translator
from escucha.jobs.service import enqueue
from escucha.notifications import service as notifications
from escucha.org import models as org
from escucha.promises import rules as prules
from escucha.promises import service as promises
from escucha.promises.models import Promise
from escucha.routing import service as routing

DEFAULT_ATTEMPTS = 3
DEFAULT_GAP_S = 600


def _queue(session: Session, name: str) -> org.Queue:
    queue = session.scalar(select(org.Queue).where(org.Queue.name == name))
    if queue is None:
        raise NotFound(f"queue {name!r} not found")
    return queue


def slots(
    session: Session, queue: str, *, now: datetime, count: int = 6, minutes: int = 30
) -> list[prules.Slot]:
    """Callback slots a customer may choose, inside the queue's business hours."""
    q = _queue(session, queue)
    cal = promises.calendar(session, q.calendar_id, now)
    return list(prules.next_callback_slots(cal, now, minutes, count, lead_minutes=15))


def _asap_due(
    session: Session, q: org.Queue, contact: Contact | None, *, now: datetime
) -> datetime:
    """When an ASAP callback is promised by: the caller's conservative wait bound from now, or
    from the next opening when closed; never vaguer than a clock time."""
    cal = promises.calendar(session, q.calendar_id, now)
    start = now if prules.is_open(cal, now) else prules.next_open(cal, now)
    bound_s = 15 * 60.0
    if contact is not None:
        last = session.scalar(
            select(Estimate)
            .where(Estimate.contact_id == contact.id)
            .order_by(Estimate.id.desc())
            .limit(1)
        )
        if last is not None:
            bound_s = max(bound_s, last.bound_s)
    due = prules.add_business_time(cal, start, timedelta(seconds=bound_s))
    return prules.round_up_local(due, cal.timezone, 15)


def request_callback(
    session: Session,
    *,
    now: datetime,
    queue: str,
    customer: Customer,
    phone: str | None = None,
    contact: Contact | None = None,
    slot_start: datetime | None = None,
    slot_end: datetime | None = None,
    max_attempts: int = DEFAULT_ATTEMPTS,
    retry_gap_s: int = DEFAULT_GAP_S,
) -> Callback:
    """Take a callback. From a waiting call it keeps the caller's place in line.

    In the same transaction: the callback, its waiting contact, a promise with a concrete due
    time, and the confirmation to the customer in the outbox.
    """
    q = _queue(session, queue)
    number = contacts.normalise_phone(phone) if phone else customer.phone
    if not number:
        raise InvalidInput("phone: a number to call back is needed")
    if contact is not None and not contacts.can(contact, "take_callback"):
        raise Conflict(f"contact {contact.id} is {contact.state}; it cannot become a callback")
    if (slot_start is None) != (slot_end is None):
        raise InvalidInput("a slot has a start and an end")
    if slot_start is not None and slot_end is not None:
        if slot_end <= slot_start or slot_start < now:
            raise InvalidInput("slot: choose a future slot that ends after it starts")
        mode, not_before, due = "slot", slot_start, slot_end
    else:
        mode, not_before, due = "asap", now, _asap_due(session, q, contact, now=now)
    joined = (contact.joined_at or contact.queued_at or contact.arrived_at) if contact else now
    waiting = Contact(
        channel="callback",
        customer_id=customer.id,
        queue=q.name,
        language=customer.language,
        provider="outbound",
        ivr_path=list(contact.ivr_path) if contact else [],
        skills=dict(contact.skills) if contact else dict(q.skills),
        priority=contact.priority if contact else q.priority,
        parent_id=contact.id if contact else None,
        arrived_at=now,
        joined_at=joined,
    )
    arrived = contacts.transition(session, waiting, "await_callback", at=now, channel="callback")
    cb = Callback(
        origin_contact_id=contact.id if contact else None,
        contact_id=waiting.id,
        customer_id=customer.id,
        phone=number,
        queue=q.name,
        language=customer.language,
        mode=mode,
        state="pending",
        joined_at=joined,
        requested_at=now,
        not_before=not_before,
        due_at=due,
        attempts=0,
        max_attempts=max_attempts,
        retry_gap_s=retry_gap_s,
    )
    session.add(cb)
    session.flush()
    cal = promises.calendar(session, q.calendar_id, now)
    deadline = prules.concrete_deadline(due, now=now, tz=customer.timezone)
    promise = promises.create(
        session,
        kind="callback",
        due_at=due,
        now=now,
        channel="callback",
        subject_kind="callback",
        told=f"callback before {deadline.local.isoformat()}",
        customer_id=customer.id,
        team=str(q.team_id),
        callback_id=cb.id,
        cal=cal,
    )
    cb.promise_id = promise.id
    if arrived is not None:  # the arrival names its callback, known only now
        arrived.data = {**arrived.data, "callback_id": cb.id}
    if mode == "asap":
        contacts.enqueue(
            session,
            waiting,
            q.name,
            now=now,
            skills=waiting.skills,
            priority=waiting.priority,
            joined_at=joined,
            keeps_place_from=joined.isoformat(),
        )
    if contact is not None:
        contacts.transition(
            session,
            contact,
            "take_callback",
            at=now,
            callback_id=str(cb.id),
            due_at=due.isoformat(),
        )
        contacts.transition(session, contact, "close", at=now, reason="callback")
        routing.settle_estimates(session, contact, now=now, outcome="callback")
    notifications.notify(
        session,
        customer,
        "callback_confirmation",
        now=now,
        key=f"callback:{cb.id}:confirmation",
        callback_id=cb.id,
        due=due,
        window_start=not_before if mode == "slot" else None,
        phone=number,
        sms_to=None if customer.phone else number,
    )
    if mode == "slot":
        enqueue(
            session,
            "callbacks.release",
            {"callback_id": cb.id},
            now=now,
            run_at=not_before,
            idempotency_key=f"callback:{cb.id}:release",
        )
    routing.dispatch(session, now=now)
    return cb


def release(session: Session, cb: Callback, *, now: datetime) -> None:
    """A scheduled callback's slot has come: it joins the line at its original place."""
    _rejoin(session, cb, now=now, priority_boost=0)


def _rejoin(session: Session, cb: Callback, *, now: datetime, priority_boost: int) -> None:
    """A pending callback's contact, waiting out of line, joins it again at its original
    place (``priority_boost`` above its priority), and the line is dispatched."""
    if cb.state != "pending":
        return
    contact = session.get(Contact, cb.contact_id)
    if contact is None or contact.state != lifecycle.State.CALLBACK_WAITING:
        return
    contacts.enqueue(
        session,
        contact,
        cb.queue,
        now=now,
        skills=contact.skills,
        priority=contact.priority + priority_boost,
        joined_at=cb.joined_at,
    )
    routing.dispatch(session, now=now)


def get(session: Session, callback_id: int) -> Callback:
    cb = session.get(Callback, callback_id)
    if cb is None:
        raise NotFound(f"callback {callback_id} not found")
    return cb


def for_contact(session: Session, contact_id: int) -> Callback | None:
    return session.scalar(select(Callback).where(Callback.contact_id == contact_id))


def dialing(session: Session, cb: Callback, *, now: datetime) -> None:
    """An attempt starts (the promise is kept only when the customer answers)."""
    cb.state = "dialing"
    cb.attempts += 1
    cb.first_attempt_at = cb.first_attempt_at or now


def reached_if_callback(session: Session, contact: Contact, *, now: datetime) -> None:
    """After an agent answered ``contact``: when it is a callback, its customer is reached."""
    if contact.channel == "callback":
        callback_reached(session, contact, now=now)


def callback_reached(session: Session, contact: Contact, *, now: datetime) -> None:
    """The agent took the callback and the customer answered."""
    cb = for_contact(session, contact.id)
    if cb is None:
        return
    if cb.state != "dialing":
        dialing(session, cb, now=now)
    cb.state = "completed"
    cb.completed_at = now
    if cb.promise_id is not None:
        promise = session.get(Promise, cb.promise_id)
        if promise is not None:
            promises.fulfil(session, promise, now=now)


def no_answer(session: Session, user_id: int, contact_id: int, *, now: datetime) -> Callback:
    """The customer did not answer: try again after the gap, or leave a message and stop."""
    contact = contacts.get_contact(session, contact_id)
    if contact.agent_id != user_id or contact.state != "offered":
        raise Conflict(f"contact {contact_id} is not an offered callback of yours")
    cb = for_contact(session, contact_id)
    if cb is None:
        raise NotFound(f"contact {contact_id} is not a callback")
    if cb.state != "dialing":
        dialing(session, cb, now=now)
    routing.release_agent(session, user_id, contact.id, now=now, state="available")
    contact.agent_id = None
    customer = session.get(Customer, cb.customer_id)
    last = cb.attempts >= cb.max_attempts
    contacts.transition(
        session,
        contact,
        "give_up" if last else "no_answer",
        at=now,
        reason="no_answer",
        attempt=cb.attempts,
    )
    if last:
        cb.state = "gave_up"
        contact.outcome = "no_answer"
        if customer is not None:
            q = _queue(session, cb.queue)
            cal = promises.calendar(session, q.calendar_id, now)
            reopen = prules.next_open(cal, now + timedelta(minutes=1))
            notifications.notify(
                session,
                customer,
                "callback_rescheduled",
                now=now,
                key=f"callback:{cb.id}:gave_up",
                callback_id=cb.id,
                due=reopen,
                previous_due=cb.due_at,
                reason=translator(cb.language)(
                    "we could not reach you after {attempts} attempts", attempts=cb.attempts
                ),
            )
    else:
        cb.state = "pending"
        cb.next_attempt_at = now + timedelta(seconds=cb.retry_gap_s)
        enqueue(
            session,
            "callbacks.retry",
            {"callback_id": cb.id, "attempt": cb.attempts + 1},
            now=now,
            run_at=cb.next_attempt_at,
            idempotency_key=f"callback:{cb.id}:retry:{cb.attempts + 1}",
        )
    session.flush()
    routing.dispatch(session, now=now)
    return cb


def retry(session: Session, cb: Callback, *, now: datetime) -> None:
    _rejoin(session, cb, now=now, priority_boost=1)


def cancel(session: Session, cb: Callback, *, now: datetime, reason: str) -> None:
    if cb.state in ("completed", "gave_up", "cancelled"):
        return
    cb.state = "cancelled"
    contact = session.get(Contact, cb.contact_id)
    if contact is not None and contact.state in ("queued", lifecycle.State.CALLBACK_WAITING):
        contacts.transition(session, contact, "cancel", at=now, reason="cancelled")
    if cb.promise_id is not None:
        promise = session.get(Promise, cb.promise_id)
        if promise is not None:
            promises.cancel(session, promise, now=now, reason=reason)


def pending(session: Session) -> list[Callback]:
    return list(
        session.scalars(
            select(Callback)
            .where(Callback.state.in_(("pending", "offered", "dialing")))
            .order_by(Callback.due_at)
        )
    )


def kept_rate(session: Session, *, since: datetime) -> float | None:
    """Callback-kept rate: callbacks first attempted by their promised time, of those settled."""
    kept = broken = 0
    for p in session.scalars(
        select(Promise).where(Promise.kind == "callback", Promise.created_at >= since)
    ):
        if p.state == "kept":
            kept += 1
        elif p.state == "broken":
            broken += 1
    return kept / (kept + broken) if kept + broken else None
