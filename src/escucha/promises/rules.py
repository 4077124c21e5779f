"""Business calendars, promise due times and promise states (P1, P3, P4, W6). Pure: stdlib only.

Every customer-visible commitment is a **promise** with a due time. The due time comes from an
**allowance** (``15 business_days``, ``4 business_hours``, ``1 calendar_days``, ``10 minutes``)
applied on a **business calendar**: the opening hours of the team that keeps the promise, in
its IANA time zone, minus holidays and custom closures.

Conventions (they matter for deadlines; each is tested):

* All instants given to and returned by this module are timezone-aware; results are UTC.
  Opening hours, dates and days are read in the calendar's local time zone.
* Opening hours are half-open ranges of local wall time, ``[09:00, 14:00)``; a day may have
  several ranges (``09:00-14:00`` and ``16:00-19:00``) and a range may end at ``24:00``.
* **Business time** is real elapsed time while open. Across a DST change an hour of work is
  an hour: a ``00:00-24:00`` day lasts 23 or 25 hours. A wall time that does not exist (the
  spring-forward gap) opens or closes at the instant the clocks jump; a wall time that occurs
  twice (the autumn fold) opens at its first and closes at its last occurrence.
* A **business day** is a local date with some open time left after holidays and closures.
  ``N`` business days after ``start`` end at the closing time of the ``N``-th business day
  *after* the local date of ``start`` (the day of receipt never counts, as in legal deadlines:
  a complaint received on Friday with 1 business day is due when Monday closes). ``0``
  business days means "the same business day": the closing time of the start's day if it
  still has open time after ``start``, otherwise of the next business day.
  For legal deadlines use a calendar open ``00:00-24:00`` on working days (see
  :func:`escucha.promises.calendars.legal_calendar`): the day then closes at midnight.
* A **calendar day** keeps the local wall-clock time: 10:00 plus one calendar day is 10:00
  the next day, 23 or 25 hours later across a DST change.
* ``add_business_time`` returns the *earliest* instant at which the allowance has elapsed:
  when it runs out exactly at closing time the result is that closing time ("by 14:00").
  A result is therefore open or the end of an open range; see :func:`in_business_hours`.

Promise states: ``pending`` until fulfilled or cancelled; ``kept`` if and only if fulfilled at
or before the due time; ``cancelled`` if cancelled while still pending; ``broken`` as soon as
the due time passes with neither (a late fulfilment does not mend it).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = [
    "WEEKDAYS",
    "Allowance",
    "AllowanceUnit",
    "BusinessCalendar",
    "CalendarError",
    "CalendarNeverOpensError",
    "CalendarRangeError",
    "Closure",
    "LocalDeadline",
    "OpeningRange",
    "PromiseEvent",
    "PromiseKind",
    "PromiseState",
    "PromiseTransitionError",
    "Slot",
    "add_business_days",
    "add_business_time",
    "add_calendar_days",
    "business_day_end",
    "business_seconds_between",
    "business_time_between",
    "concrete_deadline",
    "due_at",
    "escalation_times",
    "in_business_hours",
    "is_business_day",
    "is_open",
    "local_interval",
    "next_callback_slots",
    "next_close",
    "next_open",
    "next_promise_state",
    "open_intervals",
    "promise_state",
    "round_up_local",
]

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday keys, Monday first (``date.weekday()`` order)."""

_MINUTES_PER_DAY = 24 * 60
_MAX_CLOSED_DAYS = 5 * 366  # a calendar closed this long in a row is a configuration error
_MERGE_CAP = timedelta(days=7)  # adjacent ranges merge up to this length (24/7 calendars)
_HHMM = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


class CalendarError(ValueError):
    """A calendar that cannot answer a question (bad data or out of range)."""


class CalendarNeverOpensError(CalendarError):
    """The calendar has no open time in the next five years from the instant asked about."""


class CalendarRangeError(CalendarError):
    """A computation needed a date beyond ``known_until``: its holidays are not loaded."""


def _aware(value: datetime, name: str = "time") -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware: {value!r}")
    return value.astimezone(UTC)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _parse_hhmm(text: str) -> int:
    match = _HHMM.match(text)
    if match is None:
        raise ValueError(f"time must look like HH:MM: {text!r}")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes >= 60 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"not a time of day (00:00-24:00): {text!r}")
    return hours * 60 + minutes


@dataclass(frozen=True, order=True)
class OpeningRange:
    """Open from ``start_min`` to ``end_min`` minutes after local midnight, end excluded.

    ``end_min`` may be 1440 (24:00). Build from text with :meth:`parse` (``"09:00-14:00"``).
    """

    start_min: int
    end_min: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_min < self.end_min <= _MINUTES_PER_DAY:
            raise ValueError(f"opening range must satisfy 00:00 <= start < end <= 24:00: {self}")

    @classmethod
    def parse(cls, text: str) -> OpeningRange:
        """``"09:00-14:00"`` -> ``OpeningRange(540, 840)``."""
        start, sep, end = text.partition("-")
        if not sep:
            raise ValueError(f"opening range must look like 09:00-14:00: {text!r}")
        return cls(_parse_hhmm(start), _parse_hhmm(end))

    def __str__(self) -> str:
        return f"{_hhmm(self.start_min)}-{_hhmm(self.end_min)}"


@dataclass(frozen=True)
class Closure:
    """A custom closure between two instants (a strike, a training afternoon, 24 Dec from 14:00)."""

    start: datetime
    end: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        start, end = _aware(self.start, "closure start"), _aware(self.end, "closure end")
        if end <= start:
            raise ValueError(f"closure must end after it starts: {self.start} - {self.end}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)


def _ranges(value: Sequence[OpeningRange | str] | str) -> tuple[OpeningRange, ...]:
    items: Sequence[OpeningRange | str]
    if isinstance(value, str):
        items = [part for part in re.split(r"[,;]", value) if part.strip()]
    else:
        items = value
    return tuple(
        sorted(
            item if isinstance(item, OpeningRange) else OpeningRange.parse(item) for item in items
        )
    )


@dataclass(frozen=True)
class BusinessCalendar:
    """When a team is open: weekly hours in a time zone, minus closed dates and closures.

    Parameters
    ----------
    timezone
        IANA name, e.g. ``"Europe/Madrid"``, ``"America/Lima"``.
    weekly_hours
        Seven tuples of :class:`OpeningRange`, Monday first; an empty tuple is a closed day.
    closed_dates
        Local dates closed all day (public holidays, custom whole-day closures).
    closures
        Partial or multi-day closures between two instants.
    known_until
        Last date whose holidays are in ``closed_dates``; computations that reach beyond it
        raise :class:`CalendarRangeError` instead of silently ignoring unknown holidays.
        ``None`` means "complete" (no such check).
    name
        A label for messages and logs.
    """

    timezone: str
    weekly_hours: tuple[tuple[OpeningRange, ...], ...]
    closed_dates: frozenset[date] = frozenset()
    closures: tuple[Closure, ...] = ()
    known_until: date | None = None
    name: str = ""
    _tz: ZoneInfo = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        try:
            tz = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError(f"unknown time zone: {self.timezone!r}") from exc
        object.__setattr__(self, "_tz", tz)
        if len(self.weekly_hours) != 7:
            raise CalendarError("weekly_hours needs 7 entries, Monday first")
        for day, ranges in zip(WEEKDAYS, self.weekly_hours, strict=True):
            for before, after in itertools.pairwise(ranges):
                if after.start_min < before.end_min or after.start_min < before.start_min:
                    raise CalendarError(
                        f"{day}: opening ranges must be sorted and not overlap: {before}, {after}"
                    )
        object.__setattr__(self, "closed_dates", frozenset(self.closed_dates))
        object.__setattr__(
            self, "closures", tuple(sorted(self.closures, key=lambda c: (c.start, c.end)))
        )

    @property
    def tz(self) -> ZoneInfo:
        """The calendar's time zone."""
        return self._tz

    @classmethod
    def from_hours(
        cls,
        timezone: str,
        hours: Mapping[str, Sequence[OpeningRange | str] | str],
        *,
        closed_dates: frozenset[date] | set[date] | Sequence[date] = frozenset(),
        closures: Sequence[Closure] = (),
        known_until: date | None = None,
        name: str = "",
    ) -> BusinessCalendar:
        """Build from ``{"mon": "09:00-14:00,16:00-19:00", ..., "mon-fri": [...]}``.

        Keys are weekday names (``mon`` .. ``sun``), ranges of them (``mon-fri``) or ``all``;
        later keys override earlier ones. Missing days are closed.
        """
        week: list[tuple[OpeningRange, ...]] = [() for _ in WEEKDAYS]
        for key, value in hours.items():
            for index in _weekday_keys(key):
                week[index] = _ranges(value)
        return cls(
            timezone=timezone,
            weekly_hours=tuple(week),
            closed_dates=frozenset(closed_dates),
            closures=tuple(closures),
            known_until=known_until,
            name=name,
        )

    @classmethod
    def always_open(cls, timezone: str = "UTC", *, name: str = "24/7") -> BusinessCalendar:
        """Open every hour of every day (business time equals elapsed time)."""
        full = (OpeningRange(0, _MINUTES_PER_DAY),)
        return cls(timezone=timezone, weekly_hours=(full,) * 7, name=name)


def _weekday_keys(key: str) -> list[int]:
    key = key.strip().lower()
    if key in {"all", "every_day", "daily"}:
        return list(range(7))
    first, sep, last = key.partition("-")
    if first not in WEEKDAYS or (sep and last not in WEEKDAYS):
        raise CalendarError(f"unknown weekday key {key!r}; use mon..sun, mon-fri or all")
    if not sep:
        return [WEEKDAYS.index(first)]
    a, b = WEEKDAYS.index(first), WEEKDAYS.index(last)
    return list(range(a, b + 1)) if a <= b else [*range(a, 7), *range(0, b + 1)]


# --- local time ----------------------------------------------------------------------------------


def _offset(at_utc: datetime, tz: ZoneInfo) -> timedelta:
    offset = at_utc.astimezone(tz).utcoffset()
    assert offset is not None  # noqa: S101 - ZoneInfo always answers
    return offset


def _resolve_local(naive: datetime, tz: ZoneInfo, *, latest: bool) -> datetime:
    """A local wall time as a UTC instant; see the module notes for gaps and folds."""
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return first
    if first.astimezone(tz).replace(tzinfo=None) == naive:  # occurs twice (fold)
        return max(first, second) if latest else min(first, second)
    # Does not exist (gap): the instant at which the clocks jump forward.
    lo, hi = min(first, second), max(first, second)
    after = _offset(hi, tz)
    lo_s, hi_s = math.floor(lo.timestamp()), math.ceil(hi.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if _offset(datetime.fromtimestamp(mid, UTC), tz) == after:
            hi_s = mid
        else:
            lo_s = mid
    return datetime.fromtimestamp(hi_s, UTC)


def _local_minute(day: date, minute: int, tz: ZoneInfo, *, latest: bool) -> datetime:
    extra, minute = divmod(minute, _MINUTES_PER_DAY)
    naive = datetime.combine(day + timedelta(days=extra), time(minute // 60, minute % 60))
    return _resolve_local(naive, tz, latest=latest)


def local_interval(tz: str, day: date, rng: OpeningRange) -> tuple[datetime, datetime]:
    """The instants (UTC) at which ``rng`` starts and ends on local date ``day`` in ``tz``."""
    zone = ZoneInfo(tz)
    return (
        _local_minute(day, rng.start_min, zone, latest=False),
        _local_minute(day, rng.end_min, zone, latest=True),
    )


def _local_date(cal: BusinessCalendar, at_utc: datetime) -> date:
    return at_utc.astimezone(cal.tz).date()


def _check_known(cal: BusinessCalendar, day: date) -> None:
    if cal.known_until is not None and day > cal.known_until:
        raise CalendarRangeError(
            f"calendar {cal.name or cal.timezone!r} knows holidays only until "
            f"{cal.known_until.isoformat()}; {day.isoformat()} is needed"
        )


def _day_intervals(cal: BusinessCalendar, day: date) -> list[tuple[datetime, datetime]]:
    """Open intervals (UTC) of one local date, closures removed, in order."""
    _check_known(cal, day)
    if day in cal.closed_dates:
        return []
    out: list[tuple[datetime, datetime]] = []
    for rng in cal.weekly_hours[day.weekday()]:
        start = _local_minute(day, rng.start_min, cal.tz, latest=False)
        end = _local_minute(day, rng.end_min, cal.tz, latest=True)
        if end > start:
            out.append((start, end))
    for closure in cal.closures:
        if not out:
            break
        if closure.end <= out[0][0] or closure.start >= out[-1][1]:
            continue
        cut: list[tuple[datetime, datetime]] = []
        for start, end in out:
            if closure.end <= start or closure.start >= end:
                cut.append((start, end))
                continue
            if start < closure.start:
                cut.append((start, closure.start))
            if closure.end < end:
                cut.append((closure.end, end))
        out = cut
    return out


def _raw_intervals(cal: BusinessCalendar, at_utc: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Day intervals from the local date of ``at`` on, unmerged, ending after ``at``."""
    day = _local_date(cal, at_utc)
    empty_days = 0
    while True:
        intervals = _day_intervals(cal, day)
        found = False
        for start, end in intervals:
            if end > at_utc:
                found = True
                yield start, end
        empty_days = 0 if found else empty_days + 1
        if empty_days > _MAX_CLOSED_DAYS:
            raise CalendarNeverOpensError(
                f"calendar {cal.name or cal.timezone!r} has no open time for five years "
                f"after {at_utc.isoformat()}"
            )
        day += timedelta(days=1)


def open_intervals(cal: BusinessCalendar, at: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Open intervals ``[start, end)`` in UTC that end after ``at``, in order, merged.

    The first one may start before ``at``. Adjacent ranges (``22:00-24:00`` then
    ``00:00-06:00``) merge, up to a week long, so a 24/7 calendar yields weekly blocks. The
    iterator is endless; it raises :class:`CalendarNeverOpensError` after five closed years.
    """
    at_utc = _aware(at, "at")
    pending: tuple[datetime, datetime] | None = None
    for start, end in _raw_intervals(cal, at_utc):
        if pending is not None and start <= pending[1] and pending[1] - pending[0] < _MERGE_CAP:
            pending = (pending[0], max(pending[1], end))
            continue
        if pending is not None:
            yield pending
        pending = (start, end)


# --- questions about one instant -----------------------------------------------------------------


def is_open(cal: BusinessCalendar, at: datetime) -> bool:
    """Whether the calendar is open at ``at`` (opening instant included, closing excluded)."""
    at_utc = _aware(at, "at")
    return any(
        start <= at_utc < end for start, end in _day_intervals(cal, _local_date(cal, at_utc))
    )


def in_business_hours(cal: BusinessCalendar, at: datetime) -> bool:
    """Open at ``at`` or ``at`` is exactly a closing time (a valid "by 14:00" due time)."""
    at_utc = _aware(at, "at")
    if is_open(cal, at_utc):
        return True
    day = _local_date(cal, at_utc)
    return any(
        end == at_utc for d in (day - timedelta(days=1), day) for _, end in _day_intervals(cal, d)
    )


def next_open(cal: BusinessCalendar, at: datetime) -> datetime:
    """``at`` if open, else the next opening instant (UTC)."""
    at_utc = _aware(at, "at")
    start, _ = next(open_intervals(cal, at_utc))
    return max(start, at_utc)


def next_close(cal: BusinessCalendar, at: datetime) -> datetime:
    """The end of the open interval containing ``at``, or of the next one if closed (UTC)."""
    _, end = next(open_intervals(cal, _aware(at, "at")))
    return end


def is_business_day(cal: BusinessCalendar, day: date) -> bool:
    """Whether the local date has any open time."""
    return bool(_day_intervals(cal, day))


def business_day_end(cal: BusinessCalendar, day: date) -> datetime:
    """Closing instant (UTC) of the last open range of a business day."""
    intervals = _day_intervals(cal, day)
    if not intervals:
        raise CalendarError(f"{day.isoformat()} is not a business day")
    return intervals[-1][1]


# --- arithmetic ----------------------------------------------------------------------------------


def add_business_time(cal: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    """The earliest instant by which ``duration`` of open time has elapsed since ``start``.

    Zero gives :func:`next_open`. The result is open or a closing time (UTC).
    """
    if duration < timedelta(0):
        raise ValueError(f"duration must not be negative: {duration}")
    start_utc = _aware(start, "start")
    remaining = duration
    for begin, end in open_intervals(cal, start_utc):
        begin = max(begin, start_utc)
        available = end - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise AssertionError("unreachable: open_intervals is endless")  # pragma: no cover


def business_time_between(cal: BusinessCalendar, a: datetime, b: datetime) -> timedelta:
    """Open time in ``[a, b)``; negative when ``b`` is before ``a``."""
    a_utc, b_utc = _aware(a, "a"), _aware(b, "b")
    if b_utc < a_utc:
        return -business_time_between(cal, b_utc, a_utc)
    total = timedelta(0)
    if b_utc == a_utc:
        return total
    day = _local_date(cal, a_utc)
    last = _local_date(cal, b_utc)
    while day <= last:
        for start, end in _day_intervals(cal, day):
            lo, hi = max(start, a_utc), min(end, b_utc)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total


def business_seconds_between(cal: BusinessCalendar, a: datetime, b: datetime) -> float:
    """Open seconds in ``[a, b)`` (see :func:`business_time_between`)."""
    return business_time_between(cal, a, b).total_seconds()


def add_business_days(cal: BusinessCalendar, start: datetime, days: int) -> datetime:
    """Closing time (UTC) of the ``days``-th business day after the local date of ``start``.

    ``days == 0`` is "the same business day": the close of the start's day if it is still
    open after ``start``, otherwise the close of the next business day.
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ValueError(f"days must be a whole number >= 0: {days!r}")
    start_utc = _aware(start, "start")
    day = _local_date(cal, start_utc)
    if days == 0:
        intervals = _day_intervals(cal, day)
        if intervals and intervals[-1][1] > start_utc:
            return intervals[-1][1]
        days = 1
    counted = 0
    empty = 0
    while True:
        day += timedelta(days=1)
        intervals = _day_intervals(cal, day)
        if intervals:
            counted += 1
            empty = 0
            if counted == days:
                return intervals[-1][1]
        else:
            empty += 1
            if empty > _MAX_CLOSED_DAYS:
                raise CalendarNeverOpensError(
                    f"calendar {cal.name or cal.timezone!r} has no business day for five years"
                )


def add_calendar_days(
    cal: BusinessCalendar, start: datetime, days: int, *, end_of_day: bool = False
) -> datetime:
    """The same local wall time ``days`` later (UTC), or midnight ending that day.

    With ``end_of_day`` the result is 24:00 local of the ``days``-th day after the start's
    date. Holidays do not matter; only the calendar's time zone does.
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ValueError(f"days must be a whole number >= 0: {days!r}")
    local = _aware(start, "start").astimezone(cal.tz)
    if end_of_day:
        target = datetime.combine(local.date() + timedelta(days=days + 1), time(0))
    else:
        target = local.replace(tzinfo=None) + timedelta(days=days)
    return _resolve_local(target, cal.tz, latest=False)


class AllowanceUnit(StrEnum):
    """How an allowance is counted."""

    MINUTES = "minutes"
    HOURS = "hours"
    BUSINESS_MINUTES = "business_minutes"
    BUSINESS_HOURS = "business_hours"
    BUSINESS_DAYS = "business_days"
    CALENDAR_DAYS = "calendar_days"


@dataclass(frozen=True)
class Allowance:
    """A time allowance: ``Allowance(15, "business_days")``.

    ``minutes`` and ``hours`` are elapsed time; ``business_minutes`` and ``business_hours`` are
    open time on the calendar; ``business_days`` and ``calendar_days`` are whole days as
    defined in the module notes (day amounts must be whole numbers).
    """

    amount: float
    unit: AllowanceUnit

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit", AllowanceUnit(self.unit))
        if isinstance(self.amount, bool) or not math.isfinite(self.amount) or self.amount < 0:
            raise ValueError(f"allowance amount must be a finite number >= 0: {self.amount!r}")
        if self.unit in (AllowanceUnit.BUSINESS_DAYS, AllowanceUnit.CALENDAR_DAYS):
            if self.amount != int(self.amount):
                raise ValueError(f"{self.unit} need a whole number: {self.amount!r}")
            object.__setattr__(self, "amount", int(self.amount))

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> Allowance:
        """From ``{"amount": 15, "unit": "business_days"}``."""
        amount, unit = data.get("amount"), data.get("unit")
        if not isinstance(amount, int | float) or not isinstance(unit, str):
            raise ValueError(f"allowance needs a number 'amount' and a 'unit': {dict(data)!r}")
        return cls(amount, AllowanceUnit(unit))

    @property
    def on_business_time(self) -> bool:
        """Whether escalations are measured on open time rather than elapsed time."""
        return self.unit in (
            AllowanceUnit.BUSINESS_MINUTES,
            AllowanceUnit.BUSINESS_HOURS,
            AllowanceUnit.BUSINESS_DAYS,
        )

    def __str__(self) -> str:
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount} {self.unit.value}"


def due_at(policy: Allowance, cal: BusinessCalendar, start: datetime) -> datetime:
    """Due time (UTC) of a promise made at ``start`` with allowance ``policy`` on ``cal``."""
    start_utc = _aware(start, "start")
    unit, amount = policy.unit, policy.amount
    if unit is AllowanceUnit.MINUTES:
        return start_utc + timedelta(minutes=amount)
    if unit is AllowanceUnit.HOURS:
        return start_utc + timedelta(hours=amount)
    if unit is AllowanceUnit.BUSINESS_MINUTES:
        return add_business_time(cal, start_utc, timedelta(minutes=amount))
    if unit is AllowanceUnit.BUSINESS_HOURS:
        return add_business_time(cal, start_utc, timedelta(hours=amount))
    if unit is AllowanceUnit.BUSINESS_DAYS:
        return add_business_days(cal, start_utc, int(amount))
    return add_calendar_days(cal, start_utc, int(amount))


def escalation_times(
    cal: BusinessCalendar,
    start: datetime,
    due: datetime,
    fractions: Sequence[float] = (0.75,),
    *,
    business: bool = True,
) -> tuple[datetime, ...]:
    """Instants (UTC) at which ``fractions`` of the allowance from ``start`` to ``due`` are used.

    Measured on open time when ``business`` (use ``Allowance.on_business_time``), so 75 % of
    "2 business days" falls inside working hours, not at 3 a.m. If there is no open time
    between ``start`` and ``due`` the fractions fall back to elapsed time. Same order as
    ``fractions``; each lies in ``[start, due]``.
    """
    start_utc, due_utc = _aware(start, "start"), _aware(due, "due")
    if due_utc < start_utc:
        raise ValueError("due must not be before start")
    for fraction in fractions:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"escalation fractions must be within [0, 1]: {fraction!r}")
    total = business_time_between(cal, start_utc, due_utc) if business else timedelta(0)
    if total <= timedelta(0):
        elapsed = due_utc - start_utc
        return tuple(start_utc + elapsed * fraction for fraction in fractions)
    return tuple(min(add_business_time(cal, start_utc, total * f), due_utc) for f in fractions)


# --- promises ------------------------------------------------------------------------------------


class PromiseKind(StrEnum):
    """What was promised."""

    ACKNOWLEDGMENT = "acknowledgment"
    FIRST_RESPONSE = "first_response"
    UPDATE = "update"
    RESOLUTION = "resolution"
    CALLBACK = "callback"
    REPAIR = "repair"
    NOTIFICATION = "notification"
    REGULATORY_DEADLINE = "regulatory_deadline"
    APPEAL_RESOLUTION = "appeal_resolution"


class PromiseState(StrEnum):
    """Where a promise stands."""

    PENDING = "pending"
    KEPT = "kept"
    BROKEN = "broken"
    CANCELLED = "cancelled"


class PromiseEvent(StrEnum):
    """What can happen to a promise."""

    FULFIL = "fulfil"
    CANCEL = "cancel"
    EXPIRE = "expire"


class PromiseTransitionError(ValueError):
    """An event that a promise in its current state cannot take."""


def promise_state(
    due: datetime,
    *,
    now: datetime,
    fulfilled_at: datetime | None = None,
    cancelled_at: datetime | None = None,
) -> PromiseState:
    """State of a promise from its facts, as seen at ``now``.

    Facts after ``now`` have not happened yet and are ignored. The first of fulfilment and
    cancellation decides, but only if it happened at or before ``due``: ``kept`` iff fulfilled
    at or before ``due``; ``cancelled`` iff cancelled before that; otherwise ``broken`` once
    ``now > due`` and ``pending`` until then.
    """
    due_utc, now_utc = _aware(due, "due"), _aware(now, "now")
    events: list[tuple[datetime, int, PromiseState]] = []
    if fulfilled_at is not None and (at := _aware(fulfilled_at, "fulfilled_at")) <= now_utc:
        events.append((at, 0, PromiseState.KEPT))
    if cancelled_at is not None and (at := _aware(cancelled_at, "cancelled_at")) <= now_utc:
        events.append((at, 1, PromiseState.CANCELLED))
    if events:
        at, _, state = min(events)
        if at <= due_utc:
            return state
    return PromiseState.BROKEN if now_utc > due_utc else PromiseState.PENDING


def next_promise_state(
    state: PromiseState | str, event: PromiseEvent | str, *, at: datetime, due: datetime
) -> PromiseState:
    """Apply ``event`` happening at ``at`` to a promise in ``state`` due at ``due``.

    Only ``pending`` promises move: fulfil -> kept (or broken if late), cancel -> cancelled
    (or broken if the due time had already passed), expire -> broken (only after ``due``).
    Events on a settled promise raise :class:`PromiseTransitionError`.
    """
    state, event = PromiseState(state), PromiseEvent(event)
    at_utc, due_utc = _aware(at, "at"), _aware(due, "due")
    if state is not PromiseState.PENDING:
        raise PromiseTransitionError(f"a {state} promise cannot {event}")
    late = at_utc > due_utc
    if event is PromiseEvent.EXPIRE:
        if not late:
            raise PromiseTransitionError("a promise cannot expire before its due time")
        return PromiseState.BROKEN
    if late:
        return PromiseState.BROKEN
    return PromiseState.KEPT if event is PromiseEvent.FULFIL else PromiseState.CANCELLED


# --- what the customer is told -------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """A callback slot ``[start, end)`` in UTC, wholly inside business hours."""

    start: datetime
    end: datetime


def _round_up_naive(naive: datetime, step_minutes: int) -> datetime:
    base = datetime.combine(naive.date(), time(0))
    step = timedelta(minutes=step_minutes)
    elapsed = naive - base
    steps = -(-elapsed // step)  # ceiling division of timedeltas
    return base + steps * step


def round_up_local(at: datetime, tz: str, step_minutes: int) -> datetime:
    """Round ``at`` up to the next local wall time that is a multiple of ``step_minutes``.

    Use it before telling a time: a promise due 10:27:13 is told and stored as "before
    10:30" with ``step_minutes=5``. Returns UTC.
    """
    if step_minutes <= 0 or _MINUTES_PER_DAY % step_minutes:
        raise ValueError(f"step_minutes must divide a day: {step_minutes!r}")
    zone = ZoneInfo(tz)
    at_utc = _aware(at, "at")
    result = _resolve_local(
        _round_up_naive(at_utc.astimezone(zone).replace(tzinfo=None), step_minutes),
        zone,
        latest=False,
    )
    return max(result, at_utc)


def next_callback_slots(
    cal: BusinessCalendar,
    now: datetime,
    slot_minutes: int,
    count: int,
    *,
    lead_minutes: int = 0,
    align_minutes: int | None = None,
    horizon_days: int = 31,
) -> tuple[Slot, ...]:
    """The first ``count`` callback slots a customer can choose, all inside business hours.

    Slots start no earlier than ``now + lead_minutes``, the first slot of each open range on
    a local wall time that is a multiple of ``align_minutes`` (default ``slot_minutes``),
    then follow each other. Searching stops ``horizon_days`` after ``now``, so fewer slots
    may come back when the calendar is mostly closed.
    """
    if slot_minutes <= 0 or count < 0 or lead_minutes < 0:
        raise ValueError("slot_minutes must be > 0; count and lead_minutes >= 0")
    align = slot_minutes if align_minutes is None else align_minutes
    now_utc = _aware(now, "now")
    earliest = now_utc + timedelta(minutes=lead_minutes)
    horizon = now_utc + timedelta(days=horizon_days)
    length = timedelta(minutes=slot_minutes)
    slots: list[Slot] = []
    if count == 0:
        return ()
    for start, end in open_intervals(cal, earliest):
        if start >= horizon:
            break
        cursor = round_up_local(max(start, earliest), cal.timezone, align)
        while cursor + length <= end and len(slots) < count:
            slots.append(Slot(cursor, cursor + length))
            cursor += length
        if len(slots) >= count:
            break
    return tuple(slots)


@dataclass(frozen=True)
class LocalDeadline:
    """A due time as the customer will read it: a local date and time, never "ASAP".

    ``at`` is the due instant (UTC); ``local`` is the time told, in ``timezone``, rounded up to
    the whole minute so that the stated time is never earlier than the due time.
    ``days_ahead`` counts local calendar days from ``now`` (0 today, 1 tomorrow).
    """

    at: datetime
    local: datetime
    timezone: str
    days_ahead: int

    @property
    def is_today(self) -> bool:
        return self.days_ahead == 0

    @property
    def is_tomorrow(self) -> bool:
        return self.days_ahead == 1

    @property
    def local_date(self) -> date:
        return self.local.date()

    @property
    def hhmm(self) -> str:
        """Local time told, ``HH:MM`` (24-hour clock)."""
        return f"{self.local.hour:02d}:{self.local.minute:02d}"


def concrete_deadline(due: datetime, *, now: datetime, tz: str) -> LocalDeadline:
    """The local date and time of ``due`` in the customer's time zone ``tz``."""
    zone = ZoneInfo(tz)
    due_utc, now_utc = _aware(due, "due"), _aware(now, "now")
    minute = due_utc.replace(second=0, microsecond=0)
    if minute < due_utc:
        minute += timedelta(minutes=1)
    local = minute.astimezone(zone)
    days = (local.date() - now_utc.astimezone(zone).date()).days
    return LocalDeadline(at=due_utc, local=local, timezone=tz, days_ahead=days)
