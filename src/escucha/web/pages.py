"""The shell of the screens: login, logout, language, home per role, and admin pages.

The agent desktop is in :mod:`escucha.web.agent`, the supervisor's pages in
:mod:`escucha.web.supervisor`.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from escucha.auth import service as auth_service
from escucha.auth.api import (
    DB,
    AdminCaller,
    ClockDep,
    Public,
    UserView,
    client_address,
    login_session,
    logout_session,
)
from escucha.errors import Unauthenticated
from escucha.jobs import service as jobs_service
from escucha.org import admin as org_admin
from escucha.org import service as org_service
from escucha.web.i18n import LANGUAGES
from escucha.web.render import render

router = APIRouter(include_in_schema=False)
log = logging.getLogger("escucha.auth")

HOME = {"agent": "/agent", "supervisor": "/supervisor", "admin": "/admin"}


def _safe_next(target: str | None, fallback: str) -> str:
    """Only local paths: a login link cannot send anyone to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


@router.get("/")
def home(request: Request, caller: Public, db: DB) -> Response:
    """The front door: what a customer can do here, with the staff login apart."""
    if caller.user is not None:
        return RedirectResponse(HOME[caller.user.role], status_code=303)
    return render(request, "home.html", {"organisation": org_service.organisation_name(db)})


@router.get("/login")
def login_form(request: Request, _caller: Public, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": _safe_next(next, "")})


@router.post("/login")
def login(
    request: Request,
    _caller: Public,
    db: DB,
    clock: ClockDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "",
) -> Response:
    settings = request.app.state.settings
    now = clock.now()
    client = client_address(request)
    try:
        auth_service.check_login(
            db, username, client, now=now, per_address_per_min=settings.login_rate_per_min
        )
    except auth_service.LoginThrottled as exc:
        auth_service.record_login(db, username, client, "throttled", now=now)
        log.warning("login throttled", extra={"username": username[:80], "client": client})
        response = render(
            request,
            "login.html",
            {
                "error": "Too many attempts.",
                "retry_after": exc.retry_after_s,
                "username": username,
                "next": next,
            },
            status_code=429,
        )
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    try:
        user = auth_service.authenticate(db, username, password)
    except Unauthenticated:
        auth_service.record_login(db, username, client, "failed", now=now)
        log.warning("login failed", extra={"username": username[:80], "client": client})
        return render(
            request,
            "login.html",
            {"error": "Wrong username or password.", "username": username, "next": next},
            status_code=401,
        )
    auth_service.record_login(db, username, client, "ok", now=now)
    login_session(request, db, user, now)
    request.state.user = UserView.of(user)
    return RedirectResponse(_safe_next(next, HOME[user.role]), status_code=303)


@router.post("/logout")
def logout(request: Request, _caller: Public, db: DB, clock: ClockDep) -> Response:
    logout_session(request, db, clock.now())
    return RedirectResponse("/login", status_code=303)


@router.post("/language")
def language(
    request: Request,
    caller: Public,
    db: DB,
    lang: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    if lang in LANGUAGES:
        request.session["lang"] = lang
        if caller.user is not None:
            caller.user.language = lang
    return RedirectResponse(_safe_next(next, "/"), status_code=303)


@router.get("/admin")
def admin_home(request: Request, _caller: AdminCaller, db: DB, clock: ClockDep) -> Response:
    organisation, counts = org_admin.overview(db)
    failed = jobs_service.list_jobs(db, status="failed", limit=20)
    refused = auth_service.count_failed_logins(db, now=clock.now(), hours=24)
    return render(
        request,
        "admin/home.html",
        {
            "organisation": organisation,
            "counts": counts,
            "failed": failed,
            "refused_logins": refused,
        },
    )


@router.get("/admin/jobs")
def admin_jobs(
    request: Request, _caller: AdminCaller, db: DB, status: str = "", routine: bool = False
) -> Response:
    jobs = jobs_service.list_jobs(db, status=status or None, routine=routine)
    return render(request, "admin/jobs.html", {"jobs": jobs, "status": status, "routine": routine})


@router.post("/admin/jobs/{job_id}/retry")
def admin_retry(
    request: Request, job_id: int, _caller: AdminCaller, db: DB, clock: ClockDep
) -> Response:
    jobs_service.retry_job(db, job_id, now=clock.now())
    return RedirectResponse("/admin/jobs?status=failed", status_code=303)
