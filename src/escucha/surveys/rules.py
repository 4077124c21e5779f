"""Survey measures, the word-of-mouth risk rule and follow-ups (M1, M2, M4). Pure: standard
library only.

Standard definitions used throughout escucha:

* **CSAT** (customer satisfaction), answers 1-5: the share of 4 and 5 ("satisfied").
* **CES** (customer effort score), answers 1-7 to "the company made it easy to handle my
  issue": the mean, and the share of 5-7 ("easy").
* **NPS** (net promoter score), answers 0-10: percentage of promoters (9-10) minus percentage
  of detractors (0-6), from -100 to +100. Reichheld, F. F. (2003). The one number you need to
  grow. *Harvard Business Review*, 81(12), 46-54.
* **Response rate**: answered surveys over surveys sent.

Shares are fractions in [0, 1]; NPS is in points from -100 to 100. Every function returns
``None`` for a measure that has no answers rather than a misleading zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from escucha.tickets.rules import clean_text

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules


def _checked(scores: Iterable[int], low: int, high: int, name: str) -> list[int]:
    out = []
    for i, score in enumerate(scores):
        if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
            raise ValueError(f"{name} answer #{i} must be a whole number {low}-{high}: {score!r}")
        out.append(score)
    return out


@dataclass(frozen=True)
class CsatSummary:
    """CSAT of a set of 1-5 answers: ``satisfied_share`` is the share of 4 and 5."""

    n: int
    mean: float | None
    satisfied: int
    satisfied_share: float | None


def csat(scores: Iterable[int]) -> CsatSummary:
    """Customer satisfaction: share of answers 4-5 on a 1-5 scale.

    >>> csat([5, 4, 3, 1]).satisfied_share
    0.5
    """
    values = _checked(scores, 1, 5, "CSAT")
    n = len(values)
    satisfied = sum(1 for v in values if v >= 4)
    return CsatSummary(
        n=n,
        mean=sum(values) / n if n else None,
        satisfied=satisfied,
        satisfied_share=satisfied / n if n else None,
    )


@dataclass(frozen=True)
class CesSummary:
    """CES of a set of 1-7 answers: the mean and the share of 5-7 ("easy")."""

    n: int
    mean: float | None
    easy: int
    easy_share: float | None


def ces(scores: Iterable[int]) -> CesSummary:
    """Customer effort: mean of 1-7 answers and share of 5-7.

    >>> ces([7, 5, 4, 2]).easy_share
    0.5
    """
    values = _checked(scores, 1, 7, "CES")
    n = len(values)
    easy = sum(1 for v in values if v >= 5)
    return CesSummary(
        n=n,
        mean=sum(values) / n if n else None,
        easy=easy,
        easy_share=easy / n if n else None,
    )


@dataclass(frozen=True)
class NpsSummary:
    """NPS of a set of 0-10 answers.

    ``nps`` is 100 x (promoters - detractors) / n. ``margin_95`` is the half-width of a
    normal-approximation 95% interval, ``1.96 * 100 * sqrt((p + d - (p - d)^2) / n)`` with
    ``p`` and ``d`` the promoter and detractor shares (the variance of a score that is +1,
    0 or -1 per answer).
    """

    n: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    margin_95: float | None


def nps(scores: Iterable[int]) -> NpsSummary:
    """Net promoter score: % answers 9-10 minus % answers 0-6.

    >>> nps([10, 9, 8, 7, 3]).nps
    20.0
    """
    values = _checked(scores, 0, 10, "NPS")
    n = len(values)
    promoters = sum(1 for v in values if v >= 9)
    detractors = sum(1 for v in values if v <= 6)
    if not n:
        return NpsSummary(0, 0, 0, 0, None, None)
    p, d = promoters / n, detractors / n
    variance = max(p + d - (p - d) ** 2, 0.0)
    return NpsSummary(
        n=n,
        promoters=promoters,
        passives=n - promoters - detractors,
        detractors=detractors,
        nps=100.0 * (p - d),
        margin_95=196.0 * math.sqrt(variance / n),
    )


def response_rate(sent: int, answered: int) -> float | None:
    """Answered surveys over sent surveys; ``None`` when none was sent.

    >>> response_rate(40, 10)
    0.25
    """
    if sent < 0 or answered < 0:
        raise ValueError("survey counts cannot be negative")
    if answered > sent:
        raise ValueError(f"{answered} answers for {sent} surveys sent")
    return answered / sent if sent else None


# --- Word-of-mouth risk (M4) -------------------------------------------------------------

#: Reason codes of :func:`assess_risk`, with the text a supervisor reads (message ids of the
#: Babel catalogs).
RISK_REASONS: dict[str, str] = {
    "long_wait": "Waited too long to be answered",
    "broken_promise": "We broke a promise (callback, answer or resolution)",
    "low_score": "Low survey score",
    "open_complaint": "Has an unresolved complaint",
    "repeat_contacts": "Had to contact us several times about the same thing",
}


@dataclass(frozen=True)
class CustomerFacts:
    """What is known about one customer's recent experience (the window is the caller's).

    Scores are the customer's lowest answer in the window, ``None`` when not surveyed.
    """

    customer_id: str
    longest_wait_s: float | None = None
    broken_promises: int = 0
    open_complaints: int = 0
    lowest_csat: int | None = None
    lowest_ces: int | None = None
    lowest_nps: int | None = None
    repeat_contacts: int = 0


@dataclass(frozen=True)
class RiskPolicy:
    """Thresholds of the risk rule; every one can be changed per deployment."""

    long_wait_s: float = 600.0
    low_csat_at_most: int = 2
    low_ces_at_most: int = 3
    low_nps_at_most: int = 6
    repeat_contacts_at_least: int = 3


@dataclass(frozen=True)
class RiskAssessment:
    """Whether to follow a customer up, and why (reason codes of :data:`RISK_REASONS`)."""

    customer_id: str
    at_risk: bool
    reasons: tuple[str, ...]


def assess_risk(facts: CustomerFacts, policy: RiskPolicy | None = None) -> RiskAssessment:
    """Flag a customer whose experience may make them leave or tell others (M4).

    A customer is at risk when any of these holds: the longest wait reached
    ``policy.long_wait_s``; a promise made to them was broken; a survey answer is low
    (CSAT <= 2, CES <= 3 or NPS detractor by default); a complaint is open; or they
    contacted us ``repeat_contacts_at_least`` times about the same matter. Reasons are
    listed in that order.
    """
    policy = policy or RiskPolicy()
    reasons: list[str] = []
    if facts.longest_wait_s is not None and facts.longest_wait_s >= policy.long_wait_s:
        reasons.append("long_wait")
    if facts.broken_promises > 0:
        reasons.append("broken_promise")
    low = (
        (facts.lowest_csat is not None and facts.lowest_csat <= policy.low_csat_at_most)
        or (facts.lowest_ces is not None and facts.lowest_ces <= policy.low_ces_at_most)
        or (facts.lowest_nps is not None and facts.lowest_nps <= policy.low_nps_at_most)
    )
    if low:
        reasons.append("low_score")
    if facts.open_complaints > 0:
        reasons.append("open_complaint")
    if facts.repeat_contacts >= policy.repeat_contacts_at_least:
        reasons.append("repeat_contacts")
    return RiskAssessment(facts.customer_id, bool(reasons), tuple(reasons))


def customers_at_risk(
    facts: Sequence[CustomerFacts], policy: RiskPolicy | None = None
) -> list[RiskAssessment]:
    """The customers to follow up, most reasons first (ties by customer id)."""
    flagged = [a for a in (assess_risk(f, policy) for f in facts) if a.at_risk]
    return sorted(flagged, key=lambda a: (-len(a.reasons), a.customer_id))


# --- Following customers up (M4) ---------------------------------------------------------

#: What came of a follow-up: ``reached`` (we spoke to the customer), ``message_left`` (a
#: voicemail, SMS or email asking them to call back) or ``not_reached``.
FOLLOW_UP_OUTCOMES: tuple[str, ...] = ("reached", "message_left", "not_reached")
#: The outcomes after which a customer counts as followed up, until they contact us again.
CLOSING_OUTCOMES = frozenset({"reached", "message_left"})
MAX_FOLLOW_UP_NOTE = 1000


def clean_note(text: str | None) -> str:
    """A note as stored: lone surrogates replaced, then as a ticket's text
    (:func:`escucha.tickets.rules.clean_text`: NFC, no control characters, Unix line ends, at
    most one blank line in a row, trimmed).

    >>> clean_note("  Llamé\\r\\n\\r\\n\\r\\nsin\\x00 respuesta ")
    'Llamé\\n\\nsin respuesta'
    """
    if not text:
        return ""
    return clean_text("".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text))


@dataclass(frozen=True)
class FollowUpFact:
    """One follow-up of a customer: ``id`` breaks ties between follow-ups at the same time."""

    id: int
    at: datetime
    outcome: str


@dataclass(frozen=True)
class FollowUpStatus:
    """Where a customer stands after their follow-ups.

    ``latest_id`` is the latest follow-up (``None`` without any); ``contacted_since`` says the
    customer contacted us after it; ``attempts`` counts the follow-ups in a row, latest
    first, that did not reach them since their latest contact.
    """

    followed_up: bool
    latest_id: int | None
    attempts: int
    contacted_since: bool


def follow_up_status(
    follow_ups: Iterable[FollowUpFact], last_contact_at: datetime | None
) -> FollowUpStatus:
    """Whether a flagged customer still needs a follow-up (M4).

    The latest follow-up decides: a customer is *followed up* when it reached them or left a
    message and they have not contacted us since (a contact at the same instant is not
    "since"). A new contact after it puts them back in the list, as a new bad experience
    may have followed, and the attempts start again from zero. ``not_reached`` keeps them
    in the list, counting the attempts.

    >>> from datetime import UTC
    >>> t = datetime(2026, 11, 23, 9, tzinfo=UTC)
    >>> follow_up_status([FollowUpFact(1, t, "not_reached")], None).attempts
    1
    >>> follow_up_status([FollowUpFact(1, t, "reached")], None).followed_up
    True
    """
    ordered = sorted(follow_ups, key=lambda f: (f.at, f.id))
    if not ordered:
        return FollowUpStatus(False, None, 0, False)
    latest = ordered[-1]
    for f in ordered:
        if f.outcome not in FOLLOW_UP_OUTCOMES:
            raise ValueError(f"follow-up #{f.id}: unknown outcome {f.outcome!r}")
    contacted_since = last_contact_at is not None and last_contact_at > latest.at
    attempts = 0
    if not contacted_since:
        for f in reversed(ordered):
            if f.outcome != "not_reached":
                break
            if last_contact_at is not None and f.at < last_contact_at:
                break
            attempts += 1
    return FollowUpStatus(
        followed_up=latest.outcome in CLOSING_OUTCOMES and not contacted_since,
        latest_id=latest.id,
        attempts=attempts,
        contacted_since=contacted_since,
    )
