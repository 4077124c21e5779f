"""Simulated traffic for the estimate benchmark (W1)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from escucha.routing.simulate import (
    PREDICTORS,
    TrafficParams,
    arrival_times,
    simulate_estimates,
)


def test_arrivals_follow_the_mean_rate_and_the_swing() -> None:
    params = TrafficParams(agents=60, hours=8.0, aht_s=300.0, load=1.0, amplitude=0.5, period_h=8.0)
    times = arrival_times(params, np.random.default_rng(3))
    assert np.all(np.diff(times) >= 0)
    assert times[0] >= 0
    assert times[-1] < 8 * 3600
    expected = 60 / 300 * 8 * 3600  # the sine integrates to zero over whole periods
    assert abs(times.size - expected) < 5 * math.sqrt(expected)
    # the first half-period (rate above the mean) gets clearly more than the second
    first = np.count_nonzero(times < 4 * 3600)
    assert first > 1.3 * (times.size - first)


def test_same_seed_same_day() -> None:
    params = TrafficParams(agents=10, hours=2.0, warmup_s=600.0)
    a = simulate_estimates(params, np.random.default_rng(5))
    b = simulate_estimates(params, np.random.default_rng(5))
    c = simulate_estimates(params, np.random.default_rng(6))
    assert a == b
    assert a != c


def test_every_caller_is_served_or_hangs_up() -> None:
    params = TrafficParams(agents=10, hours=3.0, load=1.2, patience_mean_s=200.0)
    result = simulate_estimates(params, np.random.default_rng(2))
    assert result.served + result.abandoned == result.callers
    assert 0 < result.abandoned < result.queued <= result.callers
    assert [s.predictor for s in result.scores] == list(PREDICTORS)


def test_abandonment_aware_predictor_beats_the_asterisk_average_and_the_bound_holds() -> None:
    params = TrafficParams(agents=20, hours=6.0, load=1.05, dip_fraction=0.2, dip_start_h=3.0)
    result = simulate_estimates(params, np.random.default_rng(11))
    scores = {s.predictor: s for s in result.scores}
    ql = scores["queue_length"]
    asterisk = scores["asterisk_average"]
    assert ql.count > 300
    assert ql.mae_s is not None
    assert asterisk.mae_s is not None
    assert ql.mae_s < asterisk.mae_s
    assert ql.within_25 is not None
    assert asterisk.within_25 is not None
    assert ql.within_25 > asterisk.within_25
    # ignoring abandonment over-estimates
    no_ab = scores["queue_length_no_abandonment"]
    assert no_ab.bias_s is not None
    assert ql.bias_s is not None
    assert no_ab.bias_s > ql.bias_s
    # what the caller hears is the queue-length estimate mixed with the last wait (ADR 20):
    # on this simulated floor too it errs no more than the queue length alone
    chosen = scores["chosen"]
    assert chosen.count == ql.count
    assert chosen.mae_s is not None
    assert chosen.mae_s <= ql.mae_s
    assert chosen.mae_s < asterisk.mae_s
    assert result.bound_kept is not None
    assert result.bound_kept >= 0.9
    assert result.mean_wait_s is not None
    assert result.mean_wait_s > 0


def test_staffing_dip() -> None:
    params = TrafficParams(agents=10, dip_fraction=0.3, dip_start_h=2.0, dip_hours=1.0)
    assert params.agents_at(0.0) == 10
    assert params.agents_at(2 * 3600.0) == 7
    assert params.agents_at(3 * 3600.0) == 10


@pytest.mark.parametrize(
    "kwargs",
    [
        {"agents": 0},
        {"amplitude": 1.0},
        {"hours": 0.0},
        {"warmup_s": 8 * 3600.0},
        {"dip_fraction": 1.0},
        {"agents": 1, "dip_fraction": 0.9},
    ],
)
def test_traffic_params_validate(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - several distinct messages
        TrafficParams(**kwargs)  # type: ignore[arg-type]
