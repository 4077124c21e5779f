"""Business calendars from configuration and public holidays (P4).

National and regional holidays come from the ``holidays`` package (``ES`` + ``MD`` gives the
Spanish national days and those of the Comunidad de Madrid; ``PE`` the Peruvian ones). Local
holidays of a city (in Madrid: San Isidro, 15 May, and La Almudena, 9 November) and any other
closure are configuration: list them under ``closures``.

A calendar knows holidays only for the years it was built for; it raises
:class:`~escucha.promises.rules.CalendarRangeError` rather than silently ignoring the
holidays of a later year. Build it with :func:`years_around` the current time.

Example configuration (YAML, validated by :class:`CalendarConfig`)::

    name: madrid-support
    timezone: Europe/Madrid
    country: ES
    subdivision: MD
    hours:
      mon-thu: ["09:00-14:00", "16:00-19:00"]
      fri: "08:00-15:00"
    closures:
      - {date: 2026-05-15, reason: San Isidro}
      - {date: 2026-11-09, reason: Almudena}
      - {date: 2026-12-24, hours: "14:00-24:00", reason: Nochebuena}
      - {from_date: 2026-08-10, to_date: 2026-08-14, reason: Cierre de verano}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from escucha.promises.rules import (
    BusinessCalendar,
    CalendarError,
    Closure,
    OpeningRange,
    local_interval,
)

__all__ = [
    "CalendarConfig",
    "ClosureConfig",
    "build_calendar",
    "holiday_dates",
    "holiday_names",
    "legal_calendar",
    "years_around",
]


def years_around(now: datetime, *, before: int = 1, after: int = 2) -> tuple[int, ...]:
    """Years to load holidays for: ``before`` years back to ``after`` years ahead of ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    year = now.astimezone(UTC).year
    return tuple(range(year - before, year + after + 1))


def _years(years: Iterable[int]) -> tuple[int, ...]:
    out = tuple(sorted(set(years)))
    if not out:
        raise CalendarError("a calendar needs at least one year of holidays")
    return out


@lru_cache(maxsize=64)
def _holidays(
    country: str, subdivision: str | None, years: tuple[int, ...], language: str | None
) -> dict[date, str]:
    try:
        table = holidays.country_holidays(
            country, subdiv=subdivision, years=years, language=language
        )
    except NotImplementedError as exc:
        where = f"{country}-{subdivision}" if subdivision else country
        raise CalendarError(f"no public holidays known for {where!r}: {exc}") from exc
    return {day: str(name) for day, name in table.items()}


def holiday_dates(country: str, subdivision: str | None, years: Iterable[int]) -> frozenset[date]:
    """Public holidays of ``country`` (ISO 3166-1) and ``subdivision`` (ISO 3166-2 suffix)."""
    return frozenset(_holidays(country.upper(), subdivision, _years(years), None))


def holiday_names(
    country: str, subdivision: str | None, years: Iterable[int], *, lang: str = "es"
) -> dict[date, str]:
    """Holiday names in ``lang`` where the package has them (for screens and documents)."""
    language = lang.split("-")[0].lower()
    try:
        return dict(
            sorted(_holidays(country.upper(), subdivision, _years(years), language).items())
        )
    except (NotImplementedError, ValueError):
        return dict(sorted(_holidays(country.upper(), subdivision, _years(years), None).items()))


class ClosureConfig(BaseModel):
    """A closure: one whole day (``date``), a span of days (``from_date``-``to_date``,
    inclusive), or part of one day (``date`` + ``hours: "14:00-24:00"``), in local time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: dt.date | None = None
    from_date: dt.date | None = None
    to_date: dt.date | None = None
    hours: str | None = None
    reason: str = ""

    @model_validator(mode="after")
    def _one_shape(self) -> Self:
        if self.date is not None and (self.from_date or self.to_date):
            raise ValueError("give either date or from_date/to_date, not both")
        if self.date is None and (self.from_date is None or self.to_date is None):
            raise ValueError("give a date, or both from_date and to_date")
        if self.from_date and self.to_date and self.to_date < self.from_date:
            raise ValueError("to_date must not be before from_date")
        if self.hours is not None:
            if self.date is None:
                raise ValueError("hours apply to a single date")
            OpeningRange.parse(self.hours)
        return self


class CalendarConfig(BaseModel):
    """A team's business calendar as configured (see the module example)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    timezone: str
    country: str | None = Field(default=None, min_length=2, max_length=3)
    subdivision: str | None = None
    hours: dict[str, list[str] | str]
    closures: list[ClosureConfig] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, list[str] | str]) -> dict[str, list[str] | str]:
        BusinessCalendar.from_hours("UTC", value)  # weekday keys, ranges, overlaps
        return value

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                holidays.country_holidays(value.upper())
            except NotImplementedError as exc:
                raise ValueError(f"no public holidays known for country {value!r}") from exc
        return value

    @field_validator("subdivision")
    @classmethod
    def _known_subdivision(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "country" not in info.data:  # the country itself was wrong
            return value
        country = info.data["country"]
        if value is not None and not country:
            raise ValueError("a subdivision needs a country")
        if country:
            try:
                holidays.country_holidays(str(country).upper(), subdiv=value)
            except NotImplementedError as exc:
                raise ValueError(str(exc)) from exc
        return value


def _closures(
    config: Sequence[ClosureConfig], zone: ZoneInfo
) -> tuple[frozenset[date], tuple[Closure, ...]]:
    days: set[date] = set()
    partial: list[Closure] = []
    for item in config:
        if item.date is not None and item.hours is not None:
            begin, end = local_interval(zone.key, item.date, OpeningRange.parse(item.hours))
            partial.append(Closure(begin, end, item.reason))
        elif item.date is not None:
            days.add(item.date)
        elif item.from_date is not None and item.to_date is not None:
            day = item.from_date
            while day <= item.to_date:
                days.add(day)
                day += timedelta(days=1)
    return frozenset(days), tuple(partial)


def build_calendar(config: CalendarConfig, *, years: Iterable[int]) -> BusinessCalendar:
    """A :class:`BusinessCalendar` with holidays of ``years`` and the configured closures."""
    year_list = _years(years)
    zone = ZoneInfo(config.timezone)
    closed, partial = _closures(config.closures, zone)
    if config.country:
        closed = closed | holiday_dates(config.country, config.subdivision, year_list)
    return BusinessCalendar.from_hours(
        config.timezone,
        config.hours,
        closed_dates=closed,
        closures=partial,
        known_until=date(year_list[-1], 12, 31),
        name=config.name,
    )


def legal_calendar(
    country: str,
    subdivision: str | None,
    timezone: str,
    *,
    years: Iterable[int],
    working_days: str = "mon-fri",
    extra_closed: Iterable[date] = (),
) -> BusinessCalendar:
    """Working days for legal deadlines ("días hábiles"): whole days, minus holidays.

    Open ``00:00-24:00`` on ``working_days`` except public holidays, so ``N`` business days
    end at midnight closing the ``N``-th working day after the day of receipt.
    """
    year_list = _years(years)
    closed = holiday_dates(country, subdivision, year_list) | frozenset(extra_closed)
    where = f"{country}-{subdivision}" if subdivision else country
    return BusinessCalendar.from_hours(
        timezone,
        {working_days: "00:00-24:00"},
        closed_dates=closed,
        known_until=date(year_list[-1], 12, 31),
        name=f"legal {where}",
    )
