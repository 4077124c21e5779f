"""Quality assurance records (C4, C5): scorecard versions, transcripts, reviews, disputes and
calibration sessions.

* A **scorecard version** keeps the YAML text a person wrote and its parsed form; saving an
  edited scorecard adds a version, so old reviews keep the form they were scored with.
* A **transcript** belongs to one contact; the automatic QA result is stored beside it.
* A **review** is one reviewer's answers to one scorecard version for one contact. Reviews of
  kind ``calibration`` are extra, blind reviews of a contact that someone else reviewed; they
  measure agreement between reviewers and never count in the agent's QA score.
* A **dispute** is an agent's objection to a submitted review, decided by a supervisor
  (accept, partial, reject).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from escucha.db.base import Base

REVIEW_KINDS = ("review", "calibration")
REVIEW_STATUSES = ("draft", "submitted")
DISPUTE_DECISIONS = ("accept", "partial", "reject")


class ScorecardVersion(Base):
    __tablename__ = "qa_scorecard_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    scorecard_key: Mapped[str] = mapped_column(String(80))
    version: Mapped[int]
    yaml_text: Mapped[str] = mapped_column(Text)
    parsed: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (UniqueConstraint("scorecard_key", "version"),)


class Transcript(Base):
    __tablename__ = "qa_transcripts"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), unique=True)
    format: Mapped[str] = mapped_column(String(10))  # json, text, vtt
    language: Mapped[str | None] = mapped_column(String(5))  # declared; None = detected
    raw_text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(40), default="upload")
    created_at: Mapped[datetime]
    auto_qa: Mapped[dict[str, Any]] = mapped_column(default=dict)  # schemas.TranscriptQA
    analysed_at: Mapped[datetime | None]


class CalibrationSession(Base):
    """Several reviewers score the same contact; agreement is computed over their reviews."""

    __tablename__ = "qa_calibration_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), unique=True)
    reviewer_ids: Mapped[list[Any]] = mapped_column(default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class Review(Base):
    __tablename__ = "qa_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    scorecard_version_id: Mapped[int] = mapped_column(ForeignKey("qa_scorecard_versions.id"))
    kind: Mapped[str] = mapped_column(String(20), default="review")
    calibration_id: Mapped[int | None] = mapped_column(
        ForeignKey("qa_calibration_sessions.id"), index=True
    )
    sample: Mapped[str | None] = mapped_column(String(40))  # how the contact was chosen
    status: Mapped[str] = mapped_column(String(20), default="draft")
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    suggested: Mapped[dict[str, Any]] = mapped_column(default=dict)
    notes: Mapped[str] = mapped_column(Text, default="")
    score: Mapped[float | None]
    passed: Mapped[bool | None]
    critical_failure: Mapped[bool] = mapped_column(default=False)
    critical_failures: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None] = mapped_column(index=True)

    __table_args__ = (Index("ix_qa_reviews_status_kind", "status", "kind"),)


class Dispute(Base):
    __tablename__ = "qa_disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("qa_reviews.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    criteria: Mapped[list[Any]] = mapped_column(default=list)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, decided
    decision: Mapped[str | None] = mapped_column(String(20))
    decision_note: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    score_before: Mapped[float | None]
    score_after: Mapped[float | None]
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
