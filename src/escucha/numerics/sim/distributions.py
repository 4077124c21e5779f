"""Service and patience time distributions for the simulator (seconds).

Each distribution is a frozen dataclass with ``mean_s`` and ``sample(rng, size)``; the random
generator is always passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = ["Distribution", "Empirical", "Exponential", "LogNormal"]


@dataclass(frozen=True, slots=True)
class Exponential:
    """Exponential times with the given mean: ``f(x) = exp(-x/m)/m``."""

    mean_s: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mean_s) and self.mean_s > 0.0):
            raise ValueError("mean_s must be finite and > 0")

    def sample(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        return rng.exponential(self.mean_s, size)


@dataclass(frozen=True, slots=True)
class LogNormal:
    """Lognormal times given by mean and coefficient of variation ``cv = sd / mean``.

    ``sigma^2 = log(1 + cv^2)`` and ``mu = log(mean) - sigma^2 / 2``. Handle times of call
    centres are close to lognormal (Brown et al., "Statistical analysis of a telephone call
    center", JASA 100, 2005).
    """

    mean_s: float
    cv: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mean_s) and self.mean_s > 0.0):
            raise ValueError("mean_s must be finite and > 0")
        if not (math.isfinite(self.cv) and self.cv > 0.0):
            raise ValueError("cv must be finite and > 0")

    def sample(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        sigma2 = math.log1p(self.cv * self.cv)
        mu = math.log(self.mean_s) - 0.5 * sigma2
        return rng.lognormal(mu, math.sqrt(sigma2), size)


@dataclass(frozen=True, slots=True)
class Empirical:
    """Resampling (with replacement) of observed times, e.g. handle times from the call log."""

    values_s: tuple[float, ...]

    def __post_init__(self) -> None:
        values = np.asarray(self.values_s, dtype=np.float64)
        if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values < 0.0):
            raise ValueError("values_s must be a non-empty list of finite times >= 0")

    @property
    def mean_s(self) -> float:
        return float(np.mean(self.values_s))

    def sample(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        values = np.asarray(self.values_s, dtype=np.float64)
        return values[rng.integers(0, values.size, size)]


Distribution = Exponential | LogNormal | Empirical
