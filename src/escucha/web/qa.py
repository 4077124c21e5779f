"""Quality screens (C4, C5): reviews and sampling, the review screen (transcript, timeline,
holds, automatic QA suggestions, the scorecard form), calibration with Krippendorff's alpha
and reviewer drift, disputes, the agent's own reviews, and the scorecard editor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from escucha.auth.api import DB, AgentCaller, ClockDep, SupervisorCaller
from escucha.auth.models import User
from escucha.auth.service import display_names
from escucha.clock import Clock
from escucha.contacts import customers
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact
from escucha.errors import InvalidInput, NotFound
from escucha.org import service as org_service
from escucha.qa import reviews as qa
from escucha.qa import rules
from escucha.qa.models import Review
from escucha.qa.schemas import Scorecard
from escucha.speech.service import transcripts_of
from escucha.surveys.service import survey_of
from escucha.voice import rules as voice_rules
from escucha.voice import service as voice_service
from escucha.voice.models import VoiceRecording
from escucha.web._quality import page
from escucha.web.speech import record_transcripts_read
from escucha.yamlio import YamlFileError

router = APIRouter(include_in_schema=False)

_FORM_FIELDS = 500


async def _form(request: Request) -> dict[str, list[str]]:
    form = await request.form(max_fields=_FORM_FIELDS)
    out: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            out.setdefault(key, []).append(value)
    return out


def _one(form: dict[str, list[str]], key: str, default: str = "") -> str:
    values = form.get(key)
    return values[-1] if values else default


def _int(value: str, name: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise InvalidInput(f"{name}: a whole number") from None


# --- the list and sampling ----------------------------------------------------------------


@router.get("/qa")
def reviews_page(
    request: Request,
    caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    show: str = "mine",
    sampled: int | None = None,
) -> Response:
    user = caller.need_user()
    if show == "submitted":
        rows = qa.list_reviews(db, status="submitted")
    elif show == "all":
        rows = qa.list_reviews(db)
    else:
        show = "mine"
        rows = qa.list_reviews(db, status="draft", reviewer_id=user.id)
    queues = org_service.queues(db)
    open_disputes = len(qa.list_disputes(db, status="open"))
    return page(
        request,
        db,
        "qa/reviews.html",
        {
            "rows": rows,
            "show": show,
            "queues": queues,
            "strategies": rules.STRATEGIES,
            "sampled": sampled,
            "open_disputes": open_disputes,
        },
    )


@router.post("/qa/sample")
async def sample(request: Request, caller: SupervisorCaller, db: DB, clock: ClockDep) -> Response:
    form = await _form(request)
    user = caller.need_user()

    def run() -> Response:
        strategy = _one(form, "strategy", "random")
        n = _int(_one(form, "n", "5"), "n")
        days = _int(_one(form, "days", "7"), "days")
        if not 1 <= days <= 366:
            raise InvalidInput("days: from 1 to 366")
        seed_text = _one(form, "seed").strip()
        now = clock.now()
        made = qa.sample_for_review(
            db,
            strategy,
            n,
            reviewer_id=user.id,
            since=now - timedelta(days=days),
            until=now,
            now=now,
            seed=_int(seed_text, "seed") if seed_text else None,
            queue=_one(form, "queue") or None,
        )
        return RedirectResponse(f"/qa?show=mine&sampled={len(made)}", status_code=303)

    return await run_in_threadpool(run)


@router.post("/qa/start")
async def start(request: Request, caller: SupervisorCaller, db: DB, clock: ClockDep) -> Response:
    form = await _form(request)
    user = caller.need_user()

    def run() -> Response:
        contact_id = _int(_one(form, "contact_id"), "contact")
        review = qa.start_review(db, contact_id, user.id, now=clock.now())
        return RedirectResponse(f"/qa/reviews/{review.id}", status_code=303)

    return await run_in_threadpool(run)


# --- a contact (drill-down target) --------------------------------------------------------


def _contact_context(db: Session, contact: Contact) -> dict[str, Any]:
    transcript = qa.transcript_of(db, contact.id)
    turns = qa.transcript_turns(transcript) if transcript is not None else []
    timeline = qa.contact_timeline(db, contact.id)
    customer = customers.customer_of(db, contact.customer_id)
    names = display_names(db, [contact.agent_id, *(t.agent_id for t in timeline)])
    return {
        "contact": contact,
        "customer": customer,
        "transcript": transcript,
        "turns": turns,
        "timeline": timeline,
        "holds": qa.hold_summary(timeline),
        "names": names,
        "survey": survey_of(db, contact.id),
        "formats": rules.FORMATS,
        "recordings": transcripts_of(db, contact.id),
    }


@dataclass(frozen=True)
class RecordedLeg:
    """One agent's leg of the call's recording, with the holds that agent made in it."""

    recording: VoiceRecording
    holds: list[voice_rules.LegHold]


def recorded_legs(
    db: Session, contact_id: int, timeline: Sequence[qa.TimelineItem]
) -> list[RecordedLeg]:
    """The call's recorded legs in the order they began (a transferred call has one per
    agent), each with its holds placed in its own recording."""
    holds = [
        (t.at, t.agent_id, t.hold_s, bool(t.announced))
        for t in timeline
        if t.event == "hold_started"
    ]
    return [
        RecordedLeg(
            rec, voice_rules.holds_within(rec.started_at, rec.updated_at, rec.user_id, holds)
        )
        for rec in voice_service.recordings_of(db, contact_id)
        if rec.chunks  # a leg begun and never sent a piece (a desk closed at once) plays nothing
    ]


@router.get("/qa/contacts/{contact_id}")
def contact_page(
    request: Request, contact_id: int, caller: SupervisorCaller, db: DB, clock: ClockDep
) -> Response:
    contact = contacts.get_contact(db, contact_id)
    context = _contact_context(db, contact)
    context["reviews"] = qa.list_reviews(db, contact_id=contact_id)
    context["qa"] = qa.auto_qa(context["transcript"])
    context["card"] = qa.scorecard_of(qa.current_scorecard(db, now=clock.now()))
    context["legs"] = recorded_legs(db, contact_id, context["timeline"])
    context["names"].update(display_names(db, [leg.recording.user_id for leg in context["legs"]]))
    record_transcripts_read(db, caller.need_user(), contact_id, context["recordings"], clock.now())
    return page(request, db, "qa/contact.html", context)


@router.post("/qa/contacts/{contact_id}/transcript")
async def upload_transcript(
    request: Request, contact_id: int, caller: SupervisorCaller, db: DB, clock: ClockDep
) -> Response:
    form = await _form(request)

    def run() -> Response:
        qa.store_transcript(
            db,
            contact_id,
            _one(form, "text"),
            now=clock.now(),
            fmt=_one(form, "format", "auto") or "auto",
            language=_one(form, "language") or None,
            source="screen",
        )
        back = _one(form, "next")
        target = back if back.startswith("/qa/") else f"/qa/contacts/{contact_id}"
        return RedirectResponse(target, status_code=303)

    return await run_in_threadpool(run)


# --- the review screen --------------------------------------------------------------------


def _review_context(db: Session, review: Review, user: User) -> dict[str, Any]:
    contact = contacts.get_contact(db, review.contact_id)
    card = qa.review_scorecard(db, review)
    context = _contact_context(db, contact)
    auto = qa.auto_qa(context["transcript"])
    evidence: dict[str, list[int]] = {}
    if auto is not None:
        for c in card.criteria():
            if c.detector and c.detector in auto.criteria:
                evidence[c.id] = auto.criteria[c.detector].evidence
    result = card.score(dict(review.answers)) if review.answers else None
    names = display_names(db, [review.agent_id, review.reviewer_id])
    context.update(
        {
            "review": review,
            "card": card,
            "qa": auto,
            "evidence": evidence,
            "evidence_turns": {i for v in evidence.values() for i in v},
            "result": result,
            "editable": review.status == "draft" and review.reviewer_id == user.id,
            "agent_name": names.get(review.agent_id or 0, "-"),
            "reviewer_name": names.get(review.reviewer_id, "-"),
            "option_labels": _option_labels(card),
        }
    )
    return context


def _option_labels(card: Scorecard) -> dict[str, dict[str, Any]]:
    return {name: {o.value: o.label for o in options} for name, options in card.scales.items()}


@router.get("/qa/reviews/{review_id}")
def review_page(
    request: Request,
    review_id: int,
    caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    saved: str = "",
) -> Response:
    user = caller.need_user()
    review = qa.get_review(db, review_id)
    qa.check_may_see(db, review, user.id)
    context = _review_context(db, review, user)
    record_transcripts_read(db, user, review.contact_id, context["recordings"], clock.now())
    context["saved"] = saved
    return page(request, db, "qa/review.html", context)


def _answers_from(form: dict[str, list[str]], card: Scorecard) -> dict[str, str | None]:
    return {c.id: (_one(form, f"c_{c.id}") or None) for c in card.criteria()}


@router.post("/qa/reviews/{review_id}")
async def review_action(
    request: Request, review_id: int, caller: SupervisorCaller, db: DB, clock: ClockDep
) -> Response:
    form = await _form(request)
    user = caller.need_user()

    def run() -> Response:
        review = qa.get_review(db, review_id)
        card = qa.review_scorecard(db, review)
        action = _one(form, "action", "save")
        answers = _answers_from(form, card)
        notes = _one(form, "notes")
        now = clock.now()
        if action == "suggest":
            qa.save_draft(db, review_id, user.id, answers, notes=notes, now=now)
            qa.apply_suggestions(db, review_id, user.id)
            return RedirectResponse(f"/qa/reviews/{review_id}?saved=suggested", status_code=303)
        if action == "submit":
            try:
                qa.submit_review(db, review_id, user.id, answers, notes=notes, now=now)
            except InvalidInput as exc:
                qa.save_draft(db, review_id, user.id, _partial(card, answers), notes=notes, now=now)
                context = _review_context(db, qa.get_review(db, review_id), user)
                context["form_error"] = exc.message
                return page(request, db, "qa/review.html", context, status_code=422)
            if review.kind == "calibration":
                return RedirectResponse(f"/qa/calibration/{review.contact_id}", status_code=303)
            return RedirectResponse(f"/qa/reviews/{review_id}?saved=submitted", status_code=303)
        qa.save_draft(db, review_id, user.id, answers, notes=notes, now=now)
        return RedirectResponse(f"/qa/reviews/{review_id}?saved=draft", status_code=303)

    return await run_in_threadpool(run)


def _partial(card: Scorecard, answers: dict[str, str | None]) -> dict[str, str | None]:
    """The answers that are valid on their own, to keep them when a submit fails."""
    kept: dict[str, str | None] = {}
    for c in card.criteria():
        value = answers.get(c.id)
        allowed = {o.value for o in card.scales[c.scale]} | ({rules.NA} if c.allow_na else set())
        if value in allowed:
            kept[c.id] = value
    return kept


# --- calibration --------------------------------------------------------------------------


@router.get("/qa/calibration")
def calibrations_page(request: Request, caller: SupervisorCaller, db: DB) -> Response:
    return page(
        request,
        db,
        "qa/calibrations.html",
        {"sessions": qa.list_calibrations(db), "drift": qa.reviewer_drift_report(db)},
    )


@router.get("/qa/calibration/go")
def calibration_go(
    request: Request, caller: SupervisorCaller, contact_id: int | None = None
) -> Response:
    target = "/qa/calibration" if contact_id is None else f"/qa/calibration/{contact_id}"
    return RedirectResponse(target, status_code=303)


@router.get("/qa/calibration/{contact_id}")
def calibration_page(
    request: Request, contact_id: int, caller: SupervisorCaller, db: DB
) -> Response:
    user = caller.need_user()
    contact = contacts.get_contact(db, contact_id)
    mine = qa.review_by(db, contact_id, user.id)
    blind = mine is not None and mine.status == "draft"
    report = qa.calibration_report(db, contact_id)
    card = (
        qa.review_scorecard(db, qa.get_review(db, report.review_ids[0]))
        if report.review_ids
        else None
    )
    return page(
        request,
        db,
        "qa/calibration.html",
        {
            "contact": contact,
            "mine": mine,
            "blind": blind,
            "report": report,
            "card": card,
            "option_labels": _option_labels(card) if card else {},
            "drift": qa.reviewer_drift_report(db),
            "session": qa.calibration_of(db, contact_id),
        },
    )


@router.post("/qa/calibration/{contact_id}/join")
def calibration_join(
    request: Request, contact_id: int, caller: SupervisorCaller, db: DB, clock: ClockDep
) -> Response:
    user = caller.need_user()
    review = qa.calibrate(db, contact_id, user.id, now=clock.now())
    return RedirectResponse(f"/qa/reviews/{review.id}", status_code=303)


# --- disputes -----------------------------------------------------------------------------


def _disputes_context(db: Session) -> dict[str, Any]:
    rows = qa.list_disputes(db)
    cards = {r.review.id: qa.review_scorecard(db, r.review) for r in rows}
    return {
        "rows": sorted(rows, key=lambda r: (r.dispute.status != "open", -r.dispute.id)),
        "cards": cards,
        "option_labels": {rid: _option_labels(card) for rid, card in cards.items()},
        "decisions": ("accept", "partial", "reject"),
    }


@router.get("/qa/disputes")
def disputes_page(request: Request, caller: SupervisorCaller, db: DB) -> Response:
    return page(request, db, "qa/disputes.html", _disputes_context(db))


@router.post("/qa/disputes/{dispute_id}/decide")
async def decide(
    request: Request, dispute_id: int, caller: SupervisorCaller, db: DB, clock: ClockDep
) -> Response:
    form = await _form(request)
    user = caller.need_user()

    def run() -> Response:
        answers = {
            key[2:]: value[-1] for key, value in form.items() if key.startswith("c_") and value
        }
        qa.decide_dispute(
            db,
            dispute_id,
            user.id,
            _one(form, "decision"),
            now=clock.now(),
            answers={k: v for k, v in answers.items() if v},
            note=_one(form, "note"),
        )
        return RedirectResponse("/qa/disputes", status_code=303)

    return await run_in_threadpool(run)


# --- the agent's own reviews --------------------------------------------------------------


@router.get("/qa/mine")
def my_reviews(request: Request, caller: AgentCaller, db: DB) -> Response:
    user = caller.need_user()
    rows = qa.list_reviews(db, status="submitted", kind="review", agent_id=user.id)
    disputes = {d.review.id: d.dispute for d in qa.list_disputes(db, agent_id=user.id)}
    return page(request, db, "qa/mine.html", {"rows": rows, "disputes": disputes})


@router.get("/qa/mine/{review_id}")
def my_review(request: Request, review_id: int, caller: AgentCaller, db: DB) -> Response:
    user = caller.need_user()
    review = qa.get_review(db, review_id)
    if review.agent_id != user.id or review.status != "submitted" or review.kind != "review":
        raise NotFound(f"review {review_id} not found")
    card = qa.review_scorecard(db, review)
    disputes = [d for d in qa.list_disputes(db, agent_id=user.id) if d.review.id == review_id]
    return page(
        request,
        db,
        "qa/my_review.html",
        {
            "review": review,
            "card": card,
            "result": card.score(dict(review.answers)),
            "option_labels": _option_labels(card),
            "disputes": disputes,
            "open_dispute": any(d.dispute.status == "open" for d in disputes),
        },
    )


@router.post("/qa/mine/{review_id}/dispute")
async def dispute(
    request: Request, review_id: int, caller: AgentCaller, db: DB, clock: ClockDep
) -> Response:
    form = await _form(request)
    user = caller.need_user()

    def run() -> Response:
        qa.open_dispute(
            db,
            review_id,
            user.id,
            criteria=form.get("criteria", []),
            reason=_one(form, "reason"),
            now=clock.now(),
        )
        return RedirectResponse(f"/qa/mine/{review_id}", status_code=303)

    return await run_in_threadpool(run)


# --- the scorecard editor -----------------------------------------------------------------


def _editor(
    request: Request,
    db: Session,
    clock: Clock,
    *,
    text: str | None = None,
    problems: list[Any] | None = None,
    saved: str = "",
    status_code: int = 200,
) -> Response:
    current = qa.current_scorecard(db, now=clock.now())
    versions = qa.scorecard_versions(db)
    names = display_names(db, [v.created_by_id for v in versions])
    return page(
        request,
        db,
        "qa/scorecards.html",
        {
            "current": current,
            "card": qa.scorecard_of(current),
            "text": current.yaml_text if text is None else text,
            "problems": problems or [],
            "versions": versions,
            "names": names,
            "saved": saved,
        },
        status_code=status_code,
    )


@router.get("/qa/scorecards")
def scorecards_page(
    request: Request, caller: SupervisorCaller, db: DB, clock: ClockDep, saved: str = ""
) -> Response:
    return _editor(request, db, clock, saved=saved)


@router.post("/qa/scorecards")
async def scorecards_save(
    request: Request, caller: SupervisorCaller, db: DB, clock: ClockDep
) -> Response:
    form = await _form(request)
    user = caller.need_user()

    def run() -> Response:
        text = _one(form, "yaml").replace("\r\n", "\n")
        try:
            version = qa.save_scorecard(db, text, now=clock.now(), user_id=user.id)
        except YamlFileError as exc:
            return _editor(request, db, clock, text=text, problems=exc.problems, status_code=422)
        return RedirectResponse(f"/qa/scorecards?saved={version.version}", status_code=303)

    return await run_in_threadpool(run)
