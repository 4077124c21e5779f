"""Quality over HTTP (C4, C5): transcripts, reviews and calibration agreement."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from escucha.auth.api import DB, ClockDep, SupervisorCaller
from escucha.qa import reviews

router = APIRouter(prefix="/qa", tags=["qa"])


class TranscriptIn(BaseModel):
    text: str = Field(min_length=1, max_length=500_000)
    format: Literal["auto", "json", "text", "vtt"] = "auto"
    language: Literal["es", "en"] | None = None
    source: str = Field(default="api", max_length=40)


@router.put("/contacts/{contact_id}/transcript")
def put_transcript(
    contact_id: int, data: TranscriptIn, caller: SupervisorCaller, db: DB, clock: ClockDep
) -> dict[str, Any]:
    """Store the contact's transcript and run automatic QA on it."""
    row = reviews.store_transcript(
        db,
        contact_id,
        data.text,
        now=clock.now(),
        fmt=data.format,
        language=data.language,
        source=data.source,
    )
    return {
        "contact_id": contact_id,
        "format": row.format,
        "language": row.language,
        "auto_qa": row.auto_qa,
    }


@router.get("/reviews")
def get_reviews(
    caller: SupervisorCaller,
    db: DB,
    status: Literal["draft", "submitted"] | None = None,
    kind: Literal["review", "calibration"] | None = None,
    agent_id: int | None = None,
) -> list[dict[str, Any]]:
    rows = reviews.list_reviews(db, status=status, kind=kind, agent_id=agent_id)
    return [reviews.describe_review(r.review) for r in rows]


@router.get("/reviews/{review_id}")
def get_review(review_id: int, caller: SupervisorCaller, db: DB) -> dict[str, Any]:
    return reviews.describe_review(reviews.get_review(db, review_id))


@router.get("/calibration/{contact_id}")
def get_calibration(contact_id: int, caller: SupervisorCaller, db: DB) -> dict[str, Any]:
    """Agreement among the reviewers of a contact (Krippendorff's alpha)."""
    report = reviews.calibration_report(db, contact_id)
    return {
        "contact_id": contact_id,
        "reviewers": list(report.reviewer_ids),
        "review_ids": list(report.review_ids),
        "scores": list(report.scores),
        "alpha": report.alpha,
        "percent_agreement": report.percent_agreement,
        "score_spread": report.score_spread,
        "criteria": [
            {"criterion": c.criterion_id, "answers": list(c.answers), "agree": c.agree}
            for c in report.criteria
        ],
    }
