"""Surveys over HTTP (M1, M2): offer after a contact, IVR answers, and the measures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from escucha.auth.api import DB, AgentCaller, ClockDep, SupervisorCaller
from escucha.contacts.service import get_contact
from escucha.errors import InvalidInput
from escucha.surveys import service

router = APIRouter(prefix="/surveys", tags=["surveys"])


class OfferIn(BaseModel):
    channel: Literal["sms", "email", "ivr"] | None = None


@router.post("/contacts/{contact_id}/offer")
def offer(
    contact_id: int,
    data: OfferIn,
    request: Request,
    caller: AgentCaller,
    db: DB,
    clock: ClockDep,
) -> dict[str, Any]:
    """Offer the contact's survey (once per contact); ``survey`` is null when not surveyed."""
    survey = service.offer_survey(
        db,
        get_contact(db, contact_id),
        now=clock.now(),
        channel=data.channel,
        base_url=request.app.state.settings.public_url,
    )
    return {"survey": None if survey is None else service.describe(survey)}


class IvrAnswersIn(BaseModel):
    csat: int | None = Field(default=None, ge=1, le=5)
    ces: int | None = Field(default=None, ge=1, le=7)
    nps: int | None = Field(default=None, ge=0, le=10)


@router.post("/contacts/{contact_id}/ivr-answers")
def ivr_answers(
    contact_id: int, data: IvrAnswersIn, caller: AgentCaller, db: DB, clock: ClockDep
) -> dict[str, Any]:
    """Answers keyed in the IVR right after the contact."""
    survey = service.record_ivr_answers(
        db, contact_id, now=clock.now(), csat=data.csat, ces=data.ces, nps=data.nps
    )
    return service.describe(survey)


def _group(g: service.SurveyGroup) -> dict[str, Any]:
    return {
        "key": g.key,
        "label": g.label,
        "sent": g.sent,
        "answered": g.answered,
        "response_rate": g.response_rate,
        "csat_satisfied_share": g.csat.satisfied_share,
        "csat_n": g.csat.n,
        "ces_mean": g.ces.mean,
        "ces_easy_share": g.ces.easy_share,
        "ces_n": g.ces.n,
        "nps": g.nps.nps,
        "nps_margin_95": g.nps.margin_95,
        "nps_n": g.nps.n,
    }


@router.get("/summary")
def summary(
    caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    by: Literal["queue", "agent", "channel"] = "queue",
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Response rates, CSAT, CES and NPS of surveys sent in the period (default 28 days)."""
    now = clock.now()
    end = until or now
    start = since or end - timedelta(days=28)
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("since/until: give a time zone (e.g. 2026-11-01T00:00:00Z)")
    total, groups = service.survey_summary(db, since=start, until=end, by=by)
    return {
        "since": start.isoformat(),
        "until": end.isoformat(),
        "by": by,
        "total": _group(total),
        "groups": [_group(g) for g in groups],
    }
