"""Cost balance (W4): the staffing that minimises agent, abandonment and waiting costs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from escucha.numerics.cost import CostRates, cost_curve, optimal_staffing
from escucha.numerics.erlang import evaluate

RATES = CostRates(agent_per_h=20.0, per_abandon=5.0, per_wait_min=0.5)


def brute_total(n: int, per_h: float, aht: float, pat: float | None, shrink: float) -> float:
    r = evaluate(n, per_h, aht, patience_mean_s=pat).result()
    if not r.stable:
        return math.inf
    return (
        RATES.agent_per_h * n / (1 - shrink)
        + RATES.per_abandon * per_h * r.p_abandon
        + RATES.per_wait_min * 60 * r.mean_queue_len
    )


@pytest.mark.parametrize("pat", [None, 120.0, 30.0])
@pytest.mark.parametrize("per_h", [40.0, 700.0, 2000.0])
def test_optimum_matches_brute_force(pat: float | None, per_h: float) -> None:
    a = per_h * 180 / 3600
    levels = range(0, int(a * 2) + 30)
    costs = [brute_total(n, per_h, 180, pat, 0.2) if n > 0 else math.inf for n in levels]
    if pat is not None:
        costs[0] = brute_total(0, per_h, 180, pat, 0.2)
    best = int(np.argmin(costs))
    assert optimal_staffing(per_h, 180, RATES, patience_mean_s=pat, shrinkage=0.2) == best
    curve = cost_curve(per_h, 180, RATES, patience_mean_s=pat, shrinkage=0.2)
    assert curve.best_agents == best
    for i, n in enumerate(curve.agents):
        assert curve.total_per_h[i] == pytest.approx(costs[int(n)], rel=1e-9)
    parts = curve.agent_cost_per_h + curve.abandon_cost_per_h + curve.wait_cost_per_h
    finite = np.isfinite(curve.total_per_h)
    assert np.allclose(parts[finite], curve.total_per_h[finite])
    assert np.allclose(curve.paid_agents, curve.agents / 0.8)


def test_unstable_erlang_c_levels_cost_infinity() -> None:
    curve = cost_curve(2000, 180, RATES, agents=np.array([90, 100, 110]))
    assert math.isinf(curve.total_per_h[0])
    assert math.isinf(curve.total_per_h[1])
    assert curve.best == 2
    assert np.isinf(curve.mean_queue_len[:2]).all()


def test_dearer_lost_calls_call_for_more_agents() -> None:
    cheap = optimal_staffing(2000, 180, CostRates(20.0, per_abandon=0.5), patience_mean_s=120)
    dear = optimal_staffing(2000, 180, CostRates(20.0, per_abandon=50.0), patience_mean_s=120)
    assert dear > cheap
    # When lost calls cost almost nothing it pays to let an overloaded queue shed calls.
    assert cheap < 100


def test_no_calls_no_agents_and_zero_agent_level() -> None:
    assert optimal_staffing(0.0, 180, RATES) == 0
    curve = cost_curve(100, 180, RATES, patience_mean_s=60, agents=np.array([0, 1]))
    assert curve.p_abandon[0] == 1.0
    assert curve.abandon_cost_per_h[0] == pytest.approx(5.0 * 100)
    idle = cost_curve(0.0, 180, RATES, agents=np.array([0, 2]))
    assert idle.total_per_h.tolist() == [0.0, 40.0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: CostRates(agent_per_h=0.0), "agent_per_h"),
        (lambda: CostRates(agent_per_h=10.0, per_abandon=-1.0), "per_abandon"),
        (lambda: optimal_staffing(-1.0, 180, RATES), "arrivals"),
        (lambda: optimal_staffing(10.0, 0.0, RATES), "aht"),
        (lambda: optimal_staffing(10.0, 180, RATES, patience_mean_s=-1.0), "patience"),
        (lambda: optimal_staffing(10.0, 180, RATES, shrinkage=1.0), "shrinkage"),
        (lambda: cost_curve(10.0, 180, RATES, agents=np.array([], dtype=np.int64)), "agents"),
    ],
)
def test_bad_input_is_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
