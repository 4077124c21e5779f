"""Simulated traffic to measure the wait predictors (``escucha bench estimate``, W1).

A small discrete-event simulation of one first-come-first-served queue with ``agents``
agents, exponential handling times and exponential patience (the M/M/n+M model), fed by a
Poisson stream whose rate swings around its mean::

    arrivals_per_s(t) = load * agents / aht_s * (1 + amplitude * sin(2*pi*t / period_s))

Staffing may dip (a lunch hour): from ``dip_start_h`` for ``dip_hours``, only
``round(agents * (1 - dip_fraction))`` agents work; an agent leaving finishes the contact at
hand first.

Every caller who has to queue is given each predictor's estimate, computed only from what the
live system would know at that moment (:class:`~escucha.routing.estimate.QueueMeter` rates
measured on the same traffic); the wait that follows is compared with it for the callers who
reach an agent. Seeded through a ``numpy.random.Generator``; nothing reads the clock.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from escucha.routing.estimate import (
    DEFAULT_MARGIN,
    AsteriskAverage,
    EstimateError,
    QueueMeter,
    WaitInputs,
    conservative_bound_s,
    estimate_wait,
    queue_length_predictor,
)

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = [
    "PREDICTORS",
    "EstimateBenchResult",
    "PredictorScore",
    "TrafficParams",
    "arrival_times",
    "simulate_estimates",
]

PREDICTORS: tuple[str, ...] = (
    "queue_length",
    "queue_length_no_abandonment",
    "les",
    "hol",
    "chosen",
    "asterisk_average",
)
"""Predictors compared: the abandonment-aware queue length, the same without abandonment,
last to enter service, head of the line, what escucha tells the caller (the chooser), and the
Asterisk-style moving average."""


@dataclass(frozen=True, slots=True)
class TrafficParams:
    """The simulated day: staffing, handling, patience, and how demand swings."""

    agents: int = 50
    hours: float = 8.0
    aht_s: float = 300.0
    patience_mean_s: float = 600.0
    load: float = 1.0
    amplitude: float = 0.3
    period_h: float = 4.0
    warmup_s: float = 1800.0
    default_wait_s: float = 120.0
    dip_fraction: float = 0.0
    dip_start_h: float = 3.5
    dip_hours: float = 1.0

    def __post_init__(self) -> None:
        if self.agents < 1:
            raise ValueError("agents must be >= 1")
        for name in ("hours", "aht_s", "patience_mean_s", "load", "period_h"):
            value = getattr(self, name)
            if not value > 0 or math.isinf(value):
                raise ValueError(f"{name} must be a finite number > 0")
        if not 0 <= self.amplitude < 1:
            raise ValueError("amplitude must be in [0, 1)")
        if not 0 <= self.warmup_s < self.hours * 3600.0:
            raise ValueError("warmup_s must be >= 0 and shorter than the day")
        if not 0 <= self.dip_fraction < 1:
            raise ValueError("dip_fraction must be in [0, 1)")
        if self.dip_fraction and self.dip_agents < 1:
            raise ValueError("the staffing dip leaves no agent")
        if self.dip_start_h < 0 or self.dip_hours < 0:
            raise ValueError("dip_start_h and dip_hours must be >= 0")

    @property
    def dip_agents(self) -> int:
        """Agents working during the dip."""
        return round(self.agents * (1.0 - self.dip_fraction))

    def agents_at(self, t_s: float) -> int:
        """Agents working at ``t_s`` seconds into the day."""
        start = self.dip_start_h * 3600.0
        if self.dip_fraction and start <= t_s < start + self.dip_hours * 3600.0:
            return self.dip_agents
        return self.agents


@dataclass(frozen=True, slots=True)
class PredictorScore:
    """Error of one predictor over the callers who queued and reached an agent."""

    predictor: str
    count: int
    mae_s: float | None
    within_25: float | None
    bias_s: float | None


@dataclass(frozen=True, slots=True)
class EstimateBenchResult:
    """Outcome of :func:`simulate_estimates`.

    ``bound_kept`` is the share of queued, served callers whose wait stayed under the bound
    they were told; ``mean_wait_s`` is the mean wait of those callers.
    """

    params: TrafficParams
    callers: int
    queued: int
    served: int
    abandoned: int
    scores: tuple[PredictorScore, ...]
    bound_kept: float | None
    mean_wait_s: float | None


def arrival_times(params: TrafficParams, rng: np.random.Generator) -> np.ndarray:
    """Arrival instants (seconds) of the time-varying Poisson stream, by thinning.

    Lewis & Shedler, "Simulation of nonhomogeneous Poisson processes by thinning", Naval
    Research Logistics Quarterly 26(3), 1979.
    """
    horizon_s = params.hours * 3600.0
    mean_rate = params.load * params.agents / params.aht_s
    max_rate = mean_rate * (1.0 + params.amplitude)
    expected = max_rate * horizon_s
    count = int(expected + 6.0 * math.sqrt(expected) + 10.0)
    candidates = np.cumsum(rng.exponential(1.0 / max_rate, size=count))
    candidates = candidates[candidates < horizon_s]
    rate = mean_rate * (
        1.0 + params.amplitude * np.sin(2.0 * math.pi * candidates / (params.period_h * 3600.0))
    )
    keep = rng.random(candidates.size) * max_rate < rate
    return np.asarray(candidates[keep], dtype=np.float64)


def simulate_estimates(params: TrafficParams, rng: np.random.Generator) -> EstimateBenchResult:
    """Run the simulated day and score every predictor against the waits that followed."""
    arrivals = arrival_times(params, rng)
    n = int(arrivals.size)
    service = rng.exponential(params.aht_s, size=n)
    patience = rng.exponential(params.patience_mean_s, size=n)

    meter = QueueMeter()
    asterisk = AsteriskAverage()
    online = EstimateError()  # what the live system learns, for its safety margin
    errors = {name: EstimateError() for name in PREDICTORS}
    estimates: dict[int, dict[str, float]] = {}
    bounds: dict[int, float] = {}
    kept = 0
    judged = 0
    judged_wait_s = 0.0

    waiting = [False] * n
    line: deque[int] = deque()
    in_line = 0
    busy = 0
    queued = served = abandoned = 0
    # events: (time, kind, caller); kind 0 = service ends, 1 = caller hangs up,
    # 2 = staffing changes
    events: list[tuple[float, int, int]] = []
    if params.dip_fraction:
        start = params.dip_start_h * 3600.0
        heapq.heappush(events, (start, 2, -1))
        heapq.heappush(events, (start + params.dip_hours * 3600.0, 2, -1))

    def start_service(caller: int, now: float) -> None:
        heapq.heappush(events, (now + float(service[caller]), 0, caller))

    def head(now: float) -> float | None:
        while line and not waiting[line[0]]:
            line.popleft()
        return now - float(arrivals[line[0]]) if line else None

    def served_from_line(now: float) -> None:
        nonlocal in_line, served, kept, judged, judged_wait_s
        while line:
            caller = line.popleft()
            if not waiting[caller]:
                continue
            waiting[caller] = False
            in_line -= 1
            wait = now - float(arrivals[caller])
            meter.record_exit(wait, abandoned=False)
            asterisk.update(wait)
            served += 1
            given = estimates.pop(caller, None)
            if given is not None:
                for name, value in given.items():
                    errors[name].add(value, wait)
                online.add(given["chosen"], wait)
                judged += 1
                judged_wait_s += wait
                kept += wait <= bounds.pop(caller)
            start_service(caller, now)
            return
        raise AssertionError("no caller in line")  # pragma: no cover

    index = 0
    while index < n or events:
        if index < n and (not events or float(arrivals[index]) <= events[0][0]):
            caller = index
            now = float(arrivals[caller])
            index += 1
            staffed = params.agents_at(now)
            if busy < staffed:
                busy += 1
                asterisk.update(0.0)
                start_service(caller, now)
                continue
            queued += 1
            ahead = in_line
            if now >= params.warmup_s:
                given = _estimates(params, staffed, meter, asterisk, ahead, head(now))
                estimates[caller] = given
                margin = online.margin()
                bounds[caller] = conservative_bound_s(
                    given["chosen"], DEFAULT_MARGIN if margin is None else margin
                )
            waiting[caller] = True
            line.append(caller)
            in_line += 1
            heapq.heappush(events, (now + float(patience[caller]), 1, caller))
            continue
        now, kind, caller = heapq.heappop(events)
        if kind == 0:
            meter.record_service(float(service[caller]))
            if in_line and busy <= params.agents_at(now):
                served_from_line(now)
            else:
                busy -= 1
        elif kind == 2:
            while in_line and busy < params.agents_at(now):
                busy += 1
                served_from_line(now)
        elif waiting[caller]:
            waiting[caller] = False
            in_line -= 1
            abandoned += 1
            meter.record_exit(now - float(arrivals[caller]), abandoned=True)
            if estimates.pop(caller, None) is not None:
                del bounds[caller]

    scores = tuple(
        PredictorScore(name, err.count, err.mae_s, err.within_25, err.bias_s)
        for name, err in errors.items()
    )
    return EstimateBenchResult(
        params=params,
        callers=n,
        queued=queued,
        served=served + (n - queued),
        abandoned=abandoned,
        scores=scores,
        bound_kept=kept / judged if judged else None,
        mean_wait_s=judged_wait_s / judged if judged else None,
    )


def _estimates(
    params: TrafficParams,
    staffed: int,
    meter: QueueMeter,
    asterisk: AsteriskAverage,
    ahead: int,
    hol_wait_s: float | None,
) -> dict[str, float]:
    """Every predictor's estimate for a caller joining the back of the line."""
    given: dict[str, float] = {"asterisk_average": asterisk.value_s}
    mean_service = meter.mean_service_s
    mean_patience = meter.mean_patience_s
    if mean_service is not None:
        given["queue_length"] = queue_length_predictor(ahead, staffed, mean_service, mean_patience)
        given["queue_length_no_abandonment"] = queue_length_predictor(ahead, staffed, mean_service)
    if meter.les_wait_s is not None:
        given["les"] = meter.les_wait_s
    if hol_wait_s is not None and ahead >= 1:
        given["hol"] = hol_wait_s
    chosen = estimate_wait(
        WaitInputs(
            callers_ahead=ahead,
            agents_staffed=staffed,
            mean_service_s=mean_service,
            mean_patience_s=mean_patience,
            les_wait_s=meter.les_wait_s,
            hol_wait_s=hol_wait_s,
            default_s=params.default_wait_s,
        )
    )
    given["chosen"] = chosen.estimate_s
    return given
