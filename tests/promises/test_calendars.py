"""Calendars from configuration and the `holidays` package (P4)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from escucha import yamlio
from escucha.promises.calendars import (
    CalendarConfig,
    build_calendar,
    holiday_dates,
    holiday_names,
    legal_calendar,
    years_around,
)
from escucha.promises.rules import (
    BusinessCalendar,
    CalendarError,
    CalendarRangeError,
    add_business_days,
    add_business_time,
    is_business_day,
    is_open,
)

MADRID = ZoneInfo("Europe/Madrid")
LIMA = ZoneInfo("America/Lima")

MADRID_TEAM = """\
name: madrid-support
timezone: Europe/Madrid
country: ES
subdivision: MD
hours:
  mon-fri: ["09:00-14:00", "16:00-19:00"]
closures:
  - {date: 2026-05-15, reason: San Isidro}
  - {date: 2026-11-09, reason: Almudena}
  - {date: 2026-12-24, hours: "14:00-24:00", reason: Nochebuena}
  - {from_date: 2026-08-10, to_date: 2026-08-14, reason: Cierre de verano}
"""


def load_config(text: str) -> CalendarConfig:
    return yamlio.validate(CalendarConfig, yamlio.load_text(text, "team.yaml"), "team.yaml")


@pytest.fixture
def team() -> BusinessCalendar:
    return build_calendar(load_config(MADRID_TEAM), years=[2026, 2027])


def test_spanish_national_and_madrid_holidays() -> None:
    days = holiday_dates("ES", "MD", [2026, 2027])
    national = {
        date(2026, 1, 1),
        date(2026, 1, 6),
        date(2026, 4, 3),
        date(2026, 5, 1),
        date(2026, 10, 12),
        date(2026, 12, 8),
        date(2026, 12, 25),
        date(2027, 1, 6),
    }
    assert national <= days
    assert date(2026, 5, 2) in days  # Fiesta de la Comunidad de Madrid
    assert date(2026, 12, 7) in days  # Constitution Day moved to Monday in Madrid
    # City holidays are not regional: they come from the configured closures.
    assert date(2026, 11, 9) not in days
    # Catalonia does not share Madrid's regional days.
    assert date(2026, 5, 2) not in holiday_dates("ES", "CT", [2026])


def test_peruvian_holidays() -> None:
    days = holiday_dates("PE", None, [2026])
    assert {date(2026, 7, 28), date(2026, 7, 29), date(2026, 12, 8), date(2026, 12, 9)} <= days
    assert date(2026, 7, 27) not in days
    names = holiday_names("PE", None, [2026], lang="es")
    assert "Independencia" in names[date(2026, 7, 28)]


def test_unknown_country_is_a_calendar_error() -> None:
    with pytest.raises(CalendarError, match="XX"):
        holiday_dates("XX", None, [2026])
    with pytest.raises(CalendarError, match="year"):
        holiday_dates("ES", None, [])


def test_built_calendar_closes_holidays_and_closures(team: BusinessCalendar) -> None:
    assert not is_business_day(team, date(2026, 11, 9))  # Almudena, configured
    assert not is_business_day(team, date(2026, 12, 8))  # national, from the package
    assert not is_business_day(team, date(2026, 5, 15))  # San Isidro, configured
    assert not is_business_day(team, date(2026, 8, 12))  # summer closure span
    assert is_business_day(team, date(2026, 8, 17))
    # Christmas Eve closes at 14:00.
    assert is_open(team, datetime(2026, 12, 24, 13, 0, tzinfo=MADRID))
    assert not is_open(team, datetime(2026, 12, 24, 16, 30, tzinfo=MADRID))
    assert team.known_until == date(2027, 12, 31)


def test_built_calendar_arithmetic_over_the_almudena_weekend(team: BusinessCalendar) -> None:
    friday = datetime(2026, 11, 6, 18, 30, tzinfo=MADRID)
    assert add_business_time(team, friday, timedelta(hours=1)) == datetime(
        2026, 11, 10, 9, 30, tzinfo=MADRID
    )


def test_calendar_refuses_years_it_does_not_know(team: BusinessCalendar) -> None:
    with pytest.raises(CalendarRangeError, match="2027-12-31"):
        add_business_days(team, datetime(2027, 12, 20, 10, tzinfo=MADRID), 15)


def test_legal_calendar_madrid_fifteen_working_days() -> None:
    legal = legal_calendar("ES", "MD", "Europe/Madrid", years=[2026, 2027])
    due = add_business_days(legal, datetime(2026, 12, 4, 10, tzinfo=MADRID), 15)
    assert due == datetime(2026, 12, 31, 0, 0, tzinfo=MADRID)


def test_legal_calendar_lima_three_working_days() -> None:
    legal = legal_calendar("PE", None, "America/Lima", years=[2026])
    due = add_business_days(legal, datetime(2026, 7, 27, 10, tzinfo=LIMA), 3)
    assert due == datetime(2026, 8, 4, 0, 0, tzinfo=LIMA)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (MADRID_TEAM.replace("Europe/Madrid", "Europe/Atlantis"), "team.yaml:2: timezone"),
        (MADRID_TEAM.replace("subdivision: MD", "subdivision: ZZ"), "team.yaml:4: subdivision"),
        (MADRID_TEAM.replace("country: ES", "country: XX"), "team.yaml:3: country"),
        (MADRID_TEAM.replace('"16:00-19:00"', '"19:00-16:00"'), "team.yaml:5: hours"),
        (MADRID_TEAM.replace("{date: 2026-05-15,", "{from_date: 2026-05-15,"), "closures[0]"),
        (MADRID_TEAM + "colour: blue\n", "team.yaml:12: colour"),
    ],
)
def test_bad_calendar_config_names_file_line_and_path(text: str, where: str) -> None:
    with pytest.raises(yamlio.YamlFileError) as excinfo:
        load_config(text)
    assert where in str(excinfo.value)


def test_years_around() -> None:
    assert years_around(datetime(2026, 11, 20, tzinfo=UTC)) == (2025, 2026, 2027, 2028)
    with pytest.raises(ValueError, match="aware"):
        years_around(datetime(2026, 11, 20))  # noqa: DTZ001
