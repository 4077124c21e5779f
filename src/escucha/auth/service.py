"""Users, passwords (argon2), API tokens (hashed at rest) and login rate limits."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from escucha.auth.models import ROLES, ApiToken, LoginAttempt, User
from escucha.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unauthenticated

_hasher = PasswordHasher()
MIN_PASSWORD = 8


@functools.cache
def _dummy_hash() -> str:
    """A real hash to compare against when the user does not exist, so timing does not tell
    (made on first use: hashing costs a quarter of a second)."""
    return _hasher.hash("escucha-no-such-user")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password: at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    role: str,
    now: datetime,
    password: str | None = None,
    email: str | None = None,
    language: str = "es",
) -> User:
    if role not in ROLES:
        raise InvalidInput(f"role: must be one of {', '.join(ROLES)}")
    if not username or len(username) > 80:
        raise InvalidInput("username: 1 to 80 characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        email=email,
        language=language,
        password_hash=hash_password(password) if password else None,
        active=True,
        session_epoch=0,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.session_epoch += 1  # every open session of this user ends
    session.flush()


def check_rate(session: Session, key: str, *, now: datetime, per_minute: int) -> None:
    since = now - timedelta(minutes=1)
    count = session.scalar(
        select(func.count()).where(LoginAttempt.key == key, LoginAttempt.at >= since)
    )
    if (count or 0) >= per_minute:
        raise TooManyRequests("too many attempts; wait a minute and try again")


def record_failure(session: Session, key: str, *, now: datetime) -> None:
    session.add(LoginAttempt(key=key, at=now))
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(hours=1)))
    session.flush()


def authenticate(session: Session, username: str, password: str) -> User:
    """The active user with this password, or :class:`Unauthenticated` (same error for both)."""
    user = session.scalar(select(User).where(User.username == username))
    stored = user.password_hash if user is not None and user.active else None
    try:
        _hasher.verify(stored or _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise Unauthenticated("wrong username or password") from None
    if user is None or stored is None:
        raise Unauthenticated("wrong username or password")
    if _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(password)
    return user


#: How precisely a token's last use is kept.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: User, name: str, *, now: datetime) -> str:
    """A new API token; the clear value is returned once and only its hash is kept."""
    raw = "esc_" + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id, name=name, prefix=raw[:10], token_hash=_digest(raw), created_at=now
        )
    )
    session.flush()
    return raw


def user_for_token(session: Session, raw: str, *, now: datetime) -> User:
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(raw)))
    if token is None or token.revoked_at is not None:
        raise Unauthenticated("invalid API token")
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        raise Unauthenticated("invalid API token")
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_RESOLUTION:
        token.last_used_at = now  # not on every request: a read stays a read
    return user


def revoke_token(session: Session, token_id: int, *, now: datetime) -> None:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"token {token_id} not found")
    token.revoked_at = now
    session.flush()


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user
