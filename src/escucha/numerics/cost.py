"""Cost balance: one more agent against lost calls and waiting time (W4).

For each staffing level ``n`` (agents on the phone) the cost per hour is

.. math::

    C(n) = c_a \\frac{n}{1-s} + c_b\\,\\lambda\\,P_{ab}(n) + c_w\\,60\\,L_q(n)

with ``c_a`` the cost of a paid agent-hour, ``s`` the shrinkage (paid time off the phone),
``c_b`` the cost of an abandoned call, ``c_w`` the cost of one minute waited by a caller,
``lambda`` the calls per hour and ``L_q`` the mean number of callers waiting (so ``60 L_q`` is the
number of minutes waited per hour, by Little's law). Erlang A (M/M/n+M) is used when a mean
patience is given, Erlang C otherwise; unstable Erlang C levels (``n <= a``) cost ``inf``.

References
----------
* N. Gans, G. Koole, A. Mandelbaum, "Telephone call centers: tutorial, review and research
  prospects", M&SOM 5 (2003), section 4 (staffing by cost).
* A. Mandelbaum, S. Zeltyn, "Staffing many-server queues with impatient customers: constraint
  satisfaction in call centers", Operations Research 57 (2009).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

from escucha.numerics.erlang import _APoint, _log_r

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = ["CostCurve", "CostRates", "cost_curve", "optimal_staffing"]


@dataclass(frozen=True, slots=True)
class CostRates:
    """Money per unit (any currency, the same for all three); an agent-hour costs > 0."""

    agent_per_h: float
    per_abandon: float = 0.0
    per_wait_min: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.agent_per_h) and self.agent_per_h > 0.0):
            raise ValueError("agent_per_h must be finite and > 0")
        for name in ("per_abandon", "per_wait_min"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"{name} must be finite and >= 0")


@dataclass(frozen=True)
class CostCurve:
    """Hourly cost of each staffing level; ``best`` is the index of the cheapest.

    All cost arrays are per hour; ``total_per_h`` is ``inf`` for unstable Erlang C levels.
    """

    agents: NDArray[np.int64]
    paid_agents: NDArray[np.float64]
    agent_cost_per_h: NDArray[np.float64]
    abandon_cost_per_h: NDArray[np.float64]
    wait_cost_per_h: NDArray[np.float64]
    total_per_h: NDArray[np.float64]
    p_abandon: NDArray[np.float64]
    mean_queue_len: NDArray[np.float64]
    best: int

    @property
    def best_agents(self) -> int:
        """Agents on the phone at the lowest total cost."""
        return int(self.agents[self.best])


def _point(
    n: int, a: float, arrivals_per_h: float, aht_s: float, patience_mean_s: float | None
) -> tuple[float, float]:
    """``(p_abandon, mean queue length)`` at ``n`` agents."""
    if a == 0.0:
        return 0.0, 0.0
    if patience_mean_s is None:
        if n <= a:
            return 0.0, math.inf
        gap = n - a
        p_wait = float(special.expit(-(math.log(gap / n) + _log_r(n, a))))
        return 0.0, p_wait * a / gap
    if n == 0:
        return 1.0, arrivals_per_h / 3600.0 * patience_mean_s
    p_ab = _APoint.build(n, a, patience_mean_s / aht_s).p_abandon
    return p_ab, arrivals_per_h / 3600.0 * p_ab * patience_mean_s


def _total(
    n: int,
    a: float,
    arrivals_per_h: float,
    aht_s: float,
    rates: CostRates,
    patience_mean_s: float | None,
    shrinkage: float,
) -> tuple[float, float, float, float, float]:
    p_ab, lq = _point(n, a, arrivals_per_h, aht_s, patience_mean_s)
    paid = n / (1.0 - shrinkage)
    agent = rates.agent_per_h * paid
    abandon = rates.per_abandon * arrivals_per_h * p_ab
    wait = math.inf if math.isinf(lq) else rates.per_wait_min * 60.0 * lq
    return agent + abandon + wait, agent, abandon, wait, p_ab


def _check(arrivals_per_h: float, aht_s: float, pat: float | None, shrinkage: float) -> float:
    if not (math.isfinite(arrivals_per_h) and arrivals_per_h >= 0.0):
        raise ValueError("arrivals_per_h must be finite and >= 0")
    if not (math.isfinite(aht_s) and aht_s > 0.0):
        raise ValueError("aht_s must be finite and > 0")
    if pat is not None and not (math.isfinite(pat) and pat > 0.0):
        raise ValueError("patience_mean_s must be finite and > 0")
    if not 0.0 <= shrinkage < 1.0:
        raise ValueError("shrinkage must be in [0, 1)")
    return arrivals_per_h * aht_s / 3600.0


def optimal_staffing(
    arrivals_per_h: float,
    aht_s: float,
    rates: CostRates,
    *,
    patience_mean_s: float | None = None,
    shrinkage: float = 0.0,
) -> int:
    """Agents on the phone that minimise the hourly cost :math:`C(n)` (module docstring).

    ``C`` is convex in ``n`` for these models (the marginal benefit of an agent falls), so the
    integer minimum is found by a doubling bracket and a discrete ternary search, then confirmed
    against its neighbours.

    Parameters
    ----------
    arrivals_per_h, aht_s : offered calls per hour and average handle time in seconds
    rates : the cost rates
    patience_mean_s : mean patience for Erlang A; ``None`` for Erlang C
    shrinkage : share of paid time off the phone

    Returns
    -------
    int : the cheapest ``n`` (0 when no calls are offered).
    """
    a = _check(arrivals_per_h, aht_s, patience_mean_s, shrinkage)
    if a == 0.0:
        return 0

    def cost(n: int) -> float:
        return _total(n, a, arrivals_per_h, aht_s, rates, patience_mean_s, shrinkage)[0]

    lo = math.floor(a) + 1 if patience_mean_s is None else 0
    # Grow the right end until the cost rises: then the minimum lies in [lo, hi].
    step = max(1, math.ceil(math.sqrt(a)))
    hi = lo + step
    while cost(hi + 1) < cost(hi):
        step *= 2
        hi = lo + step
    while hi - lo > 2:
        m1 = lo + (hi - lo) // 3
        m2 = hi - (hi - lo) // 3
        if cost(m1) <= cost(m2):
            hi = m2
        else:
            lo = m1
    return min(range(lo, hi + 1), key=cost)


def cost_curve(
    arrivals_per_h: float,
    aht_s: float,
    rates: CostRates,
    *,
    patience_mean_s: float | None = None,
    shrinkage: float = 0.0,
    agents: NDArray[np.int64] | None = None,
) -> CostCurve:
    """The hourly cost of each staffing level, for a chart of the balance.

    Parameters
    ----------
    arrivals_per_h, aht_s, rates, patience_mean_s, shrinkage : as in :func:`optimal_staffing`
    agents : levels to evaluate; by default about 60 levels around the optimum.

    Returns
    -------
    CostCurve
    """
    a = _check(arrivals_per_h, aht_s, patience_mean_s, shrinkage)
    if agents is None:
        best = optimal_staffing(
            arrivals_per_h, aht_s, rates, patience_mean_s=patience_mean_s, shrinkage=shrinkage
        )
        half = max(10, math.ceil(2.0 * math.sqrt(a)))
        lo = max(0, best - half)
        step = max(1, (2 * half) // 60)
        levels = np.arange(lo, best + half + 1, step, dtype=np.int64)
        levels = np.union1d(levels, [best])
    else:
        levels = np.asarray(agents, dtype=np.int64)
        if levels.ndim != 1 or levels.size == 0 or np.any(levels < 0):
            raise ValueError("agents must be a non-empty 1-D array of levels >= 0")
    rows = np.array(
        [
            _total(int(n), a, arrivals_per_h, aht_s, rates, patience_mean_s, shrinkage)
            for n in levels
        ],
        dtype=np.float64,
    )
    lq = np.array([_point(int(n), a, arrivals_per_h, aht_s, patience_mean_s)[1] for n in levels])
    return CostCurve(
        agents=levels,
        paid_agents=levels / (1.0 - shrinkage),
        agent_cost_per_h=rows[:, 1],
        abandon_cost_per_h=rows[:, 2],
        wait_cost_per_h=rows[:, 3],
        total_per_h=rows[:, 0],
        p_abandon=rows[:, 4],
        mean_queue_len=lq,
        best=int(np.argmin(rows[:, 0])),
    )
