"""The history of agents' states (available, busy, wrap_up, break, offline).

``routing.models.AgentStatus`` holds the current state only; every change is appended here so
that breaks taken and time in each state can be reported (C6).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from escucha.db.base import Base


class AgentStateChange(Base):
    __tablename__ = "agent_state_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]

    __table_args__ = (Index("ix_agent_state_changes_user_id_at", "user_id", "at"),)
