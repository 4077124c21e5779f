"""Customers, the life of a contact, and its event log (exported as CSV or Asterisk queue_log)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import phonenumbers
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from escucha.contacts import lifecycle
from escucha.contacts.models import (
    CHANNELS,
    EVENTS,
    Contact,
    ContactEvent,
    Customer,
    CustomerPoint,
)
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
    verified: bool = False,
) -> Customer:
    """The customer known by this phone (or email), created on first contact; the phone and
    email become contact points of theirs (``verified`` when the network or the mail gave
    them)."""
    e164 = normalise_phone(phone, region) if phone else None
    address = email.strip().lower() if email else None
    customer = None
    if e164:
        customer = find_by_point(session, "phone", e164) or session.scalar(
            select(Customer).where(Customer.phone == e164)
        )
    if customer is None and address:
        customer = find_by_point(session, "email", address) or session.scalar(
            select(Customer).where(Customer.email == address).limit(1)
        )
    if customer is None:
        customer = Customer(
            phone=e164,
            email=address,
            name=name,
            language=language or "es",
            timezone=timezone,
            created_at=now,
        )
        session.add(customer)
        session.flush()
    else:
        if name and not customer.name:
            customer.name = name
        if language:
            customer.language = language
    for kind, value in (("phone", e164), ("email", address)):
        if value and find_by_point(session, kind, value) is None:
            try:
                with session.begin_nested():
                    record_point(session, customer, kind, value, now=now, verified=verified)
            except IntegrityError:
                pass  # a twin request recorded it meanwhile: that record keeps it
    return customer


def find_by_point(session: Session, kind: str, value: str) -> Customer | None:
    """The customer who owns the (normalised) phone or email ``value``."""
    return session.scalar(
        select(Customer)
        .join(CustomerPoint, CustomerPoint.customer_id == Customer.id)
        .where(CustomerPoint.kind == kind, CustomerPoint.value == value)
    )


def record_point(
    session: Session,
    customer: Customer,
    kind: str,
    value: str,
    *,
    now: datetime,
    verified: bool,
    label: str = "",
) -> CustomerPoint:
    """Make sure the normalised ``value`` is a point of ``customer`` (idempotent); a point
    owned by another customer is a :class:`Conflict` (merge the two records instead)."""
    point = session.scalar(
        select(CustomerPoint).where(CustomerPoint.kind == kind, CustomerPoint.value == value)
    )
    if point is not None:
        if point.customer_id != customer.id:
            raise Conflict(
                f"{kind}: {value} belongs to customer {point.customer_id}; merge the two records"
            )
        point.verified = point.verified or verified
        return point
    point = CustomerPoint(
        customer_id=customer.id,
        kind=kind,
        value=value,
        label=label[:40],
        verified=verified,
        created_at=now,
    )
    session.add(point)
    if kind == "phone" and not customer.phone:
        customer.phone = value
    if kind == "email" and not customer.email:
        customer.email = value
    session.flush()
    return point


def _facts(contact: Contact) -> lifecycle.Facts:
    return lifecycle.Facts(
        callback=contact.channel == "callback",
        has_agent=contact.agent_id is not None,
        closed=contact.ended_at is not None,
    )


def can(contact: Contact, move: str) -> bool:
    """Whether the table allows ``move`` for ``contact`` now."""
    return lifecycle.allowed(move, lifecycle.state_of(contact.state), _facts(contact))


def _row(
    contact: Contact, event: str, *, at: datetime, agent_id: int | None, data: dict[str, Any]
) -> dict[str, Any]:
    if event not in EVENTS:  # pragma: no cover - every move's row is an event (tested)
        raise InvalidInput(f"unknown event {event!r}")
    return {
        "contact_id": contact.id,
        "event": event,
        "at": at,
        "queue": contact.queue,
        "agent_id": agent_id if agent_id is not None else contact.agent_id,
        "data": data,
        "dedupe_key": None,
    }


def transition(
    session: Session,
    contact: Contact,
    move: str,
    *,
    at: datetime,
    agent_id: int | None = None,
    dedupe_key: str | None = None,
    **data: Any,
) -> ContactEvent | None:
    """Move ``contact`` by ``move`` (:data:`escucha.contacts.lifecycle.MOVES`) and write the one
    event row that records it. The only writer of ``Contact.state`` (ADR 13).

    A move the table does not allow from the contact's state raises :class:`Conflict` and
    writes nothing. A new contact (not yet flushed) is born by its first move. With
    ``dedupe_key``, a move already written (a retried webhook) changes nothing and returns
    ``None``.
    """
    step = lifecycle.move(move)
    born = contact.id is None
    target = lifecycle.check(
        move, None if born else contact.state, _facts(contact), contact=contact.id or "new"
    )
    if born:
        contact.state = target.value
        session.add(contact)
        session.flush()
    if dedupe_key is not None:
        seen = session.scalar(select(ContactEvent.id).where(ContactEvent.dedupe_key == dedupe_key))
        if seen is not None:
            return None
    row = _row(contact, step.row, at=at, agent_id=agent_id, data=data)
    ev = ContactEvent(**{**row, "dedupe_key": dedupe_key})
    if dedupe_key is None:
        session.add(ev)  # written with the transaction's next flush, in the order added
    else:
        try:
            with session.begin_nested():
                session.add(ev)
                session.flush()
        except IntegrityError:
            return None
    contact.state = target.value
    if step.closes and contact.ended_at is None:
        contact.ended_at = at
    return ev


def transition_many(
    session: Session,
    move: str,
    ids: Iterable[int],
    *,
    at: datetime,
    where: Sequence[Any] = (),
    values: Mapping[str, Any] | None = None,
    data: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[Contact]:
    """Move many contacts by ``move`` in one compare-and-set ``UPDATE`` (ADR 11), with the
    same table as :func:`transition`, and write their event rows in one ``INSERT``.

    Only the contacts still in one of the move's source states and meeting its guard (and
    ``where``) move; ``values`` are written with the state (SQL expressions allowed). Returns
    the contacts that moved, reloaded in the session; ``data`` gives each one's event data.
    """
    step = lifecycle.move(move)
    sources = [s.value for s in step.sources if s is not None]
    if step.target is None or not sources:
        raise InvalidInput(f"move {move!r} cannot be written set-based")
    guards = [_GUARD_SQL[key](want) for key, want in step.requires.items()]
    wanted = list(ids)
    if not wanted:
        return []
    moved = list(
        session.scalars(
            update(Contact)
            .where(Contact.id.in_(wanted), Contact.state.in_(sources), *guards, *where)
            .values({**(values or {}), "state": step.target.value})
            .returning(Contact)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
    )
    order = {cid: i for i, cid in enumerate(wanted)}
    moved.sort(key=lambda c: order[c.id])  # rows appended in the order asked, as one by one
    if moved:
        extra = data or {}
        session.execute(
            insert(ContactEvent),
            [
                _row(c, step.row, at=at, agent_id=None, data=dict(extra.get(c.id, {})))
                for c in moved
            ],
        )
    return moved


def seed_queued(session: Session, rows: Sequence[Mapping[str, Any]], *, orm: bool = True) -> None:
    """Contacts born already in line, without their log (a benchmark's floor). Through the ORM
    the session's hooks see them (routing's engine follows); ``orm=False`` is one ``INSERT``."""
    born = [{**row, "state": lifecycle.State.QUEUED.value} for row in rows]
    if orm:
        session.add_all([Contact(**row) for row in born])
    else:
        session.execute(insert(Contact), born)


def seed_over(
    session: Session, rows: Sequence[Mapping[str, Any]], abandoned: Sequence[bool]
) -> None:
    """Contacts already over, without their log (a benchmark's past), in one ``INSERT``: each
    ended after an answer, or abandoned (``abandoned[i]``)."""
    over = [
        {**row, "state": (lifecycle.State.ABANDONED if gone else lifecycle.State.ENDED).value}
        for row, gone in zip(rows, abandoned, strict=True)
    ]
    if over:
        session.execute(insert(Contact), over)


#: The guards of :data:`escucha.contacts.lifecycle.MOVES` as SQL, for :func:`transition_many`.
_GUARD_SQL: dict[str, Any] = {
    "callback": lambda want: (
        (Contact.channel == "callback") if want else (Contact.channel != "callback")
    ),
    "has_agent": lambda want: Contact.agent_id.is_not(None) if want else Contact.agent_id.is_(None),
    "closed": lambda want: Contact.ended_at.is_not(None) if want else Contact.ended_at.is_(None),
}


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
        customer_id=customer.id if customer else None,
        queue=queue,
        language=language or (customer.language if customer else "es"),
        provider=provider,
        provider_ref=provider_ref,
        ivr_path=[],
        skills={},
        arrived_at=now,
    )
    # A callback's contact is born waiting for its slot; every other contact in the IVR.
    birth = "await_callback" if channel == "callback" else "arrive"
    transition(session, contact, birth, at=now, channel=channel)
    return contact


def get_contact(session: Session, contact_id: int, *, lock: bool = False) -> Contact:
    """The contact; ``lock`` serialises the transactions that take it so until they end."""
    if lock:
        xact_lock(session, "contact", str(contact_id))
    contact = session.get(Contact, contact_id)  # no query when this transaction holds it
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
    if transition(session, contact, "choose", at=now, dedupe_key=dedupe_key, node=node, key=key):
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
    **data: Any,
) -> Contact:
    """Put the contact in line. ``joined_at`` keeps an earlier place (callbacks)."""
    if not can(contact, "enqueue"):
        raise Conflict(f"contact {contact.id} is {contact.state} and cannot be queued")
    contact.queue = queue
    contact.queued_at = now
    contact.joined_at = joined_at or contact.joined_at or now
    contact.skills = dict(skills or {})
    contact.priority = priority
    transition(session, contact, "enqueue", at=now, queue=queue, **data)
    return contact


def wait_s(contact: Contact, now: datetime) -> float:
    start = contact.queued_at or contact.arrived_at
    return max(0.0, (now - start).total_seconds())


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
