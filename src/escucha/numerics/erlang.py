"""Erlang B, C and A (M/M/n+M) queue measures, exact and stable for every ``n >= 0`` (W4).

All functions are vectorised: every argument may be a scalar or an array (one element per
interval), and the arguments broadcast together. Nothing here returns NaN, a negative number or
a probability above 1:

* **Erlang C** (M/M/n, infinitely patient callers) is only stable when ``n > a`` (agents exceed
  the offered load ``a = arrivals x AHT`` in Erlangs). Otherwise the result says so explicitly
  (``stable`` is false): every caller waits, the service level is 0 and the waits are infinite.
* **Erlang A** (M/M/n+M, exponential patience) is always stable and gives the true values of an
  overloaded system, where impatient callers hang up.

Numerical method
----------------
Everything is written through the inverse Erlang B quantity
:math:`R(n, a) = 1/B(n, a) - 1 = \\sum_{k=0}^{n-1} \\frac{n!}{k!\\,a^{n-k}}`, kept in log space.
It equals :math:`Q(n, a) / p(n; a)` (regularised upper incomplete gamma over the Poisson
probability, the latter computed with Loader's saddle-point expansion so it keeps full relative
precision for 100,000 Erlangs and more). That form is used for ``n >= 0.7 a``, where SciPy's
``Q`` keeps ~1e-13 relative precision, as long as ``Q`` does not underflow (beyond 1e-280);
otherwise it is the finite series above, whose terms decrease and are summed until they no
longer matter.

Erlang A follows Garnett, Mandelbaum & Reiman (2002) and Mandelbaum & Zeltyn (2007): with
:math:`x = n\\mu/\\theta`, :math:`y = \\lambda/\\theta` and
:math:`A(x, y) = \\sum_{j\\ge0}\\prod_{i=1}^{j} y/(x+i) = \\Gamma(x+1) e^{y} y^{-x} P(x, y)`,

.. math::

    P(W>0) = \\frac{1}{1 + R(n, a)/A(x, y)},\\qquad
    P(\\text{Ab} \\mid W>0) = 1 - \\frac{x}{y}\\Bigl(1 - \\frac{1}{A(x, y)}\\Bigr).

The waiting-time measures come from the density of the offered wait :math:`V`,
:math:`P(V>t \\mid V>0) = \\gamma(x, y e^{-\\theta t}) / \\gamma(x, y)` and
:math:`P(V>t, V<\\tau \\mid V>0) = \\gamma(x+1, y e^{-\\theta t}) / (y\\,\\gamma(x, y))`, with
:math:`\\tau` the caller's patience. ``A`` is taken from ``scipy.special.gammainc`` when
``x <= y + w sqrt(x)`` (``w`` = :data:`_GAMMA_WINDOW`: ``P(x, y)`` is then at least about
``exp(-w^2/2)`` and keeps full relative precision) and from its series otherwise, so nothing
under- or overflows and no search pays for a long series near ``x = y``. The mean wait of the
*answered* calls (ASA) is summed over the states a caller can find on arrival: a caller who finds
``j`` others waiting is answered with probability :math:`x/(x+j+1)` after a mean wait of
:math:`\\theta^{-1}\\sum_{i=0}^{j} 1/(x+i+1)`.

References
----------
* A. K. Erlang (1917); D. L. Jagerman, "Some properties of the Erlang loss function",
  Bell System Technical Journal 53 (1974).
* C. Loader, "Fast and accurate computation of binomial probabilities" (2000).
* O. Garnett, A. Mandelbaum, M. Reiman, "Designing a call center with impatient customers",
  Manufacturing & Service Operations Management 4 (2002).
* A. Mandelbaum, S. Zeltyn, "Service engineering in action: the Palm/Erlang-A queue, with
  applications to call centers" (2007).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, TypeGuard

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = [
    "SL_DEFINITIONS",
    "ErlangResult",
    "QueueMetrics",
    "SlDefinition",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "erlang_c_wait_probability",
    "evaluate",
]

FloatArray = NDArray[np.float64]

SlDefinition = Literal[
    "offered",
    "answered",
    "offered_ex_abandoned_within_t",
    "abandons_met",
    "offered_minus_short_abandons",
]
"""How the service level counts calls (the share answered within the target time ``t``).

``offered``
    answered within t / all offered calls; every abandon counts as missed (default; the
    strictest, and the one that matches what customers live).
``answered``
    answered within t / answered calls (abandons ignored).
``offered_ex_abandoned_within_t``
    answered within t / (offered - abandoned within t): callers who hung up before t are left out.
    The call-log analysis gives the same name to the same ratio. ``offered_minus_short_abandons``
    is an older name of it, still accepted.
``abandons_met``
    (answered within t + abandoned within t) / offered: early hang-ups count as met.
"""

SL_DEFINITIONS: tuple[SlDefinition, ...] = (
    "offered",
    "answered",
    "offered_ex_abandoned_within_t",
    "abandons_met",
)
#: Older names still accepted, and the definition each stands for.
SL_ALIASES: dict[str, SlDefinition] = {
    "offered_minus_short_abandons": "offered_ex_abandoned_within_t",
}


def known_sl_definition(name: str) -> TypeGuard[SlDefinition]:
    """Whether ``name`` is a service-level definition or an older name of one."""
    return name in SL_DEFINITIONS or name in SL_ALIASES


_LOG_2PI = math.log(2.0 * math.pi)
_TAIL = 46.0  # terms below exp(-46) ~ 1e-20 of the largest are dropped
_TINY = math.exp(-_TAIL)
_GAMMA_WINDOW = 6.0
"""Incomplete gamma functions are used up to this many standard deviations into their small
tail (values above about ``exp(-18)``, accurate to ~1e-14 relative); series beyond."""

_Q_FROM = 0.7  # R(n, a) from Q(n, a) for n >= 0.7 a ...
_Q_MIN = 1e-280  # ... unless Q underflows towards the subnormals


def _gamma_near(s: float, z: float) -> bool:
    """Whether the small tail of ``P(s, z)`` / ``Q(s, z)`` is within :data:`_GAMMA_WINDOW`."""
    return abs(s - z) <= _GAMMA_WINDOW * math.sqrt(max(s, z, 1.0))


# ---------------------------------------------------------------------------------------------
# Stable building blocks
# ---------------------------------------------------------------------------------------------


def _stirlerr(x: FloatArray) -> FloatArray:
    """``log Gamma(x+1) - (x+1/2) log x + x - log(2 pi)/2`` for ``x >= 1`` (Loader 2000)."""
    out = np.empty_like(x)
    big = x > 15.0
    xb = x[big]
    x2 = 1.0 / (xb * xb)
    out[big] = (
        1.0 / 12.0 - x2 * (1.0 / 360.0 - x2 * (1.0 / 1260.0 - x2 * (1.0 / 1680.0 - x2 / 1188.0)))
    ) / xb
    xs = x[~big]
    out[~big] = special.gammaln(xs + 1.0) - (xs + 0.5) * np.log(xs) + xs - 0.5 * _LOG_2PI
    return out


def _bd0(x: FloatArray, mu: FloatArray) -> FloatArray:
    """Deviance term ``x log(x/mu) + mu - x`` without cancellation (Loader 2000)."""
    d = x - mu
    s = x + mu
    near = np.abs(d) < 0.1 * s
    out = np.empty_like(x)
    xf, mf = x[~near], mu[~near]
    out[~near] = xf * np.log(xf / mf) + mf - xf
    xn, dn, sn = x[near], d[near], s[near]
    v = dn / sn
    total = dn * v
    ej = 2.0 * xn * v
    v2 = v * v
    for j in range(1, 14):  # |v| < 0.1: 13 terms reach 1e-28
        ej = ej * v2
        total = total + ej / (2 * j + 1)
    out[near] = total
    return out


def _log_poisson(x: FloatArray, mu: FloatArray) -> FloatArray:
    """``log(mu**x exp(-mu) / Gamma(x+1))`` for ``x >= 1``, ``mu > 0``, to full precision."""
    return -_stirlerr(x) - 0.5 * (_LOG_2PI + np.log(x)) - _bd0(x, mu)


def _log_poisson_s(x: float, mu: float) -> float:
    """Scalar :func:`_log_poisson` (fast path for searches)."""
    if x < 1.0:
        return float(special.xlogy(x, mu)) - mu - math.lgamma(x + 1.0)
    if x > 15.0:
        x2 = 1.0 / (x * x)
        stirl = (
            1.0 / 12.0
            - x2 * (1.0 / 360.0 - x2 * (1.0 / 1260.0 - x2 * (1.0 / 1680.0 - x2 / 1188.0)))
        ) / x
    else:
        stirl = math.lgamma(x + 1.0) - (x + 0.5) * math.log(x) + x - 0.5 * _LOG_2PI
    d = x - mu
    s = x + mu
    if abs(d) < 0.1 * s:
        v = d / s
        bd0 = d * v
        ej = 2.0 * x * v
        v2 = v * v
        for j in range(1, 14):
            ej *= v2
            bd0 += ej / (2 * j + 1)
    else:
        bd0 = x * math.log(x / mu) + mu - x
    return -stirl - 0.5 * (_LOG_2PI + math.log(x)) - bd0


def _log_r(n: int, a: float) -> float:
    """Scalar ``log(1/B(n, a) - 1)`` for ``n >= 1``, ``a > 0``."""
    if n >= _Q_FROM * a:
        q = float(special.gammaincc(n, a))
        if q > _Q_MIN:
            return math.log(q) - _log_poisson_s(float(n), a)
    return _log_sum_inv_b(n, a)


def _log_inv_b_minus_one(n: NDArray[np.int64], a: FloatArray) -> FloatArray:
    """``log(1/B(n, a) - 1)`` for ``n >= 1``, ``a > 0`` (see the module docstring)."""
    out = np.empty(n.shape, dtype=np.float64)
    nf = n.astype(np.float64)
    q = np.zeros(n.shape, dtype=np.float64)
    near = nf >= _Q_FROM * a
    q[near] = special.gammaincc(nf[near], a[near])
    hi = q > _Q_MIN
    out[hi] = np.log(q[hi]) - _log_poisson(nf[hi], a[hi])
    for i in np.flatnonzero(~hi):
        out[i] = _log_sum_inv_b(int(n[i]), float(a[i]))
    return out


def _chunks(start: int, first: int = 32) -> Iterator[NDArray[np.float64]]:
    """Consecutive index ranges from ``start`` that grow geometrically (``first``, x4, ... 8192)."""
    size = first
    while True:
        yield np.arange(start, start + size, dtype=np.float64)
        start += size
        size = min(size * 4, 8192)


def _terms_needed(ratio: float, load: float) -> int:
    """How many terms of a product series with factors at most ``ratio < 1`` (and, for
    factors ``1 - i/load``, a Gaussian fall ``exp(-i^2 / (2 load))``) reach ``exp(-_TAIL)``:
    the first chunk's size, so that one pass usually suffices."""
    tail = _TAIL + 10.0
    geometric = tail / -math.log(ratio) if 0.0 < ratio < 1.0 else 0.0
    return int(min(geometric, math.sqrt(2.0 * tail * max(load, 1.0)))) + 16


def _log_sum_inv_b(n: int, a: float) -> float:
    """``log sum_{j=1}^{n} prod_{i=0}^{j-1} (n-i)/a`` for ``1 <= n < a`` (terms decrease).

    The terms after the first, relative to it, are running products of ``(n-i)/a < 1``: each
    factor is one correctly rounded division, so ``k`` terms carry at most ``k`` roundings
    (``~1e-13`` relative for the few thousand terms of 100,000 Erlangs).
    """
    total = 0.0  # sum of the terms after the first, divided by the first one
    scale = 1.0  # term / first at the end of the previous chunk
    for i in _chunks(1, _terms_needed((n - 1.0) / a, a)):
        i = i[i < n]
        if i.size == 0:
            break
        terms = scale * np.cumprod((n - i) / a)
        total += float(terms.sum())
        scale = float(terms[-1])
        if scale < _TINY:
            break
    return math.log(n / a) + math.log1p(total)


def _series_a(x: float, z: float) -> tuple[float, float]:
    """``A(x, z) = sum_j w_j`` and ``sum_j j w_j`` with ``w_j = prod_{i=1}^{j} z/(x+i)``.

    Only for ``0 < z < x`` where the terms decrease geometrically fast enough.
    """
    total, first_moment = 1.0, 0.0
    scale = 1.0
    # j w_j falls below exp(-_TAIL) after about min(L / log((x+1)/z), sqrt(4 L z)) terms,
    # L = _TAIL + log j: size the first chunk so that one pass usually suffices.
    for j in _chunks(1, min(_terms_needed(z / (x + 1.0), 2.0 * z), 8192)):
        w = scale * np.cumprod(z / (x + j))
        total += float(w.sum())
        first_moment += float(j @ w)
        scale = float(w[-1])
        if scale * j[-1] < _TINY:
            return total, first_moment
    raise AssertionError("unreachable")  # pragma: no cover


def _answered_wait_ratio(x: float, y: float) -> float:
    """``theta E[W; answered | W>0]``: sum over the queue a caller finds on arrival.

    The caller who finds ``j`` waiting (weight ``w_j = prod_{i<=j} y/(x+i)``) is answered with
    probability ``x/(x+j+1)`` after a mean (scaled) wait ``H_j = sum_{i=0}^{j} 1/(x+i+1)``.
    """
    mode = max(0, math.floor(y - x))
    half = math.ceil(9.5 * math.sqrt(max(x, y, 1.0)) + 40.0)
    lo = max(0, mode - half)
    hi = mode + half
    if x > y + 1.0:  # weights fall at least geometrically, by y/(x+1) per state
        hi = min(hi, math.ceil(_TAIL / math.log((x + 1.0) / y)) + 16)
    j = np.arange(lo, hi + 1, dtype=np.float64)
    # w_j / w_mode as running products outward from the mode (all <= 1, no overflow).
    xj = x + j
    k = mode - lo
    w = np.empty_like(j)
    w[k] = 1.0
    if hi > mode:
        w[k + 1 :] = np.cumprod(y / xj[k + 1 :])
    if k > 0:
        w[:k] = np.cumprod(xj[k:0:-1] / y)[::-1]
    inv = 1.0 / (xj + 1.0)
    harmonic = np.cumsum(inv)
    if lo > 0:
        harmonic += float(special.digamma(x + lo + 1.0) - special.digamma(x + 1.0))
    return float(np.dot(w, inv * harmonic) * x / w.sum())


# ---------------------------------------------------------------------------------------------
# Public results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErlangResult:
    """The measures of one queue and one staffing level.

    Times in seconds; probabilities in [0, 1]. When ``stable`` is false (Erlang C with
    ``agents <= load``) waits and queue length are ``math.inf``: the queue grows without bound.
    """

    model: Literal["erlang-c", "erlang-a"]
    agents: int
    load_erl: float
    stable: bool
    p_wait: float
    service_level: float
    target_time_s: float
    asa_s: float
    mean_wait_s: float
    p_abandon: float
    occupancy: float
    mean_queue_len: float


@dataclass(frozen=True, slots=True)
class QueueMetrics:
    """Measures of a queue, one array element per case (e.g. per interval).

    Attributes
    ----------
    model : "erlang-c" or "erlang-a"
    agents : agents on the phone ``n``
    load_erl : offered load ``a = arrivals_per_s * aht_s`` in Erlangs
    stable : false only for Erlang C with ``n <= a``
    p_wait : probability that a caller waits at all
    answered_within : share of offered calls answered within ``target_time_s``
    abandoned_within : share of offered calls that hang up within ``target_time_s``
    service_level : the service level under ``sl_definition``
    asa_s : average speed of answer, the mean wait of the *answered* calls
    mean_wait_s : mean time in queue over all calls (answered or not)
    p_abandon : share of offered calls that hang up
    occupancy : share of the agents' time spent on calls
    mean_queue_len : mean number of callers waiting
    """

    model: Literal["erlang-c", "erlang-a"]
    target_time_s: float
    sl_definition: SlDefinition
    agents: NDArray[np.int64]
    load_erl: FloatArray
    stable: NDArray[np.bool_]
    p_wait: FloatArray
    answered_within: FloatArray
    abandoned_within: FloatArray
    service_level: FloatArray
    asa_s: FloatArray
    mean_wait_s: FloatArray
    p_abandon: FloatArray
    occupancy: FloatArray
    mean_queue_len: FloatArray

    def service_level_as(self, definition: SlDefinition) -> FloatArray:
        """The service level under another definition (see :data:`SlDefinition`)."""
        return _service_level(
            definition, self.answered_within, self.abandoned_within, self.p_abandon
        )

    def result(self, index: int = 0) -> ErlangResult:
        """The measures of one case as an :class:`ErlangResult`."""
        flat = {
            name: np.ravel(getattr(self, name))
            for name in (
                "agents",
                "load_erl",
                "stable",
                "p_wait",
                "service_level",
                "asa_s",
                "mean_wait_s",
                "p_abandon",
                "occupancy",
                "mean_queue_len",
            )
        }
        return ErlangResult(
            model=self.model,
            agents=int(flat["agents"][index]),
            load_erl=float(flat["load_erl"][index]),
            stable=bool(flat["stable"][index]),
            p_wait=float(flat["p_wait"][index]),
            service_level=float(flat["service_level"][index]),
            target_time_s=self.target_time_s,
            asa_s=float(flat["asa_s"][index]),
            mean_wait_s=float(flat["mean_wait_s"][index]),
            p_abandon=float(flat["p_abandon"][index]),
            occupancy=float(flat["occupancy"][index]),
            mean_queue_len=float(flat["mean_queue_len"][index]),
        )


def _service_level(
    definition: SlDefinition,
    answered_within: FloatArray,
    abandoned_within: FloatArray,
    p_abandon: FloatArray,
) -> FloatArray:
    if definition == "offered":
        sl = answered_within
    elif definition == "answered":
        answered = 1.0 - p_abandon
        sl = np.divide(answered_within, answered, out=np.zeros_like(answered), where=answered > 0.0)
    elif SL_ALIASES.get(definition, definition) == "offered_ex_abandoned_within_t":
        counted = 1.0 - abandoned_within
        sl = np.divide(answered_within, counted, out=np.zeros_like(counted), where=counted > 0.0)
    elif definition == "abandons_met":
        sl = answered_within + abandoned_within
    else:
        raise ValueError(f"unknown service-level definition {definition!r}; use {SL_DEFINITIONS}")
    return np.clip(sl, 0.0, 1.0)


# ---------------------------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------------------------


def _agents_array(agents: ArrayLike) -> NDArray[np.int64]:
    raw = np.asarray(agents)
    if raw.dtype.kind == "f":
        if not np.all(np.isfinite(raw)) or np.any(raw != np.round(raw)):
            raise ValueError("agents must be whole numbers")
    elif raw.dtype.kind not in "iub":
        raise ValueError("agents must be whole numbers")
    n = raw.astype(np.int64)
    if np.any(n < 0):
        raise ValueError("agents must be >= 0")
    return n


_REAL_SCALARS = (int, float, np.integer, np.floating)


def _scalar_case(agents: object, per_h: object, aht_s: object) -> tuple[int, float, float] | None:
    """The validated ``(n, arrivals_per_h, aht_s)`` when all three are plain numbers, else None.

    The same checks as :func:`_agents_array` and :func:`_positive`, in scalar arithmetic: a
    single evaluation (a search step, a what-if) then costs a few microseconds, not dozens.
    """
    if not (
        isinstance(agents, _REAL_SCALARS)
        and isinstance(per_h, _REAL_SCALARS)
        and isinstance(aht_s, _REAL_SCALARS)
    ):
        return None
    if isinstance(agents, float | np.floating) and (
        not math.isfinite(agents) or agents != round(agents)
    ):
        raise ValueError("agents must be whole numbers")
    n = int(agents)
    if n < 0:
        raise ValueError("agents must be >= 0")
    lam, aht = float(per_h), float(aht_s)
    if not math.isfinite(lam) or lam < 0.0:
        raise ValueError("arrivals_per_h must be finite and >= 0")
    if not math.isfinite(aht) or aht <= 0.0:
        raise ValueError("aht_s must be finite and > 0")
    return n, lam, aht


def _positive(name: str, value: ArrayLike, *, allow_zero: bool = False) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    bad = ~np.isfinite(arr) | (arr < 0.0 if allow_zero else arr <= 0.0)
    if np.any(bad):
        raise ValueError(f"{name} must be finite and {'>= 0' if allow_zero else '> 0'}")
    return arr


def _target(target_time_s: float) -> float:
    t = float(target_time_s)
    if not math.isfinite(t) or t < 0.0:
        raise ValueError("target_time_s must be finite and >= 0")
    return t


# ---------------------------------------------------------------------------------------------
# Erlang B and C
# ---------------------------------------------------------------------------------------------


def erlang_b(agents: ArrayLike, load_erl: ArrayLike) -> FloatArray:
    """Erlang B: probability that a call finds all ``n`` lines busy and is lost (M/M/n/n).

    .. math:: B(n, a) = \\frac{a^n/n!}{\\sum_{k=0}^{n} a^k/k!}

    Parameters
    ----------
    agents : int or array of int, ``n >= 0``
    load_erl : float or array, offered load ``a >= 0`` in Erlangs

    Returns
    -------
    ndarray of float in [0, 1], broadcast shape of the inputs.

    References
    ----------
    Jagerman (1974); computed as ``1 / (1 + R(n, a))`` (see the module docstring).
    """
    n, a = np.broadcast_arrays(
        _agents_array(agents), _positive("load_erl", load_erl, allow_zero=True)
    )
    shape = n.shape
    n, a = n.ravel(), a.ravel()
    out = np.zeros(n.shape, dtype=np.float64)
    out[(n == 0) & (a > 0.0)] = 1.0
    live = (n > 0) & (a > 0.0)
    if np.any(live):
        out[live] = special.expit(-_log_inv_b_minus_one(n[live], a[live]))
    return out.reshape(shape)


def erlang_c_wait_probability(agents: ArrayLike, load_erl: ArrayLike) -> FloatArray:
    """Erlang C: probability that a call waits (M/M/n); 1 when unstable (``n <= a``).

    .. math:: C(n, a) = \\frac{1}{1 + (1 - a/n)\\,R(n, a)},\\quad R = 1/B - 1

    Parameters
    ----------
    agents : int or array of int, ``n >= 0``
    load_erl : float or array, offered load ``a >= 0`` in Erlangs

    Returns
    -------
    ndarray of float in [0, 1].

    References
    ----------
    A. K. Erlang (1917); the form in ``R`` avoids the cancellation of ``n - a(1-B)``.
    """
    n, a = np.broadcast_arrays(
        _agents_array(agents), _positive("load_erl", load_erl, allow_zero=True)
    )
    return _c_wait(n.ravel(), a.ravel()).reshape(n.shape)


def _c_wait(n: NDArray[np.int64], a: FloatArray) -> FloatArray:
    """Erlang C wait probability on validated flat arrays (scalar fast path for few cases)."""
    out = np.ones(n.shape, dtype=np.float64)
    out[a == 0.0] = 0.0
    nf = n.astype(np.float64)
    live = (a > 0.0) & (nf > a)
    if n.size <= 4:
        for i in np.flatnonzero(live).tolist():
            ni, ai = int(n[i]), float(a[i])
            out[i] = float(special.expit(-(math.log((ni - ai) / ni) + _log_r(ni, ai))))
    elif np.any(live):
        nl, al = nf[live], a[live]
        log_r = _log_inv_b_minus_one(n[live], al)
        out[live] = special.expit(-(np.log((nl - al) / nl) + log_r))
    return out


def erlang_c(
    agents: ArrayLike,
    arrivals_per_h: ArrayLike,
    aht_s: ArrayLike,
    *,
    target_time_s: float = 20.0,
) -> QueueMetrics:
    """Erlang C (M/M/n) measures: wait probability, service level, ASA, occupancy, queue.

    With ``a = arrivals_per_h * aht_s / 3600`` and ``C`` the wait probability,

    .. math::

        SL(t) = 1 - C\\,e^{-(n-a)t/\\text{AHT}},\\quad
        \\text{ASA} = \\frac{C\\,\\text{AHT}}{n-a},\\quad
        L_q = \\frac{C\\,a}{n-a},\\quad \\text{occupancy} = a/n.

    When ``n <= a`` the queue is unstable: ``stable`` is false, ``p_wait`` 1, service level 0,
    occupancy 1 and waits infinite. Nobody abandons in this model (``p_abandon`` 0), so all the
    service-level definitions coincide.

    Parameters
    ----------
    agents : int or array of int, agents on the phone ``n >= 0``
    arrivals_per_h : float or array, offered calls per hour (``>= 0``)
    aht_s : float or array, average handle time in seconds (``> 0``)
    target_time_s : the ``t`` of "answered within t seconds"

    Returns
    -------
    QueueMetrics

    References
    ----------
    A. K. Erlang (1917); N. Gans, G. Koole, A. Mandelbaum, "Telephone call centers: tutorial,
    review and research prospects", M&SOM 5 (2003).
    """
    t = _target(target_time_s)
    one = _scalar_case(agents, arrivals_per_h, aht_s)
    if one is not None:
        return _erlang_c_one(*one, t, ())
    n, lam_h, aht = np.broadcast_arrays(
        _agents_array(agents),
        _positive("arrivals_per_h", arrivals_per_h, allow_zero=True),
        _positive("aht_s", aht_s),
    )
    shape = n.shape
    if n.size == 1:
        return _erlang_c_one(int(n.flat[0]), float(lam_h.flat[0]), float(aht.flat[0]), t, shape)
    n, lam_h, aht = n.ravel(), lam_h.ravel(), aht.ravel()
    a = lam_h * aht / 3600.0
    nf = n.astype(np.float64)
    stable = (nf > a) | (a == 0.0)
    p_wait = _c_wait(n, a)
    gap = np.where(nf > a, nf - a, 1.0)
    answered_within = np.where(stable, 1.0 - p_wait * np.exp(-gap * t / aht), 0.0)
    inf = np.full(n.shape, np.inf)
    asa = np.where(stable, p_wait * aht / gap, inf)
    lq = np.where(stable, p_wait * a / gap, inf)
    occupancy = np.where(stable, np.divide(a, nf, out=np.zeros_like(a), where=nf > 0), 1.0)
    zeros = np.zeros(n.shape)

    def shaped(v: FloatArray) -> FloatArray:
        return np.clip(v, 0.0, None).reshape(shape)

    sl = np.clip(answered_within, 0.0, 1.0).reshape(shape)
    return QueueMetrics(
        model="erlang-c",
        target_time_s=t,
        sl_definition="offered",
        agents=n.reshape(shape),
        load_erl=a.reshape(shape),
        stable=stable.reshape(shape),
        p_wait=p_wait.reshape(shape),
        answered_within=sl,
        abandoned_within=zeros.reshape(shape),
        service_level=sl,
        asa_s=shaped(asa),
        mean_wait_s=shaped(asa),
        p_abandon=zeros.reshape(shape),
        occupancy=np.clip(occupancy, 0.0, 1.0).reshape(shape),
        mean_queue_len=shaped(lq),
    )


def _erlang_c_one(
    n: int, per_h: float, aht: float, t: float, shape: tuple[int, ...]
) -> QueueMetrics:
    """:func:`erlang_c` for a single case, with scalar arithmetic (same formulas)."""
    a = per_h * aht / 3600.0
    stable = n > a or a == 0.0
    if a == 0.0:
        p_wait, sl, asa, lq, occ = 0.0, 1.0, 0.0, 0.0, 0.0
    elif not stable:
        p_wait, sl, asa, lq, occ = 1.0, 0.0, math.inf, math.inf, 1.0
    else:
        gap = n - a
        p_wait = float(special.expit(-(math.log(gap / n) + _log_r(n, a))))
        sl = min(max(1.0 - p_wait * math.exp(-gap * t / aht), 0.0), 1.0)
        asa, lq, occ = p_wait * aht / gap, p_wait * a / gap, a / n

    def full(value: float) -> FloatArray:
        # A 0-d array from np.array costs a tenth of np.full's.
        if shape:
            return np.full(shape, value, dtype=np.float64)
        return np.array(value, dtype=np.float64)

    sl_arr, zeros, asa_arr = full(sl), full(0.0), full(asa)
    return QueueMetrics(
        model="erlang-c",
        target_time_s=t,
        sl_definition="offered",
        agents=np.full(shape, n, dtype=np.int64) if shape else np.array(n, dtype=np.int64),
        load_erl=full(a),
        stable=np.full(shape, stable, dtype=np.bool_) if shape else np.array(stable),
        p_wait=full(p_wait),
        answered_within=sl_arr,
        abandoned_within=zeros,
        service_level=sl_arr,
        asa_s=asa_arr,
        mean_wait_s=asa_arr,
        p_abandon=zeros,
        occupancy=full(occ),
        mean_queue_len=full(lq),
    )


# ---------------------------------------------------------------------------------------------
# Erlang A
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _APoint:
    """Erlang A for one case with ``n >= 1``, ``a > 0``, in units of the patience rate."""

    x: float  # n mu / theta
    y: float  # lambda / theta
    p_wait: float
    p_no_wait: float
    abandon_given_wait: float
    a_xy: float  # A(x, y), only for the series branch (x well above y)
    p_xy: float  # P(x, y), only for the incomplete-gamma branch (0 on the series branch)
    top: float  # A(x+1, y) or P(x+1, y), depending on the branch

    @classmethod
    def build(cls, n: int, a: float, ratio: float) -> _APoint:
        x, y = n * ratio, a * ratio
        log_r = _log_r(n, a)
        if x <= y or _gamma_near(x, y):
            p_xy = float(special.gammainc(x, y))
            log_a = math.log(p_xy) - _log_poisson_s(x, y)
            abandon_given_wait = 1.0 - (x / y) * (1.0 - math.exp(-log_a))
            a_xy, top = 0.0, float(special.gammainc(x + 1.0, y))
        else:
            a_xy, a1_xy = _series_a(x, y)
            log_a = math.log(a_xy)
            abandon_given_wait = a1_xy / (y * a_xy)
            p_xy, top = 0.0, _series_a(x + 1.0, y)[0]
        return cls(
            x=x,
            y=y,
            p_wait=float(special.expit(log_a - log_r)),
            p_no_wait=float(special.expit(log_r - log_a)),
            abandon_given_wait=min(max(abandon_given_wait, 0.0), 1.0),
            a_xy=a_xy,
            p_xy=p_xy,
            top=top,
        )

    @property
    def p_abandon(self) -> float:
        return self.p_wait * self.abandon_given_wait

    def within(self, theta_t: float) -> tuple[float, float]:
        """Shares of offered calls answered and abandoned within ``t`` (``theta_t = t/patience``).

        Uses ``P(V>t | V>0) = g0`` and ``P(V>t, V<tau | V>0) = g1(t)`` (module docstring).
        """
        x, y = self.x, self.y
        q = math.exp(-theta_t)
        yq = y * q
        if self.p_xy > 0.0:
            g0 = float(special.gammainc(x, yq)) / self.p_xy
            g1t = (x / y) * float(special.gammainc(x + 1.0, yq)) / self.p_xy
            if yq >= x + 1.0:
                diff = float(special.gammaincc(x + 1.0, yq) - special.gammaincc(x + 1.0, y))
            else:
                diff = self.top - float(special.gammainc(x + 1.0, yq))
            served_within = (x / y) * diff / self.p_xy
        elif q == 0.0:
            g0 = g1t = 0.0
            served_within = (x / (x + 1.0)) * self.top / self.a_xy
        else:
            growth = -y * math.expm1(-theta_t)  # y (1 - q)
            g0 = math.exp(-theta_t * x + growth) * _series_a(x, yq)[0] / self.a_xy
            tail = math.exp(-theta_t * (x + 1.0) + growth) * _series_a(x + 1.0, yq)[0]
            g1t = (x / (x + 1.0)) * tail / self.a_xy
            served_within = (x / (x + 1.0)) * (self.top - tail) / self.a_xy
        answered = self.p_no_wait + self.p_wait * min(max(served_within, 0.0), 1.0)
        ab_given_wait = self.abandon_given_wait - q * g0 + g1t
        abandoned = self.p_wait * min(max(ab_given_wait, 0.0), self.abandon_given_wait)
        return answered, abandoned

    def asa_s(self, patience_mean_s: float) -> float:
        """Mean wait of the answered calls, in seconds."""
        theta_wait = self.p_wait * _answered_wait_ratio(self.x, self.y)
        return theta_wait * patience_mean_s / (1.0 - self.p_abandon)


def erlang_a(
    agents: ArrayLike,
    arrivals_per_h: ArrayLike,
    aht_s: ArrayLike,
    patience_mean_s: ArrayLike,
    *,
    target_time_s: float = 20.0,
    sl_definition: SlDefinition = "offered",
) -> QueueMetrics:
    """Erlang A (M/M/n+M, Palm's queue with exponential patience) measures.

    Parameters
    ----------
    agents : int or array of int, agents on the phone ``n >= 0``
    arrivals_per_h : float or array, offered calls per hour (``>= 0``)
    aht_s : float or array, average handle time in seconds (``> 0``)
    patience_mean_s : float or array, mean caller patience in seconds (``> 0``)
    target_time_s : the ``t`` of "answered within t seconds"
    sl_definition : how the service level counts abandons (see :data:`SlDefinition`);
        the default counts every abandon as missed.

    Returns
    -------
    QueueMetrics
        Always ``stable``. ``asa_s`` is the mean wait of answered calls (``inf`` when nobody
        is answered, i.e. ``n = 0``); ``mean_wait_s = p_abandon * patience_mean_s`` is the mean
        over all calls; occupancy ``a (1 - p_abandon) / n``; ``mean_queue_len`` by Little's law.

    Notes
    -----
    Formulas in the module docstring: Garnett, Mandelbaum & Reiman (2002), Mandelbaum & Zeltyn
    (2007). Each case costs a few incomplete-gamma evaluations plus a sum over
    ``O(sqrt(load))`` queue states for the ASA.
    """
    t = _target(target_time_s)
    if not known_sl_definition(sl_definition):
        raise ValueError(f"unknown service-level definition {sl_definition!r}")
    n, lam_h, aht, pat = np.broadcast_arrays(
        _agents_array(agents),
        _positive("arrivals_per_h", arrivals_per_h, allow_zero=True),
        _positive("aht_s", aht_s),
        _positive("patience_mean_s", patience_mean_s),
    )
    shape = n.shape
    n, lam_h, aht, pat = n.ravel(), lam_h.ravel(), aht.ravel(), pat.ravel()
    a = lam_h * aht / 3600.0
    size = n.size
    p_wait = np.zeros(size)
    p_abandon = np.zeros(size)
    answered_within = np.ones(size)
    abandoned_within = np.zeros(size)
    asa = np.zeros(size)
    for i in range(size):
        ni, ai = int(n[i]), float(a[i])
        if ai == 0.0:
            continue
        if ni == 0:
            p_wait[i] = p_abandon[i] = 1.0
            answered_within[i] = 0.0
            abandoned_within[i] = -math.expm1(-t / pat[i])
            asa[i] = math.inf
            continue
        point = _APoint.build(ni, ai, pat[i] / aht[i])
        p_wait[i], p_abandon[i] = point.p_wait, point.p_abandon
        answered_within[i], abandoned_within[i] = point.within(t / pat[i])
        asa[i] = point.asa_s(float(pat[i]))
    nf = n.astype(np.float64)
    carried = a * (1.0 - p_abandon)
    occupancy = np.divide(carried, nf, out=np.zeros(size), where=nf > 0)
    mean_wait = p_abandon * pat
    lq = lam_h / 3600.0 * mean_wait
    sl = _service_level(sl_definition, answered_within, abandoned_within, p_abandon)
    return QueueMetrics(
        model="erlang-a",
        target_time_s=t,
        sl_definition=sl_definition,
        agents=n.reshape(shape),
        load_erl=a.reshape(shape),
        stable=np.ones(shape, dtype=np.bool_),
        p_wait=p_wait.reshape(shape),
        answered_within=answered_within.reshape(shape),
        abandoned_within=abandoned_within.reshape(shape),
        service_level=sl.reshape(shape),
        asa_s=asa.reshape(shape),
        mean_wait_s=mean_wait.reshape(shape),
        p_abandon=p_abandon.reshape(shape),
        occupancy=np.clip(occupancy, 0.0, 1.0).reshape(shape),
        mean_queue_len=lq.reshape(shape),
    )


def evaluate(
    agents: ArrayLike,
    arrivals_per_h: ArrayLike,
    aht_s: ArrayLike,
    *,
    patience_mean_s: ArrayLike | None = None,
    target_time_s: float = 20.0,
    sl_definition: SlDefinition = "offered",
) -> QueueMetrics:
    """Erlang A when a mean patience is given, Erlang C otherwise."""
    if patience_mean_s is None:
        return erlang_c(agents, arrivals_per_h, aht_s, target_time_s=target_time_s)
    return erlang_a(
        agents,
        arrivals_per_h,
        aht_s,
        patience_mean_s,
        target_time_s=target_time_s,
        sl_definition=sl_definition,
    )
