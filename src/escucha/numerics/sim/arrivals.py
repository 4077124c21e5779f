"""Poisson arrival times, constant or piecewise-constant by interval (time-varying)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = ["arrival_times"]


def arrival_times(
    rng: np.random.Generator,
    arrivals_per_h: float | Sequence[float],
    *,
    interval_s: float = 1800.0,
    horizon_s: float | None = None,
    customers: int | None = None,
) -> NDArray[np.float64]:
    """Sorted arrival times (seconds from the start) of a Poisson process.

    Parameters
    ----------
    rng : the random generator
    arrivals_per_h : a constant rate, or one rate per interval of ``interval_s`` seconds
        (the profile repeats if the horizon is longer)
    interval_s : length of each rate interval
    horizon_s : generate arrivals in ``[0, horizon_s)``
    customers : instead of a horizon, exactly this many arrivals (constant rate only)

    Returns
    -------
    ndarray of float64, sorted.

    Notes
    -----
    Exact for piecewise-constant rates: the count in each interval is Poisson with mean
    ``rate x length`` and, given the count, the times are independent uniforms (Ross,
    *Simulation*, ch. 5).
    """
    rates = np.atleast_1d(np.asarray(arrivals_per_h, dtype=np.float64))
    if rates.ndim != 1 or rates.size == 0 or not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise ValueError("arrivals_per_h must be finite rates >= 0")
    if not (math.isfinite(interval_s) and interval_s > 0.0):
        raise ValueError("interval_s must be > 0")
    if (customers is None) == (horizon_s is None):
        raise ValueError("give exactly one of customers or horizon_s")
    if customers is not None:
        if rates.size != 1 or rates[0] <= 0.0:
            raise ValueError("customers needs one constant rate > 0")
        if customers < 0:
            raise ValueError("customers must be >= 0")
        gaps = rng.exponential(3600.0 / rates[0], customers)
        return np.cumsum(gaps, out=gaps)  # in place: one array, not two
    if horizon_s is None:  # pragma: no cover - excluded above
        raise ValueError("give exactly one of customers or horizon_s")
    if not (math.isfinite(horizon_s) and horizon_s >= 0.0):
        raise ValueError("horizon_s must be finite and >= 0")
    starts = np.arange(math.ceil(horizon_s / interval_s)) * interval_s
    ends = np.minimum(starts + interval_s, horizon_s)
    per_interval = rates[np.arange(starts.size) % rates.size]
    counts = rng.poisson(per_interval / 3600.0 * (ends - starts))
    which = np.repeat(np.arange(starts.size), counts)
    times = starts[which] + rng.random(which.size) * (ends - starts)[which]
    return np.sort(times)
