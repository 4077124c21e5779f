"""Shift schedule with breaks (C6): MILP coverage against brute force on small cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from escucha.numerics.schedule import (
    BreakRule,
    ShiftTemplate,
    default_templates,
    plan_shifts,
)


def brute_force(required: np.ndarray, tpl: ShiftTemplate, max_count: int) -> int:
    """Fewest paid intervals covering ``required`` by enumerating every pattern count."""
    horizon = required.size
    cols = []
    for start in range(horizon - tpl.length + 1):
        for placement in tpl.placements():
            col = np.zeros(horizon, dtype=int)
            col[start : start + tpl.length] = 1
            for off, rule in zip(placement, tpl.breaks, strict=True):
                col[start + off : start + off + rule.length] = 0
            cols.append(col)
    best = None
    for counts in itertools.product(range(max_count + 1), repeat=len(cols)):
        cover = sum(c * col for c, col in zip(counts, cols, strict=True))
        if np.all(cover >= required):
            paid = sum(counts) * tpl.length
            best = paid if best is None else min(best, paid)
    assert best is not None
    return best


def test_plan_is_optimal_on_a_small_case() -> None:
    tpl = ShiftTemplate("4", 4, (BreakRule(1, 2),))
    required = np.array([1, 2, 2, 1, 1, 0])
    plan = plan_shifts(required, (tpl,))
    assert plan.optimal
    assert plan.paid_intervals == brute_force(required, tpl, 3)
    assert np.all(plan.under == 0)
    assert np.all(plan.on_phone >= required)
    np.testing.assert_array_equal(plan.over, plan.on_phone - required)


def test_breaks_are_inside_their_windows_and_uncovered() -> None:
    t = np.arange(48)
    required = np.where((t >= 16) & (t < 42), 10 + 8 * np.sin((t - 16) / 26 * np.pi), 0)
    plan = plan_shifts(required, default_templates())
    assert np.all(plan.under == 0)
    assert np.all(plan.on_phone >= np.ceil(required))
    people = np.zeros(48, dtype=int)
    rules = {tpl.name: tpl for tpl in default_templates()}
    for s in plan.shifts:
        tpl = rules[s.template]
        assert s.end - s.start == tpl.length
        assert len(s.break_starts) == len(tpl.breaks)
        for b, rule in zip(s.break_starts, tpl.breaks, strict=True):
            assert rule.earliest <= b - s.start <= rule.latest
        people[s.start : s.end] += s.count
    np.testing.assert_array_equal(people, plan.on_phone + plan.on_break)
    assert plan.on_break.sum() == sum(s.count for s in plan.shifts)  # one 30-min break each
    assert plan.agents == sum(s.count for s in plan.shifts)


def test_shortfall_only_with_a_penalty() -> None:
    required = np.array([0, 0, 3, 3, 3, 3, 3, 3, 3, 3])
    tpl = (ShiftTemplate("4", 4),)
    with pytest.raises(ValueError, match="covers"):
        plan_shifts(required, tpl, latest_end=6)
    plan = plan_shifts(required, tpl, latest_end=6, under_penalty=10.0)
    assert plan.under[6:].tolist() == [3, 3, 3, 3]
    assert np.all(plan.under[:6] == 0)
    cheap = plan_shifts(required, tpl, under_penalty=0.1)  # shortfall cheaper than a shift
    assert cheap.agents == 0
    assert cheap.under.sum() == required.sum()


def test_placements_never_overlap() -> None:
    tpl = ShiftTemplate("8", 16, (BreakRule(3, 6, 2), BreakRule(4, 10, 1)))
    for p in tpl.placements():
        assert p[0] + 2 <= p[1]
    assert len(tpl.placements()) > 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: BreakRule(0, 2), "earliest"),
        (lambda: ShiftTemplate("x", 0), "at least"),
        (lambda: ShiftTemplate("x", 4, (BreakRule(3, 3, 2),)), "past the shift"),
        (lambda: plan_shifts(np.array([]), default_templates()), "non-empty"),
        (lambda: plan_shifts(np.array([1, -1]), default_templates()), "non-empty"),
        (lambda: plan_shifts(np.array([1, 1]), ()), "template"),
        (lambda: plan_shifts(np.array([1, 1]), default_templates(), under_penalty=0), "penalty"),
        (lambda: plan_shifts(np.array([1, 1]), default_templates()), "no shift fits"),
    ],
)
def test_bad_input_is_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
