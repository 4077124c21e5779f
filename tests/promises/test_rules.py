"""Business calendar arithmetic and promise states (P1, P3, P4, W6)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escucha.promises.rules import (
    Allowance,
    AllowanceUnit,
    BusinessCalendar,
    CalendarError,
    CalendarNeverOpensError,
    CalendarRangeError,
    Closure,
    OpeningRange,
    PromiseEvent,
    PromiseState,
    PromiseTransitionError,
    add_business_days,
    add_business_time,
    add_calendar_days,
    business_day_end,
    business_seconds_between,
    business_time_between,
    concrete_deadline,
    due_at,
    escalation_times,
    in_business_hours,
    is_business_day,
    is_open,
    next_callback_slots,
    next_close,
    next_open,
    next_promise_state,
    open_intervals,
    promise_state,
    round_up_local,
)

MADRID = ZoneInfo("Europe/Madrid")
LIMA = ZoneInfo("America/Lima")

# Days off in the city of Madrid: national, Comunidad de Madrid and city holidays.
MADRID_CITY_HOLIDAYS = frozenset(
    {
        date(2026, 1, 1),
        date(2026, 1, 6),
        date(2026, 4, 2),
        date(2026, 4, 3),
        date(2026, 5, 1),
        date(2026, 5, 2),
        date(2026, 5, 15),  # San Isidro (city)
        date(2026, 8, 15),
        date(2026, 10, 12),
        date(2026, 11, 2),
        date(2026, 11, 9),  # Nuestra Señora de la Almudena (city)
        date(2026, 12, 7),
        date(2026, 12, 8),
        date(2026, 12, 25),
        date(2027, 1, 1),
        date(2027, 1, 6),
        date(2027, 3, 19),
        date(2027, 3, 25),
        date(2027, 3, 26),
    }
)
PERU_HOLIDAYS_2026 = frozenset(
    {
        date(2026, 1, 1),
        date(2026, 4, 2),
        date(2026, 4, 3),
        date(2026, 5, 1),
        date(2026, 6, 7),
        date(2026, 6, 29),
        date(2026, 7, 23),
        date(2026, 7, 28),
        date(2026, 7, 29),
        date(2026, 8, 6),
        date(2026, 8, 30),
        date(2026, 10, 8),
        date(2026, 11, 1),
        date(2026, 12, 8),
        date(2026, 12, 9),
        date(2026, 12, 25),
    }
)


def madrid(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=MADRID)


def lima(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LIMA)


@pytest.fixture
def split() -> BusinessCalendar:
    """A Madrid team open 09:00-14:00 and 16:00-19:00 on weekdays."""
    return BusinessCalendar.from_hours(
        "Europe/Madrid",
        {"mon-fri": "09:00-14:00,16:00-19:00"},
        closed_dates=MADRID_CITY_HOLIDAYS,
        known_until=date(2027, 4, 30),
        name="madrid-split",
    )


@pytest.fixture
def legal_madrid() -> BusinessCalendar:
    """Working days in Madrid for legal deadlines."""
    return BusinessCalendar.from_hours(
        "Europe/Madrid",
        {"mon-fri": "00:00-24:00"},
        closed_dates=MADRID_CITY_HOLIDAYS,
        known_until=date(2027, 4, 30),
    )


@pytest.fixture
def legal_lima() -> BusinessCalendar:
    return BusinessCalendar.from_hours(
        "America/Lima",
        {"mon-fri": "00:00-24:00"},
        closed_dates=PERU_HOLIDAYS_2026,
        known_until=date(2026, 12, 31),
    )


# --- building ------------------------------------------------------------------------------------


def test_opening_range_parses_and_prints() -> None:
    rng = OpeningRange.parse(" 09:00 - 14:30 ")
    assert (rng.start_min, rng.end_min) == (540, 870)
    assert str(rng) == "09:00-14:30"
    assert OpeningRange.parse("00:00-24:00").end_min == 1440


@pytest.mark.parametrize("text", ["14:00-09:00", "09:00", "9-14", "09:60-10:00", "24:30-25:00"])
def test_opening_range_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match=r"(range|time)"):
        OpeningRange.parse(text)


def test_from_hours_reads_weekday_keys(split: BusinessCalendar) -> None:
    assert [len(day) for day in split.weekly_hours] == [2, 2, 2, 2, 2, 0, 0]
    weekend = BusinessCalendar.from_hours("UTC", {"all": "10:00-11:00", "sat-sun": []})
    assert [len(day) for day in weekend.weekly_hours] == [1, 1, 1, 1, 1, 0, 0]
    wrap = BusinessCalendar.from_hours("UTC", {"sat-mon": "10:00-11:00"})
    assert [len(day) for day in wrap.weekly_hours] == [1, 0, 0, 0, 0, 1, 1]


def test_calendar_rejects_bad_zone_overlaps_and_keys() -> None:
    with pytest.raises(CalendarError, match="time zone"):
        BusinessCalendar.from_hours("Europe/Atlantis", {"mon": "09:00-10:00"})
    with pytest.raises(CalendarError, match="overlap"):
        BusinessCalendar.from_hours("UTC", {"mon": ["09:00-14:00", "13:00-15:00"]})
    with pytest.raises(CalendarError, match="weekday"):
        BusinessCalendar.from_hours("UTC", {"monday": "09:00-10:00"})
    with pytest.raises(CalendarError, match="7 entries"):
        BusinessCalendar(timezone="UTC", weekly_hours=((),))


def test_naive_times_are_refused(split: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(split, datetime(2026, 11, 10, 10, 0))  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        Closure(datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC))  # noqa: DTZ001


# --- one instant ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ((2026, 11, 10, 8, 59), False),
        ((2026, 11, 10, 9, 0), True),
        ((2026, 11, 10, 13, 59), True),
        ((2026, 11, 10, 14, 0), False),
        ((2026, 11, 10, 15, 59), False),
        ((2026, 11, 10, 16, 0), True),
        ((2026, 11, 10, 18, 59), True),
        ((2026, 11, 10, 19, 0), False),
        ((2026, 11, 14, 10, 0), False),  # Saturday
        ((2026, 11, 9, 10, 0), False),  # Almudena, Madrid
        ((2026, 12, 8, 10, 0), False),  # Inmaculada Concepción
        ((2026, 12, 25, 10, 0), False),  # Navidad
        ((2027, 1, 6, 10, 0), False),  # Reyes
        ((2027, 1, 7, 10, 0), True),
    ],
)
def test_is_open_with_split_hours_and_madrid_holidays(
    split: BusinessCalendar, local: tuple[int, ...], expected: bool
) -> None:
    assert is_open(split, madrid(*local)) is expected


def test_next_open_skips_the_almudena_weekend(split: BusinessCalendar) -> None:
    # Friday 6 Nov after closing -> weekend -> Monday 9 Nov is Almudena -> Tuesday 09:00.
    assert next_open(split, madrid(2026, 11, 6, 19, 0)) == madrid(2026, 11, 10, 9, 0)
    # Lunch break.
    assert next_open(split, madrid(2026, 11, 10, 14, 30)) == madrid(2026, 11, 10, 16, 0)
    assert next_open(split, madrid(2026, 11, 10, 10, 0)) == madrid(2026, 11, 10, 10, 0)
    assert next_close(split, madrid(2026, 11, 10, 10, 0)) == madrid(2026, 11, 10, 14, 0)
    assert next_close(split, madrid(2026, 11, 10, 14, 30)) == madrid(2026, 11, 10, 19, 0)


def test_business_days(split: BusinessCalendar) -> None:
    assert not is_business_day(split, date(2026, 12, 8))
    assert is_business_day(split, date(2026, 12, 9))
    assert business_day_end(split, date(2026, 12, 9)) == madrid(2026, 12, 9, 19, 0)
    with pytest.raises(CalendarError, match="not a business day"):
        business_day_end(split, date(2026, 12, 8))


def test_in_business_hours_includes_closing_time(split: BusinessCalendar) -> None:
    assert in_business_hours(split, madrid(2026, 11, 10, 14, 0))
    assert in_business_hours(split, madrid(2026, 11, 10, 19, 0))
    assert not in_business_hours(split, madrid(2026, 11, 10, 14, 1))


# --- arithmetic ----------------------------------------------------------------------------------


def test_add_business_time_over_the_constitution_bridge(split: BusinessCalendar) -> None:
    # Fri 4 Dec 18:00 + 2 h: one hour on Friday; Mon 7 and Tue 8 are holidays in Madrid.
    assert add_business_time(split, madrid(2026, 12, 4, 18, 0), timedelta(hours=2)) == madrid(
        2026, 12, 9, 10, 0
    )


def test_add_business_time_lunch_break_and_exact_close(split: BusinessCalendar) -> None:
    start = madrid(2026, 11, 10, 13, 0)
    assert add_business_time(split, start, timedelta(hours=1)) == madrid(2026, 11, 10, 14, 0)
    assert add_business_time(split, start, timedelta(hours=1, minutes=1)) == madrid(
        2026, 11, 10, 16, 1
    )
    assert add_business_time(split, start, timedelta(0)) == start
    closed = madrid(2026, 11, 10, 15, 0)
    assert add_business_time(split, closed, timedelta(0)) == madrid(2026, 11, 10, 16, 0)
    with pytest.raises(ValueError, match="negative"):
        add_business_time(split, start, timedelta(seconds=-1))


def test_results_are_utc(split: BusinessCalendar) -> None:
    result = add_business_time(split, madrid(2026, 11, 10, 13, 0), timedelta(hours=1))
    assert result.tzinfo is UTC
    assert result == datetime(2026, 11, 10, 13, 0, tzinfo=UTC)


def test_business_time_between(split: BusinessCalendar) -> None:
    a, b = madrid(2026, 11, 10, 13, 0), madrid(2026, 11, 11, 10, 0)
    # 13-14, 16-19 on Tuesday, 9-10 on Wednesday.
    assert business_time_between(split, a, b) == timedelta(hours=5)
    assert business_seconds_between(split, b, a) == -5 * 3600
    assert business_time_between(split, a, a) == timedelta(0)
    # The whole Almudena long weekend holds no business time.
    assert business_time_between(split, madrid(2026, 11, 6, 19), madrid(2026, 11, 10, 9)) == (
        timedelta(0)
    )


def test_fifteen_working_days_for_a_complaint_in_madrid(legal_madrid: BusinessCalendar) -> None:
    # Received Friday 4 Dec 2026. Working days after it: 9-11 (3), 14-18 (8), 21-24 (12),
    # 25 is Christmas, 28-30 (15). Due when Wednesday 30 Dec ends.
    due = add_business_days(legal_madrid, madrid(2026, 12, 4, 10, 0), 15)
    assert due == madrid(2026, 12, 31, 0, 0)


def test_business_days_across_new_year_and_epiphany(legal_madrid: BusinessCalendar) -> None:
    start = madrid(2026, 12, 28, 12, 0)
    # 29, 30, 31 Dec, (1 Jan), 4, 5 Jan, (6 Jan), 7 Jan.
    assert add_business_days(legal_madrid, start, 5) == madrid(2027, 1, 6, 0, 0)
    assert add_business_days(legal_madrid, start, 6) == madrid(2027, 1, 8, 0, 0)


def test_business_days_end_at_closing_time(split: BusinessCalendar) -> None:
    # Friday with 1 business day: Monday 9 Nov is Almudena, so Tuesday at closing time.
    assert add_business_days(split, madrid(2026, 11, 6, 10, 0), 1) == madrid(2026, 11, 10, 19, 0)


def test_zero_business_days_is_the_same_business_day(split: BusinessCalendar) -> None:
    assert add_business_days(split, madrid(2026, 11, 10, 10, 0), 0) == madrid(2026, 11, 10, 19, 0)
    # At lunch there is still afternoon time left.
    assert add_business_days(split, madrid(2026, 11, 10, 15, 0), 0) == madrid(2026, 11, 10, 19, 0)
    # After closing, or on a holiday: the next business day.
    assert add_business_days(split, madrid(2026, 11, 10, 19, 0), 0) == madrid(2026, 11, 11, 19, 0)
    assert add_business_days(split, madrid(2026, 12, 8, 10, 0), 0) == madrid(2026, 12, 9, 19, 0)
    with pytest.raises(ValueError, match="whole number"):
        add_business_days(split, madrid(2026, 12, 8, 10, 0), -1)


def test_peru_working_days_skip_independence_days(legal_lima: BusinessCalendar) -> None:
    # Monday 27 Jul 2026 + 3 working days: 28 and 29 Jul are holidays -> 30, 31 Jul, 3 Aug.
    assert add_business_days(legal_lima, lima(2026, 7, 27, 10, 0), 3) == lima(2026, 8, 4, 0, 0)
    # Complaint on Monday 7 Dec: 8 and 9 Dec are holidays -> 10, 11, 14 Dec.
    assert add_business_days(legal_lima, lima(2026, 12, 7, 9, 0), 3) == lima(2026, 12, 15, 0, 0)


def test_calendar_days_keep_the_wall_clock(legal_lima: BusinessCalendar) -> None:
    start = lima(2026, 7, 27, 10, 0)
    assert add_calendar_days(legal_lima, start, 1) == lima(2026, 7, 28, 10, 0)  # holiday or not
    assert add_calendar_days(legal_lima, start, 2) == lima(2026, 7, 29, 10, 0)
    assert add_calendar_days(legal_lima, start, 1, end_of_day=True) == lima(2026, 7, 29, 0, 0)


# --- DST -----------------------------------------------------------------------------------------


def test_autumn_dst_day_has_25_business_hours() -> None:
    always = BusinessCalendar.always_open("Europe/Madrid")
    start = madrid(2026, 10, 25, 0, 0)  # CEST, UTC+2
    end = madrid(2026, 10, 26, 0, 0)  # CET, UTC+1
    assert business_time_between(always, start, end) == timedelta(hours=25)
    assert add_business_days(always, madrid(2026, 10, 24, 12, 0), 1) == end
    assert add_business_time(always, start, timedelta(hours=24)) == madrid(2026, 10, 25, 23, 0)


def test_calendar_day_across_autumn_dst_is_25_hours() -> None:
    always = BusinessCalendar.always_open("Europe/Madrid")
    start = madrid(2026, 10, 24, 10, 0)
    result = add_calendar_days(always, start, 1)
    assert result == madrid(2026, 10, 25, 10, 0)
    assert result - start == timedelta(hours=25)


def test_team_hours_across_autumn_dst() -> None:
    team = BusinessCalendar.from_hours("Europe/Madrid", {"mon-fri": "09:00-14:00"})
    # Friday 23 Oct 13:00 CEST (11:00 UTC) + 2 business hours -> Monday 26 Oct 10:00 CET.
    result = add_business_time(team, madrid(2026, 10, 23, 13, 0), timedelta(hours=2))
    assert result == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


def test_spring_dst_day_has_23_hours_and_the_gap_opens_at_the_jump() -> None:
    always = BusinessCalendar.always_open("Europe/Madrid")
    assert business_time_between(always, madrid(2027, 3, 28, 0, 0), madrid(2027, 3, 29, 0, 0)) == (
        timedelta(hours=23)
    )
    night = BusinessCalendar.from_hours("Europe/Madrid", {"all": "02:30-04:00"})
    # 02:30 does not exist on 28 Mar 2027: the range opens when clocks jump to 03:00 CEST.
    first = next(open_intervals(night, madrid(2027, 3, 28, 0, 0)))
    assert first == (
        datetime(2027, 3, 28, 1, 0, tzinfo=UTC),
        datetime(2027, 3, 28, 2, 0, tzinfo=UTC),
    )
    # A wall time in the gap, one calendar day later, becomes the jump instant.
    assert add_calendar_days(always, madrid(2027, 3, 27, 2, 30), 1) == datetime(
        2027, 3, 28, 1, 0, tzinfo=UTC
    )


def test_autumn_fold_opens_at_first_and_closes_at_last_occurrence() -> None:
    night = BusinessCalendar.from_hours("Europe/Madrid", {"all": "02:30-03:00"})
    start, end = next(open_intervals(night, madrid(2026, 10, 25, 0, 0)))
    # 02:30 CEST = 00:30 UTC; 03:00 CET = 02:00 UTC (02:00-03:00 happens twice).
    assert (start, end) == (
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 2, 0, tzinfo=UTC),
    )


# --- closures and ranges -------------------------------------------------------------------------


def test_partial_closure_cuts_the_afternoon(split: BusinessCalendar) -> None:
    closing = Closure(madrid(2026, 12, 24, 14, 0), madrid(2026, 12, 24, 23, 59), "Nochebuena")
    cal = BusinessCalendar(
        timezone=split.timezone,
        weekly_hours=split.weekly_hours,
        closed_dates=split.closed_dates,
        closures=(closing,),
        known_until=split.known_until,
    )
    assert is_open(cal, madrid(2026, 12, 24, 13, 0))
    assert not is_open(cal, madrid(2026, 12, 24, 17, 0))
    assert business_day_end(cal, date(2026, 12, 24)) == madrid(2026, 12, 24, 14, 0)


def test_calendar_refuses_dates_beyond_known_holidays(split: BusinessCalendar) -> None:
    with pytest.raises(CalendarRangeError, match="2027-04-30"):
        add_business_days(split, madrid(2027, 4, 20, 10, 0), 15)


def test_calendar_that_never_opens() -> None:
    closed = BusinessCalendar.from_hours("UTC", {})
    with pytest.raises(CalendarNeverOpensError):
        next_open(closed, datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(CalendarNeverOpensError):
        add_business_days(closed, datetime(2026, 1, 1, tzinfo=UTC), 1)


def test_adjacent_ranges_merge_across_midnight() -> None:
    night = BusinessCalendar.from_hours("UTC", {"all": ["00:00-06:00", "22:00-24:00"]})
    first = next(open_intervals(night, datetime(2026, 1, 1, 23, tzinfo=UTC)))
    assert first == (datetime(2026, 1, 1, 22, tzinfo=UTC), datetime(2026, 1, 2, 6, tzinfo=UTC))


# --- allowances and escalations ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "unit", "expected"),
    [
        (10, "minutes", madrid(2026, 11, 10, 18, 55)),
        (2, "hours", madrid(2026, 11, 10, 20, 45)),
        (30, "business_minutes", madrid(2026, 11, 11, 9, 15)),
        (4, "business_hours", madrid(2026, 11, 11, 12, 45)),
        (1, "business_days", madrid(2026, 11, 11, 19, 0)),
        (1, "calendar_days", madrid(2026, 11, 11, 18, 45)),
    ],
)
def test_due_at_every_unit(
    split: BusinessCalendar, amount: int, unit: str, expected: datetime
) -> None:
    start = madrid(2026, 11, 10, 18, 45)
    policy = Allowance.from_mapping({"amount": amount, "unit": unit})
    assert due_at(policy, split, start) == expected


def test_allowance_validation() -> None:
    assert str(Allowance(15, AllowanceUnit.BUSINESS_DAYS)) == "15 business_days"
    assert Allowance(2, "business_hours").on_business_time  # type: ignore[arg-type]
    assert not Allowance(2, AllowanceUnit.CALENDAR_DAYS).on_business_time
    with pytest.raises(ValueError, match="whole number"):
        Allowance(1.5, AllowanceUnit.BUSINESS_DAYS)
    with pytest.raises(ValueError, match=">= 0"):
        Allowance(-1, AllowanceUnit.MINUTES)
    with pytest.raises(ValueError, match="weeks"):
        Allowance.from_mapping({"amount": 1, "unit": "weeks"})
    with pytest.raises(ValueError, match="amount"):
        Allowance.from_mapping({"unit": "minutes"})


def test_escalation_at_75_percent_of_business_time(split: BusinessCalendar) -> None:
    start = madrid(2026, 12, 4, 18, 0)  # Friday, one hour before closing
    due = add_business_days(split, start, 2)  # Thu 10 Dec 19:00 (7 and 8 are holidays)
    assert due == madrid(2026, 12, 10, 19, 0)
    (escalate,) = escalation_times(split, start, due)
    total = business_time_between(split, start, due)
    assert total == timedelta(hours=17)
    assert business_time_between(split, start, escalate) == total * 0.75
    assert is_open(split, escalate)
    assert escalate == madrid(2026, 12, 10, 12, 45)


def test_escalations_keep_order_and_fall_back_to_elapsed_time(split: BusinessCalendar) -> None:
    start = madrid(2026, 11, 10, 9, 0)
    due = madrid(2026, 11, 12, 19, 0)
    half, late = escalation_times(split, start, due, (0.5, 0.9))
    assert start < half < late <= due
    # No business time between start and due: elapsed fractions.
    night_start, night_due = madrid(2026, 11, 10, 20, 0), madrid(2026, 11, 10, 22, 0)
    assert escalation_times(split, night_start, night_due) == (madrid(2026, 11, 10, 21, 30),)
    assert escalation_times(split, start, due, (0.5,), business=False) == (
        madrid(2026, 11, 11, 14, 0),
    )
    with pytest.raises(ValueError, match="within"):
        escalation_times(split, start, due, (1.5,))
    with pytest.raises(ValueError, match="before"):
        escalation_times(split, due, start)


# --- promise states ------------------------------------------------------------------------------

DUE = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("now", "fulfilled", "cancelled", "expected"),
    [
        (DUE - SECOND, None, None, PromiseState.PENDING),
        (DUE, None, None, PromiseState.PENDING),
        (DUE + SECOND, None, None, PromiseState.BROKEN),
        (DUE, DUE, None, PromiseState.KEPT),
        (DUE + timedelta(days=9), DUE - SECOND, None, PromiseState.KEPT),
        (DUE + timedelta(days=1), DUE + SECOND, None, PromiseState.BROKEN),
        (DUE - timedelta(hours=1), DUE - SECOND, None, PromiseState.PENDING),  # not yet happened
        (DUE - SECOND, None, DUE - timedelta(hours=1), PromiseState.CANCELLED),
        (DUE + SECOND, None, DUE + SECOND, PromiseState.BROKEN),
        (DUE + SECOND, DUE - SECOND, DUE - timedelta(hours=1), PromiseState.CANCELLED),
        (DUE + SECOND, DUE - timedelta(hours=1), DUE - SECOND, PromiseState.KEPT),
    ],
)
def test_promise_state(
    now: datetime,
    fulfilled: datetime | None,
    cancelled: datetime | None,
    expected: PromiseState,
) -> None:
    assert promise_state(DUE, now=now, fulfilled_at=fulfilled, cancelled_at=cancelled) is expected


@pytest.mark.parametrize(
    ("event", "at", "expected"),
    [
        (PromiseEvent.FULFIL, DUE, PromiseState.KEPT),
        (PromiseEvent.FULFIL, DUE + SECOND, PromiseState.BROKEN),
        (PromiseEvent.CANCEL, DUE - SECOND, PromiseState.CANCELLED),
        (PromiseEvent.CANCEL, DUE + SECOND, PromiseState.BROKEN),
        (PromiseEvent.EXPIRE, DUE + SECOND, PromiseState.BROKEN),
    ],
)
def test_next_promise_state(event: PromiseEvent, at: datetime, expected: PromiseState) -> None:
    assert next_promise_state(PromiseState.PENDING, event, at=at, due=DUE) is expected


def test_settled_promises_do_not_move() -> None:
    with pytest.raises(PromiseTransitionError, match="before its due"):
        next_promise_state("pending", "expire", at=DUE, due=DUE)
    for state, event in itertools.product(
        (PromiseState.KEPT, PromiseState.BROKEN, PromiseState.CANCELLED), PromiseEvent
    ):
        with pytest.raises(PromiseTransitionError):
            next_promise_state(state, event, at=DUE, due=DUE)


# --- what the customer is told -------------------------------------------------------------------


def test_callback_slots_are_inside_business_hours(split: BusinessCalendar) -> None:
    now = madrid(2026, 11, 6, 18, 20)  # Friday before the Almudena Monday
    slots = next_callback_slots(split, now, 30, 4)
    assert [s.start for s in slots] == [
        madrid(2026, 11, 6, 18, 30),
        madrid(2026, 11, 10, 9, 0),
        madrid(2026, 11, 10, 9, 30),
        madrid(2026, 11, 10, 10, 0),
    ]
    for slot in slots:
        assert slot.end - slot.start == timedelta(minutes=30)
        assert is_open(split, slot.start)
        assert in_business_hours(split, slot.end)
        assert business_time_between(split, slot.start, slot.end) == timedelta(minutes=30)


def test_callback_slots_lead_time_alignment_and_horizon(split: BusinessCalendar) -> None:
    now = madrid(2026, 11, 10, 13, 20)
    slots = next_callback_slots(split, now, 30, 2, lead_minutes=15, align_minutes=15)
    # 13:35 -> 13:45 would end after 14:00, so the afternoon.
    assert [s.start for s in slots] == [madrid(2026, 11, 10, 16, 0), madrid(2026, 11, 10, 16, 30)]
    closed_soon = BusinessCalendar.from_hours("UTC", {"mon": "09:00-09:20"})
    assert next_callback_slots(closed_soon, datetime(2026, 11, 9, tzinfo=UTC), 30, 3) == ()
    assert next_callback_slots(split, now, 30, 0) == ()


def test_concrete_deadline_is_a_local_date_and_time() -> None:
    now = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)  # Sunday 21:00 in Madrid
    deadline = concrete_deadline(
        datetime(2026, 11, 23, 9, 29, 10, tzinfo=UTC), now=now, tz="Europe/Madrid"
    )
    assert deadline.is_tomorrow
    assert not deadline.is_today
    assert deadline.local_date == date(2026, 11, 23)
    assert deadline.hhmm == "10:30"  # 10:29:10 is told as 10:30, never earlier
    # Lima, same instants: the due time is on the same local day as now.
    in_lima = concrete_deadline(
        datetime(2026, 11, 23, 3, 0, tzinfo=UTC), now=now, tz="America/Lima"
    )
    assert (in_lima.days_ahead, in_lima.hhmm) == (0, "22:00")


def test_round_up_local() -> None:
    at = madrid(2026, 11, 10, 10, 27, 13)
    assert round_up_local(at, "Europe/Madrid", 5) == madrid(2026, 11, 10, 10, 30)
    assert round_up_local(madrid(2026, 11, 10, 10, 30), "Europe/Madrid", 30) == madrid(
        2026, 11, 10, 10, 30
    )
    with pytest.raises(ValueError, match="divide"):
        round_up_local(at, "Europe/Madrid", 7)


# --- properties ----------------------------------------------------------------------------------

PROPERTY_CAL = BusinessCalendar.from_hours(
    "Europe/Madrid",
    {"mon-fri": "09:00-14:00,16:00-19:00", "sat": "10:00-13:00"},
    closed_dates=MADRID_CITY_HOLIDAYS,
    name="property",
)
starts = st.datetimes(
    min_value=datetime(2026, 10, 1),  # noqa: DTZ001 - hypothesis needs naive bounds
    max_value=datetime(2027, 4, 15),  # noqa: DTZ001
    timezones=st.just(UTC),
)
durations = st.integers(min_value=0, max_value=40 * 3600).map(lambda s: timedelta(seconds=s))


@settings(max_examples=60, deadline=None)
@given(start=starts, duration=durations)
def test_property_result_is_in_business_hours(start: datetime, duration: timedelta) -> None:
    result = add_business_time(PROPERTY_CAL, start, duration)
    assert result >= start
    assert in_business_hours(PROPERTY_CAL, result)


@settings(max_examples=60, deadline=None)
@given(start=starts, d1=durations, d2=durations)
def test_property_monotone_in_duration(start: datetime, d1: timedelta, d2: timedelta) -> None:
    short, long = sorted((d1, d2))
    assert add_business_time(PROPERTY_CAL, start, short) <= add_business_time(
        PROPERTY_CAL, start, long
    )


@settings(max_examples=60, deadline=None)
@given(start=starts, duration=durations)
def test_property_between_inverts_add(start: datetime, duration: timedelta) -> None:
    end = add_business_time(PROPERTY_CAL, start, duration)
    assert business_time_between(PROPERTY_CAL, start, end) == duration


@settings(max_examples=60, deadline=None)
@given(start=starts, offset=st.integers(min_value=0, max_value=20 * 86400))
def test_property_add_inverts_between(start: datetime, offset: int) -> None:
    end = start + timedelta(seconds=offset)
    spent = business_time_between(PROPERTY_CAL, start, end)
    back = add_business_time(PROPERTY_CAL, start, spent)
    if spent == timedelta(0):
        assert back == next_open(PROPERTY_CAL, start)
        return
    assert back <= end
    assert business_time_between(PROPERTY_CAL, back, end) == timedelta(0)
    if is_open(PROPERTY_CAL, end):
        assert back == end


@settings(max_examples=40, deadline=None)
@given(start=starts, days=st.integers(min_value=0, max_value=20))
def test_property_business_days_end_at_a_closing_time(start: datetime, days: int) -> None:
    due = add_business_days(PROPERTY_CAL, start, days)
    assert due > start
    assert in_business_hours(PROPERTY_CAL, due)
    assert not is_open(PROPERTY_CAL, due)
    local_day = due.astimezone(MADRID).date()
    assert business_day_end(PROPERTY_CAL, local_day) == due
    counted = sum(
        1
        for n in range(1, (local_day - start.astimezone(MADRID).date()).days + 1)
        if is_business_day(PROPERTY_CAL, start.astimezone(MADRID).date() + timedelta(days=n))
    )
    assert counted == max(days, 1) or (days == 0 and counted == 0)
