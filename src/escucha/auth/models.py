"""People who use escucha (agents, supervisors, admins) and integration tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from escucha.db.base import Base

ROLES = ("agent", "supervisor", "admin")
#: What an API token may do, least first: read (GET), write (any method), admin (admin routes).
SCOPES = ("read", "write", "admin")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(5), default="es")
    password_hash: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(default=True)
    session_epoch: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    #: Why it stopped working: "revoked", "password" (the user's password changed).
    revoked_reason: Mapped[str | None] = mapped_column(String(20))


class LoginAttempt(Base):
    """Failed logins, for rate limiting that holds across processes."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[datetime] = mapped_column(index=True)


class UserSession(Base):
    """A signed-in browser session. The cookie carries a random id; only its hash is kept
    here, so logging out, a password change or an admin ends the session on the server and
    a copy of the cookie stops working."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    address: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(200))
    ended_at: Mapped[datetime | None]
    #: "logout", "password", "admin" or "deactivated".
    ended_reason: Mapped[str | None] = mapped_column(String(20))


class LoginEvent(Base):
    """One attempt to log in: the name typed, the client address and the outcome ("ok",
    "failed", "throttled"). Guessing is slowed per (account, address) from these rows, and
    admins see the failures."""

    __tablename__ = "login_events"
    __table_args__ = (
        Index("ix_login_events_username_address_at", "username", "address", "at"),
        Index("ix_login_events_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    username: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20))
