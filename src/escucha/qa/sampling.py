"""Which contacts a supervisor reviews: the sampling strategies (:func:`sample`)."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules


# --- Sampling -------------------------------------------------------------------------------


class RandomSource(Protocol):
    """What sampling needs from a generator: ``numpy.random.Generator`` and
    :class:`random.Random` both provide a shuffle (the latter via :class:`RandomAdapter`)."""

    def permutation(self, x: int) -> Any: ...


@dataclass(frozen=True)
class RandomAdapter:
    """Wrap :class:`random.Random` so it can stand where a NumPy generator is expected."""

    rng: random.Random = field(default_factory=lambda: random.Random(0))  # noqa: S311

    def permutation(self, x: int) -> list[int]:
        order = list(range(x))
        self.rng.shuffle(order)
        return order


@dataclass(frozen=True)
class Candidate:
    """A contact that could be reviewed.

    ``survey_score`` is the customer's answer rescaled to [0, 1] (see
    :func:`normalised_survey_score`), ``None`` when not surveyed.
    """

    contact_id: str
    agent: str | None = None
    is_complaint: bool = False
    longest_hold_s: float = 0.0
    survey_score: float | None = None


Strategy = Literal["random", "per_agent", "complaints", "longest_holds", "lowest_scores"]
STRATEGIES: tuple[Strategy, ...] = (
    "random",
    "per_agent",
    "complaints",
    "longest_holds",
    "lowest_scores",
)


def normalised_survey_score(kind: Literal["csat", "ces", "nps"], answer: int) -> float:
    """A survey answer on [0, 1]: CSAT 1-5, CES 1-7, NPS 0-10."""
    low, high = {"csat": (1, 5), "ces": (1, 7), "nps": (0, 10)}[kind]
    if not low <= answer <= high:
        raise ValueError(f"{kind} answer must be {low}-{high}: {answer}")
    return (answer - low) / (high - low)


def _shuffled(items: Sequence[Candidate], rng: RandomSource) -> list[Candidate]:
    return [items[int(k)] for k in rng.permutation(len(items))]


def sample(
    candidates: Sequence[Candidate],
    strategy: Strategy,
    n: int,
    rng: RandomSource,
) -> list[Candidate]:
    """Choose contacts to review.

    * ``random``: ``n`` contacts uniformly without replacement.
    * ``per_agent``: ``n`` contacts per agent, at random (contacts with no agent are left
      out), agents in name order.
    * ``complaints``: every complaint (``n`` is ignored: none may be skipped, P5).
    * ``longest_holds``: the ``n`` contacts with the longest hold, longest first.
    * ``lowest_scores``: the ``n`` surveyed contacts with the lowest score, lowest first.

    Ties are broken at random with ``rng`` so that the same seed gives the same sample.
    """
    if n < 0:
        raise ValueError("the sample size cannot be negative")
    if strategy == "random":
        return _shuffled(candidates, rng)[:n]
    if strategy == "per_agent":
        agents = sorted({c.agent for c in candidates if c.agent is not None})
        out: list[Candidate] = []
        for agent in agents:
            out.extend(_shuffled([c for c in candidates if c.agent == agent], rng)[:n])
        return out
    if strategy == "complaints":
        return [c for c in candidates if c.is_complaint]
    if strategy == "longest_holds":
        ranked = sorted(_shuffled(candidates, rng), key=lambda c: -c.longest_hold_s)
        return [c for c in ranked if c.longest_hold_s > 0][:n]
    if strategy == "lowest_scores":
        surveyed = [c for c in _shuffled(candidates, rng) if c.survey_score is not None]
        return sorted(
            surveyed, key=lambda c: c.survey_score if c.survey_score is not None else math.inf
        )[:n]
    raise ValueError(f"unknown sampling strategy {strategy!r}")
