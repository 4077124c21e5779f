r"""Customer patience in a telephone queue (requirements W3 and W4).

A queued caller leaves the queue in one of two ways: an agent answers, or the caller hangs up
(abandons). The time a caller is *willing* to wait is their **patience** :math:`\tau`. A call
log never shows the patience of a caller who was answered: it only shows that
:math:`\tau > W`, where :math:`W` is the wait until the answer. Served calls are therefore
*right-censored* observations of patience, and abandoned calls are exact ones. Everything in
this module handles that censoring.

What is here:

* :func:`abandonment_by_wait`: the share of queued callers who hung up after at most 10, 20,
  30, 60, 90, 120 s (any points), and the share of those still waiting at the start of each
  interval who hung up in it.
* :func:`kaplan_meier`: the Kaplan-Meier estimate of the patience survival function
  :math:`S(t) = P(\tau > t)`, with Greenwood variance and log-log confidence bands.
* :func:`hazard_by_interval`: the hazard rate of abandonment (hang-ups per second of waiting)
  and the conditional probability of hanging up within each wait interval.
* :func:`mean_patience_total_wait_s` (total wait over abandons) and
  :func:`mean_patience_by_regression` (the slope of P(abandon) on mean wait across
  intervals): two estimates of the mean patience.
* :func:`recommended_answer_target`: the answer target "just before most customers hang up",
  the time at which patience survival falls to a chosen level.
* :func:`summarize_patience`: all of the above in one call.

Every function takes flat arrays (one entry per call, or per group of identical calls with a
``weights`` array of counts), so ten million calls are a few NumPy arrays, and a database can
aggregate identical ``(wait_s, abandoned)`` pairs before calling in.

Pure: standard library, NumPy and SciPy only; no clock, no global random state.

References
----------
Kaplan, E. L., Meier, P. (1958). Nonparametric estimation from incomplete observations.
*Journal of the American Statistical Association* 53(282), 457-481.

Greenwood, M. (1926). The natural duration of cancer. *Reports on Public Health and Medical
Subjects* 33, 1-26.

Kalbfleisch, J. D., Prentice, R. L. (2002). *The Statistical Analysis of Failure Time Data*,
2nd ed., Wiley (log-log confidence intervals).

Brown, L., Gans, N., Mandelbaum, A., Sakov, A., Shen, H., Zeltyn, S., Zhao, L. (2005).
Statistical analysis of a telephone call center: a queueing-science perspective. *Journal of
the American Statistical Association* 100(469), 36-50.

Mandelbaum, A., Zeltyn, S. (2013). Data-stories about (im)patient customers in tele-queues.
*Queueing Systems* 75(2-4), 115-146.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

FloatArray = npt.NDArray[np.float64]

DEFAULT_WAIT_POINTS_S: tuple[float, ...] = (10.0, 20.0, 30.0, 60.0, 90.0, 120.0)
"""Wait points (seconds) of the abandonment-by-wait table (requirement W3)."""

DEFAULT_SURVIVAL_POINTS_S: tuple[float, ...] = (10.0, 20.0, 30.0, 60.0, 90.0, 120.0, 180.0, 300.0)
"""Wait points (seconds) at which survival is usually reported."""

DEFAULT_HAZARD_EDGES_S: tuple[float, ...] = (
    0.0,
    10.0,
    20.0,
    30.0,
    60.0,
    90.0,
    120.0,
    180.0,
    300.0,
    math.inf,
)
"""Edges (seconds) of the default hazard intervals; the last interval is open."""

DEFAULT_SURVIVAL_LEVEL = 0.9
"""Default survival level of the answer target: answer before one caller in ten hangs up."""


def _prepare(
    wait_s: npt.ArrayLike, abandoned: npt.ArrayLike, weights: npt.ArrayLike | None
) -> tuple[FloatArray, npt.NDArray[np.bool_], FloatArray]:
    """Validate and coerce the per-call arrays shared by every estimator."""
    wait = np.asarray(wait_s, dtype=np.float64).ravel()
    ab = np.asarray(abandoned).ravel()
    if ab.dtype != np.bool_:
        if ab.size and not np.isin(ab, (0, 1)).all():
            raise ValueError("abandoned must be booleans or 0/1")
        ab = ab.astype(np.bool_)
    if wait.shape != ab.shape:
        raise ValueError(
            f"wait_s and abandoned must have the same length ({wait.size} != {ab.size})"
        )
    if wait.size and (not np.isfinite(wait).all() or (wait < 0).any()):
        raise ValueError("wait_s must be finite and non-negative")
    if weights is None:
        w = np.ones(wait.shape, dtype=np.float64)
    else:
        w = np.asarray(weights, dtype=np.float64).ravel()
        if w.shape != wait.shape:
            raise ValueError(
                f"weights must have the same length as wait_s ({w.size} != {wait.size})"
            )
        if w.size and (not np.isfinite(w).all() or (w < 0).any()):
            raise ValueError("weights must be finite and non-negative")
    return wait, ab, w


def _bincount(index: npt.NDArray[np.intp], weights: FloatArray, size: int) -> FloatArray:
    return np.asarray(np.bincount(index, weights=weights, minlength=size), dtype=np.float64)


def _points(points_s: Sequence[float] | npt.ArrayLike) -> FloatArray:
    pts = np.asarray(points_s, dtype=np.float64).ravel()
    if pts.size == 0:
        raise ValueError("at least one wait point is needed")
    if not np.isfinite(pts).all() or (pts < 0).any():
        raise ValueError("wait points must be finite and non-negative")
    if (np.diff(pts) <= 0).any():
        raise ValueError("wait points must be strictly increasing")
    return pts


# --------------------------------------------------------------------------------------------
# Abandonment by wait interval
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AbandonmentByWait:
    r"""Abandonment of queued calls by how long the caller had waited (requirement W3).

    For wait points :math:`t_1 < \dots < t_k` and queued calls with waits :math:`W_j`:

    * ``share[i]`` :math:`= \#\{j : \text{abandoned}_j,\ W_j \le t_i\} / N`, the share of all
      :math:`N` queued calls that hung up having waited at most :math:`t_i` (cumulative);
    * ``interval_abandoned[i]`` counts hang-ups in the interval :math:`(t_{i-1}, t_i]` (the
      first interval is :math:`[0, t_1]`);
    * ``at_risk[i]`` counts calls still waiting at the start of that interval
      (:math:`W_j > t_{i-1}`, all calls for the first), and
      ``conditional_share[i] = interval_abandoned[i] / at_risk[i]`` is the share of those
      still waiting who hung up within the interval (``nan`` when nobody was waiting).

    Attributes
    ----------
    points_s : ndarray
        The wait points :math:`t_i`, seconds.
    queued : float
        Number (total weight) of queued calls :math:`N`.
    abandoned : float
        Number of queued calls that abandoned, at any wait.
    abandoned_within : ndarray
        Cumulative abandons with :math:`W \le t_i`.
    share : ndarray
        ``abandoned_within / queued`` (``nan`` when nothing was queued).
    interval_abandoned, at_risk, conditional_share : ndarray
        Per-interval counts and shares, as above.
    """

    points_s: FloatArray
    queued: float
    abandoned: float
    abandoned_within: FloatArray
    share: FloatArray
    interval_abandoned: FloatArray
    at_risk: FloatArray
    conditional_share: FloatArray

    @property
    def abandoned_after_last(self) -> float:
        """Hang-ups after the last wait point."""
        return float(self.abandoned - self.abandoned_within[-1])


def abandonment_by_wait(
    wait_s: npt.ArrayLike,
    abandoned: npt.ArrayLike,
    points_s: Sequence[float] | npt.ArrayLike = DEFAULT_WAIT_POINTS_S,
    *,
    weights: npt.ArrayLike | None = None,
) -> AbandonmentByWait:
    """Share of queued calls that abandoned within each wait point (see :class:`AbandonmentByWait`).

    Parameters
    ----------
    wait_s : array_like of float
        Seconds each queued call waited, until answer or hang-up.
    abandoned : array_like of bool
        True where the caller hung up while waiting.
    points_s : sequence of float
        Strictly increasing wait points, seconds (default 10, 20, 30, 60, 90, 120).
    weights : array_like of float, optional
        Number of calls each entry stands for (default one each).

    Returns
    -------
    AbandonmentByWait

    References
    ----------
    Brown et al. (2005), on abandonment as a function of the wait.
    """
    wait, ab, w = _prepare(wait_s, abandoned, weights)
    pts = _points(points_s)
    total = float(w.sum())
    ab_wait = wait[ab]
    ab_w = w[ab]
    order = np.argsort(ab_wait, kind="stable")
    cum_ab = np.concatenate(([0.0], np.cumsum(ab_w[order])))
    within = cum_ab[np.searchsorted(ab_wait[order], pts, side="right")]
    interval = np.diff(np.concatenate(([0.0], within)))
    order_all = np.argsort(wait, kind="stable")
    cum_all = np.concatenate(([0.0], np.cumsum(w[order_all])))
    # Calls still waiting after t_{i-1}: W > t_{i-1}; everybody is at risk in [0, t_1].
    left_by = cum_all[np.searchsorted(wait[order_all], pts[:-1], side="right")]
    at_risk = total - np.concatenate(([0.0], left_by))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = within / total if total > 0 else np.full(pts.shape, np.nan)
        conditional = np.where(at_risk > 0, interval / at_risk, np.nan)
    return AbandonmentByWait(
        points_s=pts,
        queued=total,
        abandoned=float(ab_w.sum()),
        abandoned_within=within,
        share=share,
        interval_abandoned=interval,
        at_risk=at_risk,
        conditional_share=conditional,
    )


# --------------------------------------------------------------------------------------------
# Kaplan-Meier
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurvivalCurve:
    r"""Kaplan-Meier estimate of patience survival :math:`S(t) = P(\tau > t)`.

    At the distinct abandonment times :math:`t_1 < t_2 < \dots`, with :math:`d_i` hang-ups at
    :math:`t_i` and :math:`n_i` calls still waiting just before :math:`t_i` (waits
    :math:`\ge t_i`; a call answered at :math:`t_i` counts as at risk at :math:`t_i`):

    .. math::

        \hat S(t) = \prod_{t_i \le t} \left(1 - \frac{d_i}{n_i}\right), \qquad
        \widehat{\operatorname{Var}}\,\hat S(t) = \hat S(t)^2 \sum_{t_i \le t}
        \frac{d_i}{n_i (n_i - d_i)} \quad \text{(Greenwood)}.

    The confidence band is the log-log (Kalbfleisch-Prentice) one, which stays inside
    :math:`[0, 1]`: with :math:`\sigma(t)^2 = \sum_{t_i \le t} d_i / (n_i (n_i - d_i))` and
    :math:`s(t) = \sigma(t) / |\log \hat S(t)|`,

    .. math::

        \left[\hat S(t)^{\exp(z\, s(t))},\ \hat S(t)^{\exp(-z\, s(t))}\right].

    Attributes
    ----------
    time_s : ndarray
        Distinct abandonment times :math:`t_i`, ascending.
    at_risk : ndarray
        :math:`n_i`.
    events : ndarray
        :math:`d_i`.
    survival : ndarray
        :math:`\hat S(t_i)`.
    greenwood : ndarray
        :math:`\sigma(t_i)^2` (``inf`` once the estimate reaches zero).
    lower, upper : ndarray
        The log-log confidence band at each :math:`t_i`.
    confidence : float
        The confidence level of the band (e.g. 0.95).
    n : float
        Number of calls (total weight).
    n_events : float
        Number of abandons.
    max_wait_s : float
        Longest wait observed (answered or abandoned); the curve says nothing beyond it.
    """

    time_s: FloatArray
    at_risk: FloatArray
    events: FloatArray
    survival: FloatArray
    greenwood: FloatArray
    lower: FloatArray
    upper: FloatArray
    confidence: float
    n: float
    n_events: float
    max_wait_s: float

    def _index(self, t_s: npt.ArrayLike) -> npt.NDArray[np.intp]:
        t = np.asarray(t_s, dtype=np.float64)
        return np.searchsorted(self.time_s, t, side="right") - 1

    def _step(self, values: FloatArray, t_s: npt.ArrayLike, before: float) -> FloatArray:
        idx = self._index(t_s)
        padded = np.concatenate(([before], values))
        return np.asarray(padded[idx + 1], dtype=np.float64)

    def survival_at(self, t_s: npt.ArrayLike) -> FloatArray:
        r""":math:`\hat S(t)` at any times (a right-continuous step function, 1 before
        the first hang-up). Beyond :attr:`max_wait_s` the last value is carried forward, which
        is an extrapolation."""
        return self._step(self.survival, t_s, 1.0)

    def band_at(self, t_s: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """The confidence band ``(lower, upper)`` at any times (1 before the first hang-up)."""
        return self._step(self.lower, t_s, 1.0), self._step(self.upper, t_s, 1.0)

    def time_at_survival_s(self, level: float) -> float | None:
        r"""Smallest time :math:`t` with :math:`\hat S(t) \le` ``level``; ``None`` if the
        estimate never falls that low within the data."""
        if not 0.0 <= level < 1.0:
            raise ValueError("the survival level must be in [0, 1)")
        hit = np.flatnonzero(self.survival <= level + 1e-12)
        return float(self.time_s[hit[0]]) if hit.size else None

    @property
    def median_s(self) -> float | None:
        """Median patience (``None`` when fewer than half the callers would have hung up
        within the longest wait observed)."""
        return self.time_at_survival_s(0.5)


def kaplan_meier(
    wait_s: npt.ArrayLike,
    abandoned: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
    confidence: float = 0.95,
) -> SurvivalCurve:
    """Kaplan-Meier patience survival with Greenwood variance and log-log bands.

    Abandoned calls are observed patience times; answered (or otherwise ended) calls are
    censored at their wait. See :class:`SurvivalCurve` for the formulas.

    Parameters
    ----------
    wait_s : array_like of float
        Wait of each queued call, seconds.
    abandoned : array_like of bool
        True where the caller hung up.
    weights : array_like of float, optional
        Number of calls each entry stands for.
    confidence : float
        Level of the confidence band, in (0, 1).

    Returns
    -------
    SurvivalCurve

    References
    ----------
    Kaplan and Meier (1958); Greenwood (1926); Kalbfleisch and Prentice (2002).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    wait, ab, w = _prepare(wait_s, abandoned, weights)
    times, inverse = np.unique(wait, return_inverse=True)
    leaving = _bincount(inverse, w, times.size)
    events_all = _bincount(inverse, np.where(ab, w, 0.0), times.size)
    total = float(w.sum())
    at_risk_all = total - np.concatenate(([0.0], np.cumsum(leaving)[:-1]))
    keep = events_all > 0
    t = times[keep]
    d = events_all[keep]
    n = at_risk_all[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - d / n)
        gw = np.cumsum(np.where(n > d, d / (n * (n - d)), np.inf))
        z = float(stats.norm.ppf(0.5 + confidence / 2.0))
        log_s = np.log(surv)
        s = np.sqrt(gw) / np.abs(log_s)
        lower = np.where(surv > 0, surv ** np.exp(z * s), 0.0)
        upper = np.where(surv > 0, surv ** np.exp(-z * s), 0.0)
    surv = np.clip(surv, 0.0, 1.0)
    return SurvivalCurve(
        time_s=t,
        at_risk=n,
        events=d,
        survival=surv,
        greenwood=gw,
        lower=lower,
        upper=upper,
        confidence=confidence,
        n=total,
        n_events=float(d.sum()),
        max_wait_s=float(times[-1]) if times.size else 0.0,
    )


# --------------------------------------------------------------------------------------------
# Hazard
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HazardByInterval:
    r"""Hazard of abandonment by wait interval.

    For intervals :math:`I_k = (a_k, b_k]` (the first one :math:`[a_1, b_1]`):

    * ``exposure_s[k]`` :math:`= \sum_j \big(\min(W_j, b_k) - a_k\big)^+`, the seconds spent
      waiting inside the interval by all callers;
    * ``hazard_per_s[k]`` :math:`= A_k / \text{exposure}_k`, where :math:`A_k` counts hang-ups
      in :math:`I_k`: the occurrence/exposure (piecewise-exponential maximum-likelihood)
      estimate of the hazard rate, in hang-ups per second of waiting;
    * ``conditional_abandon[k]`` :math:`= A_k / R_k`, with :math:`R_k` the callers still
      waiting at :math:`a_k`: the life-table probability of hanging up within the interval.
      It is biased low because callers answered inside the interval leave early; the hazard
      rate is not.

    Both are ``nan`` where the denominator is zero.
    """

    edges_s: FloatArray
    abandoned: FloatArray
    at_risk: FloatArray
    exposure_s: FloatArray
    hazard_per_s: FloatArray
    conditional_abandon: FloatArray


def hazard_by_interval(
    wait_s: npt.ArrayLike,
    abandoned: npt.ArrayLike,
    edges_s: Sequence[float] | npt.ArrayLike = DEFAULT_HAZARD_EDGES_S,
    *,
    weights: npt.ArrayLike | None = None,
) -> HazardByInterval:
    """Hazard rate and conditional abandonment by wait interval (see :class:`HazardByInterval`).

    Parameters
    ----------
    wait_s, abandoned, weights
        As in :func:`kaplan_meier`.
    edges_s : sequence of float
        Strictly increasing interval edges, seconds; the last may be ``inf``.

    Returns
    -------
    HazardByInterval

    References
    ----------
    Mandelbaum and Zeltyn (2013), on hazard rates of patience; the occurrence/exposure
    estimator is the maximum-likelihood estimate of a piecewise-constant hazard.
    """
    wait, ab, w = _prepare(wait_s, abandoned, weights)
    edges = np.asarray(edges_s, dtype=np.float64).ravel()
    if edges.size < 2:
        raise ValueError("at least two edges are needed")
    if np.isnan(edges).any() or edges[0] < 0 or (np.diff(edges) <= 0).any():
        raise ValueError("edges must be non-negative and strictly increasing")
    lo = edges[:-1]
    hi = edges[1:]
    # Interval of each abandon: the first interval is closed on the left, the others (a, b].
    ab_wait = wait[ab]
    k = np.searchsorted(hi, ab_wait, side="left")
    inside = (k < lo.size) & (ab_wait >= edges[0])
    counts = _bincount(k[inside], w[ab][inside], lo.size)
    order = np.argsort(wait, kind="stable")
    ws = wait[order]
    cum_w = np.concatenate(([0.0], np.cumsum(w[order])))
    cum_ww = np.concatenate(([0.0], np.cumsum(w[order] * ws)))
    total = float(cum_w[-1])

    def sum_min(x: FloatArray) -> FloatArray:
        """sum_j w_j min(W_j, x) for each x (x may be inf)."""
        idx = np.searchsorted(ws, x, side="right")
        beyond = total - cum_w[idx]
        finite_x = np.where(np.isinf(x), 0.0, x)  # beyond == 0 wherever x is inf
        return np.asarray(cum_ww[idx] + finite_x * beyond, dtype=np.float64)

    # (min(W, b) - a)^+ = min(W, b) - min(W, a) when a < b.
    exposure = sum_min(hi) - sum_min(lo)
    waiting_after = total - cum_w[np.searchsorted(ws, lo, side="right")]
    waiting_from = total - cum_w[np.searchsorted(ws, lo, side="left")]
    at_risk = np.where(np.arange(lo.size) == 0, waiting_from, waiting_after)
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(exposure > 0, counts / exposure, np.nan)
        conditional = np.where(at_risk > 0, counts / at_risk, np.nan)
    return HazardByInterval(
        edges_s=edges,
        abandoned=counts,
        at_risk=at_risk,
        exposure_s=exposure,
        hazard_per_s=hazard,
        conditional_abandon=conditional,
    )


# --------------------------------------------------------------------------------------------
# Mean patience
# --------------------------------------------------------------------------------------------


def mean_patience_total_wait_s(
    wait_s: npt.ArrayLike, abandoned: npt.ArrayLike, *, weights: npt.ArrayLike | None = None
) -> float | None:
    r"""Mean patience as total time in queue over the number of abandons.

    .. math::

        \hat\theta^{-1} = \frac{\sum_j W_j}{\#\{j : \text{abandoned}_j\}}

    where the sum runs over *all* queued calls (answered and abandoned). This is the
    maximum-likelihood estimate of the mean of an exponential patience from right-censored
    waits, and a robust estimate of :math:`1/g(0)` (the inverse patience density at zero) in
    heavily loaded queues.

    Returns
    -------
    float or None
        Seconds; ``None`` when nobody abandoned.

    References
    ----------
    Mandelbaum and Zeltyn (2013); Brown et al. (2005).
    """
    wait, ab, w = _prepare(wait_s, abandoned, weights)
    n_ab = float(w[ab].sum())
    if n_ab <= 0:
        return None
    return float((w * wait).sum() / n_ab)


@dataclass(frozen=True)
class PatienceRegression:
    r"""P(abandon) regressed on mean wait across groups (e.g. half-hour intervals).

    With exponential patience of mean :math:`\theta^{-1}`, every interval satisfies
    :math:`P(\text{Ab}) \approx \theta\, E[W]`, so the slope of the least-squares line through
    the origin over the intervals estimates :math:`\theta` and

    .. math::

        \hat\theta = \frac{\sum_g c_g\, x_g y_g}{\sum_g c_g\, x_g^2}, \qquad
        \text{mean patience} = 1/\hat\theta,

    with :math:`x_g` the mean wait, :math:`y_g` the share abandoned and :math:`c_g` the
    number of queued calls of group :math:`g` (weighted least squares). ``r_squared`` is the
    weighted uncentred coefficient of determination of that line.

    Attributes
    ----------
    mean_patience_s : float or None
        :math:`1/\hat\theta`; ``None`` when the slope is not positive.
    slope_per_s : float
        :math:`\hat\theta`.
    r_squared : float
        Fit of the line through the origin (``nan`` if undefined).
    groups : int
        Number of groups used.
    mean_wait_s, p_abandon, calls : ndarray
        The points fitted.
    """

    mean_patience_s: float | None
    slope_per_s: float
    r_squared: float
    groups: int
    mean_wait_s: FloatArray
    p_abandon: FloatArray
    calls: FloatArray


def regress_abandonment_on_wait(
    mean_wait_s: npt.ArrayLike,
    p_abandon: npt.ArrayLike,
    calls: npt.ArrayLike | None = None,
) -> PatienceRegression:
    """Fit P(abandon) = theta * mean wait through the origin (see :class:`PatienceRegression`).

    Parameters
    ----------
    mean_wait_s : array_like of float
        Mean wait of each group, seconds.
    p_abandon : array_like of float
        Share of queued calls that abandoned in each group.
    calls : array_like of float, optional
        Queued calls per group (the regression weights); default equal weights.

    Returns
    -------
    PatienceRegression

    References
    ----------
    Brown et al. (2005) (the linear relation between P(Ab) and E[W] across hourly
    intervals); Mandelbaum and Zeltyn (2013).
    """
    x = np.asarray(mean_wait_s, dtype=np.float64).ravel()
    y = np.asarray(p_abandon, dtype=np.float64).ravel()
    c = np.ones(x.shape) if calls is None else np.asarray(calls, dtype=np.float64).ravel()
    if not x.shape == y.shape == c.shape:
        raise ValueError("mean_wait_s, p_abandon and calls must have the same length")
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(c) & (c > 0)
    x, y, c = x[ok], y[ok], c[ok]
    sxx = float((c * x * x).sum())
    if x.size == 0 or sxx <= 0:
        return PatienceRegression(None, math.nan, math.nan, int(x.size), x, y, c)
    slope = float((c * x * y).sum()) / sxx
    syy = float((c * y * y).sum())
    resid = float((c * (y - slope * x) ** 2).sum())
    r2 = 1.0 - resid / syy if syy > 0 else math.nan
    mean = 1.0 / slope if slope > 0 else None
    return PatienceRegression(mean, slope, r2, int(x.size), x, y, c)


def mean_patience_by_regression(
    group: npt.ArrayLike,
    wait_s: npt.ArrayLike,
    abandoned: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
    min_calls: float = 1.0,
) -> PatienceRegression:
    """Group calls (e.g. by half-hour of arrival), then :func:`regress_abandonment_on_wait`.

    Parameters
    ----------
    group : array_like
        Group label of each entry (any sortable values, e.g. interval start in seconds).
    wait_s, abandoned, weights
        As in :func:`kaplan_meier`.
    min_calls : float
        Groups with fewer queued calls are left out (their shares are noise).

    Returns
    -------
    PatienceRegression
    """
    wait, ab, w = _prepare(wait_s, abandoned, weights)
    g = np.asarray(group).ravel()
    if g.shape != wait.shape:
        raise ValueError("group must have the same length as wait_s")
    _, inverse = np.unique(g, return_inverse=True)
    calls = _bincount(inverse, w, 0)
    total_wait = _bincount(inverse, w * wait, 0)
    n_ab = _bincount(inverse, np.where(ab, w, 0.0), 0)
    keep = calls >= max(min_calls, np.finfo(np.float64).tiny)
    return regress_abandonment_on_wait(
        total_wait[keep] / calls[keep], n_ab[keep] / calls[keep], calls[keep]
    )


# --------------------------------------------------------------------------------------------
# Answer target
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerTarget:
    r"""The answer target "just before most customers hang up" (requirement W4).

    ``target_s`` is the smallest wait :math:`t` at which the Kaplan-Meier patience survival
    :math:`\hat S(t)` falls to ``survival_level``: answering every call within ``target_s``
    keeps the hang-ups of callers who would otherwise wait down to
    :math:`1 - \text{survival\_level}`. Answering faster than that buys little, answering slower
    loses callers fast. ``target_s`` is ``None`` when survival never falls that low within the
    waits observed (then ``max_wait_s`` is a lower bound for the target).

    ``lower_s`` and ``upper_s`` are the times at which the lower and the upper confidence band
    reach the level: a confidence interval for the target (``None`` when a band does not reach
    the level within the data).
    """

    target_s: float | None
    survival_level: float
    lower_s: float | None
    upper_s: float | None
    max_wait_s: float


def _first_time_at_or_below(time_s: FloatArray, values: FloatArray, level: float) -> float | None:
    hit = np.flatnonzero(values <= level + 1e-12)
    return float(time_s[hit[0]]) if hit.size else None


def recommended_answer_target(
    curve: SurvivalCurve, *, survival_level: float = DEFAULT_SURVIVAL_LEVEL
) -> AnswerTarget:
    """Answer target from a patience curve (see :class:`AnswerTarget`).

    Parameters
    ----------
    curve : SurvivalCurve
        Patience survival from :func:`kaplan_meier`.
    survival_level : float
        Share of callers still willing to wait at the target, in (0, 1); default 0.9
        ("before one caller in ten hangs up"). 0.5 gives the median patience.

    Returns
    -------
    AnswerTarget

    References
    ----------
    Mandelbaum and Zeltyn (2013), on service targets driven by customers' patience.
    """
    if not 0.0 < survival_level < 1.0:
        raise ValueError("survival_level must be in (0, 1)")
    return AnswerTarget(
        target_s=curve.time_at_survival_s(survival_level),
        survival_level=survival_level,
        lower_s=_first_time_at_or_below(curve.time_s, curve.lower, survival_level),
        upper_s=_first_time_at_or_below(curve.time_s, curve.upper, survival_level),
        max_wait_s=curve.max_wait_s,
    )


# --------------------------------------------------------------------------------------------
# Everything at once
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatienceSummary:
    """Every patience estimate of one set of queued calls (see :func:`summarize_patience`)."""

    queued: float
    abandoned: float
    by_wait: AbandonmentByWait
    curve: SurvivalCurve
    survival_points_s: FloatArray
    survival_at_points: FloatArray
    hazard: HazardByInterval
    mean_total_wait_s: float | None
    regression: PatienceRegression | None
    target: AnswerTarget

    @property
    def p_abandon(self) -> float:
        """Share of queued calls that abandoned (``nan`` when nothing was queued)."""
        return self.abandoned / self.queued if self.queued > 0 else math.nan


def summarize_patience(
    wait_s: npt.ArrayLike,
    abandoned: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
    group: npt.ArrayLike | None = None,
    wait_points_s: Sequence[float] = DEFAULT_WAIT_POINTS_S,
    survival_points_s: Sequence[float] = DEFAULT_SURVIVAL_POINTS_S,
    hazard_edges_s: Sequence[float] = DEFAULT_HAZARD_EDGES_S,
    survival_level: float = DEFAULT_SURVIVAL_LEVEL,
    confidence: float = 0.95,
    min_group_calls: float = 1.0,
) -> PatienceSummary:
    """Abandonment by wait, Kaplan-Meier survival, hazard, mean patience and answer target.

    Parameters
    ----------
    wait_s, abandoned, weights
        Queued calls, as in :func:`kaplan_meier`.
    group : array_like, optional
        Group (interval) of each entry, for :func:`mean_patience_by_regression`; without it
        the regression estimate is ``None``.
    wait_points_s, survival_points_s, hazard_edges_s
        Points of the abandonment table, of the survival table, and hazard edges.
    survival_level, confidence
        See :func:`recommended_answer_target` and :func:`kaplan_meier`.
    min_group_calls : float
        See :func:`mean_patience_by_regression`.

    Returns
    -------
    PatienceSummary
    """
    by_wait = abandonment_by_wait(wait_s, abandoned, wait_points_s, weights=weights)
    curve = kaplan_meier(wait_s, abandoned, weights=weights, confidence=confidence)
    pts = _points(survival_points_s)
    regression = (
        None
        if group is None
        else mean_patience_by_regression(
            group, wait_s, abandoned, weights=weights, min_calls=min_group_calls
        )
    )
    return PatienceSummary(
        queued=by_wait.queued,
        abandoned=by_wait.abandoned,
        by_wait=by_wait,
        curve=curve,
        survival_points_s=pts,
        survival_at_points=curve.survival_at(pts),
        hazard=hazard_by_interval(wait_s, abandoned, hazard_edges_s, weights=weights),
        mean_total_wait_s=mean_patience_total_wait_s(wait_s, abandoned, weights=weights),
        regression=regression,
        target=recommended_answer_target(curve, survival_level=survival_level),
    )
