"""Shift schedule with breaks that covers the agents required per interval (C6).

Breaks are part of the plan: every shift pattern carries its breaks, placed inside allowed
windows, and an agent on a break does not count toward coverage. The choice is an integer
program (the set-covering model of Dantzig, "A comment on Edie's traffic delays at toll
booths", Operations Research 2, 1954, with break placement as in Bechtold & Jacobs, "Implicit
modeling of flexible break assignments", Management Science 36, 1990, here enumerated
explicitly):

.. math::

    \\min \\sum_p c_p x_p + \\pi \\sum_t u_t \\quad\\text{s.t.}\\quad
    \\sum_p a_{tp} x_p + u_t \\ge r_t,\\; x_p \\in \\mathbb{Z}_{\\ge0},\\; u_t \\ge 0

where pattern ``p`` is a shift template at one start interval with one placement of its breaks,
``a_tp = 1`` when an agent on ``p`` works (on the phone) in interval ``t``, ``c_p`` its paid
length, ``r_t`` the agents required and ``u_t`` the shortfall (forbidden unless a penalty ``pi``
is given). Solved with ``scipy.optimize.milp`` (HiGHS branch and cut).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import Bounds, LinearConstraint, milp

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = [
    "BreakRule",
    "PlannedShift",
    "ShiftPlan",
    "ShiftTemplate",
    "default_templates",
    "plan_shifts",
]


@dataclass(frozen=True, slots=True)
class BreakRule:
    """A break of ``length`` intervals starting between ``earliest`` and ``latest`` intervals
    after the shift starts (inclusive)."""

    earliest: int
    latest: int
    length: int = 1

    def __post_init__(self) -> None:
        if not (0 < self.earliest <= self.latest and self.length >= 1):
            raise ValueError("a break needs 0 < earliest <= latest and length >= 1")


@dataclass(frozen=True, slots=True)
class ShiftTemplate:
    """A kind of shift: ``length`` intervals (paid), with its breaks."""

    name: str
    length: int
    breaks: tuple[BreakRule, ...] = ()

    def __post_init__(self) -> None:
        if self.length < 1:
            raise ValueError("a shift lasts at least one interval")
        for rule in self.breaks:
            if rule.latest + rule.length > self.length:
                raise ValueError(f"shift {self.name!r}: a break would run past the shift end")

    def placements(self) -> list[tuple[int, ...]]:
        """Every way to place the breaks: start offsets, in order, never overlapping."""
        options = [range(r.earliest, r.latest + 1) for r in self.breaks]
        out = []
        for combo in itertools.product(*options):
            ends = [s + r.length for s, r in zip(combo, self.breaks, strict=True)]
            if all(ends[i] <= combo[i + 1] for i in range(len(combo) - 1)):
                out.append(tuple(combo))
        return out


@dataclass(frozen=True, slots=True)
class PlannedShift:
    """``count`` agents on ``template`` from interval ``start`` with breaks at ``break_starts``
    (absolute interval indices)."""

    template: str
    start: int
    end: int
    break_starts: tuple[int, ...]
    break_lengths: tuple[int, ...]
    count: int


@dataclass(frozen=True)
class ShiftPlan:
    """The schedule and how well it covers the requirement (all arrays per interval)."""

    shifts: tuple[PlannedShift, ...]
    required: NDArray[np.int64]
    on_phone: NDArray[np.int64]
    on_break: NDArray[np.int64]
    over: NDArray[np.int64]
    under: NDArray[np.int64]
    paid_intervals: int
    optimal: bool

    @property
    def agents(self) -> int:
        """Number of people scheduled (one per shift)."""
        return sum(s.count for s in self.shifts)


def plan_shifts(
    required: ArrayLike,
    templates: tuple[ShiftTemplate, ...],
    *,
    earliest_start: int = 0,
    latest_end: int | None = None,
    under_penalty: float | None = None,
    time_limit_s: float = 20.0,
) -> ShiftPlan:
    """The cheapest set of shifts (with breaks) that covers ``required`` agents per interval.

    Parameters
    ----------
    required : agents needed on the phone per interval (e.g. 48 half hours)
    templates : the kinds of shift allowed
    earliest_start, latest_end : shifts lie within ``[earliest_start, latest_end]`` intervals
    under_penalty : cost of one agent-interval short; ``None`` forbids any shortfall
    time_limit_s : solver time limit (the best plan found is returned if it is reached)

    Returns
    -------
    ShiftPlan

    Raises
    ------
    ValueError
        Bad input, or no plan can cover the requirement (e.g. demand outside the opening
        window with no shortfall allowed).
    """
    r = np.asarray(required)
    if r.ndim != 1 or r.size == 0 or np.any(r < 0) or not np.all(np.isfinite(r)):
        raise ValueError("required must be a non-empty 1-D array of agents >= 0")
    req = np.ceil(r).astype(np.int64)
    horizon = req.size
    end_limit = horizon if latest_end is None else min(latest_end, horizon)
    if not templates:
        raise ValueError("give at least one shift template")
    if under_penalty is not None and not under_penalty > 0:
        raise ValueError("under_penalty must be > 0")

    patterns: list[tuple[ShiftTemplate, int, tuple[int, ...]]] = []
    for tpl in templates:
        for start in range(max(0, earliest_start), end_limit - tpl.length + 1):
            for placement in tpl.placements():
                patterns.append((tpl, start, placement))
    if not patterns:
        raise ValueError("no shift fits in the opening window")
    cover = np.zeros((horizon, len(patterns)))
    rest = np.zeros((horizon, len(patterns)))
    cost = np.empty(len(patterns))
    for j, (tpl, start, placement) in enumerate(patterns):
        cover[start : start + tpl.length, j] = 1.0
        for offset, rule in zip(placement, tpl.breaks, strict=True):
            cover[start + offset : start + offset + rule.length, j] = 0.0
            rest[start + offset : start + offset + rule.length, j] = 1.0
        # Paid time, plus a tiny preference for early breaks so ties resolve the same way.
        cost[j] = tpl.length + 1e-6 * sum(placement)

    n_pat = len(patterns)
    if under_penalty is None:
        matrix, c = cover, cost
        integrality = np.ones(n_pat)
        upper = np.full(n_pat, np.inf)
    else:
        matrix = np.hstack([cover, np.eye(horizon)])
        c = np.concatenate([cost, np.full(horizon, under_penalty)])
        integrality = np.concatenate([np.ones(n_pat), np.zeros(horizon)])
        upper = np.concatenate([np.full(n_pat, np.inf), req.astype(np.float64)])
    res = milp(
        c,
        constraints=LinearConstraint(matrix, lb=req.astype(np.float64), ub=np.inf),
        integrality=integrality,
        bounds=Bounds(0.0, upper),
        options={"time_limit": time_limit_s},
    )
    if res.x is None:
        raise ValueError("no shift plan covers the requirement: " + str(res.message))
    x = np.round(res.x[:n_pat]).astype(np.int64)
    shifts = []
    for j in np.flatnonzero(x).tolist():
        tpl, start, placement = patterns[j]
        shifts.append(
            PlannedShift(
                template=tpl.name,
                start=start,
                end=start + tpl.length,
                break_starts=tuple(start + p for p in placement),
                break_lengths=tuple(rule.length for rule in tpl.breaks),
                count=int(x[j]),
            )
        )
    on_phone = (cover @ x).astype(np.int64)
    on_break = (rest @ x).astype(np.int64)
    gap = on_phone - req
    return ShiftPlan(
        shifts=tuple(sorted(shifts, key=lambda s: (s.start, s.template, s.break_starts))),
        required=req,
        on_phone=on_phone,
        on_break=on_break,
        over=np.maximum(gap, 0),
        under=np.maximum(-gap, 0),
        paid_intervals=int(sum(patterns[j][0].length * x[j] for j in range(n_pat))),
        optimal=bool(res.status == 0),
    )


def default_templates() -> tuple[ShiftTemplate, ...]:
    """Common half-hour templates: 8 h with a 30-minute break starting in hours 3 to 5, and
    6 h with a 30-minute break starting in hours 2.5 to 3.5.

    A 15-minute rest cannot be placed on 30-minute intervals; count it in shrinkage.
    """
    return (
        ShiftTemplate("8h", 16, (BreakRule(6, 10, 1),)),
        ShiftTemplate("6h", 12, (BreakRule(5, 7, 1),)),
    )
