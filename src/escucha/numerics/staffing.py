"""Staffing search: the fewest agents that meet every target at once (W4, C6).

Targets combine freely: any number of service levels ("x% answered within t seconds", e.g.
80/20 and Spain's 95% within 180 s), a maximum ASA, a maximum abandonment share and a maximum
occupancy. Every measure improves as agents are added (more agents never lengthen the wait), so
the set of staffing levels that meet all targets is ``{n >= n*}``.

* Erlang C: an exponential bracket from the offered load followed by bisection,
  ``O(log sqrt(a))`` evaluations of ``O(1)`` each (incomplete gamma).
* Erlang A: every target is turned into a *margin* ``m_i(n)`` that is ``>= 0`` exactly when the
  target holds (``SL(n) - x``, ``1 - ASA(n)/ASA_max``, ``1 - P_ab(n)/p``,
  ``1 - occ(n)/o``), and ``n*`` is the smallest integer with ``f(n) = min_i m_i(n) >= 0``.
  ``f`` is smooth and increasing, so a secant bracket from the fluid model's staffing when
  the targets allow an overloaded queue, else from ``n = a`` (the critically loaded start of
  Garnett, Mandelbaum & Reiman's QED regime, ``n = a + beta sqrt(a)``), and an Illinois
  regula falsi on the integers find ``n*`` in a handful of evaluations; every
  decision is still the exact ``f(n) >= 0`` test, and the answer is only returned once
  ``f(n* - 1) < 0 <= f(n*)`` has been evaluated, so the result is the same as a scan over
  ``n``. Each evaluation costs a few incomplete-gamma calls (plus an ``O(sqrt(a))`` sum when
  an ASA target is given), and the queue measures at ``n*`` are reused for the result.

Shrinkage (breaks, training, absence: the share of paid time not on the phone) turns the agents
needed on the phone ``n`` into the scheduled headcount ``ceil(n / (1 - shrinkage))``.

References
----------
* S. Halfin, W. Whitt, "Heavy-traffic limits for queues with many exponential servers",
  Operations Research 29 (1981): ``n ~ a + beta sqrt(a)``, which sets the bracket size.
* O. Garnett, A. Mandelbaum, M. Reiman, "Designing a call center with impatient customers",
  Manufacturing & Service Operations Management 4 (2002): with abandonment the optimal ``n`` is
  ``a + beta sqrt(a)`` with ``beta`` of either sign, so the Erlang A search starts at ``a``.
* W. Whitt, "Fluid models for multiserver queues with abandonments", Operations Research 54
  (2006): the overloaded start of the Erlang A search.
* M. Dowell, P. Jarratt, "A modified regula falsi method for computing the root of an
  equation", BIT 11 (1971): the Illinois variant used for the Erlang A search.
* Spain's customer-service law (servicios de atención a la clientela): calls answered within
  three minutes; :data:`SPAIN_95_180` asks it of 95% of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from escucha.numerics.erlang import (
    SL_ALIASES,
    ErlangResult,
    SlDefinition,
    _APoint,
    _log_r,
    evaluate,
    known_sl_definition,
)

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = [
    "SPAIN_95_180",
    "ServiceLevelTarget",
    "StaffingResult",
    "Targets",
    "required_agents",
    "scheduled_headcount",
    "staff",
]


@dataclass(frozen=True, slots=True)
class ServiceLevelTarget:
    """At least ``share`` of the calls answered within ``within_s`` seconds."""

    share: float
    within_s: float

    def __post_init__(self) -> None:
        if not 0.0 < self.share <= 1.0:
            raise ValueError("service-level share must be in (0, 1]")
        if not (math.isfinite(self.within_s) and self.within_s >= 0.0):
            raise ValueError("service-level time must be finite and >= 0 seconds")


SPAIN_95_180 = ServiceLevelTarget(share=0.95, within_s=180.0)
"""Spain's customer-service law: 95% of calls answered within 3 minutes."""


@dataclass(frozen=True, slots=True)
class Targets:
    """A combination of staffing targets; all given ones must hold at once.

    ``sl_definition`` says how abandons count in the service levels (Erlang A only; see
    :data:`escucha.numerics.erlang.SlDefinition`).
    """

    service_levels: tuple[ServiceLevelTarget, ...] = ()
    max_asa_s: float | None = None
    max_abandon: float | None = None
    max_occupancy: float | None = None
    sl_definition: SlDefinition = "offered"

    def __post_init__(self) -> None:
        if not (
            self.service_levels
            or self.max_asa_s is not None
            or self.max_abandon is not None
            or self.max_occupancy is not None
        ):
            raise ValueError("give at least one staffing target")
        if self.max_asa_s is not None and not (self.max_asa_s > 0.0):
            raise ValueError("max ASA must be > 0 seconds")
        if self.max_abandon is not None and not (0.0 < self.max_abandon <= 1.0):
            raise ValueError("max abandonment must be in (0, 1]")
        if self.max_occupancy is not None and not (0.0 < self.max_occupancy <= 1.0):
            raise ValueError("max occupancy must be in (0, 1]")
        if not known_sl_definition(self.sl_definition):
            raise ValueError(f"unknown service-level definition {self.sl_definition!r}")


@dataclass(frozen=True, slots=True)
class StaffingResult:
    """The staffing that meets the targets.

    Attributes
    ----------
    agents : agents needed on the phone (``n``)
    scheduled_agents : headcount to schedule, ``ceil(n / (1 - shrinkage))``
    shrinkage : share of paid time off the phone
    metrics : the queue measures at ``n`` (service level at the first target's time, or 20 s)
    service_levels : achieved service level for each target in ``Targets.service_levels``
    """

    agents: int
    scheduled_agents: int
    shrinkage: float
    metrics: ErlangResult
    service_levels: tuple[float, ...] = field(default=())


def scheduled_headcount(agents: int, shrinkage: float) -> int:
    """Agents to schedule so that ``agents`` are on the phone: ``ceil(n / (1 - shrinkage))``.

    A relative tolerance of 1e-12 keeps ``70 / (1 - 0.3)`` at 100, not 101.
    """
    if not 0.0 <= shrinkage < 1.0:
        raise ValueError("shrinkage must be in [0, 1)")
    if agents < 0:
        raise ValueError("agents must be >= 0")
    raw = agents / (1.0 - shrinkage)
    return math.ceil(raw * (1.0 - 1e-12))


def on_phone_headcount(scheduled: int, shrinkage: float) -> int:
    """Agents on the phone out of ``scheduled``: ``floor(n * (1 - shrinkage))``, the inverse
    of :func:`scheduled_headcount` (``on_phone_headcount(100, 0.3) == 70``)."""
    if not 0.0 <= shrinkage < 1.0:
        raise ValueError("shrinkage must be in [0, 1)")
    if scheduled < 0:
        raise ValueError("agents must be >= 0")
    return math.floor(scheduled * (1.0 - shrinkage) + 1e-9)


class _Evaluator:
    """Checks the targets for one queue at a given ``n`` (scalar fast path)."""

    def __init__(
        self, load_erl: float, aht_s: float, patience_mean_s: float | None, targets: Targets
    ) -> None:
        self.a = load_erl
        self.aht = aht_s
        self.pat = patience_mean_s
        self.t = targets
        self._points: dict[int, _APoint] = {}
        self._margins: dict[int, float] = {}
        self._asa: dict[int, float] = {}

    def meets(self, n: int) -> bool:
        if n <= 0:
            return False
        if self.pat is None:
            return self._meets_c(n)
        return self._meets_a(n)

    def _meets_c(self, n: int) -> bool:
        a, t = self.a, self.t
        if n <= a:
            return False
        if t.max_occupancy is not None and a / n > t.max_occupancy:
            return False
        gap = n - a
        p_wait = float(special.expit(-(math.log(gap / n) + _log_r(n, a))))
        if t.max_asa_s is not None and p_wait * self.aht / gap > t.max_asa_s:
            return False
        return all(
            1.0 - p_wait * math.exp(-gap * s.within_s / self.aht) >= s.share
            for s in t.service_levels
        )

    def _meets_a(self, n: int) -> bool:
        return self.margin(n) >= 0.0

    def point(self, n: int) -> _APoint:
        """The Erlang A measures at ``n >= 1``, computed once per search."""
        cache = self._points
        got = cache.get(n)
        if got is None:
            if self.pat is None:  # pragma: no cover - Erlang C has no points
                raise ValueError("no patience")
            got = cache[n] = _APoint.build(n, self.a, self.pat / self.aht)
        return got

    def asa_s(self, n: int) -> float:
        """Erlang A mean wait of the answered calls at ``n >= 1`` (its sum is the costly part)."""
        got = self._asa.get(n)
        if got is None:
            got = self._asa[n] = self.point(n).asa_s(float(self.pat or 0.0))
        return got

    def result(self, n: int, arrivals_per_h: float, target_time_s: float) -> ErlangResult:
        """Erlang A measures at ``n >= 1`` read off the search's point (as ``erlang_a``)."""
        pat = float(self.pat or 0.0)
        point = self.point(n)
        p_ab = point.p_abandon
        answered, abandoned = point.within(target_time_s / pat)
        mean_wait = p_ab * pat
        return ErlangResult(
            model="erlang-a",
            agents=n,
            load_erl=self.a,
            stable=True,
            p_wait=point.p_wait,
            service_level=_clip01(_sl(self.t.sl_definition, answered, abandoned, p_ab)),
            target_time_s=target_time_s,
            asa_s=self.asa_s(n),
            mean_wait_s=mean_wait,
            p_abandon=p_ab,
            occupancy=_clip01(self.a * (1.0 - p_ab) / n),
            mean_queue_len=arrivals_per_h / 3600.0 * mean_wait,
        )

    def margin(self, n: int) -> float:
        """Erlang A: ``min_i m_i(n)``, ``>= 0`` exactly when every target holds at ``n >= 1``.

        Each margin has the sign of the target's test (``SL - x``, ``1 - ASA/ASA_max``,
        ``1 - P_ab/p``, ``1 - occ/o``: IEEE subtraction and division by a positive limit keep
        the sign), and only the measures the given targets need are computed.
        """
        got = self._margins.get(n)
        if got is not None:
            return got
        t, pat = self.t, self.pat
        if pat is None:  # pragma: no cover - Erlang C goes to _meets_c
            raise ValueError("no patience")
        point = self.point(n)
        p_ab = point.p_abandon
        worst = math.inf
        if t.max_abandon is not None:
            worst = min(worst, _log_margin(t.max_abandon, p_ab))
        if t.max_occupancy is not None:
            worst = min(worst, 1.0 - self.a * (1.0 - p_ab) / n / t.max_occupancy)
        for s in t.service_levels:
            answered, abandoned = point.within(s.within_s / pat)
            worst = min(worst, _sl(t.sl_definition, answered, abandoned, p_ab) - s.share)
        if t.max_asa_s is not None:
            worst = min(worst, _log_margin(t.max_asa_s, self.asa_s(n)))
        self._margins[n] = worst
        return worst


def _log_margin(limit: float, value: float) -> float:
    """``log(limit / value)``: ``>= 0`` exactly when ``value <= limit``, and close to linear
    in ``n`` for measures that fall exponentially with the staffing (ASA, abandonment)."""
    if value <= limit:
        return math.log(limit / value) if value > 0.0 else math.inf
    return min(math.log(limit / value), -math.ulp(1.0))


def _clip01(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _sl(definition: SlDefinition, answered: float, abandoned: float, p_abandon: float) -> float:
    if definition == "offered":
        return answered
    if definition == "answered":
        return answered / (1.0 - p_abandon) if p_abandon < 1.0 else 0.0
    if SL_ALIASES.get(definition, definition) == "offered_ex_abandoned_within_t":
        return answered / (1.0 - abandoned) if abandoned < 1.0 else 0.0
    return answered + abandoned


def _fluid_start(a: float, patience_mean_s: float, t: Targets) -> float:
    """Where the Erlang A search starts: the fluid model's staffing, or ``a`` if not overloaded.

    With ``n < a`` and many agents the queue settles where the callers still waiting after
    ``w`` are exactly those the agents take: ``exp(-w / patience) = n / a``. Every answered
    caller then waits about ``w`` and the share ``1 - n/a`` abandons, so each target gives
    ``n / a`` directly (Whitt, "Fluid models for multiserver queues with abandonments",
    Operations Research 54, 2006). Only a starting point: the search decides exactly.
    """
    need = [0.0]
    if t.max_asa_s is not None:
        need.append(math.exp(-t.max_asa_s / patience_mean_s))
    if t.max_abandon is not None:
        need.append(1.0 - t.max_abandon)
    if t.max_occupancy is not None:
        need.append(1.0)  # an overloaded agent is always busy
    for s in t.service_levels:
        waited = math.exp(-s.within_s / patience_mean_s)
        need.append(waited if t.sl_definition == "answered" else max(waited, s.share))
    return a * min(max(need), 1.0)


def _search_a(ev: _Evaluator, a: float) -> int:
    """Erlang A: smallest ``n >= 1`` with ``ev.margin(n) >= 0`` (margin increasing in ``n``).

    Secant steps from the fluid staffing (:func:`_fluid_start`, at most ``a``; growing at
    least geometrically) bracket ``n*``;
    Illinois regula falsi on the integers, with a bisection whenever it stalls, closes the
    bracket to ``lo + 1 = hi`` with ``f(lo) < 0 <= f(hi)`` (``lo = 0`` is known to fail).
    """
    cap = math.ceil(a + 200.0 * math.sqrt(a) + 1000.0)
    step = max(1, math.ceil(math.sqrt(a)))
    n0 = max(1, round(_fluid_start(a, float(ev.pat or 1.0), ev.t)))
    f0 = ev.margin(n0)
    lo, f_lo, hi, f_hi = (0, -math.inf, n0, f0) if f0 >= 0.0 else (n0, f0, 0, math.inf)
    # Bracket: walk from n0 towards the root with secant-predicted, growing steps.
    prev, f_prev = n0, f0
    up = f0 < 0.0
    while hi == 0 or (lo == 0 and hi > 1):
        jump = step
        if math.isfinite(f_prev) and f_prev != f0 and prev != n0:  # secant from the last two
            jump = round(abs(f0 * (n0 - prev) / (f0 - f_prev)) * 1.1) + 1
        jump = min(max(jump, 1), 8 * step)
        step = max(step, jump) * 2
        nxt = n0 + jump if up else max(1, n0 - jump)
        if nxt > cap:
            if n0 >= cap:
                raise ValueError("the targets cannot be met by any number of agents")
            nxt = cap
        f_nxt = ev.margin(nxt)
        if (f_nxt >= 0.0) == up:  # crossed: the bracket is found
            lo, f_lo, hi, f_hi = (n0, f0, nxt, f_nxt) if up else (nxt, f_nxt, n0, f0)
            break
        prev, f_prev, n0, f0 = n0, f0, nxt, f_nxt
        if not up and n0 == 1:  # one agent already meets every target
            return 1
    # Close the bracket: regula falsi on the integers (an estimate in (hi - 1, hi] probes
    # hi - 1, so the last steps check both neighbours of the root).
    side = 0  # Illinois: halve the stale end's weight when the same end moves twice
    w_lo, w_hi = f_lo, f_hi
    while hi - lo > 1:
        if math.isfinite(w_lo) and math.isfinite(w_hi) and w_hi > w_lo:
            guess = lo + (hi - lo) * (-w_lo) / (w_hi - w_lo)
            cand = min(max(math.ceil(guess), lo + 1), hi - 1)
            secant = guess > cand - 1.0
        else:
            cand, secant = (lo + hi) // 2, False
        width = hi - lo
        f = ev.margin(cand)
        if f >= 0.0:
            hi, f_hi, w_hi = cand, f, f
            w_lo = w_lo / 2.0 if side == 1 else f_lo
            side = 1
        else:
            lo, f_lo, w_lo = cand, f, f
            w_hi = w_hi / 2.0 if side == -1 else f_hi
            side = -1
        if secant and f >= 0.0 and cand - 1 > lo:
            # The line put the root in (cand - 1, cand] and cand meets: check cand - 1 now.
            nb = cand - 1
            if ev.margin(nb) >= 0.0:
                hi, f_hi, w_hi = nb, ev.margin(nb), ev.margin(nb)
            else:
                lo, f_lo, w_lo = nb, ev.margin(nb), ev.margin(nb)
        elif hi - lo > width // 2 + 1:  # stalled: bisect once
            mid = (lo + hi) // 2
            if ev.margin(mid) >= 0.0:
                hi, f_hi, w_hi = mid, ev.margin(mid), ev.margin(mid)
            else:
                lo, f_lo, w_lo = mid, ev.margin(mid), ev.margin(mid)
            side = 0
    return hi


def _search(ev: _Evaluator, a: float) -> int:
    """Smallest ``n >= 1`` with ``ev.meets(n)``, assuming it is monotone in ``n``."""
    if ev.pat is not None:
        return _search_a(ev, a)
    lo = math.floor(a) if ev.pat is None else 0  # known to fail
    occ = ev.t.max_occupancy
    if ev.pat is None and occ is not None:
        lo = max(lo, math.ceil(a / occ) - 1)
    step = max(1, math.ceil(math.sqrt(a)))
    cap = lo + math.ceil(200.0 * math.sqrt(a) + a + 1000.0)
    # Start near the square-root staffing level and bracket outwards in growing steps.
    hi = max(lo + 1, math.ceil(a + step))
    if ev.meets(hi):
        while hi - lo > 1:
            probe = max(lo, hi - step)
            if probe == lo or not ev.meets(probe):
                lo = probe
                break
            hi = probe
            step *= 2
    else:
        lo = hi
        while True:
            hi = lo + step
            if hi > cap:
                raise ValueError("the targets cannot be met by any number of agents")
            if ev.meets(hi):
                break
            lo = hi
            step *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ev.meets(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _check_inputs(
    arrivals_per_h: float, aht_s: float, patience_mean_s: float | None, shrinkage: float
) -> None:
    if not (math.isfinite(arrivals_per_h) and arrivals_per_h >= 0.0):
        raise ValueError("arrivals_per_h must be finite and >= 0")
    if not (math.isfinite(aht_s) and aht_s > 0.0):
        raise ValueError("aht_s must be finite and > 0")
    if patience_mean_s is not None and not (
        math.isfinite(patience_mean_s) and patience_mean_s > 0.0
    ):
        raise ValueError("patience_mean_s must be finite and > 0")
    if not 0.0 <= shrinkage < 1.0:
        raise ValueError("shrinkage must be in [0, 1)")


def staff(
    arrivals_per_h: float,
    aht_s: float,
    targets: Targets,
    *,
    patience_mean_s: float | None = None,
    shrinkage: float = 0.0,
) -> StaffingResult:
    """The fewest agents meeting all ``targets`` (Erlang A with a patience, else Erlang C).

    Parameters
    ----------
    arrivals_per_h : offered calls per hour
    aht_s : average handle time in seconds (talk + hold + wrap-up)
    targets : the combination of targets to meet
    patience_mean_s : mean caller patience; switches to Erlang A (M/M/n+M)
    shrinkage : share of paid time off the phone, ``0 <= s < 1``

    Returns
    -------
    StaffingResult
        ``agents = 0`` when no calls are offered.

    Raises
    ------
    ValueError
        On invalid input, or when no number of agents meets the targets.

    Notes
    -----
    Smallest ``n`` with every target met; monotonicity of the measures in ``n`` makes the
    search exact (see the module docstring).
    """
    _check_inputs(arrivals_per_h, aht_s, patience_mean_s, shrinkage)
    a = arrivals_per_h * aht_s / 3600.0
    ev = _Evaluator(a, aht_s, patience_mean_s, targets)
    n = 0 if a == 0.0 else _search(ev, a)
    report_t = targets.service_levels[0].within_s if targets.service_levels else 20.0
    if patience_mean_s is not None and n > 0:
        # Erlang A: the search already built the queue at n; read every measure off it (the
        # same arithmetic and clipping as erlang_a, without evaluating the queue again).
        metrics = ev.result(n, arrivals_per_h, report_t)
        point = ev.point(n)
        levels = tuple(
            _clip01(
                _sl(
                    targets.sl_definition,
                    *point.within(s.within_s / patience_mean_s),
                    point.p_abandon,
                )
            )
            for s in targets.service_levels
        )
    else:
        metrics = evaluate(
            n,
            arrivals_per_h,
            aht_s,
            patience_mean_s=patience_mean_s,
            target_time_s=report_t,
            sl_definition=targets.sl_definition,
        ).result()
        levels = tuple(
            float(
                evaluate(
                    n,
                    arrivals_per_h,
                    aht_s,
                    patience_mean_s=patience_mean_s,
                    target_time_s=s.within_s,
                    sl_definition=targets.sl_definition,
                ).service_level
            )
            for s in targets.service_levels
        )
    return StaffingResult(
        agents=n,
        scheduled_agents=scheduled_headcount(n, shrinkage),
        shrinkage=shrinkage,
        metrics=metrics,
        service_levels=levels,
    )


def required_agents(
    arrivals_per_h: ArrayLike,
    aht_s: ArrayLike,
    targets: Targets,
    *,
    patience_mean_s: ArrayLike | None = None,
    shrinkage: float = 0.0,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Agents on the phone and scheduled headcount for each interval (vectorised :func:`staff`).

    Parameters
    ----------
    arrivals_per_h, aht_s, patience_mean_s : arrays that broadcast together (one per interval)
    targets, shrinkage : as in :func:`staff`

    Returns
    -------
    (agents, scheduled_agents) : two int arrays of the broadcast shape
    """
    lam, aht = np.broadcast_arrays(
        np.asarray(arrivals_per_h, dtype=np.float64), np.asarray(aht_s, dtype=np.float64)
    )
    pat = None if patience_mean_s is None else np.asarray(patience_mean_s, dtype=np.float64)
    if pat is not None:
        lam, aht, pat = np.broadcast_arrays(lam, aht, pat)
    shape = lam.shape
    lam, aht = lam.ravel(), aht.ravel()
    pats = None if pat is None else pat.ravel()
    agents = np.zeros(lam.size, dtype=np.int64)
    scheduled = np.zeros(lam.size, dtype=np.int64)
    for i in range(lam.size):
        p = None if pats is None else float(pats[i])
        _check_inputs(float(lam[i]), float(aht[i]), p, shrinkage)
        a = float(lam[i]) * float(aht[i]) / 3600.0
        if a > 0.0:
            agents[i] = _search(_Evaluator(a, float(aht[i]), p, targets), a)
        scheduled[i] = scheduled_headcount(int(agents[i]), shrinkage)
    return agents.reshape(shape), scheduled.reshape(shape)
