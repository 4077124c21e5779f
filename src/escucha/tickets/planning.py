"""Planning a case (P4, P5): the organisation's profile and calendars, the team and SLA policy
it goes to, and the promises it gets.

The regulatory profile plans the promises (acknowledgment, first response, resolution, repair,
...) on the team's calendar and on the legal calendar; a matching SLA policy of the
organisation can make a first response or resolution *earlier*, never later than the
regulation. :func:`record_promises` writes them to the ledger with their escalation and breach
jobs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.contacts.models import Customer
from escucha.errors import NotFound
from escucha.jobs.service import enqueue
from escucha.notifications.messages import when_phrase
from escucha.org import home
from escucha.org import models as org
from escucha.promises import rules as prules
from escucha.promises import service as promises
from escucha.promises.calendars import years_around
from escucha.promises.models import Promise
from escucha.tickets import profiles as tprofiles
from escucha.tickets.models import Ticket
from escucha.tickets.rules import TicketKind

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


# --- promises -------------------------------------------------------------------------------------

PROMISE_LABELS = {
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
    es, en = PROMISE_LABELS.get(kind, (kind, kind))
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
    es, en = PROMISE_LABELS[kind.value]
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


def schedule_jobs(
    session: Session,
    promise: Promise,
    escalate_at: Sequence[datetime],
    on_breach: tprofiles.BreachAction,
    *,
    now: datetime,
) -> None:
    """The promise's escalation jobs (one per time) and its breach job just after it is due."""
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
        schedule_jobs(session, promise, escalations, p.on_breach, now=now)
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


def fulfil_pending(
    session: Session, ticket: Ticket, kinds: Sequence[str], *, now: datetime
) -> None:
    """Keep the case's pending promises of ``kinds`` (late ones are counted broken)."""
    for p in pending_promises(session, ticket.id):
        if p.kind in kinds:
            promises.fulfil(session, p, now=now)
