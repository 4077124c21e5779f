"""The promise ledger: every time told to a customer, until it is kept, broken or cancelled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from escucha.db.base import Base


class Promise(Base):
    __tablename__ = "promises"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(20), default="pending")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(index=True)
    callback_id: Mapped[int | None] = mapped_column(index=True)
    team: Mapped[str | None] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(20))
    subject_kind: Mapped[str] = mapped_column(String(20))  # callback, or the ticket's kind
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    escalate_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]
    told: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_promises_state_due_at", "state", "due_at"),)
