"""The public survey page ``/s/{token}`` (M2): CSAT, CES and NPS questions and a comment, in
the customer's language; one submission, and none after the survey expires."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from escucha.auth.api import DB, ClockDep, Public
from escucha.contacts import customers
from escucha.contacts import service as contacts
from escucha.errors import Conflict, InvalidInput
from escucha.i18n import translator
from escucha.org import home
from escucha.surveys import service
from escucha.surveys.models import Survey
from escucha.web.i18n import LANGUAGES
from escucha.web.render import render

router = APIRouter(include_in_schema=False)


def _language(request: Request, survey: Survey) -> str:
    chosen = request.session.get("lang")
    if isinstance(chosen, str) and chosen in LANGUAGES:
        return chosen
    return survey.language if survey.language in LANGUAGES else "es"


def _page(
    request: Request,
    db: Session,
    survey: Survey,
    token: str,
    *,
    state: str,
    error: str = "",
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    lang = _language(request, survey)

    _ = translator(lang)

    customer = customers.customer_of(db, survey.customer_id)
    contact = contacts.get_contact(db, survey.contact_id)
    tz = home.customer_zone(db, customer.timezone if customer is not None else None)
    return render(
        request,
        "surveys/survey.html",
        {
            "_": _,
            "lang": lang,
            "survey": survey,
            "token": token,
            "state": state,
            "error": error,
            "values": values or {},
            "until": service.expiry_phrase(survey.expires_at, lang=lang, tz=tz),
            "closed_day": service.moment_phrase(survey.expires_at, lang=lang, tz=tz),
            "contact_day": service.moment_phrase(contact.arrived_at, lang=lang, tz=tz),
            "scales": service.SCALES,
        },
        status_code=status_code,
    )


def _state(survey: Survey, now: Any) -> str:
    if survey.responded_at is not None:
        return "answered"
    if now >= survey.expires_at:
        return "expired"
    return "open"


@router.get("/s/{token}")
def survey_page(request: Request, token: str, _caller: Public, db: DB, clock: ClockDep) -> Response:
    survey = service.survey_by_token(db, token)
    return _page(request, db, survey, token, state=_state(survey, clock.now()))


def _number(value: str, kind: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        low, high = service.SCALES[kind]
        raise InvalidInput(f"{kind}: a whole number from {low} to {high}") from None


@router.post("/s/{token}")
async def survey_answer(
    request: Request, token: str, _caller: Public, db: DB, clock: ClockDep
) -> Response:
    form = await request.form(max_fields=20)
    values = {k: v for k, v in form.items() if isinstance(v, str)}

    def run() -> Response:
        survey = service.survey_by_token(db, token)
        now = clock.now()
        try:
            service.record_link_answers(
                db,
                token,
                now=now,
                csat=_number(values.get("csat", ""), "csat"),
                ces=_number(values.get("ces", ""), "ces"),
                nps=_number(values.get("nps", ""), "nps"),
                comment=values.get("comment"),
            )
        except Conflict:
            return _page(request, db, survey, token, state=_state(survey, now), status_code=409)
        except InvalidInput:
            return _page(
                request,
                db,
                survey,
                token,
                state="open",
                error="invalid",
                values=values,
                status_code=422,
            )
        return RedirectResponse(f"/s/{token}", status_code=303)

    return await run_in_threadpool(run)
