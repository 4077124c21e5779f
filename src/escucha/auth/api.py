"""Who is calling: session cookie or API token; every route declares the roles it admits."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from escucha.auth import rules
from escucha.auth import service as auth_service
from escucha.auth.models import User
from escucha.clock import Clock
from escucha.errors import Forbidden, InvalidInput, Unauthenticated


def _factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request: committed before the response is sent."""
    session = _factory(request)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


DB = Annotated[Session, Depends(get_db, scope="function")]


def get_clock(request: Request) -> Clock:
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


def _caller(request: Request, db: DB, clock: ClockDep) -> Caller:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        by_token = auth_service.user_for_token(db, header[7:].strip(), now=clock.now())
        return Caller(by_token, "token")
    uid = request.session.get("uid")
    if isinstance(uid, int):
        user = db.get(User, uid)
        if user is not None and user.active and request.session.get("epoch") == user.session_epoch:
            return Caller(user, "session")
        request.session.clear()
    return Caller(None, "anonymous")


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


def login_session(request: Request, user: User) -> None:
    """A new session for ``user``: nothing of the anonymous one survives (no fixation)."""
    request.session.clear()
    request.session.update(
        {
            "uid": user.id,
            "epoch": user.session_epoch,
            "sid": secrets.token_urlsafe(16),
            "csrf": secrets.token_urlsafe(24),
            "lang": user.language,
        }
    )


router = APIRouter(prefix="/auth", tags=["auth"])


class TokenIn(BaseModel):
    name: str


class TokenOut(BaseModel):
    token: str
    name: str


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


@router.post("/tokens", response_model=TokenOut, status_code=201)
def create_token(data: TokenIn, caller: AdminCaller, db: DB, clock: ClockDep) -> TokenOut:
    """Create an API token for the calling admin; the value is shown once."""
    raw = auth_service.create_token(db, caller.need_user(), data.name, now=clock.now())
    return TokenOut(token=raw, name=data.name)
