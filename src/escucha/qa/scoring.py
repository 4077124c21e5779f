"""The score formula of a QA review (:func:`score_review`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules


# --- Score formula --------------------------------------------------------------------------

Critical = Literal["none", "section", "review"]
NA = "na"


@dataclass(frozen=True)
class CriterionSpec:
    """A scorecard criterion as the score formula needs it.

    ``points`` maps each answer value to its points; ``pass_score`` is the criterion score
    (0-1) below which a critical criterion fails.
    """

    id: str
    section: str
    weight: float
    points: Mapping[str, float]
    allow_na: bool = False
    critical: Critical = "none"
    pass_score: float = 0.5


@dataclass(frozen=True)
class CriterionScore:
    """One criterion's answer and score (``None`` when N/A or not rated)."""

    id: str
    answer: str | None
    score: float | None
    failed: bool


@dataclass(frozen=True)
class SectionScore:
    """A section's weighted score in [0, 1] (``None`` when nothing in it was rated)."""

    id: str
    score: float | None
    rated_weight: float
    critical_failure: bool


@dataclass(frozen=True)
class ReviewScore:
    """The result of the score formula: ``score`` in [0, 100] (``None`` when nothing was
    rated), per-section and per-criterion detail, and the critical criteria that failed."""

    score: float | None
    passed: bool | None
    sections: tuple[SectionScore, ...]
    criteria: tuple[CriterionScore, ...]
    critical_failures: tuple[str, ...]


def criterion_score(spec: CriterionSpec, answer: str) -> float:
    """Points of ``answer`` rescaled to [0, 1]: ``(p(a) - min p) / (max p - min p)``."""
    if answer not in spec.points:
        allowed = ", ".join(spec.points)
        raise ValueError(f"{spec.id}: {answer!r} is not an answer of its scale ({allowed})")
    low, high = min(spec.points.values()), max(spec.points.values())
    if high == low:
        return 1.0
    return (spec.points[answer] - low) / (high - low)


def score_review(
    criteria: Sequence[CriterionSpec],
    answers: Mapping[str, str | None],
    *,
    section_weights: Mapping[str, float] | None = None,
    pass_mark: float = 80.0,
) -> ReviewScore:
    r"""Score a review.

    1. Criterion score :math:`s_c \in [0,1]` from :func:`criterion_score`; an answer of
       ``"na"`` (only where the criterion allows N/A) or a missing answer leaves the
       criterion out (not rated).
    2. Section score :math:`S = \sum_{c \text{ rated}} w_c s_c / \sum_{c \text{ rated}} w_c`;
       it is 0 if a criterion marked ``critical: section`` in it fails
       (:math:`s_c <` ``pass_score``).
    3. Review score :math:`100 \sum_s W_s S_s / \sum_s W_s` over sections with a rated
       criterion (:math:`W_s` from ``section_weights``, default 1); it is 0 if a criterion
       marked ``critical: review`` fails.
    4. Passed: score :math:`\ge` ``pass_mark`` and no critical failure.
    """
    weights = section_weights or {}
    known = {c.id for c in criteria}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise ValueError(f"answers for criteria not in the scorecard: {', '.join(unknown)}")
    scored: list[CriterionScore] = []
    failures: list[str] = []
    for spec in criteria:
        answer = answers.get(spec.id)
        if answer is None:
            scored.append(CriterionScore(spec.id, None, None, False))
            continue
        if answer == NA and NA not in spec.points:
            if not spec.allow_na:
                raise ValueError(f"{spec.id}: N/A is not allowed for this criterion")
            scored.append(CriterionScore(spec.id, NA, None, False))
            continue
        points = criterion_score(spec, answer)
        failed = spec.critical != "none" and points < spec.pass_score
        if failed:
            failures.append(spec.id)
        scored.append(CriterionScore(spec.id, answer, points, failed))
    by_id = {c.id: c for c in criteria}
    sections: list[SectionScore] = []
    order = list(dict.fromkeys(c.section for c in criteria))
    for section in order:
        members = [s for s in scored if by_id[s.id].section == section]
        rated = [s for s in members if s.score is not None]
        rated_weight = sum((by_id[s.id].weight for s in rated), 0.0)
        critical = any(s.failed and by_id[s.id].critical == "section" for s in members)
        value: float | None = None
        if rated_weight > 0:
            value = sum(by_id[s.id].weight * (s.score or 0.0) for s in rated) / rated_weight
            if critical:
                value = 0.0
        sections.append(SectionScore(section, value, rated_weight, critical))
    counted = [s for s in sections if s.score is not None]
    total_weight = sum(weights.get(s.id, 1.0) for s in counted)
    if not counted or total_weight <= 0:
        return ReviewScore(None, None, tuple(sections), tuple(scored), tuple(failures))
    score = 100.0 * sum(weights.get(s.id, 1.0) * (s.score or 0.0) for s in counted) / total_weight
    if any(by_id[f].critical == "review" for f in failures):
        score = 0.0
    passed = score >= pass_mark and not failures
    return ReviewScore(score, passed, tuple(sections), tuple(scored), tuple(failures))
