"""Regulatory profiles: which promises a ticket gets, and by when (P4, P5).

A profile is a YAML data file (``escucha/tickets/profiles/<id>.yaml``; three ship with escucha:
``generic``, ``es-ley-10-2025`` and ``pe-osiptel``) validated by :class:`RegulatoryProfile`
through :mod:`escucha.yamlio`, so a bad file is reported as ``file:line: path: reason``.

Its ``promises`` list holds rules. A rule says which promise (``acknowledgment``,
``first_response``, ``resolution``, ``repair``, ``notification``, ...) a ticket gets when an
``anchor`` event happens (``created``, ``resolved``, ``notified``, ``appealed``), for which
ticket kinds, channels, areas (urban/rural) and topics, with which allowance, on the team's
business calendar or on the legal calendar of working days, and what a breach means
(``escalate``, ``convert_to_complaint``, ``deemed_accepted``). For each promise kind the
first matching rule in file order wins, so specific rules go before general ones.

:func:`plan_promises` turns a profile, a ticket and the calendars into the promises to
create, each with its due time and escalation times.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from escucha import yamlio
from escucha.errors import NotFound
from escucha.promises.calendars import legal_calendar
from escucha.promises.rules import (
    Allowance,
    AllowanceUnit,
    BusinessCalendar,
    PromiseKind,
    due_at,
    escalation_times,
)
from escucha.tickets.rules import TicketKind

__all__ = [
    "CHANNELS",
    "PROFILES_DIR",
    "Anchor",
    "BreachAction",
    "PlannedPromise",
    "RegulatoryProfile",
    "answer_language",
    "appeal_deadline",
    "available_profiles",
    "is_deemed_accepted",
    "kind_after_breach",
    "kinds_covered",
    "load_builtin_profile",
    "load_profile",
    "load_profile_text",
    "plan_promises",
    "profile_legal_calendar",
]

PROFILES_DIR = Path(__file__).with_name("profiles")
CHANNELS: tuple[str, ...] = ("voice", "callback", "email", "web", "sms", "voicemail", "in_person")
"""Channels a rule may name (as in the contact model)."""

Anchor = Literal["created", "resolved", "notified", "appealed"]
Area = Literal["urban", "rural"]


class BreachAction(StrEnum):
    """What a broken promise triggers besides being counted as broken."""

    ESCALATE = "escalate"
    CONVERT_TO_COMPLAINT = "convert_to_complaint"
    DEEMED_ACCEPTED = "deemed_accepted"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalText(_Model):
    """A text in Spanish and English."""

    es: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        return self.en if lang.lower().startswith("en") else self.es


class AllowanceSpec(_Model):
    """``{amount: 15, unit: business_days}``."""

    amount: float = Field(ge=0)
    unit: AllowanceUnit

    @model_validator(mode="after")
    def _whole_days(self) -> Self:
        self.to_allowance()
        return self

    def to_allowance(self) -> Allowance:
        return Allowance(self.amount, self.unit)


class When(_Model):
    """Conditions of a rule; a missing list matches everything."""

    kinds: list[TicketKind] | None = None
    channels: list[str] | None = None
    areas: list[Area] | None = None
    topics: list[str] | None = None

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: list[str] | None) -> list[str] | None:
        for channel in value or ():
            if channel not in CHANNELS:
                raise ValueError(f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")
        return value

    def matches(self, kind: TicketKind, channel: str, area: str | None, topic: str | None) -> bool:
        return (
            (self.kinds is None or kind in self.kinds)
            and (self.channels is None or channel in self.channels)
            and (self.areas is None or area in self.areas)
            and (self.topics is None or topic in self.topics)
        )


class PromiseRule(_Model):
    promise: PromiseKind
    anchor: Anchor = "created"
    when: When = Field(default_factory=When)
    allowance: AllowanceSpec
    calendar: Literal["team", "legal"] = "team"
    regulatory: bool = False
    on_breach: BreachAction = BreachAction.ESCALATE
    escalate_at: list[float] = Field(default_factory=lambda: [0.75])
    label: LocalText

    @field_validator("escalate_at")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        for fraction in value:
            if not 0.0 < fraction < 1.0:
                raise ValueError(f"escalation fractions lie strictly between 0 and 1: {fraction}")
        return sorted(value)


class HolidayDefaults(_Model):
    """Default holiday country and subdivision and time zone; organisations may override."""

    country: str | None = None
    subdivision: str | None = None
    timezone: str = "UTC"
    working_days: str = "mon-fri"


class ReferenceCodeRules(_Model):
    at_once: bool = True
    every_request_every_channel: bool = False


class LanguageRules(_Model):
    answer_in_customer_language: bool = True
    default: str = "es"
    supported: list[str] = Field(default_factory=lambda: ["es", "en"])


class IvrRules(_Model):
    person_from_main_menu: bool = False


class KpiTarget(_Model):
    """``share`` of contacts must meet ``threshold_s`` (e.g. 95 % answered by a person < 180 s)."""

    id: str
    description: LocalText
    share: float = Field(gt=0, le=1)
    threshold_s: float | None = Field(default=None, gt=0)


class FaultConversion(_Model):
    """A fault not repaired in time becomes a complaint with the same code (OSIPTEL)."""

    to_kind: Literal[TicketKind.COMPLAINT] = TicketKind.COMPLAINT
    topic: str = "quality"
    keep_number: Literal[True] = True


class AppealRules(_Model):
    """How long the customer has to appeal, counted from the notification of the answer."""

    window: AllowanceSpec
    calendar: Literal["team", "legal"] = "legal"
    to: LocalText


class LegalSource(_Model):
    title: str
    url: str | None = None


class RegulatoryProfile(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: LocalText
    summary: LocalText
    legal_basis: list[LegalSource] = Field(default_factory=list)
    holidays: HolidayDefaults = Field(default_factory=HolidayDefaults)
    reference_code: ReferenceCodeRules = Field(default_factory=ReferenceCodeRules)
    languages: LanguageRules = Field(default_factory=LanguageRules)
    ivr: IvrRules = Field(default_factory=IvrRules)
    kpis: list[KpiTarget] = Field(default_factory=list)
    promises: list[PromiseRule] = Field(min_length=1)
    deemed_accepted: bool = False
    fault_conversion: FaultConversion | None = None
    appeal: AppealRules | None = None

    @model_validator(mode="after")
    def _complaints_acknowledged(self) -> Self:
        # P5: every complaint gets its number at once, on every channel.
        for rule in self.promises:
            if (
                rule.promise is PromiseKind.ACKNOWLEDGMENT
                and rule.anchor == "created"
                and rule.allowance.amount == 0
                and (rule.when.kinds is None or TicketKind.COMPLAINT in rule.when.kinds)
                and rule.when.channels is None
                and rule.when.areas is None
                and rule.when.topics is None
            ):
                break
        else:
            raise ValueError(
                "promises: needs an acknowledgment at once (allowance 0) for complaints on "
                "every channel"
            )
        if any(r.on_breach is BreachAction.DEEMED_ACCEPTED for r in self.promises) and not (
            self.deemed_accepted
        ):
            raise ValueError("a rule uses on_breach: deemed_accepted but deemed_accepted is false")
        if self.fault_conversion is None and any(
            r.on_breach is BreachAction.CONVERT_TO_COMPLAINT for r in self.promises
        ):
            raise ValueError("a rule converts faults to complaints but fault_conversion is missing")
        return self


# --- loading -------------------------------------------------------------------------------------


def load_profile_text(text: str, filename: str = "<profile>") -> RegulatoryProfile:
    """Validate a profile given as YAML text; errors name ``filename:line: path``."""
    return yamlio.validate(RegulatoryProfile, yamlio.load_text(text, filename), filename)


def load_profile(path: Path) -> RegulatoryProfile:
    """Read and validate a profile file."""
    profile = yamlio.validate(RegulatoryProfile, yamlio.load(path), str(path))
    if profile.id != path.stem:
        raise yamlio.YamlFileError(
            [
                yamlio.YamlProblem(
                    str(path), 1, "id", f"id {profile.id!r} must match the file name {path.stem!r}"
                )
            ]
        )
    return profile


def available_profiles() -> list[str]:
    """Ids of the profiles shipped with escucha."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


@lru_cache(maxsize=16)
def load_builtin_profile(profile_id: str) -> RegulatoryProfile:
    """A profile shipped with escucha, by id (``generic``, ``es-ley-10-2025``, ``pe-osiptel``)."""
    if profile_id not in available_profiles():
        raise NotFound(
            f"unknown regulatory profile {profile_id!r}; known: {', '.join(available_profiles())}"
        )
    return load_profile(PROFILES_DIR / f"{profile_id}.yaml")


# --- planning ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedPromise:
    """A promise to create: what, by when (UTC), and what a breach triggers."""

    kind: PromiseKind
    due: datetime
    allowance: Allowance
    regulatory: bool
    on_breach: BreachAction
    escalate_at: tuple[datetime, ...]
    label_es: str
    label_en: str

    def label(self, lang: str) -> str:
        return self.label_en if lang.lower().startswith("en") else self.label_es


def profile_legal_calendar(
    profile: RegulatoryProfile,
    *,
    years: Iterable[int],
    country: str | None = None,
    subdivision: str | None = None,
    timezone: str | None = None,
) -> BusinessCalendar:
    """Working days for the profile's legal deadlines (defaults from ``profile.holidays``)."""
    defaults = profile.holidays
    if country is None:
        country = defaults.country
        subdivision = subdivision if subdivision is not None else defaults.subdivision
    zone = timezone or defaults.timezone
    if country is None:
        return BusinessCalendar.from_hours(
            zone, {defaults.working_days: "00:00-24:00"}, name=f"legal {profile.id}"
        )
    return legal_calendar(
        country, subdivision, zone, years=years, working_days=defaults.working_days
    )


def _matching_rules(
    profile: RegulatoryProfile,
    anchor: Anchor,
    kind: TicketKind,
    channel: str,
    area: str | None,
    topic: str | None,
) -> list[PromiseRule]:
    chosen: dict[PromiseKind, PromiseRule] = {}
    for rule in profile.promises:
        if (
            rule.anchor == anchor
            and rule.promise not in chosen
            and rule.when.matches(kind, channel, area, topic)
        ):
            chosen[rule.promise] = rule
    return list(chosen.values())


def plan_promises(
    profile: RegulatoryProfile,
    *,
    kind: TicketKind | str,
    channel: str,
    at: datetime,
    calendar: BusinessCalendar,
    legal: BusinessCalendar | None = None,
    area: Area | None = None,
    topic: str | None = None,
    anchor: Anchor = "created",
) -> tuple[PlannedPromise, ...]:
    """Promises to create when ``anchor`` happens at ``at`` to a ticket.

    ``calendar`` is the team's business calendar; ``legal`` the working-day calendar for
    rules with ``calendar: legal`` (see :func:`profile_legal_calendar`). Examples: a complaint
    created under ``es-ley-10-2025`` gets an acknowledgment due at once and a resolution due
    when the 15th working day ends; a fault under ``pe-osiptel`` in an urban area gets a
    repair due one calendar day later, whose breach converts it to a complaint.

    Escalation times are fractions of the team's open time between ``at`` and the due time
    (falling back to elapsed time if the team is closed all along), so they fire when
    someone can act.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")
    ticket_kind = TicketKind(kind)
    planned: list[PlannedPromise] = []
    for rule in _matching_rules(profile, anchor, ticket_kind, channel, area, topic):
        if rule.calendar == "legal":
            if legal is None:
                raise ValueError(
                    f"rule for {rule.promise} counts legal working days: pass legal="
                    "profile_legal_calendar(profile, years=...)"
                )
            cal = legal
        else:
            cal = calendar
        allowance = rule.allowance.to_allowance()
        due = due_at(allowance, cal, at)
        # Escalations are for the team that acts: measured on its open time.
        escalations = escalation_times(calendar, at, due, rule.escalate_at) if due > at else ()
        planned.append(
            PlannedPromise(
                kind=rule.promise,
                due=due,
                allowance=allowance,
                regulatory=rule.regulatory,
                on_breach=rule.on_breach,
                escalate_at=escalations,
                label_es=rule.label.es,
                label_en=rule.label.en,
            )
        )
    return tuple(sorted(planned, key=lambda p: (p.due, p.kind.value)))


def kind_after_breach(
    profile: RegulatoryProfile, kind: TicketKind | str, broken: PlannedPromise | BreachAction
) -> tuple[TicketKind, str | None] | None:
    """New kind and topic of a ticket whose promise broke, or ``None`` if it keeps its kind.

    Under OSIPTEL an unrepaired fault becomes a quality complaint; the ticket keeps its
    number (numbers carry no kind, see :mod:`escucha.tickets.rules`). Plan the complaint's
    promises with :func:`plan_promises` and the returned topic.
    """
    action = broken.on_breach if isinstance(broken, PlannedPromise) else broken
    conversion = profile.fault_conversion
    if (
        action is BreachAction.CONVERT_TO_COMPLAINT
        and conversion is not None
        and TicketKind(kind) is TicketKind.FAULT
    ):
        return TicketKind(conversion.to_kind), conversion.topic
    return None


def is_deemed_accepted(
    profile: RegulatoryProfile,
    *,
    resolution_due: datetime,
    answered_at: datetime | None,
    now: datetime,
) -> bool:
    """Whether a late answer makes the complaint count as accepted ("silencio positivo")."""
    if not profile.deemed_accepted:
        return False
    if answered_at is not None and answered_at <= now:
        return answered_at > resolution_due
    return now > resolution_due


def appeal_deadline(
    profile: RegulatoryProfile,
    *,
    notified_at: datetime,
    calendar: BusinessCalendar,
    legal: BusinessCalendar | None = None,
) -> datetime | None:
    """Last instant (UTC) to appeal an answer notified at ``notified_at``; ``None`` if no appeal."""
    appeal = profile.appeal
    if appeal is None:
        return None
    if appeal.calendar == "legal":
        if legal is None:
            raise ValueError("the appeal window counts legal working days: pass legal=...")
        cal = legal
    else:
        cal = calendar
    return due_at(appeal.window.to_allowance(), cal, notified_at)


def answer_language(profile: RegulatoryProfile, customer_lang: str | None) -> str:
    """The language to answer in: the customer's where the profile requires it and we can."""
    rules = profile.languages
    if customer_lang:
        base = customer_lang.split("-")[0].lower()
        if base in rules.supported:
            return base
    return rules.default


def kinds_covered(profile: RegulatoryProfile, channels: Sequence[str] = CHANNELS) -> set[str]:
    """``kind/channel`` pairs that get at least one promise at creation (for reports and tests)."""
    covered: set[str] = set()
    for kind in TicketKind:
        for channel in channels:
            if _matching_rules(profile, "created", kind, channel, None, None):
                covered.add(f"{kind.value}/{channel}")
    return covered
