"""Customers, the life of a contact, and its event log (exported as CSV or Asterisk queue_log)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import phonenumbers
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from escucha.contacts.models import CHANNELS, EVENTS, Contact, ContactEvent, Customer
from escucha.csvsafe import SafeWriter
from escucha.db.session import xact_lock
from escucha.errors import Conflict, InvalidInput, NotFound


def normalise_phone(raw: str, region: str = "ES") -> str:
    """E.164 form of ``raw``; a clear error when it is not a phone number."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"phone: {raw!r} is not a phone number") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidInput(f"phone: {raw!r} is not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def find_or_create_customer(
    session: Session,
    *,
    now: datetime,
    phone: str | None = None,
    email: str | None = None,
    name: str = "",
    language: str | None = None,
    timezone: str = "Europe/Madrid",
    region: str = "ES",
) -> Customer:
    """The customer with this phone (or email), created on first contact."""
    e164 = normalise_phone(phone, region) if phone else None
    customer = None
    if e164:
        customer = session.scalar(select(Customer).where(Customer.phone == e164))
    if customer is None and email:
        customer = session.scalar(
            select(Customer).where(Customer.email == email.strip().lower()).limit(1)
        )
    if customer is None:
        customer = Customer(
            phone=e164,
            email=email.strip().lower() if email else None,
            name=name,
            language=language or "es",
            timezone=timezone,
            created_at=now,
        )
        session.add(customer)
        session.flush()
    else:
        if e164 and not customer.phone:
            customer.phone = e164
        if email and not customer.email:
            customer.email = email.strip().lower()
        if name and not customer.name:
            customer.name = name
        if language:
            customer.language = language
    return customer


def event_row(
    contact: Contact, event: str, *, now: datetime, agent_id: int | None = None, **data: Any
) -> dict[str, Any]:
    """The row :func:`record` appends, for writing many at once (``insert(ContactEvent)``)."""
    if event not in EVENTS:
        raise InvalidInput(f"unknown event {event!r}")
    return {
        "contact_id": contact.id,
        "event": event,
        "at": now,
        "queue": contact.queue,
        "agent_id": agent_id if agent_id is not None else contact.agent_id,
        "data": data,
        "dedupe_key": None,
    }


def record(
    session: Session,
    contact: Contact,
    event: str,
    *,
    now: datetime,
    agent_id: int | None = None,
    dedupe_key: str | None = None,
    **data: Any,
) -> ContactEvent | None:
    """Append an event; with ``dedupe_key`` a repeated event (a retried webhook) is ignored."""
    row = event_row(contact, event, now=now, agent_id=agent_id, **data)
    if dedupe_key is not None:
        seen = session.scalar(select(ContactEvent.id).where(ContactEvent.dedupe_key == dedupe_key))
        if seen is not None:
            return None
    ev = ContactEvent(**{**row, "dedupe_key": dedupe_key})
    if dedupe_key is None:
        session.add(ev)  # written with the transaction's next flush, in the order added
        return ev
    try:
        with session.begin_nested():
            session.add(ev)
            session.flush()
    except IntegrityError:
        return None
    return ev


def start_contact(
    session: Session,
    *,
    channel: str,
    now: datetime,
    customer: Customer | None = None,
    provider: str = "browser",
    provider_ref: str | None = None,
    language: str | None = None,
    queue: str | None = None,
) -> Contact:
    """A new contact arrives (idempotent on ``provider_ref``, e.g. a Twilio CallSid)."""
    if channel not in CHANNELS:
        raise InvalidInput(f"channel: one of {', '.join(CHANNELS)}")
    if provider_ref:
        existing = session.scalar(select(Contact).where(Contact.provider_ref == provider_ref))
        if existing is not None:
            return existing
    contact = Contact(
        channel=channel,
        state="ivr",
        customer_id=customer.id if customer else None,
        queue=queue,
        language=language or (customer.language if customer else "es"),
        provider=provider,
        provider_ref=provider_ref,
        ivr_path=[],
        skills={},
        arrived_at=now,
    )
    session.add(contact)
    session.flush()
    record(session, contact, "arrived", now=now, channel=channel)
    return contact


def get_contact(session: Session, contact_id: int, *, lock: bool = False) -> Contact:
    """The contact; ``lock`` serialises the transactions that take it so until they end."""
    if lock:
        xact_lock(session, "contact", str(contact_id))
    contact = session.scalar(select(Contact).where(Contact.id == contact_id))
    if contact is None:
        raise NotFound(f"contact {contact_id} not found")
    return contact


def ivr_choice(
    session: Session,
    contact: Contact,
    *,
    node: str,
    key: str,
    now: datetime,
    dedupe_key: str | None = None,
) -> None:
    """Store a step through the IVR on the contact (shown to the agent) and in the log."""
    if contact.state != "ivr":
        raise Conflict(f"contact {contact.id} is no longer in the IVR")
    if record(session, contact, "ivr_choice", now=now, dedupe_key=dedupe_key, node=node, key=key):
        contact.ivr_path = [*contact.ivr_path, {"node": node, "key": key}]
        contact.ivr_node = node


def enqueue(
    session: Session,
    contact: Contact,
    queue: str,
    *,
    now: datetime,
    skills: dict[str, int] | None = None,
    priority: int = 0,
    joined_at: datetime | None = None,
) -> Contact:
    """Put the contact in line. ``joined_at`` keeps an earlier place (callbacks)."""
    if contact.state not in ("ivr", "queued"):
        raise Conflict(f"contact {contact.id} is {contact.state} and cannot be queued")
    contact.state = "queued"
    contact.queue = queue
    contact.queued_at = now
    contact.joined_at = joined_at or contact.joined_at or now
    contact.skills = dict(skills or {})
    contact.priority = priority
    record(session, contact, "queued", now=now, queue=queue)
    return contact


def wait_s(contact: Contact, now: datetime) -> float:
    start = contact.queued_at or contact.arrived_at
    return max(0.0, (now - start).total_seconds())


def abandon(
    session: Session, contact: Contact, *, now: datetime, dedupe_key: str | None = None
) -> None:
    """The caller hung up while waiting (or in the IVR)."""
    if contact.state in ("ended", "abandoned", "callback"):
        return
    was_queued = contact.state in ("queued", "offered")
    if was_queued and contact.agent_id is not None:
        from escucha.routing.service import release_agent

        release_agent(session, contact.agent_id, contact.id, now=now, state="available")
        contact.agent_id = None
    contact.state = "abandoned"
    contact.ended_at = now
    if was_queued:
        record(
            session,
            contact,
            "abandoned",
            now=now,
            dedupe_key=dedupe_key,
            wait_s=wait_s(contact, now),
        )
    record(session, contact, "ended", now=now, reason="caller_hung_up")
    from escucha.routing.service import settle_estimates

    settle_estimates(session, contact, now=now, outcome="abandoned")


def events_of(session: Session, contact_id: int) -> list[ContactEvent]:
    return list(
        session.scalars(
            select(ContactEvent)
            .where(ContactEvent.contact_id == contact_id)
            .order_by(ContactEvent.id)
        )
    )


def agent_of(session: Session, contact: Contact, *, events: tuple[str, ...]) -> int | None:
    """The contact's agent, or else the agent of its latest event among ``events``."""
    if contact.agent_id is not None:
        return contact.agent_id
    return session.scalar(
        select(ContactEvent.agent_id)
        .where(
            ContactEvent.contact_id == contact.id,
            ContactEvent.event.in_(events),
            ContactEvent.agent_id.is_not(None),
        )
        .order_by(ContactEvent.id.desc())
        .limit(1)
    )


def recent_contacts(session: Session, customer_id: int, *, limit: int = 10) -> list[Contact]:
    return list(
        session.scalars(
            select(Contact)
            .where(Contact.customer_id == customer_id)
            .order_by(Contact.arrived_at.desc())
            .limit(limit)
        )
    )


def iter_events(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> Iterator[tuple[ContactEvent, Contact]]:
    stmt = (
        select(ContactEvent, Contact)
        .join(Contact, Contact.id == ContactEvent.contact_id)
        .order_by(ContactEvent.at, ContactEvent.id)
    )
    if since is not None:
        stmt = stmt.where(ContactEvent.at >= since)
    if until is not None:
        stmt = stmt.where(ContactEvent.at < until)
    for row in session.execute(stmt).yield_per(2000):
        yield row[0], row[1]


CSV_HEADER = ("contact_id", "event", "at", "queue", "agent", "customer_id", "channel", "data")


def export_csv(rows: Iterable[tuple[ContactEvent, Contact]]) -> Iterator[str]:
    """The event log as CSV (the format ``escucha analyze --format escucha`` reads)."""
    buf = io.StringIO()
    writer = SafeWriter(buf)
    writer.writerow(CSV_HEADER)
    yield buf.getvalue()
    for ev, contact in rows:
        buf.seek(0)
        buf.truncate()
        writer.writerow(
            (
                contact.id,
                ev.event,
                ev.at.isoformat().replace("+00:00", "Z"),
                ev.queue or "",
                ev.agent_id or "",
                contact.customer_id or "",
                contact.channel,
                json.dumps(ev.data, ensure_ascii=False, sort_keys=True) if ev.data else "",
            )
        )
        yield buf.getvalue()


def export_queue_log(rows: Iterable[tuple[ContactEvent, Contact]]) -> Iterator[str]:
    """The event log as Asterisk ``queue_log`` lines (``epoch|callid|queue|agent|EVENT|data``).

    Positions are not kept per event, so position fields hold the position told to the caller
    when known and 1 otherwise; the caller id field carries the customer id, never the number.
    """
    state: dict[int, dict[str, Any]] = {}
    for ev, contact in rows:
        s = state.setdefault(contact.id, {"pos": 1})
        ts = int(ev.at.timestamp())
        queue = ev.queue or contact.queue or "NONE"
        agent = f"agent/{ev.agent_id}" if ev.agent_id else "NONE"
        callid = f"escucha-{contact.id}"
        d = ev.data or {}
        line: tuple[Any, ...] | None = None
        if ev.event == "queued":
            s["queued"] = ev.at
            line = ("ENTERQUEUE", "", contact.customer_id or "", 1)
        elif ev.event == "estimate_given":
            s["pos"] = int(d.get("position", s["pos"]))
        elif ev.event == "answered" and "queued" in s:
            s["answered"] = ev.at
            hold = int((ev.at - s["queued"]).total_seconds())
            line = ("CONNECT", hold, callid, 0)
        elif ev.event == "abandoned" and "queued" in s:
            waited = int((ev.at - s["queued"]).total_seconds())
            line = ("ABANDON", s["pos"], s["pos"], waited)
        elif ev.event == "callback_requested" and "queued" in s:
            waited = int((ev.at - s["queued"]).total_seconds())
            line = ("EXITWITHKEY", "*", s["pos"], s["pos"], waited)
        elif ev.event == "transferred" and "answered" in s:
            hold = int((s["answered"] - s["queued"]).total_seconds())
            talk = int((ev.at - s["answered"]).total_seconds())
            line = ("TRANSFER", d.get("to", ""), "escucha", hold, talk, s["pos"])
        elif ev.event == "hold_started":
            line = ("PAUSE", "hold")
        elif ev.event == "hold_ended":
            line = ("UNPAUSE", "hold")
        elif ev.event == "wrapped_up" and "answered" in s:
            hold = int((s["answered"] - s["queued"]).total_seconds())
            talk = int((ev.at - s["answered"]).total_seconds())
            who = "COMPLETEAGENT" if d.get("ended_by") == "agent" else "COMPLETECALLER"
            line = (who, hold, talk, s["pos"])
        if line is not None:
            yield "|".join(str(x) for x in (ts, callid, queue, agent, *line)) + "\n"
