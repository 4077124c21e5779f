"""Tickets and complaints in the database (P1-P6, W6, M4).

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
time estimated from the real backlog, see :func:`written_queue_eta`.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, case, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from escucha import languages
from escucha.audit import service as audit
from escucha.auth.models import User
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact, Customer
from escucha.csvsafe import SafeDictWriter
from escucha.errors import EscuchaError, InvalidInput, NotFound
from escucha.jobs.service import enqueue
from escucha.notifications import service as notifications
from escucha.notifications.messages import find_vague_phrases, when_phrase
from escucha.notifications.models import Notification
from escucha.org import home
from escucha.org import models as org
from escucha.org.reach import Reach
from escucha.promises import rules as prules
from escucha.promises import service as promises
from escucha.promises.calendars import years_around
from escucha.promises.models import Promise
from escucha.tickets import profiles as tprofiles
from escucha.tickets import rules as trules
from escucha.tickets.idempotency import IdempotencyKeyReused
from escucha.tickets.models import (
    Ticket,
    TicketAttachment,
    TicketContact,
    TicketCounter,
    TicketMerge,
    TicketMessage,
)
from escucha.tickets.rules import TicketKind, TicketStatus

MAX_DESCRIPTION = 5000
"""Characters of description a case shows (after cleaning); longer text is kept whole as an
attached file, :data:`FULL_TEXT_FILE`."""
FULL_TEXT_FILE = "description.txt"
_CUT_NOTE = "\n[…]"
MAX_SUBJECT = 300
MAX_NAME = 200
OPEN_STATUSES: tuple[str, ...] = ("new", "open", "waiting_customer", "reopened", "appealed")
AWAITING_TEAM: tuple[str, ...] = ("new", "open", "reopened", "appealed")
WRITTEN_CHANNELS: tuple[str, ...] = ("email", "web")
WRITTEN_SKILL = "email"
"""Agent skill that answers the written queue; when nobody on the team has it, all count."""
DEFAULT_HANDLING_S = 900.0
"""Handling time per written reply until the team has measured replies of its own."""
HANDLING_WINDOW_DAYS = 30
RESPONSE_SHARE = 0.8
"""The written estimate is never earlier than the time within which this share of the team's
recent written requests got their first answer (business time): agents rarely sit on an empty
inbox, so backlog over staffing alone would promise minutes and break the promise."""
MIN_RESPONSE_SAMPLES = 20
MAX_RESPONSE_SAMPLES = 500
"""The most recent answers the share is read from (a request is never slowed by history)."""
AT_RISK_WITHIN = timedelta(hours=1)
REPLY_PROMISES = ("first_response", "update")
RESOLVING_PROMISES = ("first_response", "update", "resolution", "repair")

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


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


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{name}: give a time with its time zone")
    return value.astimezone(UTC)


# --- the organisation's context -------------------------------------------------------------------


@dataclass(frozen=True)
class OrgContext:
    """The organisation (if loaded), its regulatory profile, time zone and language."""

    organisation: org.Organisation | None
    profile: tprofiles.RegulatoryProfile
    timezone: str
    language: str
    region: str


def org_context(session: Session) -> OrgContext:
    """Never fails: without an organisation the generic profile and UTC are used."""
    organisation = session.scalar(select(org.Organisation).order_by(org.Organisation.id).limit(1))
    profile_id = organisation.regulatory_profile if organisation is not None else "generic"
    try:
        profile = tprofiles.load_builtin_profile(profile_id)
    except NotFound:
        profile = tprofiles.load_builtin_profile("generic")
    if organisation is None:
        return OrgContext(None, profile, home.zone_name(session), profile.languages.default, "ES")
    return OrgContext(
        organisation,
        profile,
        home.zone_name(session),
        home.default_language(session),
        organisation.country.upper() or "ES",
    )


_LEGAL: dict[tuple[str, str | None, str | None, tuple[int, ...]], prules.BusinessCalendar] = {}


def legal_calendar(ctx: OrgContext, now: datetime) -> prules.BusinessCalendar:
    """Working days for legal deadlines: the profile's country, the organisation's region."""
    profile, organisation = ctx.profile, ctx.organisation
    country: str | None = None
    subdivision: str | None = None
    home = profile.holidays.country
    if organisation is not None and home and organisation.country.upper() == home.upper():
        country, subdivision = home.upper(), organisation.subdivision
    years = years_around(now)
    key = (profile.id, country, subdivision, years)
    cal = _LEGAL.get(key)
    if cal is None:
        cal = tprofiles.profile_legal_calendar(
            profile, years=years, country=country, subdivision=subdivision
        )
        _LEGAL[key] = cal
    return cal


def team_calendar(
    session: Session, team: org.Team | None, ctx: OrgContext, now: datetime
) -> prules.BusinessCalendar:
    if team is None:
        return prules.BusinessCalendar.always_open(ctx.timezone, name="no team")
    return promises.calendar(session, team.calendar_id, now)


# --- routing --------------------------------------------------------------------------------------


def sla_policy(session: Session, kind: str, channel: str) -> org.SlaPolicy | None:
    """The most specific policy: exact kind before ``any``, then exact channel before ``any``."""
    best: tuple[int, int, int] | None = None
    chosen: org.SlaPolicy | None = None
    for policy in session.scalars(select(org.SlaPolicy).order_by(org.SlaPolicy.id)):
        if policy.ticket_kind not in (kind, "any") or policy.channel not in (channel, "any"):
            continue
        score = (int(policy.ticket_kind == kind), int(policy.channel == channel), -policy.id)
        if best is None or score > best:
            best, chosen = score, policy
    return chosen


def route(
    session: Session, kind: str, channel: str, *, queue: str | None = None
) -> tuple[org.Team | None, org.SlaPolicy | None]:
    """The team that handles a ticket and the SLA policy that applies (P5: complaints go to
    the team that handles complaints, with its own allowance)."""
    policy = sla_policy(session, kind, channel)
    team: org.Team | None = None
    if kind == TicketKind.COMPLAINT:
        team = session.scalar(
            select(org.Team).where(org.Team.handles_complaints.is_(True)).order_by(org.Team.id)
        )
    if team is None and policy is not None:
        team = session.get(org.Team, policy.team_id)
    if team is None and queue:
        q = session.scalar(select(org.Queue).where(org.Queue.name == queue))
        team = session.get(org.Team, q.team_id) if q is not None else None
    if team is None:
        team = session.scalar(
            select(org.Team).order_by(org.Team.handles_complaints, org.Team.id).limit(1)
        )
    return team, policy


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


# --- written queue estimate -----------------------------------------------------------------------


@dataclass(frozen=True)
class WrittenEta:
    """An estimated first-response time for the written queue (P2) and how it was made.

    ``backlog_s = (ahead + 1) * handling_s / agents``; ``work_s`` is the larger of that and
    ``responded_s``, the business time within which ``RESPONSE_SHARE`` of the team's written
    requests of the last 30 days got their first answer (once there are
    ``MIN_RESPONSE_SAMPLES`` of them); ``due`` is ``work_s`` of the team's open time after now,
    rounded up to 5 minutes of local time.
    """

    due: datetime
    ahead: int
    agents: int
    handling_s: float
    samples: int
    work_s: float
    backlog_s: float = 0.0
    responded_s: float | None = None
    responses: int = 0


def written_agents(session: Session, team: org.Team | None) -> int:
    """Agents of the team who answer written requests (skill ``email``; else all), at least 1."""
    if team is None:
        return 1
    rows = session.scalars(
        select(org.AgentProfile)
        .join(User, User.id == org.AgentProfile.user_id)
        .where(org.AgentProfile.team_id == team.id, User.active.is_(True))
    ).all()
    skilled = [p for p in rows if WRITTEN_SKILL in (p.skills or {})]
    return max(1, len(skilled or rows))


def measured_handling_s(
    session: Session, team: org.Team | None, *, now: datetime
) -> tuple[float, int]:
    """Mean handling time of the team's written replies in the last 30 days, and the count."""
    since = now - timedelta(days=HANDLING_WINDOW_DAYS)
    team_filter = Ticket.team_id.is_(None) if team is None else Ticket.team_id == team.id
    mean, count = session.execute(
        select(func.avg(TicketMessage.work_s), func.count(TicketMessage.id))
        .join(Ticket, Ticket.id == TicketMessage.ticket_id)
        .where(
            team_filter,
            Ticket.channel.in_(WRITTEN_CHANNELS),
            TicketMessage.author_kind == "agent",
            TicketMessage.visibility == "customer",
            TicketMessage.work_s.is_not(None),
            TicketMessage.created_at >= since,
        )
    ).one()
    if not count:
        return DEFAULT_HANDLING_S, 0
    return float(mean), int(count)


def measured_first_response_s(
    session: Session, team: org.Team | None, *, now: datetime, cal: prules.BusinessCalendar
) -> tuple[float | None, int]:
    """Business seconds within which ``RESPONSE_SHARE`` of the team's written requests of the
    last 30 days (the latest ``MAX_RESPONSE_SAMPLES`` answered) got their first answer, and
    how many were read (``None`` below ``MIN_RESPONSE_SAMPLES``)."""
    since = now - timedelta(days=HANDLING_WINDOW_DAYS)
    team_filter = Ticket.team_id.is_(None) if team is None else Ticket.team_id == team.id
    rows = session.execute(
        select(Ticket.created_at, Ticket.first_response_at)
        .where(
            team_filter,
            Ticket.channel.in_(WRITTEN_CHANNELS),
            Ticket.first_response_at.is_not(None),
            Ticket.created_at >= since,
        )
        .order_by(Ticket.first_response_at.desc())
        .limit(MAX_RESPONSE_SAMPLES)
    ).all()
    waits = [prules.business_seconds_between(cal, a, b) for a, b in rows if b is not None]
    if len(waits) < MIN_RESPONSE_SAMPLES:
        return None, len(waits)
    return trules.nearest_rank(waits, RESPONSE_SHARE), len(waits)


def written_queue_eta(
    session: Session,
    team: org.Team | None,
    *,
    now: datetime,
    cal: prules.BusinessCalendar,
    exclude_ticket_id: int | None = None,
) -> WrittenEta:
    """When a new written request will get its first answer, from backlog and staffing (P2).

    ``ahead`` counts the team's open email and web tickets still waiting for a first answer;
    ``handling_s`` is the measured mean handling time of the team's written replies (each
    reply records the time the agent spent on it); ``agents`` those on the team with the
    ``email`` skill. The estimate is never earlier than how fast the team has been answering
    (:func:`measured_first_response_s`). Business time is counted on the team's calendar, so
    a message sent on Friday evening is answered on Monday.
    """
    team_filter = Ticket.team_id.is_(None) if team is None else Ticket.team_id == team.id
    stmt = select(func.count(Ticket.id)).where(
        team_filter,
        Ticket.channel.in_(WRITTEN_CHANNELS),
        Ticket.status.in_(AWAITING_TEAM),
        Ticket.first_response_at.is_(None),
    )
    if exclude_ticket_id is not None:
        stmt = stmt.where(Ticket.id != exclude_ticket_id)
    ahead = int(session.scalar(stmt) or 0)
    agents = written_agents(session, team)
    handling_s, samples = measured_handling_s(session, team, now=now)
    backlog_s = (ahead + 1) * handling_s / agents
    responded_s, responses = measured_first_response_s(session, team, now=now, cal=cal)
    work_s = max(backlog_s, responded_s or 0.0)
    due = prules.add_business_time(cal, now, timedelta(seconds=work_s))
    due = prules.round_up_local(due, cal.timezone, 5)
    return WrittenEta(
        due, ahead, agents, handling_s, samples, work_s, backlog_s, responded_s, responses
    )


# --- promises -------------------------------------------------------------------------------------

_LABELS = {
    "acknowledgment": ("Número al momento", "Number at once"),
    "first_response": ("Primera respuesta", "First response"),
    "update": ("Próxima actualización", "Next update"),
    "resolution": ("Resolución", "Resolution"),
    "callback": ("Llamada de vuelta", "Callback"),
    "repair": ("Reparación", "Repair"),
    "notification": ("Notificación de la resolución", "Decision notified"),
    "regulatory_deadline": ("Plazo reglamentario", "Regulatory deadline"),
    "appeal_resolution": ("Respuesta al recurso", "Answer to the appeal"),
}


def promise_label(kind: str, lang: str) -> str:
    es, en = _LABELS.get(kind, (kind, kind))
    return en if lang.lower().startswith("en") else es


def _policy_promise(
    kind: prules.PromiseKind,
    spec: dict[str, Any],
    cal: prules.BusinessCalendar,
    at: datetime,
    fraction: float,
) -> tprofiles.PlannedPromise | None:
    if not spec:
        return None
    try:
        allowance = prules.Allowance.from_mapping(spec)
    except ValueError:
        return None
    due = prules.due_at(allowance, cal, at)
    es, en = _LABELS[kind.value]
    return tprofiles.PlannedPromise(
        kind=kind,
        due=due,
        allowance=allowance,
        regulatory=False,
        on_breach=tprofiles.BreachAction.ESCALATE,
        escalate_at=prules.escalation_times(cal, at, due, (fraction,)) if due > at else (),
        label_es=es,
        label_en=en,
    )


def plan_for(
    session: Session,
    ticket: Ticket,
    team: org.Team | None,
    ctx: OrgContext,
    *,
    at: datetime,
    anchor: tprofiles.Anchor = "created",
    policy: org.SlaPolicy | None = None,
) -> tuple[list[tprofiles.PlannedPromise], prules.BusinessCalendar]:
    """The profile's promises for ``anchor``; the SLA policy may make them earlier."""
    cal = team_calendar(session, team, ctx, at)
    planned = {
        p.kind: p
        for p in tprofiles.plan_promises(
            ctx.profile,
            kind=ticket.kind,
            channel=ticket.channel,
            at=at,
            calendar=cal,
            legal=legal_calendar(ctx, at),
            area=ticket.area if ticket.area in ("urban", "rural") else None,  # type: ignore[arg-type]
            topic=ticket.topic,
            anchor=anchor,
        )
    }
    if anchor == "created" and policy is not None:
        for kind, spec in (
            (prules.PromiseKind.FIRST_RESPONSE, policy.first_response),
            (prules.PromiseKind.RESOLUTION, policy.resolution),
        ):
            own = _policy_promise(kind, dict(spec or {}), cal, at, policy.escalate_at)
            if own is None:
                continue
            current = planned.get(kind)
            if current is None:
                planned[kind] = own
            elif own.due < current.due:
                planned[kind] = replace(current, due=own.due, escalate_at=own.escalate_at)
    return sorted(planned.values(), key=lambda p: (p.due, p.kind.value)), cal


def _told_due(planned: tprofiles.PlannedPromise, tz: str) -> datetime:
    """Regulatory deadlines are told to the minute, never later; others rounded up to 5 min."""
    if planned.regulatory:
        return planned.due.replace(second=0, microsecond=0)
    return prules.round_up_local(planned.due, tz, 5)


def _schedule_jobs(
    session: Session,
    promise: Promise,
    escalate_at: Sequence[datetime],
    on_breach: tprofiles.BreachAction,
    *,
    now: datetime,
) -> None:
    for i, at in enumerate(sorted(set(escalate_at))):
        enqueue(
            session,
            "tickets.escalate",
            {"promise_id": promise.id},
            now=now,
            run_at=max(at, now),
            idempotency_key=f"promise:{promise.id}:escalate:{i}",
        )
    enqueue(
        session,
        "tickets.breach",
        {"promise_id": promise.id, "on_breach": on_breach.value},
        now=now,
        run_at=promise.due_at + timedelta(seconds=1),
        idempotency_key=f"promise:{promise.id}:breach",
    )


def record_promises(
    session: Session,
    ticket: Ticket,
    planned: Iterable[tprofiles.PlannedPromise],
    *,
    now: datetime,
    cal: prules.BusinessCalendar,
    customer: Customer | None,
    ctx: OrgContext,
) -> list[Promise]:
    """Write planned promises to the ledger, with escalation and breach jobs.

    A promise due at once (the acknowledgment with its number) is kept in this very
    transaction, since the number is given in the answer to the request.
    """
    tz = customer.timezone if customer is not None else ctx.timezone
    lang = customer.language if customer is not None else ticket.language
    out: list[Promise] = []
    for p in planned:
        due = _told_due(p, tz)
        label = p.label(lang)
        if due <= now:
            promise = Promise(
                kind=p.kind.value,
                state=prules.PromiseState.KEPT.value,
                customer_id=ticket.customer_id,
                ticket_id=ticket.id,
                team=str(ticket.team_id) if ticket.team_id else None,
                channel=ticket.channel,
                subject_kind=ticket.kind,
                created_at=now,
                due_at=now,
                settled_at=now,
                told=f"{label}: {ticket.number}",
            )
            session.add(promise)
            session.flush()
            out.append(promise)
            continue
        told = f"{label}: {when_phrase(due, now=now, tz=tz, lang=lang)}"
        promise = promises.create(
            session,
            kind=p.kind.value,
            due_at=due,
            now=now,
            channel=ticket.channel,
            subject_kind=ticket.kind,
            told=told[:2000],
            customer_id=ticket.customer_id,
            team=str(ticket.team_id) if ticket.team_id else None,
            ticket_id=ticket.id,
            cal=cal,
        )
        escalations = [t for t in p.escalate_at if t < due] or [promise.escalate_at or due]
        promise.escalate_at = min(escalations)
        _schedule_jobs(session, promise, escalations, p.on_breach, now=now)
        out.append(promise)
    session.flush()
    return out


def promises_of(session: Session, ticket_id: int) -> list[Promise]:
    stmt = (
        select(Promise).where(Promise.ticket_id == ticket_id).order_by(Promise.due_at, Promise.id)
    )
    return list(session.scalars(stmt))


def pending_promises(session: Session, ticket_id: int) -> list[Promise]:
    return [p for p in promises_of(session, ticket_id) if p.state == "pending"]


def next_promise(session: Session, ticket_id: int) -> Promise | None:
    pending = pending_promises(session, ticket_id)
    return pending[0] if pending else None


def _fulfil(session: Session, ticket: Ticket, kinds: Sequence[str], *, now: datetime) -> None:
    for p in pending_promises(session, ticket.id):
        if p.kind in kinds:
            promises.fulfil(session, p, now=now)


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


def _audit(
    session: Session,
    ticket: Ticket,
    action: str,
    *,
    now: datetime,
    actor: str,
    **data: Any,
) -> None:
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
    return _tell_customer(
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


def _tell_customer(
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
    now = _aware(now, "now")
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
        planned = _with_eta(planned, eta, cal, now=now)
    made = record_promises(session, ticket, planned, now=now, cal=cal, customer=customer, ctx=ctx)
    _audit(
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
    customer = _customer(session, ticket)
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


def _with_eta(
    planned: list[tprofiles.PlannedPromise],
    eta: WrittenEta,
    cal: prules.BusinessCalendar,
    *,
    now: datetime,
) -> list[tprofiles.PlannedPromise]:
    """The first response is promised at the estimated time; if that is later than the
    published standard the promise is at risk from the start (escalated at once)."""
    out: list[tprofiles.PlannedPromise] = []
    found = False
    for p in planned:
        if p.kind is prules.PromiseKind.FIRST_RESPONSE and not p.regulatory:
            found = True
            late = eta.due > p.due
            escalate = (now,) if late else prules.escalation_times(cal, now, eta.due, (0.75,))
            out.append(replace(p, due=eta.due, escalate_at=escalate))
        else:
            out.append(p)
    if not found:
        es, en = _LABELS["first_response"]
        out.append(
            tprofiles.PlannedPromise(
                kind=prules.PromiseKind.FIRST_RESPONSE,
                due=eta.due,
                allowance=prules.Allowance(
                    eta.work_s / 60.0, prules.AllowanceUnit.BUSINESS_MINUTES
                ),
                regulatory=False,
                on_breach=tprofiles.BreachAction.ESCALATE,
                escalate_at=prules.escalation_times(cal, now, eta.due, (0.75,)),
                label_es=es,
                label_en=en,
            )
        )
    return sorted(out, key=lambda p: (p.due, p.kind.value))


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
        due = _aware(promised_at, "promised_at")
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
        _schedule_jobs(
            session,
            promise,
            [promise.escalate_at or due],
            tprofiles.BreachAction.ESCALATE,
            now=now,
        )
        opened.promises.append(promise)
        _audit(
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


# --- working a ticket -----------------------------------------------------------------------------


def _customer(session: Session, ticket: Ticket) -> Customer | None:
    return session.get(Customer, ticket.customer_id) if ticket.customer_id else None


def _move_status(ticket: Ticket, new: TicketStatus, *, now: datetime) -> None:
    ticket.status = trules.check_transition(ticket.status, new, ticket.kind).value
    ticket.updated_at = now


def _reopen_for_work(ticket: Ticket, *, now: datetime) -> None:
    if ticket.status in (TicketStatus.NEW, TicketStatus.REOPENED, TicketStatus.APPEALED):
        _move_status(ticket, TicketStatus.OPEN, now=now)


def _outgoing(
    session: Session,
    ticket: Ticket,
    customer: Customer,
    *,
    channel: str,
    subject: str,
    body: str,
    now: datetime,
    key: str,
) -> Notification:
    """A free-text message to the customer, written to the outbox with its send job."""
    address = customer.email if channel == "email" else customer.phone
    if not address:
        raise InvalidInput(
            f"channel: the customer has no {'email' if channel == 'email' else 'phone'}"
        )
    return notifications.write_outbox(
        session,
        customer,
        channel=channel,
        address=address,
        kind="ticket_reply",
        subject=subject[:300],
        body=body,
        key=key,
        now=now,
        ticket_id=ticket.id,
    )


def _reply_text(ticket: Ticket, customer: Customer, body: str, channel: str, base_url: str) -> str:
    english = customer.language.startswith("en")
    if channel == "sms":
        return f"{body} ({'Case' if english else 'Caso'} {ticket.number})"
    footer = (
        f"Case {ticket.number}. Status: {status_url(base_url, ticket.number)}"
        if english
        else f"Caso {ticket.number}. Estado: {status_url(base_url, ticket.number)}"
    )
    return f"{body}\n\n--\n{footer}\n"


def reply_subject(ticket: Ticket, lang: str) -> str:
    title = ticket.subject or ("Your case" if lang.startswith("en") else "Su caso")
    return f"Re: {title} [{ticket.number}]"


def reply_to_customer(
    session: Session,
    ticket: Ticket,
    body: str,
    *,
    user: User,
    now: datetime,
    base_url: str,
    channel: str = "email",
    work_s: float | None = None,
) -> TicketMessage:
    """Answer the customer by email or SMS from the thread; keeps first-response promises.

    The text must not promise without a time ("lo antes posible", "shortly"): say when.
    ``work_s`` is the time the agent spent on the reply, which measures handling time for
    the written queue's estimate.
    """
    text = trules.clean_text(safe_text(body))
    if not text:
        raise InvalidInput("body: write the answer to the customer")
    vague = find_vague_phrases(text)
    if vague:
        raise InvalidInput(
            f"body: promises no time ({', '.join(vague)}); say the date and time instead"
        )
    if channel not in ("email", "sms"):
        raise InvalidInput("channel: email or sms")
    customer = _customer(session, ticket)
    if customer is None:
        raise InvalidInput("channel: the ticket has no customer to write to; call or note it")
    if not (customer.email if channel == "email" else customer.phone):
        raise InvalidInput(
            f"channel: the customer has no {'email' if channel == 'email' else 'phone'}"
        )
    msg = add_message(
        session,
        ticket,
        now=now,
        direction="out",
        visibility="customer",
        author_kind="agent",
        author=user,
        channel=channel,
        subject=reply_subject(ticket, customer.language),
        body=text,
        work_s=max(0.0, min(float(work_s), 4 * 3600.0)) if work_s is not None else None,
    )
    note = _outgoing(
        session,
        ticket,
        customer,
        channel=channel,
        subject=msg.subject,
        body=_reply_text(ticket, customer, text, channel, base_url),
        now=now,
        key=f"ticket:{ticket.id}:message:{msg.id}",
    )
    msg.notification_id = note.id
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    _reopen_for_work(ticket, now=now)
    if ticket.assignee_id is None:
        ticket.assignee_id = user.id
    _fulfil(session, ticket, REPLY_PROMISES, now=now)
    _audit(
        session,
        ticket,
        "ticket.replied",
        now=now,
        actor=actor_of(user),
        channel=channel,
        notification_id=note.id,
        chars=len(text),
    )
    session.flush()
    return msg


def add_note(
    session: Session, ticket: Ticket, body: str, *, user: User, now: datetime
) -> TicketMessage:
    """An internal note: agents see it, the customer never does."""
    text = trules.clean_text(safe_text(body))
    if not text:
        raise InvalidInput("body: write the note")
    msg = add_message(
        session,
        ticket,
        now=now,
        direction="note",
        visibility="internal",
        author_kind="agent",
        author=user,
        channel="note",
        body=text,
    )
    _audit(session, ticket, "ticket.noted", now=now, actor=actor_of(user), chars=len(text))
    return msg


def add_customer_message(
    session: Session,
    ticket: Ticket,
    body: str,
    *,
    now: datetime,
    channel: str,
    subject: str = "",
    from_address: str | None = None,
    message_id: str | None = None,
    actor: str = "customer",
) -> TicketMessage:
    """The customer wrote again (email reply, status page): the ticket goes back to the team.
    A text over :data:`MAX_DESCRIPTION` is shown cut and attached whole."""
    whole = trules.clean_text(safe_text(body))
    text = shown_part(whole)
    msg = add_message(
        session,
        ticket,
        now=now,
        direction="in",
        visibility="customer",
        author_kind="customer",
        channel=channel,
        subject=one_line(subject, MAX_SUBJECT),
        body=text,
        from_address=from_address,
        message_id=message_id,
    )
    if whole != text:
        keep_whole_text(session, ticket, msg, whole, now=now, filename=f"message-{msg.id}.txt")
    if ticket.description_missing and text:
        ticket.description = text
        ticket.description_missing = False
    if ticket.status == TicketStatus.WAITING_CUSTOMER:
        _move_status(ticket, TicketStatus.OPEN, now=now)
    elif ticket.status == TicketStatus.RESOLVED:
        _move_status(ticket, TicketStatus.REOPENED, now=now)
    _audit(session, ticket, "ticket.customer_wrote", now=now, actor=actor, channel=channel)
    return msg


def reassign(
    session: Session,
    ticket: Ticket,
    *,
    user: User,
    now: datetime,
    team_id: int | None = None,
    assignee_id: int | None = None,
) -> Ticket:
    """Move the ticket to another team and/or agent; pending promises follow the team."""
    changes: dict[str, Any] = {}
    if team_id is not None and team_id != ticket.team_id:
        if session.get(org.Team, team_id) is None:
            raise InvalidInput(f"team: {team_id} does not exist")
        changes["team_id"] = [ticket.team_id, team_id]
        ticket.team_id = team_id
        for p in pending_promises(session, ticket.id):
            p.team = str(team_id)
    if assignee_id is not None and assignee_id != ticket.assignee_id:
        agent = session.get(User, assignee_id)
        if agent is None or not agent.active:
            raise InvalidInput(f"assignee: user {assignee_id} does not exist or is inactive")
        changes["assignee_id"] = [ticket.assignee_id, assignee_id]
        ticket.assignee_id = assignee_id
    if changes:
        ticket.updated_at = now
        system_event(session, ticket, "reassigned", now=now, detail=repr(changes))
        _audit(session, ticket, "ticket.reassigned", now=now, actor=actor_of(user), **changes)
    return ticket


def change_status(
    session: Session, ticket: Ticket, new: str, *, user: User, now: datetime
) -> Ticket:
    """Move along the status machine; resolving goes through :func:`resolve`."""
    try:
        target = TicketStatus(new)
    except ValueError:
        raise InvalidInput(f"status: one of {', '.join(s.value for s in TicketStatus)}") from None
    if target is TicketStatus.RESOLVED:
        raise InvalidInput("status: resolve with the resolution text (the customer is told)")
    if target is TicketStatus.APPEALED:
        raise InvalidInput("status: an appeal is filed with its text")
    old = ticket.status
    try:
        _move_status(ticket, target, now=now)
    except trules.InvalidTransitionError as exc:
        raise InvalidInput(f"status: {exc}") from None
    if target is TicketStatus.CLOSED:
        ticket.closed_at = now
    system_event(session, ticket, f"status:{target.value}", now=now, customer_visible=True)
    _audit(
        session, ticket, "ticket.status", now=now, actor=actor_of(user), old=old, new=target.value
    )
    return ticket


def resolve(
    session: Session,
    ticket: Ticket,
    resolution: str,
    *,
    user: User,
    now: datetime,
    base_url: str,
    channel: str | None = "email",
) -> Ticket:
    """Resolve with the answer; it is sent to the customer (``channel``) when possible.

    Resolution, repair and reply promises are kept (or counted broken if late); promises that
    start at resolution (the regulatory notification) are planned, and kept at once when the
    answer goes out now.
    """
    text = trules.clean_text(safe_text(resolution))
    if not text:
        raise InvalidInput("resolution: say how it was resolved; the customer is told")
    vague = find_vague_phrases(text)
    if vague:
        raise InvalidInput(f"resolution: promises no time ({', '.join(vague)})")
    was_appealed = ticket.status == TicketStatus.APPEALED
    try:
        _move_status(ticket, TicketStatus.RESOLVED, now=now)
    except trules.InvalidTransitionError as exc:
        raise InvalidInput(f"status: {exc}") from None
    ticket.resolution = text
    ticket.resolved_at = now
    kinds = (*RESOLVING_PROMISES, "appeal_resolution") if was_appealed else RESOLVING_PROMISES
    _fulfil(session, ticket, kinds, now=now)
    ctx = org_context(session)
    team = session.get(org.Team, ticket.team_id) if ticket.team_id else None
    customer = _customer(session, ticket)
    planned, cal = plan_for(session, ticket, team, ctx, at=now, anchor="resolved")
    record_promises(session, ticket, planned, now=now, cal=cal, customer=customer, ctx=ctx)
    system_event(session, ticket, "resolved", now=now, customer_visible=True, detail=text)
    _audit(session, ticket, "ticket.resolved", now=now, actor=actor_of(user), chars=len(text))
    if (
        channel
        and customer is not None
        and (customer.email if channel == "email" else customer.phone)
    ):
        reply_to_customer(
            session, ticket, text, user=user, now=now, base_url=base_url, channel=channel
        )
        ticket.status = TicketStatus.RESOLVED.value  # the reply does not reopen it
        mark_notified(session, ticket, user=user, now=now, how=channel)
    return ticket


def mark_notified(
    session: Session, ticket: Ticket, *, user: User | None, now: datetime, how: str
) -> Ticket:
    """The customer was told the resolution (``how``: email, sms, letter, phone)."""
    if ticket.resolved_at is None:
        raise InvalidInput("the ticket is not resolved yet")
    ticket.notified_at = now
    _fulfil(session, ticket, ("notification",), now=now)
    _audit(session, ticket, "ticket.notified", now=now, actor=actor_of(user), how=how)
    return ticket


def appeal(
    session: Session,
    ticket: Ticket,
    text: str,
    *,
    now: datetime,
    base_url: str,
    actor: str = "customer",
) -> Ticket:
    """The customer appeals the answer to a complaint; the appeal's promises are planned.

    An appeal after the profile's window is still registered (with a note for the team).
    """
    if ticket.kind != TicketKind.COMPLAINT:
        raise InvalidInput("appeal: only the answer to a complaint can be appealed")
    try:
        _move_status(ticket, TicketStatus.APPEALED, now=now)
    except trules.InvalidTransitionError:
        raise InvalidInput("appeal: the complaint has no answer to appeal yet") from None
    ctx = org_context(session)
    team = session.get(org.Team, ticket.team_id) if ticket.team_id else None
    cal = team_calendar(session, team, ctx, now)
    notified = ticket.notified_at or ticket.resolved_at
    deadline = None
    if notified is not None:
        deadline = tprofiles.appeal_deadline(
            ctx.profile, notified_at=notified, calendar=cal, legal=legal_calendar(ctx, now)
        )
    ticket.appealed_at = now
    add_customer_message(
        session, ticket, text or "", now=now, channel="web", subject="appeal", actor=actor
    )
    ticket.status = TicketStatus.APPEALED.value
    if deadline is not None and now > deadline:
        system_event(session, ticket, "appeal_late", now=now, detail=deadline.isoformat())
    system_event(session, ticket, "appealed", now=now, customer_visible=True)
    customer = _customer(session, ticket)
    planned, cal = plan_for(session, ticket, team, ctx, at=now, anchor="appealed")
    made = record_promises(session, ticket, planned, now=now, cal=cal, customer=customer, ctx=ctx)
    _audit(
        session,
        ticket,
        "ticket.appealed",
        now=now,
        actor=actor,
        deadline=deadline.isoformat() if deadline else None,
    )
    pending = [p.due_at for p in made if p.state == "pending"]
    if customer is not None and pending and (customer.email or customer.phone):
        lang = customer.language
        to = ctx.profile.appeal.to.get(lang) if ctx.profile.appeal is not None else None
        _tell_customer(
            session,
            ticket,
            customer,
            "appeal_received",
            now=now,
            key=f"ticket:{ticket.id}:appeal:{int(now.timestamp())}",
            in_thread=False,
            ticket_id=ticket.id,
            number=ticket.number,
            due=min(pending),
            status_url=status_url(base_url, ticket.number),
            appeal_to=to,
            name=customer.name or None,
        )
    return ticket


def change_kind(
    session: Session,
    ticket: Ticket,
    new_kind: str,
    *,
    now: datetime,
    base_url: str,
    user: User | None = None,
    topic: str | None = None,
    actor: str | None = None,
) -> Ticket:
    """Change the kind, keeping the number. A ticket that becomes a complaint goes to the
    complaints team with the complaint's promises from now, and the customer is told."""
    try:
        target = TicketKind(new_kind)
    except ValueError:
        raise InvalidInput(f"kind: one of {', '.join(k.value for k in TicketKind)}") from None
    if target.value == ticket.kind:
        return ticket
    if not trules.can_change_kind(ticket.kind, target):
        raise InvalidInput("kind: a complaint stays a complaint")
    old = ticket.kind
    ticket.kind = target.value
    if topic:
        ticket.topic = topic[:40]
    ticket.updated_at = now
    who = actor or actor_of(user)
    system_event(session, ticket, "kind_changed", now=now, detail=f"{old} -> {target.value}")
    _audit(session, ticket, "ticket.kind_changed", now=now, actor=who, old=old, new=target.value)
    for p in pending_promises(session, ticket.id):
        p.subject_kind = target.value
    if target is not TicketKind.COMPLAINT:
        return ticket
    ctx = org_context(session)
    team, policy = route(session, target.value, ticket.channel)
    if team is not None:
        ticket.team_id = team.id
    planned, cal = plan_for(session, ticket, team, ctx, at=now, policy=policy)
    planned = [p for p in planned if p.kind is not prules.PromiseKind.ACKNOWLEDGMENT]
    replaced = {p.kind.value for p in planned} | {"resolution", "repair"}
    for p in pending_promises(session, ticket.id):
        if p.kind in replaced:
            promises.cancel(session, p, now=now, reason=f"the {old} became a complaint")
    customer = _customer(session, ticket)
    made = record_promises(session, ticket, planned, now=now, cal=cal, customer=customer, ctx=ctx)
    acknowledge(
        session,
        ticket,
        customer,
        made,
        now=now,
        base_url=base_url,
        key_suffix=f"complaint:{int(now.timestamp())}",
        message_kind="complaint_ack",
    )
    return ticket


def reschedule_promise(
    session: Session,
    ticket: Ticket,
    promise_id: int,
    new_due: datetime,
    *,
    reason: str,
    user: User,
    now: datetime,
    base_url: str,
) -> Promise:
    """Change a promised time; the reason is told to the customer with the new time."""
    old = session.get(Promise, promise_id)
    if old is None or old.ticket_id != ticket.id:
        raise NotFound(f"promise {promise_id} not found on ticket {ticket.number}")
    if old.state != "pending":
        raise InvalidInput(f"promise: it is already {old.state}")
    due = _aware(new_due, "due")
    if due <= now:
        raise InvalidInput("due: the new time must be in the future")
    why = one_line(reason, 500)
    if not why:
        raise InvalidInput("reason: say why the promised time changes; the customer is told")
    vague = find_vague_phrases(why)
    if vague:
        raise InvalidInput(f"reason: promises no time ({', '.join(vague)})")
    customer = _customer(session, ticket)
    ctx = org_context(session)
    tz = customer.timezone if customer is not None else ctx.timezone
    lang = customer.language if customer is not None else ticket.language
    previous = old.due_at
    label = promise_label(old.kind, lang)
    new = promises.reschedule(
        session,
        old,
        due,
        now=now,
        reason=why,
        told=f"{label}: {when_phrase(due, now=now, tz=tz, lang=lang)}",
    )
    team = session.get(org.Team, ticket.team_id) if ticket.team_id else None
    cal = team_calendar(session, team, ctx, now)
    new.escalate_at = prules.escalation_times(cal, now, due, (0.75,))[0]
    _schedule_jobs(session, new, [new.escalate_at], tprofiles.BreachAction.ESCALATE, now=now)
    system_event(
        session,
        ticket,
        "promise_changed",
        now=now,
        customer_visible=True,
        detail=f"{old.kind}|{previous.isoformat()}|{due.isoformat()}|{why}",
    )
    _audit(
        session,
        ticket,
        "promise.rescheduled",
        now=now,
        actor=actor_of(user),
        promise=old.kind,
        old_due=previous.isoformat(),
        new_due=due.isoformat(),
        reason=why,
    )
    if customer is not None and (customer.email or customer.phone):
        _tell_customer(
            session,
            ticket,
            customer,
            "promise_changed",
            now=now,
            key=f"promise:{new.id}:changed",
            channel="email" if ticket.channel in WRITTEN_CHANNELS else "sms",
            ticket_id=ticket.id,
            number=ticket.number,
            due=due,
            previous_due=previous,
            reason=why,
            label=label.lower(),
            status_url=status_url(base_url, ticket.number),
            name=customer.name or None,
        )
    return new


def clear_follow_up(session: Session, ticket: Ticket, *, user: User, now: datetime) -> Ticket:
    if ticket.follow_up_reason is not None:
        _audit(
            session,
            ticket,
            "ticket.follow_up_done",
            now=now,
            actor=actor_of(user),
            reason=ticket.follow_up_reason,
        )
        ticket.follow_up_reason = None
        ticket.follow_up_at = None
    return ticket


# --- jobs: escalations and breaches ---------------------------------------------------------------


def escalate_promise(session: Session, promise_id: int, *, now: datetime) -> bool:
    """A promise reached an escalation time while still pending: flag it and tell the team."""
    p = session.get(Promise, promise_id)
    if p is None or p.state != "pending":
        return False
    if p.escalated_at is None:
        p.escalated_at = now
    if p.ticket_id is not None:
        ticket = session.get(Ticket, p.ticket_id)
        if ticket is not None:
            system_event(
                session,
                ticket,
                "promise_at_risk",
                now=now,
                detail=f"{p.kind}|{p.due_at.isoformat()}",
            )
            _audit(
                session,
                ticket,
                "promise.escalated",
                now=now,
                actor="system",
                promise=p.kind,
                due=p.due_at.isoformat(),
            )
    session.flush()
    return True


def handle_breach(
    session: Session, promise_id: int, on_breach: str, *, now: datetime, base_url: str
) -> bool:
    """After a promise's due time: count it broken, flag the customer for follow-up (M4) and
    apply the profile's consequence (a fault becomes a complaint; a complaint answered late is
    deemed accepted)."""
    p = session.get(Promise, promise_id)
    if p is None:
        return False
    if p.state == "pending" and p.due_at < now:
        promises.sweep(session, now=now)
    if p.state != "broken" or p.ticket_id is None:
        return False
    ticket = session.get(Ticket, p.ticket_id)
    if ticket is None:
        return False
    ticket.follow_up_reason = f"broken promise: {p.kind}"
    ticket.follow_up_at = now
    system_event(
        session, ticket, "promise_broken", now=now, detail=f"{p.kind}|{p.due_at.isoformat()}"
    )
    _audit(session, ticket, "promise.broken", now=now, actor="system", promise=p.kind)
    try:
        action = tprofiles.BreachAction(on_breach)
    except ValueError:
        action = tprofiles.BreachAction.ESCALATE
    profile = org_context(session).profile
    if action is tprofiles.BreachAction.CONVERT_TO_COMPLAINT:
        converted = tprofiles.kind_after_breach(profile, ticket.kind, action)
        if converted is not None and ticket.status in OPEN_STATUSES:
            change_kind(
                session,
                ticket,
                converted[0].value,
                now=now,
                base_url=base_url,
                topic=converted[1],
                actor="system",
            )
    elif (
        action is tprofiles.BreachAction.DEEMED_ACCEPTED
        and ticket.kind == TicketKind.COMPLAINT
        and not ticket.deemed_accepted
        and ticket.status in OPEN_STATUSES
    ):
        ticket.deemed_accepted = True
        system_event(session, ticket, "deemed_accepted", now=now, customer_visible=True)
        _audit(session, ticket, "ticket.deemed_accepted", now=now, actor="system")
    session.flush()
    return True


# --- the customer's status page -------------------------------------------------------------------

_DUMMY_CODE = "QQQQQQQQ"


def find_for_customer(session: Session, number: str, code: str) -> Ticket | None:
    """The ticket when number and code match; ``None`` otherwise, the same for both cases.

    The code is compared in constant time even when the number does not exist.
    """
    ticket: Ticket | None = None
    try:
        parsed = trules.parse_ticket_number(safe_text(number)[:64])
    except (trules.InvalidTicketNumberError, ValueError):
        parsed = None
    if parsed is not None:
        ticket = session.scalar(select(Ticket).where(Ticket.number == str(parsed)))
    expected = ticket.verification_code if ticket is not None else _DUMMY_CODE
    matches = trules.verification_code_matches(expected, safe_text(code)[:32])
    return ticket if ticket is not None and matches else None


@dataclass(frozen=True)
class HistoryItem:
    at: datetime
    who: str  # customer, agent, system
    code: str  # message, registered, resolved, promise_changed, status:<x>, ...
    body: str


@dataclass(frozen=True)
class StatusView:
    """What the customer sees: no internal note, no agent name, no other customer's data."""

    number: str
    kind: str
    status: str
    created_at: datetime
    history: list[HistoryItem]
    next_kind: str | None
    next_due: datetime | None
    promises: list[tuple[str, datetime, str]]
    description_missing: bool
    can_appeal: bool
    resolution: str | None
    timezone: str
    language: str


def customer_view(session: Session, ticket: Ticket) -> StatusView:
    ctx = org_context(session)
    customer = _customer(session, ticket)
    items: list[HistoryItem] = []
    for m in thread(session, ticket.id, customer_only=True):
        if m.author_kind == "system" and m.channel == "system":
            items.append(HistoryItem(m.created_at, "system", m.subject, m.body))
        elif m.author_kind == "system":
            continue  # the acknowledgment itself: its content is the status page
        else:
            who = "customer" if m.direction == "in" else "agent"
            items.append(HistoryItem(m.created_at, who, "message", m.body))
    listed = [
        (p.kind, p.due_at, p.state)
        for p in promises_of(session, ticket.id)
        if p.kind != "acknowledgment" and p.state != "cancelled"
    ]
    nxt = next_promise(session, ticket.id)
    return StatusView(
        number=ticket.number,
        kind=ticket.kind,
        status=ticket.status,
        created_at=ticket.created_at,
        history=items,
        next_kind=nxt.kind if nxt is not None else None,
        next_due=nxt.due_at if nxt is not None else None,
        promises=listed,
        description_missing=ticket.description_missing,
        can_appeal=ticket.kind == TicketKind.COMPLAINT
        and ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED),
        resolution=ticket.resolution,
        timezone=customer.timezone if customer is not None else ctx.timezone,
        language=ticket.language,
    )


# --- supervisor view ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromiseRow:
    promise: Promise
    ticket_id: int | None
    number: str
    subject_kind: str


@dataclass
class TeamPromises:
    team: str
    at_risk: list[PromiseRow] = field(default_factory=list)
    broken: list[PromiseRow] = field(default_factory=list)


@dataclass(frozen=True)
class RateRow:
    team: str
    subject_kind: str
    channel: str
    kept: int
    broken: int
    pending: int
    rate: float | None


def _team_names(session: Session) -> dict[str, str]:
    return {str(t.id): t.display_name for t in session.scalars(select(org.Team))}


def promise_overview(
    session: Session, *, now: datetime, since: datetime
) -> tuple[list[TeamPromises], list[RateRow], list[Ticket]]:
    """Promises at risk and broken (since ``since``) by team, kept rates by team, kind and
    channel, and tickets flagged for follow-up (M4)."""
    names = _team_names(session)
    risky = promises.at_risk(session, now=now, within=AT_RISK_WITHIN)
    broken = list(
        session.scalars(
            select(Promise)
            .where(Promise.state == "broken", Promise.due_at >= since)
            .order_by(Promise.due_at.desc())
            .limit(500)
        )
    )
    ids = {p.ticket_id for p in (*risky, *broken) if p.ticket_id is not None}
    numbers = (
        dict(session.execute(select(Ticket.id, Ticket.number).where(Ticket.id.in_(ids))).all())
        if ids
        else {}
    )
    teams: dict[str, TeamPromises] = {}

    def row(p: Promise) -> tuple[TeamPromises, PromiseRow]:
        name = names.get(p.team or "", p.team or "-")
        group = teams.setdefault(name, TeamPromises(name))
        number = str(numbers.get(p.ticket_id, "")) if p.ticket_id is not None else ""
        return group, PromiseRow(p, p.ticket_id, number, p.subject_kind)

    for p in risky:
        group, r = row(p)
        group.at_risk.append(r)
    for p in broken:
        group, r = row(p)
        group.broken.append(r)
    rates = [
        RateRow(
            team=names.get(k.group[0], k.group[0]),
            subject_kind=k.group[1],
            channel=k.group[2],
            kept=k.kept,
            broken=k.broken,
            pending=k.pending,
            rate=k.rate,
        )
        for k in promises.kept_rates(session, since=since, by=("team", "subject_kind", "channel"))
    ]
    follow = list(
        session.scalars(
            select(Ticket)
            .where(Ticket.follow_up_reason.is_not(None))
            .order_by(Ticket.follow_up_at.desc())
            .limit(200)
        )
    )
    return sorted(teams.values(), key=lambda t: t.team), rates, follow


# --- complaints register --------------------------------------------------------------------------

REGISTER_COLUMNS = (
    "code",
    "received_at",
    "channel",
    "kind",
    "topic",
    "status",
    "team",
    "deadline",
    "resolved_at",
    "resolution",
    "notified_at",
    "appealed_at",
    "deemed_accepted",
)


def complaints_register(
    session: Session, *, start: datetime, end: datetime
) -> list[dict[str, str]]:
    """Complaints received in ``[start, end)``: the register a regulator asks for (P5).

    ``deadline`` is the due time of the complaint's current resolution promise.
    """
    start, end = _aware(start, "from"), _aware(end, "to")
    if end <= start:
        raise InvalidInput("to: must be after from")
    tickets = list(
        session.scalars(
            select(Ticket)
            .where(
                Ticket.kind == TicketKind.COMPLAINT.value,
                Ticket.created_at >= start,
                Ticket.created_at < end,
            )
            .order_by(Ticket.created_at, Ticket.id)
        )
    )
    ids = [t.id for t in tickets]
    deadlines: dict[int, datetime] = {}
    if ids:
        for p in session.scalars(
            select(Promise)
            .where(
                Promise.ticket_id.in_(ids),
                Promise.kind == "resolution",
                Promise.state != "cancelled",
            )
            .order_by(Promise.created_at, Promise.id)
        ):
            if p.ticket_id is not None:
                deadlines[p.ticket_id] = p.due_at
    names = _team_names(session)

    def iso(value: datetime | None) -> str:
        return value.astimezone(UTC).isoformat(timespec="seconds") if value else ""

    return [
        {
            "code": t.number,
            "received_at": iso(t.created_at),
            "channel": t.channel,
            "kind": t.kind,
            "topic": t.topic or "",
            "status": t.status,
            "team": names.get(str(t.team_id), ""),
            "deadline": iso(deadlines.get(t.id)),
            "resolved_at": iso(t.resolved_at),
            "resolution": t.resolution or "",
            "notified_at": iso(t.notified_at),
            "appealed_at": iso(t.appealed_at),
            "deemed_accepted": "yes" if t.deemed_accepted else "no",
        }
        for t in tickets
    ]


def register_csv(rows: Iterable[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = SafeDictWriter(out, REGISTER_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def delivery_states(session: Session, ticket_id: int) -> list[Notification]:
    """Messages to the customer about this ticket, with their delivery state."""
    return notifications.list_for(session, ticket_id=ticket_id)
