"""Callbacks: a call back to a customer that keeps their place in line."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from escucha.db.base import Base

# pending: waiting for its time or its turn; offered: given to an agent; dialing: being called;
# completed: the customer was reached; gave_up: no answer after every attempt (a message was left);
# cancelled: the customer called back or cancelled.
STATES = ("pending", "offered", "dialing", "completed", "gave_up", "cancelled")


class Callback(Base):
    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    origin_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    phone: Mapped[str] = mapped_column(String(20))
    queue: Mapped[str] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(5), default="es")
    mode: Mapped[str] = mapped_column(String(10))  # asap or slot
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    joined_at: Mapped[datetime]
    requested_at: Mapped[datetime]
    not_before: Mapped[datetime]
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    retry_gap_s: Mapped[int] = mapped_column(default=600)
    next_attempt_at: Mapped[datetime | None]
    first_attempt_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    promise_id: Mapped[int | None] = mapped_column(ForeignKey("promises.id"))
