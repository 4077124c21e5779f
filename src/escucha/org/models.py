"""The organisation: calendars, teams, skills, queues, SLA policies and agent profiles."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from escucha.db.base import Base


class Organisation(Base):
    """One row: the deployment's organisation."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    subdivision: Mapped[str | None] = mapped_column(String(10))
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(5))
    regulatory_profile: Mapped[str] = mapped_column(String(40))
    ivr: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: How the PBX reaches an outside number (``PJSIP/{number}@trunk``), ADR 22.
    pbx_trunk: Mapped[str] = mapped_column(String(200), default="")


class Calendar(Base):
    __tablename__ = "calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    holiday_country: Mapped[str | None] = mapped_column(String(2))
    holiday_subdivision: Mapped[str | None] = mapped_column(String(10))
    hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    closures: Mapped[list[Any]] = mapped_column(default=list)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    #: The name in each language that has its own (``{"en": "Faults"}``); else display_name.
    display_names: Mapped[dict[str, Any]] = mapped_column(default=dict)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id"))
    handles_complaints: Mapped[bool] = mapped_column(default=False)

    def label(self, lang: str) -> str:
        """The team's name in ``lang`` (its display name when that language has none)."""
        return str(self.display_names.get(lang) or self.display_name or self.name)


class Skill(Base):
    __tablename__ = "skills"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(String(300), default="")
    #: The description in each language that has its own (``{"en": "Faults"}``).
    descriptions: Mapped[dict[str, Any]] = mapped_column(default=dict)

    def label(self, lang: str) -> str:
        """What the skill is called in ``lang`` (its description when that language has none)."""
        return str(self.descriptions.get(lang) or self.description or self.name)


class Queue(Base):
    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[dict[str, Any]] = mapped_column(default=dict)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id"))
    skills: Mapped[dict[str, Any]] = mapped_column(default=dict)
    priority: Mapped[int] = mapped_column(default=0)
    callback_threshold_s: Mapped[int] = mapped_column(default=120)
    overflow_queue: Mapped[str | None] = mapped_column(String(80))
    overflow_after_s: Mapped[int | None]
    short_abandon_s: Mapped[int] = mapped_column(default=5)
    sl_target_pct: Mapped[float] = mapped_column(default=80.0)
    sl_target_s: Mapped[int] = mapped_column(default=20)
    after_hours: Mapped[str] = mapped_column(String(20), default="callback")


class SlaPolicy(Base):
    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    ticket_kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    first_response: Mapped[dict[str, Any]] = mapped_column(default=dict)
    resolution: Mapped[dict[str, Any]] = mapped_column(default=dict)
    escalate_at: Mapped[float] = mapped_column(default=0.75)


class AgentProfile(Base):
    __tablename__ = "agent_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    skills: Mapped[dict[str, Any]] = mapped_column(default=dict)
    languages: Mapped[list[Any]] = mapped_column(default=list)
    #: Where the PBX rings this agent (``PJSIP/<username>`` when empty), ADR 22.
    pbx_endpoint: Mapped[str] = mapped_column(String(200), default="")
