"""Transcripts of recorded calls.

One row per recording of a contact, keyed by the contact and the recording's reference (a
path or URI) and checked by its SHA-256: voice recordings, Twilio's recording callback and
uploaded files all become rows here and are transcribed by the same job. The turns are stored
with long numbers already masked; automatic QA reads them through the contact's QA transcript.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from escucha.db.base import Base

STATUSES = ("fetching", "queued", "done", "failed", "skipped")


class SpeechTranscript(Base):
    __tablename__ = "speech_transcripts"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    recording_uri: Mapped[str] = mapped_column(String(500))
    recording_sha256: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(20))  # upload, twilio, voice, cli
    language: Mapped[str] = mapped_column(String(5))
    agent_channel: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    engine: Mapped[str | None] = mapped_column(String(20))
    channels: Mapped[int | None]
    duration_s: Mapped[float | None]
    turns: Mapped[list[Any]] = mapped_column(default=list)
    audio: Mapped[dict[str, Any]] = mapped_column(default=dict)  # detectors' events, levels
    masked: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
    transcribed_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("contact_id", "recording_uri"),)
