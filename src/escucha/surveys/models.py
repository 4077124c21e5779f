"""Post-contact surveys (M2), the labels people give to voice-of-the-customer themes (M3) and
the follow-ups of customers at risk (M4).

One survey per contact (unique), linked to the contact, the agent and the queue. A survey sent
by SMS or email carries a random link token; only its SHA-256 is stored. IVR surveys have no
token. Answers: CSAT 1-5, CES 1-7, NPS 0-10 and a free comment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from escucha.db.base import Base
from escucha.surveys.rules import FOLLOW_UP_OUTCOMES, MAX_FOLLOW_UP_NOTE

SURVEY_CHANNELS = ("sms", "email", "ivr")
SURVEY_KINDS = ("csat", "ces", "nps")


class Survey(Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    queue: Mapped[str | None] = mapped_column(String(80), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    language: Mapped[str] = mapped_column(String(5), default="es")
    kinds: Mapped[list[Any]] = mapped_column(default=list)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime] = mapped_column(index=True)
    expires_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]
    answered_via: Mapped[str | None] = mapped_column(String(10))  # link or ivr
    csat: Mapped[int | None]
    ces: Mapped[int | None]
    nps: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(Text)


class VocLabel(Base):
    """A label a person wrote for a theme (keyed by the theme's stable key)."""

    __tablename__ = "voc_labels"

    id: Mapped[int] = mapped_column(primary_key=True)
    theme_key: Mapped[str] = mapped_column(String(200), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]


class FollowUp(Base):
    """A supervisor's attempt to follow up a customer at risk (M4); rows are only added.

    ``reasons`` are the reason codes the customer was flagged with when it was recorded
    (:data:`escucha.surveys.rules.RISK_REASONS`), empty when they were not flagged.
    """

    __tablename__ = "voc_follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    outcome: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(MAX_FOLLOW_UP_NOTE), default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (
        Index("ix_voc_follow_ups_customer_id_recorded_at", "customer_id", "recorded_at"),
        CheckConstraint(
            "outcome IN (" + ", ".join(f"'{o}'" for o in FOLLOW_UP_OUTCOMES) + ")",
            name="outcome",
        ),
    )
