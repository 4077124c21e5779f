"""Audit events, chained by SHA-256 hashes, and the head of the chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from escucha.db.base import Base


class AuditEvent(Base):
    """One event. ``hash = sha256(prev_hash + canonical event)``; never updated or deleted."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    subject_kind: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int | None]
    subject_ref: Mapped[str] = mapped_column(String(40), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (Index("ix_audit_events_subject", "subject_kind", "subject_id"),)


class AuditHead(Base):
    """A single row: the last sequence number and hash. Locking it serialises appends."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class AppendOnlyError(RuntimeError):
    """An audit event may not be changed or removed."""


@event.listens_for(AuditEvent, "before_update")
def _no_update(_mapper: Mapper[Any], _conn: Connection, target: AuditEvent) -> None:
    raise AppendOnlyError(f"audit event {target.seq} is append-only")


@event.listens_for(AuditEvent, "before_delete")
def _no_delete(_mapper: Mapper[Any], _conn: Connection, target: AuditEvent) -> None:
    raise AppendOnlyError(f"audit event {target.seq} is append-only")
