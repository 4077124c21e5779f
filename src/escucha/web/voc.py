"""The voice of the customer (M1-M4): survey measures and response rates, themes of survey
comments and complaint texts with labels people edit, their weekly trend and the contacts
behind them, the customers to follow up with a form to record each follow-up, and the
customers followed up."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from escucha.auth.api import DB, ClockDep, SupervisorCaller
from escucha.auth.service import display_names
from escucha.errors import InvalidInput, NotFound
from escucha.surveys import rules, voc
from escucha.surveys import service as surveys
from escucha.surveys.themes import week_start
from escucha.web._quality import page

router = APIRouter(include_in_schema=False)

MAX_DAYS = 366


def _period(days: int, now: datetime) -> tuple[datetime, datetime]:
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days: from 1 to {MAX_DAYS}")
    return now - timedelta(days=days), now


def _weeks(since: datetime, until: datetime) -> list[str]:
    out = []
    day = week_start(since)
    while day <= until.date():
        out.append(day.isoformat())
        day += timedelta(days=7)
    return out


def _k(k: str) -> int | None:
    if not k.strip():
        return None
    try:
        value = int(k)
    except ValueError:
        raise InvalidInput("themes: a whole number") from None
    if not 1 <= value <= 20:
        raise InvalidInput("themes: from 1 to 20")
    return value


def _voc_context(db: Session, *, days: int, k: str, by: str, now: datetime) -> dict[str, Any]:
    since, until = _period(days, now)
    if by not in surveys.GROUPS:
        by = "queue"
    report = voc.voc_report(db, since=since, until=until, k=_k(k))
    total, groups = surveys.survey_summary(db, since=since, until=until, by=by)
    risk = voc.customers_at_risk(db, since=since, now=now)
    weeks = _weeks(since, until)
    peak = max((n for t in report.themes.themes for n in t.weekly.values()), default=0)
    return {
        "days": days,
        "k": k,
        "by": by,
        "report": report.themes,
        "sources": {t.key: _sources(report.texts, t.member_ids) for t in report.themes.themes},
        "weeks": weeks,
        "peak": peak,
        "total": total,
        "groups": groups,
        "risk": risk.to_follow_up,
        "followed_up": risk.followed_up,
        "reasons": rules.RISK_REASONS,
        "policy": rules.RiskPolicy(),
        "outcomes": rules.FOLLOW_UP_OUTCOMES,
        "max_note": rules.MAX_FOLLOW_UP_NOTE,
        "recorded": None,
        "form": {},
    }


@router.get("/voc")
def voc_page(
    request: Request,
    caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    days: int = 28,
    k: str = "",
    by: str = "queue",
    recorded: int | None = None,
) -> Response:
    context = _voc_context(db, days=days, k=k, by=by, now=clock.now())
    context["recorded"] = recorded
    return page(request, db, "voc/voc.html", context)


@router.post("/voc/customers/{customer_id}/follow-ups")
def record_follow_up(
    request: Request,
    customer_id: int,
    caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    outcome: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    days: Annotated[int, Form()] = 28,
    k: Annotated[str, Form()] = "",
    by: Annotated[str, Form()] = "queue",
) -> Response:
    """Record a follow-up from the /voc page, then back to the page (post/redirect/get).

    A refused outcome or note shows the page again (422) with the message beside the
    customer's form and what was typed kept; nothing is written.
    """
    now = clock.now()
    since, _ = _period(days, now)
    try:
        voc.record_follow_up(
            db,
            customer_id,
            outcome=outcome,
            note=note,
            user_id=caller.need_user().id,
            now=now,
            since=since,
        )
    except InvalidInput as exc:
        context = _voc_context(db, days=days, k=k, by=by, now=now)
        context["form"] = {
            "customer_id": customer_id,
            "outcome": outcome,
            "note": note,
            "error": exc.message,
        }
        return page(request, db, "voc/voc.html", context, status_code=422)
    if by not in surveys.GROUPS:
        by = "queue"
    query = urlencode({"days": days, "k": k, "by": by, "recorded": customer_id})
    return RedirectResponse(f"/voc?{query}#at-risk", status_code=303)


def _sources(texts: dict[str, voc.VocText], ids: tuple[str, ...]) -> dict[str, int]:
    out = {"survey": 0, "complaint": 0}
    for i in ids:
        out[texts[i].source] = out.get(texts[i].source, 0) + 1
    return out


@router.get("/voc/themes/{key}")
def theme_page(
    request: Request,
    key: str,
    caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    days: int = 28,
    k: str = "",
) -> Response:
    since, until = _period(days, clock.now())
    report = voc.voc_report(db, since=since, until=until, k=_k(k))
    theme = next((t for t in report.themes.themes if t.key == key), None)
    if theme is None:
        raise NotFound("that theme is not in this period any more; open the themes again")
    texts = sorted((report.texts[i] for i in theme.member_ids), key=lambda t: t.at, reverse=True)
    contacts = voc.contacts_for(db, texts)
    agents = display_names(db, {c.agent_id for c in contacts.values()})
    return page(
        request,
        db,
        "voc/theme.html",
        {
            "theme": theme,
            "texts": texts,
            "contacts": contacts,
            "agents": agents,
            "days": days,
            "k": k,
            "weeks": _weeks(since, until),
        },
    )


@router.post("/voc/labels")
def save_label(
    request: Request,
    caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    theme_key: Annotated[str, Form()],
    label: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/voc",
) -> Response:
    voc.set_theme_label(db, theme_key, label, user_id=caller.need_user().id, now=clock.now())
    target = next if next.startswith("/voc") and not next.startswith("//") else "/voc"
    return RedirectResponse(target, status_code=303)
