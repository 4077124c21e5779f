"""Weekly-seasonal forecast and its error on a held-back week (C6)."""

from __future__ import annotations

import numpy as np
import pytest

from escucha.numerics.forecast import holdout_error, seasonal_forecast

P = 7 * 48


def weekly_pattern() -> np.ndarray:
    slot = np.arange(P)
    day = slot // 48
    hour = slot % 48
    open_ = (hour >= 16) & (hour < 44)
    return np.where(open_, 40.0 + 30.0 * np.sin((hour - 16) / 28 * np.pi), 0.0) * np.where(
        day >= 5, 0.5, 1.0
    )


def test_a_repeating_week_is_forecast_exactly() -> None:
    week = weekly_pattern()
    history = np.tile(week, 4)
    np.testing.assert_allclose(seasonal_forecast(history, horizon=48), week[:48])
    np.testing.assert_allclose(seasonal_forecast(history[:-10], horizon=10), week[-10:])
    long = seasonal_forecast(history, horizon=2 * P)
    np.testing.assert_allclose(long, np.tile(week, 2))
    err = holdout_error(history)
    assert err.wape == pytest.approx(0.0, abs=1e-12)
    assert err.rmse_calls == pytest.approx(0.0)
    assert err.intervals == P
    assert err.actual_calls == pytest.approx(week.sum())


def test_recent_weeks_weigh_more_and_growth_carries_over() -> None:
    week = weekly_pattern()
    history = np.concatenate([week, week, week * 2.0])
    f = seasonal_forecast(history, horizon=P, decay=0.5, trend_damping=0.0)
    # Weights 4/7, 2/7, 1/7 on the last, middle and first week.
    np.testing.assert_allclose(f, week * (2.0 * 4 + 2 + 1) / 7)
    damped = seasonal_forecast(history, horizon=P, decay=0.5, trend_damping=0.5)
    assert damped.sum() > f.sum()
    assert seasonal_forecast(history, horizon=P, decay=0.5, trend_damping=1.0).sum() == (
        pytest.approx(2.0 * week.sum())
    )


def test_noisy_history_has_a_small_but_honest_error() -> None:
    rng = np.random.default_rng(0)
    week = weekly_pattern()
    history = rng.poisson(np.tile(week, 5)).astype(float)
    err = holdout_error(history)
    assert 0.02 < err.wape < 0.3
    assert abs(err.bias) < 0.1
    assert err.forecast_calls == pytest.approx(err.actual_calls, rel=0.1)


def test_one_week_gives_a_forecast_and_zero_volume_no_error_ratio() -> None:
    week = weekly_pattern()
    np.testing.assert_allclose(seasonal_forecast(week, horizon=48), week[:48])
    quiet = holdout_error(np.zeros(2 * P))
    assert quiet.wape == float("inf")
    assert quiet.rmse_calls == 0.0


@pytest.mark.parametrize(
    ("history", "kwargs", "message"),
    [
        (np.ones((2, P)), {}, "1-D"),
        (-np.ones(P), {}, "1-D"),
        (np.ones(P), {"period": 0}, "period"),
        (np.ones(P), {"decay": 0.0}, "decay"),
        (np.ones(10), {}, "full season"),
        (np.ones(P), {"horizon": -1}, "horizon"),
        (np.ones(P), {"trend_damping": 2.0}, "trend_damping"),
    ],
)
def test_bad_input_is_refused(history: np.ndarray, kwargs: dict[str, float], message: str) -> None:
    args = {"horizon": 48, **kwargs}
    with pytest.raises(ValueError, match=message):
        seasonal_forecast(history, **args)  # type: ignore[arg-type]


def test_holdout_needs_two_weeks() -> None:
    with pytest.raises(ValueError, match="two seasons"):
        holdout_error(np.ones(P + 5))
