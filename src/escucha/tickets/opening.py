"""Opening tickets and complaints in the database (P1-P6, W6, M4).

Every way in (phone wrap-up, web form, email, API) ends in :func:`open_ticket`, which in the
caller's transaction takes the next number from the year's counter, routes the ticket to a team,
records its promises on the team's business calendar, writes the acknowledgment to the outbox
and appends to the audit trail. Nothing in it looks at what a complaint says, or how long it
is, to decide whether to register it: a description longer than :data:`MAX_DESCRIPTION`
characters is shown cut on the case and kept whole as an attached text file (ADR 27).

Due times. The organisation's regulatory profile plans the promises (acknowledgment, first
response, resolution, repair, ...) on the team's calendar and on the legal calendar; a matching
SLA policy of the organisation can make a first response or resolution *earlier*, never later
than the regulation. Written requests (email, web) that are not complaints get a first response
time estimated from the real backlog, see
:func:`escucha.tickets.estimates.written_queue_eta`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from escucha import languages
from escucha.auth.models import User
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact, Customer
from escucha.errors import InvalidInput
from escucha.notifications import service as notifications
from escucha.notifications.messages import when_phrase
from escucha.notifications.models import Notification
from escucha.org import models as org
from escucha.promises import rules as prules
from escucha.promises import service as promises
from escucha.promises.models import Promise
from escucha.tickets import profiles as tprofiles
from escucha.tickets import rules as trules
from escucha.tickets.estimates import WrittenEta, with_eta, written_queue_eta
from escucha.tickets.idempotency import IdempotencyKeyReused
from escucha.tickets.models import Ticket, TicketContact, TicketCounter, TicketMessage
from escucha.tickets.planning import (
    OrgContext,
    org_context,
    plan_for,
    promise_label,
    promises_of,
    record_promises,
    route,
    schedule_jobs,
    team_calendar,
)
from escucha.tickets.rules import TicketKind, TicketStatus
from escucha.tickets.service import (
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_SUBJECT,
    WRITTEN_CHANNELS,
    actor_of,
    add_message,
    audit_case,
    aware_utc,
    customer_of,
    keep_whole_text,
    one_line,
    safe_text,
    shown_part,
    status_url,
    system_event,
    tell_customer,
)

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


# --- numbers --------------------------------------------------------------------------------------


def allocate_number(session: Session, year: int) -> tuple[int, str]:
    """The next sequence of ``year`` and its formatted number, from the database counter.

    ``UPDATE ticket_counters SET value = value + 1 WHERE year = :y RETURNING value`` is atomic
    on SQLite (>= 3.35) and PostgreSQL; the row stays locked until the transaction ends, so two
    app nodes never get the same value, and a rolled-back ticket gives its number back.
    """
    table = cast(Table, TicketCounter.__table__)
    stmt = (
        update(table)
        .where(table.c.year == year)
        .values(value=table.c.value + 1)
        .returning(table.c.value)
    )
    value = session.execute(stmt).scalar()
    if value is None:
        try:
            with session.begin_nested():
                session.execute(insert(table).values(year=year, value=0))
        except IntegrityError:
            pass  # another node created the year's row first
        value = session.execute(stmt).scalar_one()
    return int(value), trules.format_ticket_number(year, int(value))


# --- opening tickets ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Intake:
    """What a customer or agent gives when a ticket is opened. Every field may be empty."""

    channel: str
    description: str | None = None
    kind: str | None = None
    subject: str = ""
    name: str = ""
    email: str | None = None
    phone: str | None = None
    language: str | None = None
    topic: str | None = None
    area: str | None = None
    request_key: str | None = None
    request_hash: str | None = None
    message_id: str | None = None


@dataclass
class Opened:
    """A ticket just opened (or found again by its request key), with what was promised."""

    ticket: Ticket
    promises: list[Promise]
    problems: tuple[trules.TextProblem, ...] = ()
    notification: Notification | None = None
    created: bool = True
    eta: WrittenEta | None = None
    upgraded_to_complaint: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def next_due(self) -> datetime | None:
        pending = [p.due_at for p in self.promises if p.state == "pending"]
        return min(pending) if pending else None


def _customer_for(
    session: Session, intake: Intake, ctx: OrgContext, *, now: datetime, language: str
) -> tuple[Customer | None, list[str]]:
    """The customer by phone or email; details that cannot be read are kept as a note."""
    notes: list[str] = []
    phone = one_line(intake.phone, 40)
    email = one_line(intake.email, 320)
    e164: str | None = None
    if phone:
        try:
            e164 = contacts.normalise_phone(phone, ctx.region)
        except InvalidInput:
            notes.append(f"phone as written: {phone}")
    if email and not _EMAIL.match(email):
        notes.append(f"email as written: {email}")
        email = ""
    if not e164 and not email:
        return None, notes
    customer = contacts.find_or_create_customer(
        session,
        now=now,
        phone=e164,
        email=email or None,
        name=one_line(intake.name, MAX_NAME),
        language=language,
        timezone=ctx.timezone,
        region=ctx.region,
        verified=intake.channel == "email",  # the sender's address, not a typed one
    )
    return customer, notes


def _language(intake: Intake, ctx: OrgContext) -> str:
    return languages.resolve(intake.language, ctx.language)


def _ack_due(ticket: Ticket, made: Sequence[Promise]) -> datetime | None:
    pending = {p.kind: p.due_at for p in made if p.state == "pending"}
    if ticket.kind == TicketKind.COMPLAINT:
        order = ("resolution", "first_response", "repair")
    else:
        order = ("first_response", "repair", "resolution")
    for kind in order:
        if kind in pending:
            return pending[kind]
    return min(pending.values()) if pending else None


def acknowledge(
    session: Session,
    ticket: Ticket,
    customer: Customer | None,
    made: Sequence[Promise],
    *,
    now: datetime,
    base_url: str,
    key_suffix: str = "ack",
    message_kind: str | None = None,
) -> Notification | None:
    """Queue the acknowledgment with number, code, promised time and status link (P2, P5).

    A customer without phone or email is told on screen (or on the phone) instead. A message
    that cannot be rendered never undoes the ticket: it is noted in the thread.
    """
    if customer is None or not (customer.email or customer.phone):
        return None
    due = _ack_due(ticket, made)
    if due is None or due < now:
        system_event(session, ticket, "ack_not_sent", now=now, detail="no promised time to tell")
        return None
    if message_kind is None:
        if ticket.kind == TicketKind.COMPLAINT:
            message_kind = "complaint_ack"
        elif ticket.channel == "email":
            message_kind = "email_auto_ack"
        else:
            message_kind = "ticket_ack"
    preferred = "email" if ticket.channel in WRITTEN_CHANNELS else "sms"
    return tell_customer(
        session,
        ticket,
        customer,
        message_kind,
        now=now,
        key=f"ticket:{ticket.id}:{key_suffix}",
        channel=preferred,
        ticket_id=ticket.id,
        number=ticket.number,
        verification_code=ticket.verification_code,
        due=due,
        status_url=status_url(base_url, ticket.number),
        name=customer.name or None,
        ticket_kind=ticket.kind,
        description_missing=ticket.description_missing,
    )


def open_ticket(
    session: Session,
    intake: Intake,
    *,
    now: datetime,
    base_url: str,
    user: User | None = None,
    customer: Customer | None = None,
    contact: Contact | None = None,
    notify_customer: bool = True,
    actor: str | None = None,
) -> Opened:
    """Open a ticket and give its number, in the caller's transaction (P3, P5).

    The kind comes from ``intake.kind`` or, when empty, from the complaint hint (complaint,
    fault, else query). A text that says the customer wants to complain ("quiero poner una
    reclamación", "I want to file a complaint") is registered as a complaint whatever kind
    was chosen. A description over :data:`MAX_DESCRIPTION` is shown cut and kept whole as an
    attached text file; an empty description is registered and the customer is asked for it.
    """
    now = aware_utc(now, "now")
    if intake.request_key:
        found = session.scalar(select(Ticket).where(Ticket.request_key == intake.request_key))
        if found is not None:
            return _opened_again(session, found, intake)
    raw = safe_text(intake.description)
    problems = trules.validate_complaint_text(raw, MAX_DESCRIPTION)
    if intake.channel not in tprofiles.CHANNELS:
        raise InvalidInput(f"channel: one of {', '.join(tprofiles.CHANNELS)}")
    ctx = org_context(session)
    lang = _language(intake, ctx)
    whole = trules.clean_text(raw)
    description = shown_part(whole)
    subject = one_line(intake.subject, MAX_SUBJECT)
    hint = trules.classify_text(f"{subject}\n{description}", lang)
    try:
        kind = TicketKind(intake.kind) if intake.kind else (hint.kind_hint or TicketKind.QUERY)
    except ValueError:
        raise InvalidInput(f"kind: one of {', '.join(k.value for k in TicketKind)}") from None
    upgraded = False
    explicit = hint.kind_hint is TicketKind.COMPLAINT and hint.score >= 1.0
    if kind is not TicketKind.COMPLAINT and explicit:  # they said they want to complain: P5
        kind, upgraded = TicketKind.COMPLAINT, True
    notes: list[str] = []
    if customer is None:
        customer, notes = _customer_for(session, intake, ctx, now=now, language=lang)
    team, policy = route(
        session, kind.value, intake.channel, queue=contact.queue if contact else None
    )
    year = now.astimezone(ZoneInfo(ctx.timezone)).year
    savepoint = session.begin_nested()  # a twin request with the same key may win the race
    sequence, number = allocate_number(session, year)
    ticket = Ticket(
        number=number,
        year=year,
        sequence=sequence,
        kind=kind.value,
        topic=one_line(intake.topic, 40) or None,
        area=intake.area if intake.area in ("urban", "rural") else None,
        status=TicketStatus.NEW.value,
        channel=intake.channel,
        subject=subject,
        description=description,
        description_missing=not description,
        language=customer.language if customer is not None else lang,
        customer_id=customer.id if customer is not None else None,
        team_id=team.id if team is not None else None,
        created_by_id=user.id if user is not None else None,
        origin_contact_id=contact.id if contact is not None else None,
        verification_code=trules.new_verification_code(secrets.SystemRandom()),
        kind_hint=hint.kind_hint.value if hint.kind_hint is not None else None,
        hint_score=hint.score,
        hint_phrases=list(hint.matched_phrases),
        regulatory_profile=ctx.profile.id,
        request_key=intake.request_key[:120] if intake.request_key else None,
        request_hash=intake.request_hash if intake.request_key else None,
        contact_note="\n".join(notes) or None,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    try:
        session.flush()
    except IntegrityError:
        savepoint.rollback()
        twin = (
            session.scalar(select(Ticket).where(Ticket.request_key == intake.request_key))
            if intake.request_key
            else None
        )
        if twin is None:
            raise
        return _opened_again(session, twin, intake)
    savepoint.commit()
    if contact is not None:
        link_contact(session, ticket, contact, now=now)
    first: TicketMessage | None = None
    if description or subject:
        first = add_message(
            session,
            ticket,
            now=now,
            direction="in",
            visibility="customer",
            author_kind="agent" if user is not None and intake.channel == "voice" else "customer",
            author=user if intake.channel == "voice" else None,
            channel=intake.channel,
            subject=subject,
            body=description,
            from_address=customer.email if customer is not None else None,
            message_id=intake.message_id,
        )
    if whole != description:
        keep_whole_text(session, ticket, first, whole, now=now)
    system_event(session, ticket, "registered", now=now, customer_visible=True)
    if upgraded:
        system_event(
            session,
            ticket,
            "kind_from_words",
            now=now,
            detail=", ".join(hint.matched_phrases),
        )
    planned, cal = plan_for(session, ticket, team, ctx, at=now, policy=policy)
    eta: WrittenEta | None = None
    if ticket.channel in WRITTEN_CHANNELS and kind is not TicketKind.COMPLAINT:
        eta = written_queue_eta(session, team, now=now, cal=cal, exclude_ticket_id=ticket.id)
        planned = with_eta(planned, eta, cal, now=now)
    made = record_promises(session, ticket, planned, now=now, cal=cal, customer=customer, ctx=ctx)
    audit_case(
        session,
        ticket,
        "ticket.created",
        now=now,
        actor=actor or actor_of(user, "customer"),
        channel=ticket.channel,
        team_id=ticket.team_id,
        description_sha256=hashlib.sha256(whole.encode()).hexdigest(),
        description_chars=trules.visible_length(whole),
        hint=ticket.kind_hint,
        upgraded_to_complaint=upgraded,
        promises={p.kind: p.due_at.isoformat() for p in made},
    )
    note = (
        acknowledge(session, ticket, customer, made, now=now, base_url=base_url)
        if notify_customer
        else None
    )
    return Opened(ticket, made, problems, note, True, eta, upgraded, notes)


def _opened_again(session: Session, found: Ticket, intake: Intake) -> Opened:
    """The answer to a retry with a key already used by the same caller: the first ticket,
    or :class:`IdempotencyKeyReused` when the fields sent differ from the first time."""
    if found.request_hash is not None and intake.request_hash != found.request_hash:
        raise IdempotencyKeyReused()
    return Opened(
        found,
        promises_of(session, found.id),
        created=False,
        notification=notifications.queued(session, f"ticket:{found.id}:ack"),
    )


def acknowledgment_state(
    session: Session, ticket: Ticket, notification: Notification | None
) -> tuple[str | None, str]:
    """Why no acknowledgment went to the customer (a reason code and a sentence), or
    ``(None, "")`` when one did. Read from what was stored, so a retry answers the same."""
    if notification is not None:
        return None, ""
    customer = customer_of(session, ticket)
    written = (ticket.contact_note or "").splitlines()
    if customer is None or not (customer.email or customer.phone):
        if any(line.startswith("email as written:") for line in written):
            return "email_unusable", "the email address is not usable, and no usable phone"
        if any(line.startswith("phone as written:") for line in written):
            return "phone_unusable", "the phone number is not usable, and no usable email"
        return "no_contact", "no email or phone was given: give the number and code yourself"
    note = session.scalar(
        select(TicketMessage)
        .where(TicketMessage.ticket_id == ticket.id, TicketMessage.subject == "ack_not_sent")
        .order_by(TicketMessage.id.desc())
        .limit(1)
    )
    if note is not None:
        return "not_sent", note.body or "the acknowledgment could not be written"
    return "not_sent", "no acknowledgment is sent for this request"


def file_complaint(
    session: Session,
    intake: Intake,
    *,
    now: datetime,
    base_url: str,
    user: User | None = None,
    actor: str | None = None,
) -> Opened:
    """Register a complaint (web form, API): always a number, whatever the text says (P5)."""
    return open_ticket(
        session,
        replace(intake, kind=TicketKind.COMPLAINT.value),
        now=now,
        base_url=base_url,
        user=user,
        actor=actor,
    )


def open_ticket_from_contact(
    session: Session,
    contact: Contact,
    *,
    kind: str,
    description: str,
    user: User,
    now: datetime,
    base_url: str,
    promised_at: datetime | None = None,
    promised_kind: str = "update",
    subject: str = "",
    topic: str | None = None,
    area: str | None = None,
) -> Opened:
    """Phone wrap-up (P3): the agent opens a ticket for the contact's customer.

    ``promised_at`` is the time the agent told the customer ("we will call you tomorrow
    before 12:00"); it becomes a promise of ``promised_kind`` and the acknowledgment (SMS,
    else email) states it. The ticket number is given to the agent to read out.
    """
    customer = session.get(Customer, contact.customer_id) if contact.customer_id else None
    channel = contact.channel if contact.channel in tprofiles.CHANNELS else "voice"
    opened = open_ticket(
        session,
        Intake(
            channel=channel,
            description=description,
            kind=kind,
            subject=subject,
            topic=topic,
            area=area,
            language=contact.language,
        ),
        now=now,
        base_url=base_url,
        user=user,
        customer=customer,
        contact=contact,
        notify_customer=promised_at is None,
    )
    ticket = opened.ticket
    if ticket.assignee_id is None:
        ticket.assignee_id = user.id
    if promised_at is not None:
        due = aware_utc(promised_at, "promised_at")
        if due <= now:
            raise InvalidInput("promised_at: the promised time must be in the future")
        kind_value = prules.PromiseKind(promised_kind).value
        ctx = org_context(session)
        team = session.get(org.Team, ticket.team_id) if ticket.team_id else None
        cal = team_calendar(session, team, ctx, now)
        lang = customer.language if customer is not None else ticket.language
        tz = customer.timezone if customer is not None else ctx.timezone
        promise = promises.create(
            session,
            kind=kind_value,
            due_at=due,
            now=now,
            channel=ticket.channel,
            subject_kind=ticket.kind,
            told=f"{promise_label(kind_value, lang)}: "
            f"{when_phrase(due, now=now, tz=tz, lang=lang)}",
            customer_id=ticket.customer_id,
            team=str(ticket.team_id) if ticket.team_id else None,
            ticket_id=ticket.id,
            cal=cal,
        )
        schedule_jobs(
            session,
            promise,
            [promise.escalate_at or due],
            tprofiles.BreachAction.ESCALATE,
            now=now,
        )
        opened.promises.append(promise)
        audit_case(
            session,
            ticket,
            "promise.made",
            now=now,
            actor=actor_of(user),
            promise=kind_value,
            due=due.isoformat(),
        )
        made = [promise] if ticket.kind != TicketKind.COMPLAINT else opened.promises
        opened.notification = acknowledge(
            session, ticket, customer, made, now=now, base_url=base_url
        )
    return opened


def link_contact(session: Session, ticket: Ticket, contact: Contact, *, now: datetime) -> None:
    exists_ = session.scalar(
        select(TicketContact.id).where(
            TicketContact.ticket_id == ticket.id, TicketContact.contact_id == contact.id
        )
    )
    if exists_ is None:
        session.add(TicketContact(ticket_id=ticket.id, contact_id=contact.id, linked_at=now))
        session.flush()
