"""Admin screens for people (users, their team, skills and languages) and for the
organisation's settings edited section by section (:mod:`escucha.org.admin`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from escucha import yamlio
from escucha.auth.api import DB, AdminCaller, ClockDep
from escucha.auth.models import ROLES
from escucha.errors import EscuchaError, InvalidInput
from escucha.org import admin
from escucha.org import service as org_service
from escucha.web.i18n import pick_language
from escucha.web.render import render

router = APIRouter(include_in_schema=False)


def _actor(caller: AdminCaller) -> str:
    user = caller.need_user()
    return f"user:{user.id}:{user.username}"


def _choices(db: Session, lang: str) -> dict[str, Any]:
    teams, skills = org_service.teams(db), org_service.skills(db)
    return {
        "roles": ROLES,
        "teams": sorted(t.name for t in teams),
        "skills": [s.name for s in skills],
        "languages": admin.LANGUAGES,
        # Shown by their names; the keys stay in the form values.
        "team_names": {t.name: t.label(lang) for t in teams},
        "skill_names": {s.name: s.label(lang) for s in skills},
    }


async def _form(request: Request) -> admin.PersonForm:
    """The person form: skills come as ``skill:<name>`` = level (0 = none)."""
    data = await request.form()
    skills: dict[str, int] = {}
    for key, value in data.multi_items():
        if key.startswith("skill:") and isinstance(value, str) and value.strip():
            try:
                skills[key[6:]] = int(value)
            except ValueError as exc:
                raise InvalidInput(f"skills: {key[6:]}: a whole number") from exc

    def text(name: str) -> str:
        value = data.get(name, "")
        return value if isinstance(value, str) else ""

    return admin.PersonForm(
        username=text("username"),
        display_name=text("display_name"),
        role=text("role") or "agent",
        email=text("email"),
        language=text("language") or "es",
        team=text("team"),
        skills=skills,
        languages=[v for v in data.getlist("languages") if isinstance(v, str)],
        password=text("password"),
    )


def _problem(exc: EscuchaError) -> str:
    if isinstance(exc, yamlio.YamlFileError):
        return "; ".join(f"{p.path or '—'}: {p.message}" for p in exc.problems)
    return str(exc)


@router.get("/admin/users")
def users_page(request: Request, _caller: AdminCaller, db: DB) -> Response:
    return render(
        request,
        "admin/users.html",
        {"people": admin.people(db), "form": None, **_choices(db, pick_language(request))},
    )


@router.post("/admin/users")
async def create_user(request: Request, caller: AdminCaller, db: DB, clock: ClockDep) -> Response:
    form = await _form(request)
    try:
        user = admin.create_person(db, form, now=clock.now(), actor=_actor(caller))
    except EscuchaError as exc:
        db.rollback()
        return render(
            request,
            "admin/users.html",
            {
                "people": admin.people(db),
                "form": form,
                "error": _problem(exc),
                **_choices(db, pick_language(request)),
            },
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/admin/users/{user.id}?saved=1", status_code=303)


def _person_page(
    request: Request, db: Session, user_id: int, status_code: int = 200, **extra: Any
) -> Response:
    ctx = {"person": admin.person(db, user_id), **_choices(db, pick_language(request)), **extra}
    return render(request, "admin/user.html", ctx, status_code=status_code)


@router.get("/admin/users/{user_id:int}")
def user_page(
    request: Request, user_id: int, _caller: AdminCaller, db: DB, saved: bool = False
) -> Response:
    return _person_page(request, db, user_id, saved=saved)


@router.post("/admin/users/{user_id:int}")
async def update_user(
    request: Request, user_id: int, caller: AdminCaller, db: DB, clock: ClockDep
) -> Response:
    form = await _form(request)
    try:
        admin.update_person(db, user_id, form, now=clock.now(), actor=_actor(caller))
    except EscuchaError as exc:
        db.rollback()
        return _person_page(request, db, user_id, exc.status_code, error=_problem(exc))
    return RedirectResponse(f"/admin/users/{user_id}?saved=1", status_code=303)


@router.post("/admin/users/{user_id:int}/active")
async def set_active(
    request: Request, user_id: int, caller: AdminCaller, db: DB, clock: ClockDep
) -> Response:
    active = (await request.form()).get("active") == "1"
    try:
        admin.set_active(
            db, user_id, active, now=clock.now(), actor=_actor(caller), by=caller.need_user().id
        )
    except EscuchaError as exc:
        db.rollback()
        return _person_page(request, db, user_id, exc.status_code, error=_problem(exc))
    return RedirectResponse(f"/admin/users/{user_id}?saved=1", status_code=303)


@router.post("/admin/users/{user_id:int}/password")
def reset_password(
    request: Request, user_id: int, caller: AdminCaller, db: DB, clock: ClockDep
) -> Response:
    password = admin.reset_password(db, user_id, now=clock.now(), actor=_actor(caller))
    return _person_page(request, db, user_id, new_password=password)


@router.post("/admin/users/{user_id:int}/sessions")
def end_sessions(
    request: Request, user_id: int, caller: AdminCaller, db: DB, clock: ClockDep
) -> Response:
    ended = admin.end_sessions(db, user_id, now=clock.now(), actor=_actor(caller))
    return _person_page(request, db, user_id, sessions_ended=ended)


@router.get("/admin/config")
def config_page(request: Request, _caller: AdminCaller, db: DB) -> Response:
    sections = {s: admin.section_yaml(db, s) for s in admin.SECTIONS}
    return render(request, "admin/config.html", {"sections": sections})


@router.get("/admin/config/{section}")
def section_page(
    request: Request, section: str, _caller: AdminCaller, db: DB, saved: bool = False
) -> Response:
    text = admin.section_yaml(db, section)
    return render(request, "admin/section.html", {"section": section, "text": text, "saved": saved})


@router.post("/admin/config/{section}")
async def save_section(
    request: Request, section: str, caller: AdminCaller, db: DB, clock: ClockDep
) -> Response:
    raw = (await request.form()).get("yaml", "")
    text = raw if isinstance(raw, str) else ""
    try:
        admin.apply_section(db, section, text, now=clock.now(), actor=_actor(caller))
    except yamlio.YamlFileError as exc:
        db.rollback()
        return render(
            request,
            "admin/section.html",
            {"section": section, "text": text, "problems": exc.problems},
            status_code=exc.status_code,
        )
    except EscuchaError as exc:
        db.rollback()
        return render(
            request,
            "admin/section.html",
            {"section": section, "text": text, "error": str(exc)},
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/admin/config/{section}?saved=1", status_code=303)
