"""Surveys over HTTP (M1, M2, M4): offer after a contact, IVR answers, the measures, and the
customers at risk with their follow-ups."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from escucha.auth.api import DB, AgentCaller, ClockDep, SupervisorCaller
from escucha.contacts.service import get_contact
from escucha.errors import InvalidInput
from escucha.org import reach
from escucha.surveys import rules, service, voc

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
    contact = get_contact(db, contact_id)
    reach.check_contact(db, caller.need_user(), queue=contact.queue, agent_id=contact.agent_id)
    survey = service.offer_survey(
        db,
        contact,
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
    contact = get_contact(db, contact_id)
    reach.check_contact(db, caller.need_user(), queue=contact.queue, agent_id=contact.agent_id)
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


# --- customers at risk and their follow-ups (M4) ------------------------------------------

Outcome = Literal["reached", "message_left", "not_reached"]
Days = Annotated[int, Field(ge=1, le=366)]


class FollowUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome = Field(
        description="reached: spoke to the customer; message_left; not_reached."
    )
    note: str = Field(
        default="",
        max_length=rules.MAX_FOLLOW_UP_NOTE,
        description="Required when reached: what the customer said and what was agreed.",
    )
    days: Days = Field(
        default=voc.RISK_DAYS,
        description="The period (days back from now) whose risk reasons are kept with it.",
    )


class FollowUpOut(BaseModel):
    id: int
    customer_id: int
    outcome: Outcome
    note: str
    reasons: list[str] = Field(description="Reason codes the customer was flagged with.")
    recorded_by_id: int
    recorded_by: str
    recorded_at: datetime


class RiskFactsOut(BaseModel):
    longest_wait_s: float | None
    broken_promises: int
    open_complaints: int
    lowest_csat: int | None
    lowest_ces: int | None
    lowest_nps: int | None
    repeat_contacts: int


class AtRiskCustomerOut(BaseModel):
    customer_id: int
    name: str
    phone: str | None
    email: str | None
    reasons: list[str] = Field(description="Reason codes flagged in the period, most first.")
    facts: RiskFactsOut
    last_contact_id: int | None
    latest_follow_up: FollowUpOut | None = Field(description="The latest in the period.")
    attempts: int = Field(description="Follow-ups in a row that did not reach the customer.")
    contacted_since: bool = Field(description="They contacted us after the latest follow-up.")


class AtRiskOut(BaseModel):
    since: datetime
    until: datetime
    to_follow_up: list[AtRiskCustomerOut]
    followed_up: list[AtRiskCustomerOut]


def _follow_up_out(f: voc.FollowUpView) -> FollowUpOut:
    return FollowUpOut(
        id=f.id,
        customer_id=f.customer_id,
        outcome=f.outcome,
        note=f.note,
        reasons=list(f.reasons),
        recorded_by_id=f.recorded_by_id,
        recorded_by=f.recorded_by,
        recorded_at=f.recorded_at,
    )


def _at_risk_out(r: voc.RiskRow) -> AtRiskCustomerOut:
    facts = r.facts
    return AtRiskCustomerOut(
        customer_id=r.customer_id,
        name=r.name,
        phone=r.phone,
        email=r.email,
        reasons=list(r.reasons),
        facts=RiskFactsOut(
            longest_wait_s=facts.longest_wait_s,
            broken_promises=facts.broken_promises,
            open_complaints=facts.open_complaints,
            lowest_csat=facts.lowest_csat,
            lowest_ces=facts.lowest_ces,
            lowest_nps=facts.lowest_nps,
            repeat_contacts=facts.repeat_contacts,
        ),
        last_contact_id=r.last_contact_id,
        latest_follow_up=None if r.follow_up is None else _follow_up_out(r.follow_up),
        attempts=r.attempts,
        contacted_since=r.contacted_since,
    )


@router.get("/customers/at-risk", response_model=AtRiskOut)
def customers_at_risk(
    caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    days: Annotated[int, Query(ge=1, le=366)] = voc.RISK_DAYS,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> AtRiskOut:
    """Customers to follow up after a bad experience in the last ``days`` days (M4), and the
    customers followed up: their latest follow-up in the period reached them or left a
    message and they have not contacted us since."""
    now = clock.now()
    since = now - timedelta(days=days)
    risk = voc.customers_at_risk(db, since=since, now=now, limit=limit)
    return AtRiskOut(
        since=since,
        until=now,
        to_follow_up=[_at_risk_out(r) for r in risk.to_follow_up],
        followed_up=[_at_risk_out(r) for r in risk.followed_up],
    )


@router.post("/customers/{customer_id}/follow-ups", response_model=FollowUpOut, status_code=201)
def record_follow_up(
    customer_id: int, data: FollowUpIn, caller: SupervisorCaller, db: DB, clock: ClockDep
) -> FollowUpOut:
    """Record that the customer was followed up (M4), with the reasons they are flagged for.

    Refused (422, nothing written) for a note over the limit, or an empty note when the
    customer was reached; 404 for an unknown customer.
    """
    user = caller.need_user()
    now = clock.now()
    row = voc.record_follow_up(
        db,
        customer_id,
        outcome=data.outcome,
        note=data.note,
        user_id=user.id,
        now=now,
        since=now - timedelta(days=data.days),
    )
    return FollowUpOut(
        id=row.id,
        customer_id=row.customer_id,
        outcome=data.outcome,
        note=row.note,
        reasons=[str(r) for r in row.reasons],
        recorded_by_id=user.id,
        recorded_by=user.display_name,
        recorded_at=row.recorded_at,
    )
