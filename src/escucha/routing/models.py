"""Agents' live state and every routing decision, persisted before it is acted on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from escucha.db.base import Base


class AgentStatus(Base):
    __tablename__ = "agent_status"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(20), default="offline")
    since: Mapped[datetime]
    idle_since: Mapped[datetime | None]
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))


class RoutingDecision(Base):
    __tablename__ = "routing_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    queue: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(40))
    waited_s: Mapped[float]
    decided_at: Mapped[datetime]
    node: Mapped[str] = mapped_column(String(100), default="")


class RoutingState(Base):
    """One row: a version bumped by every transaction that changes what routing sees.

    Each process keeps its routing engine in memory and knows which version it reflects; a
    different version means another process changed the floor and the engine is rebuilt. The
    row lock taken by the bump also serialises routing passes across processes.
    """

    __tablename__ = "routing_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(default=0)


class LiveChange(Base):
    """What one committed transaction changed, by topic, for the other processes of a SQLite
    database (PostgreSQL's nodes hear it by ``NOTIFY`` instead; ADR 25). Kept short: each
    writer deletes the rows far behind its own."""

    __tablename__ = "live_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    node: Mapped[str] = mapped_column(String(64))
    topics: Mapped[str] = mapped_column(Text)
