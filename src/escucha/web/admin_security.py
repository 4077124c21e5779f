"""Admin screens for access: API tokens (create, list, revoke) and refused logins, with the
ending of a user's sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.auth.api import DB, AdminCaller, ClockDep
from escucha.auth.models import SCOPES
from escucha.errors import EscuchaError
from escucha.web.render import render

router = APIRouter(include_in_schema=False)


def _tokens_page(
    request: Request,
    db: Session,
    now: datetime,
    *,
    created: str | None = None,
    error: str | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    rows = [
        {"token": t, "username": name, "state": auth_service.token_state(t, now)}
        for t, name in auth_service.list_tokens(db)
    ]
    users = auth_service.users(db, active_only=True)
    return render(
        request,
        "admin/tokens.html",
        {
            "rows": rows,
            "users": users,
            "scopes": SCOPES,
            "created": created,
            "error": error,
            "values": values or {"days": auth_service.DEFAULT_TOKEN_DAYS, "scope": "write"},
            "max_days": auth_service.MAX_TOKEN_DAYS,
        },
        status_code,
    )


@router.get("/admin/tokens")
def tokens(request: Request, _caller: AdminCaller, db: DB, clock: ClockDep) -> Response:
    """Every API token with its scope, expiry, last use and state; never its value."""
    return _tokens_page(request, db, clock.now())


@router.post("/admin/tokens")
def create_token(
    request: Request,
    _caller: AdminCaller,
    db: DB,
    clock: ClockDep,
    username: Annotated[str, Form(max_length=80)],
    name: Annotated[str, Form(max_length=200)],
    scope: Annotated[str, Form(max_length=10)] = "write",
    days: Annotated[int, Form()] = auth_service.DEFAULT_TOKEN_DAYS,
) -> Response:
    """Create a token; its value is shown on this answer only."""
    now = clock.now()
    values = {"username": username, "name": name, "scope": scope, "days": days}
    try:
        user = auth_service.find_user(db, username)
        raw = auth_service.create_token(db, user, name, now=now, scope=scope, days=days)
    except EscuchaError as exc:
        return _tokens_page(
            request, db, now, error=exc.message, values=values, status_code=exc.status_code
        )
    response = _tokens_page(request, db, now, created=raw)
    response.headers["Cache-Control"] = "no-store"  # the value must not stay in a cache
    return response


@router.post("/admin/tokens/{token_id}/revoke")
def revoke_token(
    request: Request, token_id: int, _caller: AdminCaller, db: DB, clock: ClockDep
) -> Response:
    auth_service.revoke_token(db, token_id, now=clock.now())
    return RedirectResponse("/admin/tokens", status_code=303)


@router.get("/admin/logins")
def logins(
    request: Request, _caller: AdminCaller, db: DB, clock: ClockDep, hours: int = 24
) -> Response:
    """Refused logins of the last hours (wrong password or slowed down), newest first, with
    the accounts and addresses that failed most."""
    hours = min(max(hours, 1), 720)
    events = auth_service.failed_logins(db, now=clock.now(), hours=hours)
    by_pair: dict[tuple[str, str], int] = {}
    for e in events:
        by_pair[(e.username, e.address)] = by_pair.get((e.username, e.address), 0) + 1
    top = sorted(by_pair.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    users = auth_service.users(db)
    return render(
        request,
        "admin/logins.html",
        {"events": events, "top": top, "hours": hours, "users": users},
    )


@router.post("/admin/users/end-sessions")
def end_sessions(
    request: Request,
    _caller: AdminCaller,
    db: DB,
    clock: ClockDep,
    username: Annotated[str, Form(max_length=80)],
) -> Response:
    """End every browser session of a user."""
    user = auth_service.find_user(db, username)
    auth_service.end_sessions(db, user, now=clock.now(), reason="admin")
    return RedirectResponse("/admin/logins", status_code=303)
