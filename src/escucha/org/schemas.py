"""The organisation YAML (``escucha config apply org.yaml``)."""

from __future__ import annotations

import re
import zoneinfo
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from escucha import languages
from escucha.asterisk.rules import check_endpoint, check_trunk

_RANGE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Name = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,79}$")


def _check_language(value: str) -> str:
    if value not in languages.CODES:
        raise ValueError(
            f"unknown language {value!r}; the catalog has {', '.join(languages.CODES)}"
        )
    return value


#: A language of the catalog (:mod:`escucha.languages`).
Language = Annotated[str, AfterValidator(_check_language)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_tz(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name like Europe/Madrid)"
        ) from None
    return value


class OrganisationIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    subdivision: str | None = None
    timezone: str = languages.DEFAULT_ZONE
    language: Language = languages.DEFAULT_LANGUAGE
    regulatory_profile: Literal["generic", "es-ley-10-2025", "pe-osiptel"] = "generic"

    _tz = field_validator("timezone")(_check_tz)


class HolidaysIn(_Strict):
    country: str = Field(pattern=r"^[A-Z]{2}$")
    subdivision: str | None = None


class ClosureIn(_Strict):
    date: date
    reason: str = ""


class CalendarIn(_Strict):
    name: str = Name
    timezone: str = languages.DEFAULT_ZONE
    holidays: HolidaysIn | None = None
    hours: dict[str, list[str]] = Field(default_factory=dict)
    closures: list[ClosureIn] = Field(default_factory=list)

    _tz = field_validator("timezone")(_check_tz)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, ranges in value.items():
            if day not in DAYS:
                raise ValueError(f"unknown day {day!r}; use {', '.join(DAYS)}")
            for r in ranges:
                if not _RANGE.match(r):
                    raise ValueError(f"{day}: {r!r} is not a range like 09:00-14:00")
                start, end = r.split("-")
                if start >= end:
                    raise ValueError(f"{day}: {r!r} ends before it starts")
        return value


class TeamIn(_Strict):
    name: str = Name
    #: One name, or one per language: ``{es: Averías, en: Faults, ca: Avaries}``.
    display_name: str | dict[Language, str] = ""
    calendar: str
    handles_complaints: bool = False


class SkillIn(_Strict):
    name: str = Name
    #: One description, or one per language: ``{es: Averías, en: Faults, ca: Avaries}``.
    description: str | dict[Language, str] = ""


class QueueIn(_Strict):
    name: str = Name
    display_name: dict[Language, str] = Field(default_factory=dict)
    team: str
    calendar: str | None = None
    skills: dict[str, int] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=0, le=100)
    callback_threshold_s: int = Field(default=120, ge=0)
    overflow_queue: str | None = None
    overflow_after_s: int | None = Field(default=None, ge=1)
    short_abandon_s: int = Field(default=5, ge=0, le=60)
    sl_target_pct: float = Field(default=80.0, gt=0, le=100)
    sl_target_s: int = Field(default=20, ge=1)
    after_hours: Literal["callback", "voicemail"] = "callback"


class AllowanceIn(_Strict):
    amount: float = Field(gt=0)
    unit: Literal["minutes", "hours", "business_hours", "business_days", "calendar_days"]


class SlaPolicyIn(_Strict):
    name: str = Name
    ticket_kind: Literal["query", "fault", "request", "complaint", "any"] = "any"
    channel: Literal["voice", "callback", "email", "web", "sms", "voicemail", "any"] = "any"
    team: str
    first_response: AllowanceIn
    resolution: AllowanceIn
    escalate_at: float = Field(default=0.75, gt=0, lt=1)


def _spanish() -> list[Language]:
    return ["es"]


def _check_pbx_endpoint(value: str) -> str:
    return check_endpoint(value, "pbx_endpoint") if value.strip() else ""


def _check_trunk(value: str) -> str:
    return check_trunk(value, "pbx.trunk")


class UserIn(_Strict):
    username: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,79}$")
    display_name: str = ""
    role: Literal["agent", "supervisor", "admin"]
    email: str | None = None
    language: Language = "es"
    password: str | None = Field(default=None, min_length=8)
    team: str | None = None
    skills: dict[str, int] = Field(default_factory=dict)
    languages: list[Language] = Field(default_factory=_spanish)
    #: Where the PBX rings this agent: ``PJSIP/ana`` (``PJSIP/<username>`` when left out).
    pbx_endpoint: str = ""

    _pbx_endpoint = field_validator("pbx_endpoint")(_check_pbx_endpoint)


class PbxIn(_Strict):
    """The organisation's Asterisk PBX (ADR 22): how it dials outside numbers."""

    #: An endpoint with ``{number}``: ``PJSIP/{number}@carrier``.
    trunk: str

    _trunk = field_validator("trunk")(_check_trunk)


class OrgFile(_Strict):
    organisation: OrganisationIn
    calendars: list[CalendarIn] = Field(default_factory=list)
    teams: list[TeamIn] = Field(default_factory=list)
    skills: list[SkillIn] = Field(default_factory=list)
    queues: list[QueueIn] = Field(default_factory=list)
    sla_policies: list[SlaPolicyIn] = Field(default_factory=list)
    users: list[UserIn] = Field(default_factory=list)
    ivr: dict[str, Any] | None = None
    pbx: PbxIn | None = None
