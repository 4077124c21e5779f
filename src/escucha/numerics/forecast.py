"""Weekly-seasonal forecast of calls per interval, with its error on a held-back week (C6).

Call volume repeats by day of the week and time of day. The forecast of an interval is a
weighted mean of the same interval in the previous ``weeks`` weeks, recent weeks weighing more
(weights ``decay**k`` for the week ``k+1`` back, normalised), multiplied by a level factor that
follows the trend: the ratio of the last week's volume to the same weighted mean of the earlier
weeks' volumes, damped toward 1 by ``trend_damping``:

.. math::

    \\hat y_{t} = L \\sum_{k=1}^{K} \\frac{d^{k-1}}{\\sum_j d^{j-1}} y_{t - kP},\\qquad
    L = 1 + \\phi\\Bigl(\\frac{\\sum_{\\text{last week}} y}{\\text{weighted mean week}} - 1\\Bigr)

with ``P`` the intervals per week. Its accuracy is measured by forecasting the last week of the
history from the weeks before it (WAPE = sum |error| / sum actual, bias and RMSE per interval).

References
----------
R. J. Hyndman, G. Athanasopoulos, *Forecasting: Principles and Practice* (3rd ed.), 5.2
(seasonal naive and averages) and 5.8 (evaluating forecast accuracy); N. Gans, G. Koole,
A. Mandelbaum (2003), section 3 (call-volume forecasting).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = ["ForecastError", "holdout_error", "seasonal_forecast"]


@dataclass(frozen=True, slots=True)
class ForecastError:
    """Accuracy of the forecast of a held-back week.

    ``wape``: sum of absolute errors over sum of actual calls; ``bias``: (forecast - actual) /
    actual over the week; ``rmse_calls``: root mean squared error per interval, in calls.
    """

    intervals: int
    actual_calls: float
    forecast_calls: float
    wape: float
    bias: float
    rmse_calls: float


def _history(
    history_calls: ArrayLike, period: int, weeks: int, decay: float
) -> NDArray[np.float64]:
    y = np.asarray(history_calls, dtype=np.float64)
    if y.ndim != 1 or not np.all(np.isfinite(y)) or np.any(y < 0.0):
        raise ValueError("history must be a 1-D series of call counts >= 0")
    if period < 1 or weeks < 1:
        raise ValueError("period and weeks must be >= 1")
    if not 0.0 < decay <= 1.0:
        raise ValueError("decay must be in (0, 1]")
    if y.size < period:
        raise ValueError(f"need at least one full season ({period} intervals) of history")
    return y


def seasonal_forecast(
    history_calls: ArrayLike,
    *,
    horizon: int,
    period: int = 336,
    weeks: int = 4,
    decay: float = 0.7,
    trend_damping: float = 0.5,
) -> NDArray[np.float64]:
    """Forecast the ``horizon`` intervals that follow the history.

    Parameters
    ----------
    history_calls : calls per interval, consecutive, oldest first, ending just before the
        forecast
    horizon : intervals to forecast (e.g. 48 for the next day of 30-minute intervals)
    period : intervals per season (336 = one week of 30-minute intervals)
    weeks : at most this many past seasons are averaged
    decay : weight ratio between a season and the one after it
    trend_damping : share of the measured level change carried into the forecast (0 = none)

    Returns
    -------
    ndarray of float64 of length ``horizon``, calls per interval (>= 0).
    """
    y = _history(history_calls, period, weeks, decay)
    if horizon < 0:
        raise ValueError("horizon must be >= 0")
    if not 0.0 <= trend_damping <= 1.0:
        raise ValueError("trend_damping must be in [0, 1]")
    k = min(weeks, y.size // period)
    w = decay ** np.arange(k)
    w /= w.sum()
    end = y.size
    steps = np.arange(horizon)
    out = np.zeros(horizon)
    for j in range(k):
        # The same slot j+1 seasons before the end (long horizons repeat the profile).
        out += w[j] * y[end - (j + 1) * period + steps % period]
    level = 1.0
    if k >= 2:
        last = float(y[end - period :].sum())
        base = float(
            sum(w[j] * y[end - (j + 1) * period : end - j * period].sum() for j in range(k))
        )
        if base > 0.0:
            level = 1.0 + trend_damping * (last / base - 1.0)
    return np.maximum(out * level, 0.0)


def holdout_error(
    history_calls: ArrayLike,
    *,
    period: int = 336,
    weeks: int = 4,
    decay: float = 0.7,
    trend_damping: float = 0.5,
) -> ForecastError:
    """Forecast the last ``period`` intervals from the ones before and measure the error.

    Needs at least two seasons of history. See :class:`ForecastError` for the measures.
    """
    y = _history(history_calls, period, weeks, decay)
    if y.size < 2 * period:
        raise ValueError(f"need at least two seasons ({2 * period} intervals) to hold one back")
    train, test = y[:-period], y[-period:]
    pred = seasonal_forecast(
        train,
        horizon=period,
        period=period,
        weeks=weeks,
        decay=decay,
        trend_damping=trend_damping,
    )
    actual = float(test.sum())
    err = pred - test
    return ForecastError(
        intervals=period,
        actual_calls=actual,
        forecast_calls=float(pred.sum()),
        wape=float(np.abs(err).sum() / actual) if actual > 0 else math.inf,
        bias=float(err.sum() / actual) if actual > 0 else math.inf,
        rmse_calls=float(np.sqrt(np.mean(err * err))),
    )
