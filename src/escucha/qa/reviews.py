"""Quality reviews on the database (C4, C5): scorecard versions, transcripts with their
automatic QA, sampling, reviews, disputes, calibration and per-agent QA figures.

The score formula is :func:`escucha.qa.rules.score_review` (documented in
``docs/guides/quality.md``). Calibration agreement is Krippendorff's alpha
(:func:`escucha.numerics.agreement.krippendorff_alpha`) over the criteria of one contact,
with each answer coded as its criterion score in [0, 1] (interval level); reviewer drift is
:func:`escucha.numerics.agreement.reviewer_drift` over review scores of contacts that several
reviewers scored.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.contacts.models import Contact, ContactEvent
from escucha.contacts.service import agent_of
from escucha.errors import Conflict, Forbidden, InvalidInput, NotFound
from escucha.numerics import agreement
from escucha.org import models as org
from escucha.qa import rules, service
from escucha.qa.models import (
    DISPUTE_DECISIONS,
    CalibrationSession,
    Dispute,
    Review,
    ScorecardVersion,
    Transcript,
)
from escucha.qa.schemas import Scorecard, TranscriptQA, load_scorecard_text
from escucha.surveys.models import Survey
from escucha.tickets.models import Ticket, TicketContact

# --- scorecards ---------------------------------------------------------------------------


def scorecard_of(version: ScorecardVersion) -> Scorecard:
    """The parsed scorecard of a stored version."""
    return Scorecard.model_validate(version.parsed)


def _store_version(
    session: Session, card: Scorecard, text: str, *, now: datetime, user_id: int | None
) -> ScorecardVersion:
    latest = session.scalar(
        select(func.max(ScorecardVersion.version)).where(ScorecardVersion.scorecard_key == card.id)
    )
    number = (latest or 0) + 1
    row = ScorecardVersion(
        scorecard_key=card.id,
        version=number,
        yaml_text=text,
        parsed=card.model_copy(update={"version": number}).model_dump(mode="json"),
        created_at=now,
        created_by_id=user_id,
    )
    session.add(row)
    session.flush()
    return row


def current_scorecard(session: Session, *, now: datetime) -> ScorecardVersion:
    """The scorecard new reviews use: the version saved last (the shipped default at first)."""
    row = session.scalar(select(ScorecardVersion).order_by(ScorecardVersion.id.desc()).limit(1))
    if row is not None:
        return row
    text = service.DEFAULT_SCORECARD.read_text(encoding="utf-8")
    return _store_version(session, service.default_scorecard(), text, now=now, user_id=None)


def scorecard_versions(session: Session) -> list[ScorecardVersion]:
    return list(session.scalars(select(ScorecardVersion).order_by(ScorecardVersion.id.desc())))


def save_scorecard(
    session: Session, yaml_text: str, *, now: datetime, user_id: int | None
) -> ScorecardVersion:
    """Validate edited YAML and save it as a new version.

    Raises :class:`escucha.yamlio.YamlFileError` (422) listing every problem with its line.
    Saving the same text as the current version adds nothing.
    """
    card = load_scorecard_text(yaml_text, "scorecard.yaml")
    current = current_scorecard(session, now=now)
    if current.yaml_text == yaml_text:
        return current
    return _store_version(session, card, yaml_text, now=now, user_id=user_id)


# --- transcripts --------------------------------------------------------------------------


def transcript_of(session: Session, contact_id: int) -> Transcript | None:
    return session.scalar(select(Transcript).where(Transcript.contact_id == contact_id))


def store_transcript(
    session: Session,
    contact_id: int,
    text: str,
    *,
    now: datetime,
    fmt: str = "auto",
    language: str | None = None,
    source: str = "upload",
    extra_findings: dict[str, rules.Finding] | None = None,
) -> Transcript:
    """Keep the contact's transcript (replacing an earlier one) and run automatic QA on it.

    ``extra_findings``: what detectors that hear the recording found (see
    :func:`escucha.qa.service.score_transcript`)."""
    if session.get(Contact, contact_id) is None:
        raise NotFound(f"contact {contact_id} not found")
    if fmt not in ("auto", *rules.FORMATS):
        raise InvalidInput(f"format: one of auto, {', '.join(rules.FORMATS)}")
    if language is not None and language not in rules.LANGS:
        raise InvalidInput(f"language: one of {', '.join(rules.LANGS)}")
    parsed = service.parse_transcript_text(text, fmt, f"contact {contact_id} transcript")  # type: ignore[arg-type]
    card = scorecard_of(current_scorecard(session, now=now))
    result = service.score_transcript(
        parsed, lang=language, scorecard=card, extra_findings=extra_findings
    )
    row = transcript_of(session, contact_id)
    if row is None:
        row = Transcript(contact_id=contact_id, created_at=now)
        session.add(row)
    row.format = rules.detect_format(text) if fmt == "auto" else fmt
    row.language = language or result.lang
    row.raw_text = text
    row.source = source
    row.auto_qa = result.model_dump(mode="json")
    row.analysed_at = now
    session.flush()
    return row


@dataclass(frozen=True)
class TurnView:
    index: int
    speaker: str
    text: str
    start_s: float | None
    end_s: float | None


def transcript_turns(row: Transcript) -> list[TurnView]:
    """The turns of a stored transcript, numbered as the automatic QA evidence counts them."""
    parsed = service.parse_transcript_text(row.raw_text, row.format)  # type: ignore[arg-type]
    return [TurnView(i, t.speaker, t.text, t.start_s, t.end_s) for i, t in enumerate(parsed.turns)]


def auto_qa(row: Transcript | None) -> TranscriptQA | None:
    if row is None or not row.auto_qa:
        return None
    return TranscriptQA.model_validate(row.auto_qa)


def suggestions(card: Scorecard, qa: TranscriptQA | None) -> dict[str, str | None]:
    """The answers automatic QA suggests for the criteria that have a detector."""
    if qa is None:
        return {}
    out: dict[str, str | None] = {}
    for criterion in card.criteria():
        if criterion.detector and criterion.detector in qa.criteria:
            finding = qa.criteria[criterion.detector]
            out[criterion.id] = card.answer_for_finding(criterion.id, finding.met)
    return out


# --- the contact's timeline ---------------------------------------------------------------


@dataclass(frozen=True)
class TimelineItem:
    """One event of a contact, with seconds since it arrived; holds carry their length and
    whether the agent announced them."""

    at: datetime
    offset_s: float
    event: str
    queue: str | None
    agent_id: int | None
    data: dict[str, Any]
    hold_s: float | None = None
    announced: bool | None = None


def contact_timeline(session: Session, contact_id: int) -> list[TimelineItem]:
    events = list(
        session.scalars(
            select(ContactEvent)
            .where(ContactEvent.contact_id == contact_id)
            .order_by(ContactEvent.at, ContactEvent.id)
        )
    )
    if not events:
        return []
    start = events[0].at
    out: list[TimelineItem] = []
    for i, ev in enumerate(events):
        hold_s: float | None = None
        announced: bool | None = None
        if ev.event == "hold_started":
            announced = bool(ev.data.get("announced", False))
            end = next((e for e in events[i + 1 :] if e.event == "hold_ended"), None)
            if end is not None:
                hold_s = (end.at - ev.at).total_seconds()
        out.append(
            TimelineItem(
                at=ev.at,
                offset_s=(ev.at - start).total_seconds(),
                event=ev.event,
                queue=ev.queue,
                agent_id=ev.agent_id,
                data=dict(ev.data or {}),
                hold_s=hold_s,
                announced=announced,
            )
        )
    return out


@dataclass(frozen=True)
class HoldSummary:
    holds: int
    unannounced: int
    total_s: float
    longest_s: float


def hold_summary(timeline: Sequence[TimelineItem]) -> HoldSummary:
    holds = [t for t in timeline if t.event == "hold_started"]
    lengths = [t.hold_s or 0.0 for t in holds]
    return HoldSummary(
        holds=len(holds),
        unannounced=sum(1 for t in holds if not t.announced),
        total_s=sum(lengths),
        longest_s=max(lengths, default=0.0),
    )


# --- sampling -----------------------------------------------------------------------------


def _complaint_contacts(session: Session, ids: Sequence[int]) -> set[int]:
    """Contacts that belong to a complaint: a complaint ticket opened from them or linked to
    them, or a queue of a team that handles complaints."""
    found: set[int] = set()
    rows = session.execute(
        select(Contact.id)
        .join(org.Queue, org.Queue.name == Contact.queue)
        .join(org.Team, org.Team.id == org.Queue.team_id)
        .where(Contact.id.in_(ids), org.Team.handles_complaints.is_(True))
    ).scalars()
    found.update(rows)
    origins = session.scalars(
        select(Ticket.origin_contact_id).where(
            Ticket.kind == "complaint", Ticket.origin_contact_id.in_(ids)
        )
    )
    found.update(i for i in origins if i is not None)
    found.update(
        session.scalars(
            select(TicketContact.contact_id)
            .join(Ticket, Ticket.id == TicketContact.ticket_id)
            .where(Ticket.kind == "complaint", TicketContact.contact_id.in_(ids))
        )
    )
    return found


def sampling_candidates(
    session: Session, *, since: datetime, until: datetime, queue: str | None = None
) -> list[rules.Candidate]:
    """Contacts an agent handled that ended in ``[since, until)`` and have no review yet."""
    reviewed = select(Review.contact_id).where(Review.kind == "review")
    stmt = select(Contact.id, Contact.agent_id).where(
        Contact.state == "ended",
        Contact.agent_id.is_not(None),
        Contact.ended_at >= since,
        Contact.ended_at < until,
        Contact.id.not_in(reviewed),
    )
    if queue:
        stmt = stmt.where(Contact.queue == queue)
    rows = session.execute(stmt.order_by(Contact.id)).all()
    ids = [r[0] for r in rows]
    if not ids:
        return []
    longest: dict[int, float] = defaultdict(float)
    for contact_id, data in session.execute(
        select(ContactEvent.contact_id, ContactEvent.data).where(
            ContactEvent.contact_id.in_(ids), ContactEvent.event == "hold_ended"
        )
    ):
        longest[contact_id] = max(longest[contact_id], float((data or {}).get("hold_s", 0.0)))
    scores: dict[int, float] = {}
    for survey in session.scalars(
        select(Survey).where(Survey.contact_id.in_(ids), Survey.responded_at.is_not(None))
    ):
        values = [
            rules.normalised_survey_score(kind, value)  # type: ignore[arg-type]
            for kind, value in (("csat", survey.csat), ("ces", survey.ces), ("nps", survey.nps))
            if value is not None
        ]
        if values:
            scores[survey.contact_id] = min(values)
    complaints = _complaint_contacts(session, ids)
    return [
        rules.Candidate(
            contact_id=str(contact_id),
            agent=str(agent_id),
            is_complaint=contact_id in complaints,
            longest_hold_s=longest.get(contact_id, 0.0),
            survey_score=scores.get(contact_id),
        )
        for contact_id, agent_id in rows
    ]


def sample_for_review(
    session: Session,
    strategy: str,
    n: int,
    *,
    reviewer_id: int,
    since: datetime,
    until: datetime,
    now: datetime,
    seed: int | None = None,
    queue: str | None = None,
) -> list[Review]:
    """Choose contacts with a sampling strategy and open a draft review of each for the
    reviewer. ``seed`` reproduces a random sample."""
    if strategy not in rules.STRATEGIES:
        raise InvalidInput(f"strategy: one of {', '.join(rules.STRATEGIES)}")
    if not 0 <= n <= 500:
        raise InvalidInput("n: from 0 to 500")
    candidates = [
        c
        for c in sampling_candidates(session, since=since, until=until, queue=queue)
        if c.agent != str(reviewer_id)  # nobody reviews their own contacts
    ]
    chosen = rules.sample(candidates, strategy, n, np.random.default_rng(seed))
    return [
        start_review(session, int(c.contact_id), reviewer_id, now=now, sample=strategy)
        for c in chosen
    ]


# --- reviews ------------------------------------------------------------------------------


def get_review(session: Session, review_id: int) -> Review:
    review = session.get(Review, review_id)
    if review is None:
        raise NotFound(f"review {review_id} not found")
    return review


def review_scorecard(session: Session, review: Review) -> Scorecard:
    version = session.get(ScorecardVersion, review.scorecard_version_id)
    if version is None:  # pragma: no cover - foreign key
        raise NotFound("scorecard version not found")
    return scorecard_of(version)


def _reviews_of(session: Session, contact_id: int, reviewer_id: int) -> list[Review]:
    return list(
        session.scalars(
            select(Review)
            .where(Review.contact_id == contact_id, Review.reviewer_id == reviewer_id)
            .order_by(Review.id)
        )
    )


def review_by(session: Session, contact_id: int, reviewer_id: int) -> Review | None:
    """The reviewer's (first) review of the contact, if they started one."""
    return next(iter(_reviews_of(session, contact_id, reviewer_id)), None)


def check_may_see(session: Session, review: Review, user_id: int) -> None:
    """Calibration is blind: while you score a contact you cannot see others' reviews of it."""
    if review.reviewer_id == user_id:
        return
    own_draft = session.scalar(
        select(Review.id).where(
            Review.contact_id == review.contact_id,
            Review.reviewer_id == user_id,
            Review.status == "draft",
        )
    )
    if own_draft is not None:
        raise Forbidden("finish your own review of this contact first (calibration is blind)")


def start_review(
    session: Session,
    contact_id: int,
    reviewer_id: int,
    *,
    now: datetime,
    kind: str = "review",
    sample: str | None = None,
    calibration_id: int | None = None,
) -> Review:
    """The reviewer's review of the contact: the one already started, or a new draft on the
    current scorecard with the automatic QA suggestions attached."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} not found")
    mine = _reviews_of(session, contact_id, reviewer_id)
    if mine:
        return mine[0]
    version = current_scorecard(session, now=now)
    card = scorecard_of(version)
    agent_id = agent_of(session, contact, events=("answered",))
    if agent_id == reviewer_id:
        raise Forbidden("nobody reviews their own contacts")
    review = Review(
        contact_id=contact_id,
        reviewer_id=reviewer_id,
        agent_id=agent_id,
        scorecard_version_id=version.id,
        kind=kind,
        calibration_id=calibration_id,
        sample=sample,
        status="draft",
        answers={},
        suggested=suggestions(card, auto_qa(transcript_of(session, contact_id))),
        notes="",
        critical_failure=False,
        critical_failures=[],
        created_at=now,
    )
    session.add(review)
    session.flush()
    return review


def _clean_answers(card: Scorecard, answers: dict[str, str | None]) -> dict[str, str | None]:
    """Check answers against the scorecard; empty strings mean "not answered yet"."""
    out: dict[str, str | None] = {}
    ids = {c.id for c in card.criteria()}
    unknown = sorted(set(answers) - ids)
    if unknown:
        raise InvalidInput(f"answers for criteria not in the scorecard: {', '.join(unknown)}")
    for criterion in card.criteria():
        value = (answers.get(criterion.id) or "").strip()
        if not value:
            continue
        allowed = [o.value for o in card.scales[criterion.scale]]
        if value == rules.NA:
            if not criterion.allow_na:
                raise InvalidInput(f"{criterion.id}: N/A is not allowed for this criterion")
        elif value not in allowed:
            raise InvalidInput(f"{criterion.id}: one of {', '.join(allowed)}")
        out[criterion.id] = value
    return out


def _own_draft(session: Session, review_id: int, reviewer_id: int) -> Review:
    review = get_review(session, review_id)
    if review.reviewer_id != reviewer_id:
        raise Forbidden("only the reviewer can change this review")
    if review.status != "draft":
        raise Conflict("the review was submitted; changes go through a dispute")
    return review


def save_draft(
    session: Session,
    review_id: int,
    reviewer_id: int,
    answers: dict[str, str | None],
    *,
    notes: str = "",
    now: datetime,
) -> Review:
    """Keep answers given so far (any may be missing)."""
    review = _own_draft(session, review_id, reviewer_id)
    review.answers = _clean_answers(review_scorecard(session, review), answers)
    review.notes = notes.strip()
    session.flush()
    return review


def apply_suggestions(session: Session, review_id: int, reviewer_id: int) -> Review:
    """Fill the unanswered criteria with the automatic QA suggestions (the reviewer then
    checks them before submitting)."""
    review = _own_draft(session, review_id, reviewer_id)
    merged = dict(review.answers)
    for criterion, value in review.suggested.items():
        if value and not merged.get(criterion):
            merged[criterion] = value
    review.answers = merged
    session.flush()
    return review


def _apply_score(review: Review, card: Scorecard) -> None:
    result = card.score(dict(review.answers))
    review.score = None if result.score is None else round(result.score, 2)
    review.passed = result.passed
    review.critical_failures = list(result.critical_failures)
    review.critical_failure = bool(result.critical_failures)


def submit_review(
    session: Session,
    review_id: int,
    reviewer_id: int,
    answers: dict[str, str | None],
    *,
    notes: str = "",
    now: datetime,
) -> Review:
    """Submit a review: every criterion must be answered (N/A where allowed); the score
    formula gives the score, pass and critical failures."""
    review = _own_draft(session, review_id, reviewer_id)
    card = review_scorecard(session, review)
    cleaned = _clean_answers(card, answers)
    missing = [c.id for c in card.criteria() if c.id not in cleaned]
    if missing:
        raise InvalidInput(f"answer every criterion; missing: {', '.join(missing)}")
    review.answers = cleaned
    review.notes = notes.strip()
    _apply_score(review, card)
    review.status = "submitted"
    review.submitted_at = now
    session.flush()
    return review


@dataclass(frozen=True)
class ReviewRow:
    review: Review
    contact: Contact
    agent: str
    reviewer: str
    open_dispute: bool


def _names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(
        session.execute(select(User.id, User.display_name).where(User.id.in_(wanted))).all()
    )


def list_reviews(
    session: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    reviewer_id: int | None = None,
    agent_id: int | None = None,
    contact_id: int | None = None,
    limit: int = 200,
) -> list[ReviewRow]:
    stmt = select(Review, Contact).join(Contact, Contact.id == Review.contact_id)
    if contact_id is not None:
        stmt = stmt.where(Review.contact_id == contact_id)
    if status:
        stmt = stmt.where(Review.status == status)
    if kind:
        stmt = stmt.where(Review.kind == kind)
    if reviewer_id is not None:
        stmt = stmt.where(Review.reviewer_id == reviewer_id)
    if agent_id is not None:
        stmt = stmt.where(Review.agent_id == agent_id)
    rows = session.execute(stmt.order_by(Review.id.desc()).limit(limit)).all()
    names = _names(session, [r.agent_id for r, _ in rows] + [r.reviewer_id for r, _ in rows])
    disputed = set(
        session.scalars(
            select(Dispute.review_id).where(
                Dispute.status == "open", Dispute.review_id.in_([r.id for r, _ in rows])
            )
        )
    )
    return [
        ReviewRow(
            review=r,
            contact=c,
            agent=names.get(r.agent_id or 0, "-"),
            reviewer=names.get(r.reviewer_id, "-"),
            open_dispute=r.id in disputed,
        )
        for r, c in rows
    ]


def describe_review(review: Review) -> dict[str, Any]:
    return {
        "id": review.id,
        "contact_id": review.contact_id,
        "reviewer_id": review.reviewer_id,
        "agent_id": review.agent_id,
        "scorecard_version_id": review.scorecard_version_id,
        "kind": review.kind,
        "status": review.status,
        "answers": dict(review.answers),
        "suggested": dict(review.suggested),
        "score": review.score,
        "passed": review.passed,
        "critical_failures": list(review.critical_failures),
        "submitted_at": review.submitted_at.isoformat() if review.submitted_at else None,
    }


# --- disputes -----------------------------------------------------------------------------


def open_dispute(
    session: Session,
    review_id: int,
    agent_id: int,
    *,
    criteria: Sequence[str],
    reason: str,
    now: datetime,
) -> Dispute:
    """The reviewed agent objects to some answers of a submitted review."""
    review = get_review(session, review_id)
    if review.agent_id != agent_id:
        raise Forbidden("only the reviewed agent can dispute a review")
    if review.status != "submitted" or review.kind != "review":
        raise Conflict("only submitted reviews can be disputed")
    card = review_scorecard(session, review)
    ids = [c.id for c in card.criteria()]
    chosen = [c for c in ids if c in set(criteria)]
    unknown = sorted(set(criteria) - set(ids))
    if unknown:
        raise InvalidInput(f"criteria not in the scorecard: {', '.join(unknown)}")
    if not chosen:
        raise InvalidInput("criteria: choose the answers you disagree with")
    if not reason.strip():
        raise InvalidInput("reason: say why the answers are wrong")
    if session.scalar(
        select(Dispute.id).where(Dispute.review_id == review_id, Dispute.status == "open")
    ):
        raise Conflict("this review already has an open dispute")
    dispute = Dispute(
        review_id=review_id,
        agent_id=agent_id,
        criteria=chosen,
        reason=reason.strip(),
        status="open",
        decision_note="",
        score_before=review.score,
        changes={},
        created_at=now,
    )
    session.add(dispute)
    session.flush()
    return dispute


def decide_dispute(
    session: Session,
    dispute_id: int,
    decided_by: int,
    decision: str,
    *,
    now: datetime,
    answers: dict[str, str] | None = None,
    note: str = "",
) -> Dispute:
    """Decide a dispute and re-score the review.

    * ``accept``: every disputed criterion gets its best answer.
    * ``partial``: ``answers`` gives new answers for some of the disputed criteria (at least
      one must change).
    * ``reject``: nothing changes; ``note`` must explain why.
    """
    dispute = session.get(Dispute, dispute_id)
    if dispute is None:
        raise NotFound(f"dispute {dispute_id} not found")
    if dispute.status != "open":
        raise Conflict("the dispute was decided already")
    if decision not in DISPUTE_DECISIONS:
        raise InvalidInput(f"decision: one of {', '.join(DISPUTE_DECISIONS)}")
    if decided_by == dispute.agent_id:
        raise Forbidden("an agent cannot decide their own dispute")
    review = get_review(session, dispute.review_id)
    card = review_scorecard(session, review)
    new: dict[str, str] = {}
    if decision == "accept":
        for criterion_id in dispute.criteria:
            c = card.criterion(criterion_id)
            best = max(card.scales[c.scale], key=lambda o: o.points)
            new[criterion_id] = best.value
    elif decision == "partial":
        given = {k: v for k, v in (answers or {}).items() if v}
        outside = sorted(set(given) - set(dispute.criteria))
        if outside:
            raise InvalidInput(f"only disputed criteria can change: {', '.join(outside)}")
        checked = _clean_answers(card, dict(given))
        new = {k: v for k, v in checked.items() if v is not None}
        if not any(review.answers.get(k) != v for k, v in new.items()):
            raise InvalidInput("a partial decision changes at least one answer")
    elif not note.strip():
        raise InvalidInput("note: tell the agent why the dispute is rejected")
    changes = {k: [review.answers.get(k), v] for k, v in new.items() if review.answers.get(k) != v}
    if changes:
        review.answers = {**review.answers, **new}
        _apply_score(review, card)
    dispute.status = "decided"
    dispute.decision = decision
    dispute.decision_note = note.strip()
    dispute.decided_by_id = decided_by
    dispute.decided_at = now
    dispute.changes = changes
    dispute.score_after = review.score
    session.flush()
    return dispute


@dataclass(frozen=True)
class DisputeRow:
    dispute: Dispute
    review: Review
    agent: str
    reviewer: str
    decided_by: str


def list_disputes(
    session: Session, *, status: str | None = None, agent_id: int | None = None
) -> list[DisputeRow]:
    stmt = select(Dispute, Review).join(Review, Review.id == Dispute.review_id)
    if status:
        stmt = stmt.where(Dispute.status == status)
    if agent_id is not None:
        stmt = stmt.where(Dispute.agent_id == agent_id)
    rows = session.execute(stmt.order_by(Dispute.id.desc()).limit(500)).all()
    names = _names(
        session,
        [d.agent_id for d, _ in rows]
        + [r.reviewer_id for _, r in rows]
        + [d.decided_by_id for d, _ in rows],
    )
    return [
        DisputeRow(
            d,
            r,
            names.get(d.agent_id, "-"),
            names.get(r.reviewer_id, "-"),
            names.get(d.decided_by_id or 0, ""),
        )
        for d, r in rows
    ]


# --- calibration --------------------------------------------------------------------------


def calibration_of(session: Session, contact_id: int) -> CalibrationSession | None:
    return session.scalar(
        select(CalibrationSession).where(CalibrationSession.contact_id == contact_id)
    )


def calibrate(session: Session, contact_id: int, reviewer_id: int, *, now: datetime) -> Review:
    """The reviewer's blind calibration review of a contact (opening the session if needed).

    A reviewer who already reviewed the contact takes part with that review.
    """
    mine = _reviews_of(session, contact_id, reviewer_id)
    cal = calibration_of(session, contact_id)
    if cal is None:
        cal = CalibrationSession(
            contact_id=contact_id, reviewer_ids=[], created_by_id=reviewer_id, created_at=now
        )
        session.add(cal)
        session.flush()
    if reviewer_id not in cal.reviewer_ids:
        cal.reviewer_ids = [*cal.reviewer_ids, reviewer_id]
    if mine:
        return mine[0]
    return start_review(
        session, contact_id, reviewer_id, now=now, kind="calibration", calibration_id=cal.id
    )


@dataclass(frozen=True)
class CriterionAgreement:
    """Each reviewer's answer to one criterion (``None`` not answered) and whether they agree."""

    criterion_id: str
    label: dict[str, str]
    answers: tuple[str | None, ...]
    agree: bool


@dataclass(frozen=True)
class CalibrationReport:
    """Agreement on one contact among the reviewers who submitted a review of it.

    ``alpha`` is Krippendorff's alpha (interval level, criterion scores in [0, 1]); ``None``
    when undefined (fewer than two reviewers, or no variation at all).
    ``percent_agreement`` is the share of criteria answered by at least two reviewers on which
    every reviewer gave the same answer.
    """

    contact_id: int
    reviewer_ids: tuple[int, ...]
    reviewer_names: tuple[str, ...]
    review_ids: tuple[int, ...]
    scores: tuple[float | None, ...]
    alpha: float | None
    percent_agreement: float | None
    score_spread: float | None
    criteria: tuple[CriterionAgreement, ...]


def submitted_reviews_of_contact(session: Session, contact_id: int) -> list[Review]:
    """The latest submitted review of each reviewer for the contact (either kind)."""
    rows = session.scalars(
        select(Review)
        .where(Review.contact_id == contact_id, Review.status == "submitted")
        .order_by(Review.id)
    ).all()
    latest: dict[int, Review] = {}
    for r in rows:
        latest[r.reviewer_id] = r
    return sorted(latest.values(), key=lambda r: r.submitted_at or r.created_at)


def _coded(card: Scorecard, criterion_id: str, answer: str | None) -> float:
    if answer is None or answer == rules.NA:
        return math.nan
    spec = next(s for s in card.specs() if s.id == criterion_id)
    try:
        return rules.criterion_score(spec, answer)
    except ValueError:
        return math.nan


def calibration_report(session: Session, contact_id: int) -> CalibrationReport:
    reviews = submitted_reviews_of_contact(session, contact_id)
    names = _names(session, [r.reviewer_id for r in reviews])
    if not reviews:
        return CalibrationReport(contact_id, (), (), (), (), None, None, None, ())
    card = review_scorecard(session, reviews[0])
    rows: list[CriterionAgreement] = []
    matrix = np.full((len(reviews), len(card.criteria())), np.nan)
    pairable = 0
    agreeing = 0
    for j, criterion in enumerate(card.criteria()):
        answers = tuple(r.answers.get(criterion.id) for r in reviews)
        for i, a in enumerate(answers):
            matrix[i, j] = _coded(card, criterion.id, a)
        given = [a for a in answers if a is not None]
        agree = len(set(given)) <= 1
        if len(given) >= 2:
            pairable += 1
            agreeing += int(agree)
        rows.append(CriterionAgreement(criterion.id, criterion.label.model_dump(), answers, agree))
    alpha: float | None = None
    if len(reviews) >= 2:
        value = agreement.krippendorff_alpha(matrix, "interval")
        alpha = None if math.isnan(value) else value
    scores = tuple(r.score for r in reviews)
    known = [s for s in scores if s is not None]
    return CalibrationReport(
        contact_id=contact_id,
        reviewer_ids=tuple(r.reviewer_id for r in reviews),
        reviewer_names=tuple(names.get(r.reviewer_id, "-") for r in reviews),
        review_ids=tuple(r.id for r in reviews),
        scores=scores,
        alpha=alpha,
        percent_agreement=agreeing / pairable if pairable else None,
        score_spread=max(known) - min(known) if len(known) >= 2 else None,
        criteria=tuple(rows),
    )


@dataclass(frozen=True)
class CalibrationRow:
    contact_id: int
    created_at: datetime
    reviewers: int
    alpha: float | None


def list_calibrations(session: Session) -> list[CalibrationRow]:
    sessions = session.scalars(
        select(CalibrationSession).order_by(CalibrationSession.id.desc()).limit(200)
    ).all()
    out = []
    for cal in sessions:
        report = calibration_report(session, cal.contact_id)
        out.append(
            CalibrationRow(cal.contact_id, cal.created_at, len(report.review_ids), report.alpha)
        )
    return out


@dataclass(frozen=True)
class DriftRow:
    """A reviewer's bias against the others (score points; + lenient, - strict) on contacts
    several reviewers scored, and its trend per week."""

    reviewer_id: int
    name: str
    contacts: int
    mean_deviation: float | None
    mean_abs_deviation: float | None
    slope_per_week: float | None


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else value


def reviewer_drift_report(session: Session, *, since: datetime | None = None) -> list[DriftRow]:
    stmt = select(Review).where(Review.status == "submitted", Review.score.is_not(None))
    if since is not None:
        stmt = stmt.where(Review.submitted_at >= since)
    by_contact: dict[int, dict[int, Review]] = defaultdict(dict)
    for r in session.scalars(stmt.order_by(Review.id)):
        by_contact[r.contact_id][r.reviewer_id] = r
    shared = {c: rs for c, rs in by_contact.items() if len(rs) >= 2}
    if not shared:
        return []
    reviewers = sorted({rid for rs in shared.values() for rid in rs})
    contacts = sorted(shared)
    matrix = np.full((len(reviewers), len(contacts)), np.nan)
    when: list[float] = []
    for j, contact_id in enumerate(contacts):
        latest = max((r.submitted_at or r.created_at) for r in shared[contact_id].values())
        when.append(latest.timestamp())
        for i, rid in enumerate(reviewers):
            given = shared[contact_id].get(rid)
            if given is not None and given.score is not None:
                matrix[i, j] = given.score
    first = min(when)
    periods = [(t - first) / timedelta(days=7).total_seconds() for t in when]
    names = _names(session, reviewers)
    drift = agreement.reviewer_drift(matrix, [str(r) for r in reviewers], periods)
    return [
        DriftRow(
            reviewer_id=rid,
            name=names.get(rid, "-"),
            contacts=d.n_units,
            mean_deviation=_none_if_nan(d.mean_deviation),
            mean_abs_deviation=_none_if_nan(d.mean_abs_deviation),
            slope_per_week=_none_if_nan(d.slope_per_period),
        )
        for rid, d in zip(reviewers, drift, strict=True)
    ]


# --- per-agent QA figures (reports) -------------------------------------------------------


def week_start(moment: datetime) -> str:
    day = moment.date()
    return (day - timedelta(days=day.weekday())).isoformat()


@dataclass(frozen=True)
class AgentQa:
    """An agent's submitted reviews (kind ``review``) in a period.

    ``weekly`` maps the Monday of each week to (reviews, mean score); ``criteria`` maps each
    criterion to (times rated, mean criterion score in [0, 1]).
    """

    agent_id: int
    reviews: int
    mean_score: float | None
    passed: int
    weekly: dict[str, tuple[int, float | None]]
    criteria: dict[str, tuple[int, float]]


def agent_qa(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    agent_ids: Iterable[int] | None = None,
) -> dict[int, AgentQa]:
    stmt = select(Review).where(
        Review.status == "submitted",
        Review.kind == "review",
        Review.agent_id.is_not(None),
        Review.submitted_at >= since,
        Review.submitted_at < until,
    )
    if agent_ids is not None:
        stmt = stmt.where(Review.agent_id.in_(list(agent_ids)))
    reviews = session.scalars(stmt.order_by(Review.submitted_at)).all()
    cards: dict[int, Scorecard] = {}
    by_agent: dict[int, list[Review]] = defaultdict(list)
    for r in reviews:
        by_agent[r.agent_id or 0].append(r)
        if r.scorecard_version_id not in cards:
            cards[r.scorecard_version_id] = review_scorecard(session, r)
    out: dict[int, AgentQa] = {}
    for agent_id, rows in by_agent.items():
        scores = [r.score for r in rows if r.score is not None]
        weekly_scores: dict[str, list[float]] = defaultdict(list)
        weekly_n: dict[str, int] = defaultdict(int)
        crit: dict[str, list[float]] = defaultdict(list)
        for r in rows:
            week = week_start(r.submitted_at or r.created_at)
            weekly_n[week] += 1
            if r.score is not None:
                weekly_scores[week].append(r.score)
            card = cards[r.scorecard_version_id]
            for c in card.criteria():
                value = _coded(card, c.id, r.answers.get(c.id))
                if not math.isnan(value):
                    crit[c.id].append(value)
        out[agent_id] = AgentQa(
            agent_id=agent_id,
            reviews=len(rows),
            mean_score=sum(scores) / len(scores) if scores else None,
            passed=sum(1 for r in rows if r.passed),
            weekly={
                w: (
                    weekly_n[w],
                    sum(weekly_scores[w]) / len(weekly_scores[w]) if weekly_scores[w] else None,
                )
                for w in sorted(weekly_n)
            },
            criteria={c: (len(v), sum(v) / len(v)) for c, v in crit.items()},
        )
    return out
