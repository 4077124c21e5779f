"""The promise ledger in the database: create, keep, cancel, reschedule, sweep, measure."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.errors import InvalidInput, NotFound
from escucha.org import models as org
from escucha.promises import rules
from escucha.promises.calendars import (
    CalendarConfig,
    build_calendar,
    holiday_names,
    years_around,
)
from escucha.promises.models import Promise

_CACHE: dict[tuple[int, str, tuple[int, ...]], rules.BusinessCalendar] = {}


def calendar_from_row(row: org.Calendar, now: datetime) -> rules.BusinessCalendar:
    """The business calendar of a configured calendar, holidays included for the years near now."""
    years = years_around(now)
    fingerprint = repr(
        (row.timezone, row.hours, row.closures, row.holiday_country, row.holiday_subdivision)
    )
    key = (row.id, fingerprint, years)
    cal = _CACHE.get(key)
    if cal is None:
        config = CalendarConfig(
            name=row.name,
            timezone=row.timezone,
            country=row.holiday_country,
            subdivision=row.holiday_subdivision,
            hours=dict(row.hours),
            closures=list(row.closures),
        )
        cal = build_calendar(config, years=years)
        _CACHE[key] = cal
    return cal


@dataclass(frozen=True)
class ClosedNow:
    """Why a calendar is closed at an instant and when it opens again."""

    reason: str | None  # a holiday's or a closure's name; None: outside the opening hours
    opens_at: datetime | None  # None: no opening within the holidays known


def closed_now(session: Session, calendar_id: int, now: datetime, *, lang: str = "es") -> ClosedNow:
    """The name of today's holiday or closure (in ``lang`` where the holidays package has it)
    and the next opening, for a caller told the line is closed."""
    row = session.get(org.Calendar, calendar_id)
    if row is None:
        raise NotFound(f"calendar {calendar_id} not found")
    cal = calendar_from_row(row, now)
    today = now.astimezone(ZoneInfo(row.timezone)).date()
    reason = None
    if row.holiday_country:
        names = holiday_names(
            row.holiday_country, row.holiday_subdivision, years_around(now), lang=lang
        )
        reason = names.get(today)
    for closure in row.closures:
        start = closure.get("date") or closure.get("from_date")
        end = closure.get("date") or closure.get("to_date")
        if start and end and str(start) <= today.isoformat() <= str(end) and closure.get("reason"):
            reason = str(closure["reason"])
    try:
        opens: datetime | None = rules.next_open(cal, now)
    except rules.CalendarError:
        opens = None
    return ClosedNow(reason=reason, opens_at=opens)


def calendar(session: Session, calendar_id: int, now: datetime) -> rules.BusinessCalendar:
    row = session.get(org.Calendar, calendar_id)
    if row is None:
        raise NotFound(f"calendar {calendar_id} not found")
    return calendar_from_row(row, now)


def create(
    session: Session,
    *,
    kind: str,
    due_at: datetime,
    now: datetime,
    channel: str,
    subject_kind: str,
    told: str,
    customer_id: int | None = None,
    team: str | None = None,
    ticket_id: int | None = None,
    callback_id: int | None = None,
    cal: rules.BusinessCalendar | None = None,
    escalate_fraction: float = 0.75,
) -> Promise:
    """Record a promise; its escalation time is a fraction of the allowance on business time."""
    if due_at <= now:
        raise InvalidInput("a promise must be due in the future")
    escalate_at = (
        rules.escalation_times(cal, now, due_at, (escalate_fraction,))[0]
        if cal is not None
        else now + (due_at - now) * escalate_fraction
    )
    promise = Promise(
        kind=str(rules.PromiseKind(kind)),
        state=rules.PromiseState.PENDING.value,
        customer_id=customer_id,
        ticket_id=ticket_id,
        callback_id=callback_id,
        team=team,
        channel=channel,
        subject_kind=subject_kind,
        created_at=now,
        due_at=due_at,
        escalate_at=escalate_at,
        told=told,
    )
    session.add(promise)
    session.flush()
    return promise


def _move(promise: Promise, event: rules.PromiseEvent, at: datetime) -> None:
    promise.state = rules.next_promise_state(promise.state, event, at=at, due=promise.due_at).value
    promise.settled_at = at


def fulfil(session: Session, promise: Promise, *, now: datetime) -> Promise:
    """The promised thing happened now: kept if on time, broken if late. Idempotent."""
    if promise.state == rules.PromiseState.PENDING:
        _move(promise, rules.PromiseEvent.FULFIL, now)
        session.flush()
    return promise


def cancel(session: Session, promise: Promise, *, now: datetime, reason: str) -> Promise:
    if promise.state == rules.PromiseState.PENDING:
        _move(promise, rules.PromiseEvent.CANCEL, now)
        promise.reason = reason
        session.flush()
    return promise


def reschedule(
    session: Session, promise: Promise, new_due: datetime, *, now: datetime, reason: str, told: str
) -> Promise:
    """A new time told to the customer: the old promise is cancelled (or broken if already late)
    with the reason, and a new one takes its place."""
    if not reason.strip():
        raise InvalidInput("reason: say why the promised time changes; the customer is told")
    cancel(session, promise, now=now, reason=reason)
    return create(
        session,
        kind=promise.kind,
        due_at=new_due,
        now=now,
        channel=promise.channel,
        subject_kind=promise.subject_kind,
        told=told,
        customer_id=promise.customer_id,
        team=promise.team,
        ticket_id=promise.ticket_id,
        callback_id=promise.callback_id,
    )


def sweep(session: Session, *, now: datetime) -> dict[str, int]:
    """Mark overdue promises broken and flag those past their escalation time."""
    broken = escalated = 0
    overdue = select(Promise).where(Promise.state == "pending", Promise.due_at < now)
    for p in session.scalars(overdue):
        _move(p, rules.PromiseEvent.EXPIRE, now)
        broken += 1
    risky = select(Promise).where(
        Promise.state == "pending", Promise.escalate_at <= now, Promise.escalated_at.is_(None)
    )
    for p in session.scalars(risky):
        p.escalated_at = now
        escalated += 1
    session.flush()
    return {"broken": broken, "escalated": escalated}


def at_risk(
    session: Session, *, now: datetime, within: timedelta = timedelta(hours=1)
) -> list[Promise]:
    """Pending promises past their escalation time or due within ``within``, soonest first."""
    stmt = (
        select(Promise)
        .where(
            Promise.state == "pending",
            (Promise.escalate_at <= now) | (Promise.due_at <= now + within),
        )
        .order_by(Promise.due_at)
    )
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class KeptRate:
    group: tuple[str, ...]
    kept: int
    broken: int
    pending: int

    @property
    def rate(self) -> float | None:
        settled = self.kept + self.broken
        return self.kept / settled if settled else None


def kept_rates(
    session: Session, *, since: datetime, by: tuple[str, ...] = ("team", "subject_kind", "channel")
) -> list[KeptRate]:
    """Promise-kept rate (kept / (kept + broken); cancelled excluded) grouped by ``by``."""
    allowed = {"team", "subject_kind", "channel", "kind"}
    if not set(by) <= allowed:
        raise InvalidInput(f"group by: one of {sorted(allowed)}")
    counts: dict[tuple[str, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for p in session.scalars(select(Promise).where(Promise.created_at >= since)):
        key = tuple(str(getattr(p, f) or "-") for f in by)
        counts[key][p.state] += 1
    return [
        KeptRate(k, v.get("kept", 0), v.get("broken", 0), v.get("pending", 0))
        for k, v in sorted(counts.items())
    ]
