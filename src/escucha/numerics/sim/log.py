"""The per-call record log that every engine returns, and its summary with confidence intervals.

Columns follow the shared call-record contract (``call_id``, ``queue``, ``arrived_at`` ...);
here they are NumPy arrays, with ``arrival_s`` (seconds from the start of the run) in place of
a timestamp. Code outside ``numerics`` turns them into an Arrow table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = ["CallLog", "SimSummary"]


@dataclass(frozen=True, slots=True)
class SimSummary:
    """Measured queue performance with 95% confidence half-widths (batch means).

    ``service_level`` is the share of offered calls answered within ``target_time_s``
    (abandons count as missed), the same definition as the Erlang A default.
    """

    customers: int
    target_time_s: float
    p_abandon: float
    p_abandon_ci95: float
    service_level: float
    service_level_ci95: float
    asa_s: float
    asa_ci95_s: float
    mean_wait_s: float
    p_callback: float


@dataclass(frozen=True)
class CallLog:
    """One record per call, in arrival order.

    Attributes
    ----------
    call_id : 0, 1, 2 ... in arrival order
    queue : index into ``queue_names``
    arrival_s : arrival time in seconds from the start of the run
    wait_s : time in queue until answered, abandoned (or the run ended)
    abandoned, answered : outcome; a call still waiting when the run ends is neither
    service_s : talk time (0 when not answered)
    agent : index into ``agent_names``, -1 when not answered or not tracked
    callback : the caller took a callback that kept their place
    """

    queue_names: tuple[str, ...]
    agent_names: tuple[str, ...]
    call_id: NDArray[np.int64]
    queue: NDArray[np.int32]
    arrival_s: NDArray[np.float64]
    wait_s: NDArray[np.float64]
    abandoned: NDArray[np.bool_]
    answered: NDArray[np.bool_]
    service_s: NDArray[np.float64]
    agent: NDArray[np.int32]
    callback: NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.call_id.size)

    def columns(self) -> dict[str, NDArray[np.generic]]:
        """Arrays keyed by the call-record contract names (strings materialised).

        ``arrived_at`` holds seconds from the start; ``agent`` is ``None`` when absent.
        """
        n = len(self)
        names = np.asarray(self.queue_names, dtype=object)
        agent_names = np.asarray((*self.agent_names, None), dtype=object)
        agent_idx = np.where(self.agent >= 0, self.agent, len(self.agent_names))
        zeros_f = np.zeros(n, dtype=np.float64)
        zeros_i = np.zeros(n, dtype=np.int32)
        none = np.full(n, None, dtype=object)
        return {
            "call_id": self.call_id.astype(str).astype(object),
            "queue": names[self.queue] if n else np.empty(0, dtype=object),
            "customer_id": none,
            "call_type": none,
            "arrived_at": self.arrival_s,
            "queued": np.ones(n, dtype=np.bool_),
            "wait_s": self.wait_s,
            "abandoned": self.abandoned,
            "answered": self.answered,
            "service_s": self.service_s,
            "hold_s": zeros_f,
            "holds": zeros_i,
            "wrap_s": zeros_f.copy(),
            "agent": agent_names[agent_idx] if n else np.empty(0, dtype=object),
            "transfers": zeros_i.copy(),
            "callback": self.callback,
        }

    def summary(
        self,
        *,
        target_time_s: float = 20.0,
        warmup_fraction: float = 0.0,
        batches: int = 20,
        queue: int | None = None,
    ) -> SimSummary:
        """Steady-state estimates with 95% confidence half-widths.

        Parameters
        ----------
        target_time_s : the ``t`` of the service level
        warmup_fraction : share of the first calls left out (the run starts empty)
        batches : number of consecutive batches for the batch-means interval
        queue : only this queue's calls (index into ``queue_names``)

        Notes
        -----
        Calls in a queue are correlated, so the interval comes from ``batches`` consecutive
        batch means and Student's t with ``batches - 1`` degrees of freedom (Law & Kelton,
        *Simulation Modeling and Analysis*, 9.5.3). ASA is a ratio estimator: the mean wait of
        answered calls per batch.
        """
        if not 0.0 <= warmup_fraction < 1.0:
            raise ValueError("warmup_fraction must be in [0, 1)")
        if batches < 2:
            raise ValueError("batches must be >= 2")
        # The calls measured: a slice (views, no copies) for the whole log, else an index.
        rows: slice | NDArray[np.int64]
        if queue is None:
            first = math.floor(warmup_fraction * len(self))
            rows, n = slice(first, None), len(self) - first
        else:
            idx = np.flatnonzero(self.queue == queue)
            rows = idx[math.floor(warmup_fraction * idx.size) :]
            n = rows.size
        if n < batches:
            raise ValueError(f"need at least {batches} calls to summarise, have {n}")
        ab = self.abandoned[rows]
        ans = self.answered[rows]
        wait = self.wait_s[rows]
        within = ans & (wait <= target_time_s)
        ans_wait = np.where(ans, wait, 0.0)
        cuts = np.linspace(0, n, batches + 1).astype(np.int64)[:-1]
        sizes = np.diff(np.append(cuts, n)).astype(np.float64)
        f64 = np.float64
        b_ab = np.add.reduceat(ab, cuts, dtype=f64) / sizes
        b_sl = np.add.reduceat(within, cuts, dtype=f64) / sizes
        b_wait = np.add.reduceat(ans_wait, cuts)
        b_ans = np.add.reduceat(ans, cuts, dtype=f64)
        b_asa = np.divide(b_wait, b_ans, out=np.zeros(batches), where=b_ans > 0)
        # Student's t quantile from scipy.special: scipy.stats costs a second to import.
        tq = float(special.stdtrit(batches - 1, 0.975))

        def half(values: NDArray[np.float64]) -> float:
            return tq * float(np.std(values, ddof=1)) / math.sqrt(batches)

        answered = float(np.count_nonzero(ans))
        return SimSummary(
            customers=int(n),
            target_time_s=float(target_time_s),
            p_abandon=np.count_nonzero(ab) / n,
            p_abandon_ci95=half(b_ab),
            service_level=np.count_nonzero(within) / n,
            service_level_ci95=half(b_sl),
            asa_s=float(ans_wait.sum() / answered) if answered else 0.0,
            asa_ci95_s=half(b_asa),
            mean_wait_s=float(wait.mean()),
            p_callback=np.count_nonzero(self.callback[rows]) / n,
        )
