"""Fast single-pool engine: one FCFS queue, ``n`` identical agents, impatient callers.

For first-come-first-served service the start time of each call follows from the calls before
it alone (Kiefer & Wolfowitz, "On the theory of queues with many servers", Trans. AMS 78,
1955): keep the times at which each agent becomes free in a min-heap; a call arriving at ``t``
would start at ``s = max(t, earliest free time)``. If its patience runs out first
(``s - t > patience``) it abandons and leaves the agents untouched; otherwise the earliest agent
takes it until ``s + service``. The earliest-free agent is the one idle longest, so this is also
longest-idle-agent routing. One heap operation per call, no event list.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

from escucha.numerics.sim.arrivals import arrival_times
from escucha.numerics.sim.distributions import Distribution
from escucha.numerics.sim.log import CallLog

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = ["simulate_queue"]


def simulate_queue(
    *,
    agents: int,
    arrivals_per_h: float | Sequence[float],
    service: Distribution,
    patience: Distribution | None,
    rng: np.random.Generator,
    customers: int | None = None,
    horizon_s: float | None = None,
    interval_s: float = 1800.0,
    track_agents: bool = False,
    queue_name: str = "main",
) -> CallLog:
    """Simulate an M/G/n+G queue (Erlang A when both distributions are exponential).

    Parameters
    ----------
    agents : agents on the phone, ``>= 1``
    arrivals_per_h : constant Poisson rate or one rate per interval (time-varying)
    service : handle-time distribution
    patience : patience distribution; ``None`` for callers who never hang up
    rng : the random generator (the only source of randomness)
    customers, horizon_s : how many calls, or calls arriving before this time (one of them)
    interval_s : length of each rate interval
    track_agents : record which agent answered each call (slower: tuple heap)
    queue_name : the queue name in the log

    Returns
    -------
    CallLog
        Every call runs to its end (answered or abandoned).
    """
    if agents < 1:
        raise ValueError("agents must be >= 1")
    arrivals = arrival_times(
        rng, arrivals_per_h, interval_s=interval_s, horizon_s=horizon_s, customers=customers
    )
    size = arrivals.size
    service_s = service.sample(rng, size)
    patience_s = np.full(size, np.inf) if patience is None else patience.sample(rng, size)
    wait_s = np.zeros(size)
    agent = np.full(size, -1, dtype=np.int32)
    if track_agents:
        abandoned_idx = _run_tracked(arrivals, service_s, patience_s, agents, wait_s, agent)
    else:
        abandoned_idx = _run(arrivals, service_s, patience_s, agents, wait_s)
    abandoned = np.zeros(size, dtype=np.bool_)
    abandoned[abandoned_idx] = True
    answered = ~abandoned
    service_s[abandoned] = 0.0  # our own sample: zeroed in place rather than copied
    return CallLog(
        queue_names=(queue_name,),
        agent_names=tuple(f"agent-{i + 1}" for i in range(agents)) if track_agents else (),
        call_id=np.arange(size, dtype=np.int64),
        queue=np.zeros(size, dtype=np.int32),
        arrival_s=arrivals,
        wait_s=wait_s,
        abandoned=abandoned,
        answered=answered,
        service_s=service_s,
        agent=agent,
        callback=np.zeros(size, dtype=np.bool_),
    )


_CHUNK = 1 << 16  # calls converted to Python floats at a time: bounds the loop's memory


def _run(
    arrivals: np.ndarray,
    service: np.ndarray,
    patience: np.ndarray,
    agents: int,
    wait_out: np.ndarray,
) -> list[int]:
    """The Kiefer-Wolfowitz recursion; fills ``wait_out`` and returns the abandoned calls.

    Runs chunk by chunk so that only ``_CHUNK`` calls are Python objects at any time.
    """
    free = [0.0] * agents  # a valid heap
    replace = heapq.heapreplace
    abandoned: list[int] = []
    for base in range(0, arrivals.size, _CHUNK):
        end = base + _CHUNK
        waits: list[float] = []
        waited: list[int] = []
        for i, (t, s, p) in enumerate(
            zip(
                arrivals[base:end].tolist(),
                service[base:end].tolist(),
                patience[base:end].tolist(),
                strict=True,
            ),
            base,
        ):
            f = free[0]
            if f <= t:
                replace(free, t + s)
                continue
            w = f - t
            if w > p:
                abandoned.append(i)
                waits.append(p)
            else:
                replace(free, f + s)
                waits.append(w)
            waited.append(i)
        wait_out[waited] = waits
    return abandoned


def _run_tracked(
    arrivals: np.ndarray,
    service: np.ndarray,
    patience: np.ndarray,
    agents: int,
    wait_out: np.ndarray,
    agent_out: np.ndarray,
) -> list[int]:
    """As :func:`_run`, also recording the agent (ties go to the lowest agent number)."""
    free = [(0.0, k) for k in range(agents)]
    replace = heapq.heapreplace
    who: list[int] = [-1] * arrivals.size
    abandoned: list[int] = []
    waits = wait_out
    for i, (t, s, p) in enumerate(
        zip(arrivals.tolist(), service.tolist(), patience.tolist(), strict=True)
    ):
        f, k = free[0]
        start = f if f > t else t
        w = start - t
        if w > p:
            abandoned.append(i)
            waits[i] = p
            continue
        replace(free, (start + s, k))
        who[i] = k
        if w > 0.0:
            waits[i] = w
    agent_out[:] = who
    return abandoned
