"""Users, passwords (argon2), browser sessions and API tokens (hashed at rest), and the
throttling of logins."""

from __future__ import annotations

import functools
import hashlib
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from escucha.auth import rules
from escucha.auth.models import (
    ROLES,
    SCOPES,
    ApiToken,
    LoginAttempt,
    LoginEvent,
    User,
    UserSession,
)
from escucha.db import changes
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


def _same_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def set_password(session: Session, user: User, password: str, *, now: datetime) -> bool:
    """Set ``user``'s password. A new password ends every session of the user and revokes
    their API tokens (whoever knew the old one may have made them); setting the password it
    already has changes nothing. Returns whether it changed."""
    if _same_password(user, password):
        return False
    user.password_hash = hash_password(password)
    user.session_epoch += 1
    end_sessions(session, user, now=now, reason="password")
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason="password")
    )
    session.flush()
    return True


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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- browser sessions ------------------------------------------------------------------------

#: How precisely a session's last activity is kept (a read writes at most this often).
SESSION_SEEN_RESOLUTION = timedelta(minutes=5)
#: Ended and expired sessions are kept this long for the admins, then forgotten.
SESSION_KEEP = timedelta(days=30)


def start_session(
    session: Session, user: User, *, now: datetime, address: str, user_agent: str
) -> str:
    """A new session of ``user``; returns the random id for the cookie (only its hash is
    stored)."""
    sid = secrets.token_urlsafe(32)
    session.execute(delete(UserSession).where(UserSession.last_seen_at < now - SESSION_KEEP))
    session.add(
        UserSession(
            sid_hash=_digest(sid),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            address=address[:64],
            user_agent=user_agent[:200],
        )
    )
    session.flush()
    return sid


def session_user(
    session: Session, sid: str, user_id: int, *, now: datetime, max_age_s: int, touch: bool = True
) -> User | None:
    """The active user of the open session ``sid``, or None when it ended, expired or is
    not theirs. One query: the session and its user together. ``touch`` keeps the time of
    last activity (to the resolution above)."""
    row = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.sid_hash == _digest(sid))
    ).first()
    if row is None:
        return None
    us, user = row
    if (
        us.user_id != user_id
        or us.ended_at is not None
        or not user.active
        or now - us.created_at > timedelta(seconds=max_age_s)
    ):
        return None
    if touch and now - us.last_seen_at >= SESSION_SEEN_RESOLUTION:
        us.last_seen_at = now
    return user


def end_session(session: Session, sid: str, *, now: datetime, reason: str = "logout") -> None:
    ended = session.scalars(
        update(UserSession)
        .where(UserSession.sid_hash == _digest(sid), UserSession.ended_at.is_(None))
        .values(ended_at=now, ended_reason=reason)
        .returning(UserSession.user_id)
    ).all()
    changes.touch(session, *(f"user:{uid}" for uid in ended))  # the user's live streams end


def end_sessions(session: Session, user: User, *, now: datetime, reason: str) -> int:
    """End every open session of ``user``; returns how many there were."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=now, ended_reason=reason)
    )
    changes.touch(session, f"user:{user.id}")
    return int(getattr(result, "rowcount", 0) or 0)


def open_sessions(
    session: Session, user: User, *, now: datetime, max_age_s: int
) -> list[UserSession]:
    since = now - timedelta(seconds=max_age_s)
    return list(
        session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user.id,
                UserSession.ended_at.is_(None),
                UserSession.created_at >= since,
            )
            .order_by(UserSession.created_at.desc())
        )
    )


# --- logins ----------------------------------------------------------------------------------

#: Wrong passwords for one account from one address before each further try must wait.
FREE_FAILURES = 5
#: The wait after the first failure past the free ones; it doubles with each failure.
BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_CAP = timedelta(minutes=15)
#: Failures older than this no longer slow anyone down.
FAILURE_WINDOW = timedelta(hours=24)
#: Login events are kept this long for the admins.
LOGIN_EVENTS_KEEP = timedelta(days=30)


class LoginThrottled(TooManyRequests):
    """Too many failed logins: ``retry_after_s`` says when trying again makes sense."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _login_name(username: str) -> str:
    return username.strip().lower()[:80]


def backoff(failures: int) -> timedelta:
    """The wait before the next try after ``failures`` consecutive failures."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    wait: timedelta = BACKOFF_BASE * 2 ** min(failures - FREE_FAILURES, 20)
    return min(wait, BACKOFF_CAP)


def check_login(
    session: Session, username: str, address: str, *, now: datetime, per_address_per_min: int
) -> None:
    """Refuse a login attempt (:class:`LoginThrottled`) when this address failed too often
    this minute, whatever the account, or when this account failed from this address too
    often lately (exponential backoff). Nothing locks an account for everyone: failures from
    other addresses never slow this one down."""
    name, address = _login_name(username), address[:64]
    recent = session.scalar(
        select(func.count()).where(
            LoginEvent.address == address,
            LoginEvent.outcome == "failed",
            LoginEvent.at >= now - timedelta(minutes=1),
        )
    )
    if (recent or 0) >= per_address_per_min:
        raise LoginThrottled("too many attempts; wait a minute and try again", 60)
    last_ok = session.scalar(
        select(func.max(LoginEvent.at)).where(
            LoginEvent.username == name, LoginEvent.address == address, LoginEvent.outcome == "ok"
        )
    )
    since = max(last_ok, now - FAILURE_WINDOW) if last_ok else now - FAILURE_WINDOW
    failures, last = session.execute(
        select(func.count(), func.max(LoginEvent.at)).where(
            LoginEvent.username == name,
            LoginEvent.address == address,
            LoginEvent.outcome == "failed",
            LoginEvent.at > since,
        )
    ).one()
    wait = backoff(int(failures or 0))
    if last is not None and wait and now < last + wait:
        left = max(1, math.ceil((last + wait - now).total_seconds()))
        raise LoginThrottled(f"too many wrong passwords; try again in {left} s", left)


def record_login(
    session: Session, username: str, address: str, outcome: str, *, now: datetime
) -> None:
    """Keep one login attempt ("ok", "failed" or "throttled")."""
    session.add(
        LoginEvent(at=now, username=_login_name(username), address=address[:64], outcome=outcome)
    )
    if outcome == "ok":
        session.execute(delete(LoginEvent).where(LoginEvent.at < now - LOGIN_EVENTS_KEEP))
    session.flush()


def failed_logins(
    session: Session, *, now: datetime, hours: int = 24, limit: int = 500
) -> list[LoginEvent]:
    """Recent refused logins (wrong password or throttled), newest first."""
    return list(
        session.scalars(
            select(LoginEvent)
            .where(LoginEvent.outcome != "ok", LoginEvent.at >= now - timedelta(hours=hours))
            .order_by(LoginEvent.at.desc(), LoginEvent.id.desc())
            .limit(limit)
        )
    )


def count_failed_logins(session: Session, *, now: datetime, hours: int = 24) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                LoginEvent.outcome != "ok", LoginEvent.at >= now - timedelta(hours=hours)
            )
        )
        or 0
    )


# --- API tokens ------------------------------------------------------------------------------

#: How precisely a token's last use is kept.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 730
#: The role a scope needs: a token never does more than its user may.
SCOPE_NEEDS = {"read": "agent", "write": "agent", "admin": "admin"}


def scope_allows(scope: str, needed: str) -> bool:
    return SCOPES.index(scope) >= SCOPES.index(needed)


def create_token(
    session: Session,
    user: User,
    name: str,
    *,
    now: datetime,
    scope: str = "write",
    days: int = DEFAULT_TOKEN_DAYS,
) -> str:
    """The clear value of a new API token (see :func:`issue_token`)."""
    return issue_token(session, user, name, now=now, scope=scope, days=days)[0]


def issue_token(
    session: Session,
    user: User,
    name: str,
    *,
    now: datetime,
    scope: str = "write",
    days: int = DEFAULT_TOKEN_DAYS,
) -> tuple[str, ApiToken]:
    """A new API token; the clear value is returned once and only its hash is kept.

    ``scope`` is ``read`` (GET only), ``write`` (any method) or ``admin`` (also the admin
    routes, for admins only); it expires after ``days`` days."""
    name = name.strip()
    if not name or len(name) > 120:
        raise InvalidInput("name: 1 to 120 characters")
    if scope not in SCOPES:
        raise InvalidInput(f"scope: must be one of {', '.join(SCOPES)}")
    if not rules.allows(user.role, SCOPE_NEEDS[scope]):
        raise InvalidInput(
            f"scope: a token of {user.username} ({user.role}) cannot have the {scope} scope"
        )
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise InvalidInput(f"days: 1 to {MAX_TOKEN_DAYS}")
    raw = "esc_" + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        prefix=raw[:10],
        token_hash=_digest(raw),
        scope=scope,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(token)
    session.flush()
    return raw, token


@dataclass(frozen=True)
class TokenCaller:
    user: User
    token: ApiToken


def token_caller(session: Session, raw: str, now: datetime) -> TokenCaller:
    """The user and token of a bearer value, or :class:`Unauthenticated` (revoked, expired,
    unknown, or the user is deactivated: the same answer). One query: the token and its user
    together."""
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _digest(raw))
    ).first()
    if row is None:
        raise Unauthenticated("invalid API token")
    token, user = row
    if (
        token.revoked_at is not None
        or (token.expires_at is not None and now >= token.expires_at)
        or not user.active
    ):
        raise Unauthenticated("invalid API token")
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_RESOLUTION:
        token.last_used_at = now  # not on every request: a read stays a read
    return TokenCaller(user, token)


def user_for_token(session: Session, raw: str, *, now: datetime) -> User:
    return token_caller(session, raw, now=now).user


def list_tokens(session: Session, *, user: User | None = None) -> list[tuple[ApiToken, str]]:
    """Tokens (newest first) with their user's name; never their value."""
    stmt = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
    if user is not None:
        stmt = stmt.where(ApiToken.user_id == user.id)
    rows = session.execute(stmt.order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))
    return [(t, name) for t, name in rows]


def token_state(token: ApiToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked" if token.revoked_reason in (None, "revoked") else token.revoked_reason
    if token.expires_at is not None and now >= token.expires_at:
        return "expired"
    return "active"


def revoke_token(session: Session, token_id: int, *, now: datetime) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"token {token_id} not found")
    if token.revoked_at is None:
        token.revoked_at = now
        token.revoked_reason = "revoked"
    session.flush()
    return token


def display_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """The display name of each user id given (``None`` and unknown ids left out)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(wanted)))
    return {int(uid): str(name) for uid, name in rows}


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user {username!r} not found")
    return user


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def users(
    session: Session,
    *,
    active_only: bool = False,
    by: Literal["username", "display_name"] = "username",
) -> list[User]:
    """Every user (only the active ones with ``active_only``), by username or by the name
    people see."""
    stmt = select(User)
    if active_only:
        stmt = stmt.where(User.active.is_(True))
    order = User.display_name if by == "display_name" else User.username
    return list(session.scalars(stmt.order_by(order)))
