"""Who is calling: session cookie or API token; every route declares the roles it admits."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from escucha.admission import run_end, run_in_lane
from escucha.auth import rules
from escucha.auth import service as auth_service
from escucha.auth.models import ApiToken, User
from escucha.clock import Clock
from escucha.errors import Forbidden, InvalidInput, Unauthenticated


def _factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


def _end(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: committed before the response is sent.

    The session opens its connection at its first query (in the endpoint's worker thread);
    the commit or rollback runs on the threads that end transactions (never queued behind
    other work), shielded from cancellation so a connection is never left behind. A session
    with no transaction open holds no connection and is closed at once."""
    session = _factory(request)()
    try:
        yield session
    except BaseException:
        if not session.in_transaction():  # rolled back already (a call's endpoint)
            session.close()
            raise
        with anyio.CancelScope(shield=True):
            await run_end(_end, session, False)
        raise
    if not session.in_transaction():  # committed already (a call's endpoint) or never begun
        session.close()
        return
    with anyio.CancelScope(shield=True):
        await run_end(_end, session, True)


DB = Annotated[Session, Depends(get_db, scope="function")]


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]


@dataclass(frozen=True)
class UserView:
    """What screens show of the signed-in user; plain data, so an error page can still be
    rendered after the request's transaction was rolled back."""

    id: int
    username: str
    display_name: str
    role: str
    language: str

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(user.id, user.username, user.display_name, user.role, user.language)


@dataclass(frozen=True)
class Caller:
    user: User | None
    via: str  # "session", "token" or "anonymous"
    scope: str | None = None  # the API token's scope when ``via == "token"``

    @property
    def role(self) -> str:
        return self.user.role if self.user is not None else "anonymous"

    def need_user(self) -> User:
        if self.user is None:
            raise Unauthenticated("log in first")
        return self.user


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


def client_address(request: Request) -> str:
    """The caller's address: the connecting peer, or what a proxy named in
    ``ESCUCHA_TRUSTED_PROXIES`` forwarded (resolved by the proxy-headers middleware)."""
    return request.client.host if request.client else "unknown"


def session_user(
    request: Request, db: Session, now: datetime, *, touch: bool = True
) -> User | None:
    """The user of the request's session cookie while that session is open on the server
    (``touch=False``: without noting the activity, for long-lived read-only streams)."""
    uid, sid = request.session.get("uid"), request.session.get("sid")
    if not isinstance(uid, int) or not isinstance(sid, str):
        return None
    settings = request.app.state.settings
    return auth_service.session_user(
        db, sid, uid, now=now, max_age_s=settings.session_max_age_s, touch=touch
    )


async def _caller(request: Request, db: DB, clock: ClockDep) -> Caller:
    """Who is calling: one query for a token or a session cookie, none otherwise."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        found = await run_in_lane(auth_service.token_caller, db, header[7:].strip(), clock.now())
        return Caller(found.user, "token", found.token.scope)
    if "uid" in request.session:
        user = await run_in_lane(session_user, request, db, clock.now())
        if user is not None:
            return Caller(user, "session")
        request.session.clear()
    return Caller(None, "anonymous")


UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _check_scope(request: Request, caller: Caller, minimum: str) -> None:
    """A token does what its scope allows and never more than its user's role: ``read``
    only reads, ``write`` also changes, only ``admin`` reaches the admin routes."""
    if caller.via != "token" or caller.scope is None:
        return
    needed = "admin" if minimum == "admin" else "write" if request.method in UNSAFE else "read"
    if not auth_service.scope_allows(caller.scope, needed):
        raise Forbidden(f"this API token has the {caller.scope} scope; this needs {needed}")


FORM_OVERHEAD_BYTES = 64 * 1024  # the other fields and the multipart framing of an upload


async def _check_csrf(request: Request) -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return
    expected = request.session.get("csrf")
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            # Reading the form spools every file in it: refuse a body past the upload limit
            # first, or anyone could fill the disk before being refused.
            limit = request.app.state.settings.max_upload_bytes + FORM_OVERHEAD_BYTES
            length = request.headers.get("content-length", "")
            if not length.isdigit() or int(length) > limit:
                raise InvalidInput(f"the form is larger than {limit} bytes or has no length")
            form = await request.form()
            value = form.get("csrf_token")
            sent = value if isinstance(value, str) else None
    if not isinstance(expected, str) or sent is None or not hmac.compare_digest(expected, sent):
        raise Forbidden("the form expired or did not come from escucha; reload the page")


ACCESS_ATTR = "escucha_access"


def allow(minimum: str) -> Callable[..., Any]:
    """A dependency that admits ``minimum`` and higher roles; ``"public"`` admits anyone.

    ``"webhook"`` admits anyone without the CSRF check: a provider's webhook (Twilio) carries
    no CSRF token, and the route must check the provider's signature itself.

    Every route carries exactly one of these (``tests/test_authz.py`` checks it).
    """

    async def dependency(request: Request, caller: Annotated[Caller, Depends(_caller)]) -> Caller:
        if minimum == "webhook":  # a provider's callback: public, authenticated by its signature
            return caller
        await _check_csrf(request)
        _check_scope(request, caller, minimum)
        if minimum == "public":
            return caller
        if caller.user is None:
            raise Unauthenticated("log in first")
        if not rules.allows(caller.user.role, minimum):
            raise Forbidden(f"this needs the {minimum} role")
        request.state.user = UserView.of(caller.user)
        return caller

    setattr(dependency, ACCESS_ATTR, minimum)
    return dependency


Public = Annotated[Caller, Depends(allow("public"))]
Webhook = Annotated[Caller, Depends(allow("webhook"))]
AgentCaller = Annotated[Caller, Depends(allow("agent"))]
SupervisorCaller = Annotated[Caller, Depends(allow("supervisor"))]
AdminCaller = Annotated[Caller, Depends(allow("admin"))]


def login_session(request: Request, db: Session, user: User, now: datetime) -> None:
    """A new session for ``user``, recorded on the server: nothing of the anonymous one
    survives (no fixation)."""
    sid = auth_service.start_session(
        db,
        user,
        now=now,
        address=client_address(request),
        user_agent=request.headers.get("user-agent", ""),
    )
    request.session.clear()
    request.session.update(
        {
            "uid": user.id,
            "sid": sid,
            "csrf": secrets.token_urlsafe(24),
            "lang": user.language,
        }
    )


def logout_session(request: Request, db: Session, now: datetime) -> None:
    """End the request's session on the server (a copy of the cookie stops working) and
    forget the cookie."""
    sid = request.session.get("sid")
    if isinstance(sid, str):
        auth_service.end_session(db, sid, now=now, reason="logout")
    request.session.clear()


router = APIRouter(prefix="/auth", tags=["auth"])


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    scope: Literal["read", "write", "admin"] = "write"
    days: int = Field(default=auth_service.DEFAULT_TOKEN_DAYS, ge=1, le=auth_service.MAX_TOKEN_DAYS)
    username: str | None = Field(
        default=None, max_length=80, description="Whose token (default: the caller's)"
    )


class TokenOut(BaseModel):
    id: int
    token: str = Field(description="The token's value: shown this once, never again")
    name: str
    scope: str
    username: str
    expires_at: datetime | None


class TokenInfoOut(BaseModel):
    id: int
    name: str
    prefix: str
    scope: str
    username: str
    state: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class EndedOut(BaseModel):
    username: str
    ended: int


class LoginEventOut(BaseModel):
    at: datetime
    username: str
    address: str
    outcome: str


class MeOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    language: str


@router.get("/me", response_model=MeOut)
def me(caller: AgentCaller) -> MeOut:
    """The calling user."""
    u = caller.need_user()
    return MeOut(
        id=u.id, username=u.username, display_name=u.display_name, role=u.role, language=u.language
    )


def token_info(token: ApiToken, username: str, now: datetime) -> TokenInfoOut:
    return TokenInfoOut(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        scope=token.scope,
        username=username,
        state=auth_service.token_state(token, now),
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


@router.post("/tokens", response_model=TokenOut, status_code=201)
def create_token(data: TokenIn, caller: AdminCaller, db: DB, clock: ClockDep) -> TokenOut:
    """Create an API token for the calling admin or for ``username``; the value is shown once.

    ``scope``: ``read`` (GET only), ``write`` (any method), ``admin`` (also admin routes; for
    admins only). It expires after ``days`` days; a password change revokes it."""
    user = auth_service.find_user(db, data.username) if data.username else caller.need_user()
    raw, token = auth_service.issue_token(
        db, user, data.name, now=clock.now(), scope=data.scope, days=data.days
    )
    return TokenOut(
        id=token.id,
        token=raw,
        name=token.name,
        scope=token.scope,
        username=user.username,
        expires_at=token.expires_at,
    )


@router.get("/tokens", response_model=list[TokenInfoOut])
def list_tokens(_caller: AdminCaller, db: DB, clock: ClockDep) -> list[TokenInfoOut]:
    """Every API token (never its value), newest first, with its state."""
    now = clock.now()
    return [token_info(t, name, now) for t, name in auth_service.list_tokens(db)]


@router.delete("/tokens/{token_id}", response_model=TokenInfoOut)
def revoke_token(token_id: int, _caller: AdminCaller, db: DB, clock: ClockDep) -> TokenInfoOut:
    """Revoke a token: it stops working at once."""
    now = clock.now()
    token = auth_service.revoke_token(db, token_id, now=now)
    return token_info(token, auth_service.get_user(db, token.user_id).username, now)


@router.post("/users/{username}/end-sessions", response_model=EndedOut)
def end_sessions(username: str, _caller: AdminCaller, db: DB, clock: ClockDep) -> EndedOut:
    """End every browser session of a user (their API tokens are revoked separately)."""
    user = auth_service.find_user(db, username)
    ended = auth_service.end_sessions(db, user, now=clock.now(), reason="admin")
    return EndedOut(username=user.username, ended=ended)


@router.get("/login-failures", response_model=list[LoginEventOut])
def login_failures(
    _caller: AdminCaller,
    db: DB,
    clock: ClockDep,
    hours: Annotated[int, Query(ge=1, le=720)] = 24,
) -> list[LoginEventOut]:
    """Refused logins (wrong password or slowed down) of the last ``hours``, newest first."""
    return [
        LoginEventOut(at=e.at, username=e.username, address=e.address, outcome=e.outcome)
        for e in auth_service.failed_logins(db, now=clock.now(), hours=hours)
    ]
