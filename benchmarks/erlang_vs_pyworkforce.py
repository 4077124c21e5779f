"""escucha's Erlang numerics against pyworkforce on the same inputs.

Run: ``.venv/bin/python benchmarks/erlang_vs_pyworkforce.py``. Prints, for each case, the time
per call of each library and the ratio (pyworkforce / escucha), the agents each finds, and what
each returns when the agents do not exceed the offered load.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable
from functools import partial

from pyworkforce.queuing import ErlangC  # type: ignore[import-untyped]
from scipy import special

from escucha.numerics.erlang import erlang_a, erlang_c
from escucha.numerics.staffing import (
    SPAIN_95_180,
    ServiceLevelTarget,
    Targets,
    required_agents,
    staff,
)

AHT_MIN = 3.0
INTERVAL_MIN = 30.0
TARGET = Targets(service_levels=(ServiceLevelTarget(0.8, 20.0),))
A_TARGETS = {  # Erlang A staffing goal: at most 1 ms per staff() call at 100,000 Erlangs
    "80/20": TARGET,
    "95/180+ab+occ": Targets(
        service_levels=(ServiceLevelTarget(0.8, 20.0), SPAIN_95_180),
        max_abandon=0.05,
        max_occupancy=0.9,
    ),
    "ab 1%": Targets(max_abandon=0.01),
    "ASA 15 s": Targets(max_asa_s=15.0),
}


def per_call(fn: Callable[[], object], budget_s: float = 1.0, max_runs: int = 2000) -> float:
    """Mean seconds per call, repeating until ``budget_s`` is spent (at least once)."""
    runs = 0
    start = time.perf_counter()
    while True:
        fn()
        runs += 1
        spent = time.perf_counter() - start
        if spent >= budget_s or runs >= max_runs:
            return spent / runs


def pyworkforce(load_erl: float) -> ErlangC:
    return ErlangC(
        transactions=load_erl * INTERVAL_MIN / AHT_MIN,
        aht=AHT_MIN,
        asa=20.0 / 60.0,
        interval=INTERVAL_MIN,
    )


def bare_erlang_c(n: int, per_h: float, aht_s: float, t: float = 20.0) -> tuple[float, float]:
    """The textbook Erlang C in SciPy, no checks: wait probability and service level."""
    a = per_h * aht_s / 3600.0
    b = math.exp(math.log(a) * n - a - math.lgamma(n + 1.0)) / float(special.pdtr(n, a))
    c = b / (1.0 - (a / n) * (1.0 - b))
    return c, 1.0 - c * math.exp(-(n - a) * t / aht_s)


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:10.3f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:10.1f} µs"


def main() -> None:
    rows = []
    for load in (100.0, 1_000.0, 10_000.0, 100_000.0):
        per_h = load * 3600.0 / (AHT_MIN * 60.0)
        esc_n = int(required_agents(per_h, AHT_MIN * 60.0, TARGET)[0])
        esc_t = per_call(partial(required_agents, per_h, AHT_MIN * 60.0, TARGET))
        peer = pyworkforce(load)
        budget = 0.5 if load < 100_000 else 0.0  # the largest case: run the peer once
        pw_t = per_call(partial(peer.required_positions, service_level=0.8), budget)
        pw_n = peer.required_positions(service_level=0.8)["raw_positions"]
        rows.append((f"staff 80/20, {load:>9,.0f} Erl", esc_t, pw_t, f"{esc_n} vs {pw_n}"))
    for load in (1_000.0, 100_000.0):
        per_h = load * 3600.0 / (AHT_MIN * 60.0)
        n = math.ceil(load * 1.02)
        esc_t = per_call(partial(erlang_c, n, per_h, AHT_MIN * 60.0))
        peer = pyworkforce(load)
        pw_t = per_call(partial(peer.service_level, n), 0.3)
        esc_sl = float(erlang_c(n, per_h, AHT_MIN * 60.0, target_time_s=20.0).service_level)
        rows.append(
            (
                f"Erlang C eval, {load:>8,.0f} Erl",
                esc_t,
                pw_t,
                f"SL {esc_sl:.6f} vs {peer.service_level(n):.6f}",
            )
        )
    for load in (1_000.0, 100_000.0):
        per_h = load * 3600.0 / (AHT_MIN * 60.0)
        n = math.ceil(load * 1.02)
        esc_t = per_call(partial(erlang_c, n, per_h, AHT_MIN * 60.0))
        bare_t = per_call(partial(bare_erlang_c, n, per_h, AHT_MIN * 60.0))
        esc_sl = float(erlang_c(n, per_h, AHT_MIN * 60.0).service_level)
        rows.append(
            (
                f"C vs bare SciPy, {load:>8,.0f} Erl",
                esc_t,
                bare_t,
                f"SL {esc_sl:.6f} vs {bare_erlang_c(n, per_h, AHT_MIN * 60.0)[1]:.6f} (peer: bare)",
            )
        )
    for load in (1_000.0, 100_000.0):
        per_h = load * 3600.0 / (AHT_MIN * 60.0)
        n = math.ceil(load)
        esc_t = per_call(partial(erlang_a, n, per_h, AHT_MIN * 60.0, 120.0))
        rows.append((f"Erlang A eval, {load:>8,.0f} Erl", esc_t, math.nan, "pyworkforce: none"))
        esc_t = per_call(
            partial(required_agents, per_h, AHT_MIN * 60.0, TARGET, patience_mean_s=120.0)
        )
        rows.append((f"staff Erlang A, {load:>7,.0f} Erl", esc_t, math.nan, "pyworkforce: none"))
        for label, targets in A_TARGETS.items():
            run = partial(staff, per_h, AHT_MIN * 60.0, targets, patience_mean_s=120.0)
            esc_t = per_call(run, 0.5)
            rows.append(
                (
                    f"staff() A {label}, {load:>7,.0f} Erl",
                    esc_t,
                    math.nan,
                    f"{run().agents} agents (goal <= 1 ms)",
                )
            )

    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'case':34} {'escucha':>13} {'pyworkforce':>13} {'ratio':>9}  agents / values")
    for name, esc, pw, note in rows:
        ratio = f"{pw / esc:8.1f}x" if math.isfinite(pw) else "      n/a"
        pw_s = fmt(pw) if math.isfinite(pw) else "          n/a"
        print(f"{name:34} {fmt(esc)} {pw_s} {ratio}  {note}")

    print("\nAgents not above the offered load (10 Erlangs):")
    for n in (8, 10):
        peer = pyworkforce(10.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                shown = f"P(wait) {peer.waiting_probability(n):.4f}, SL {peer.service_level(n):.4f}"
            except ZeroDivisionError:
                shown = "ZeroDivisionError"
        m = erlang_c(n, 200.0, 180.0).result()
        a = erlang_a(n, 200.0, 180.0, 120.0).result()
        print(
            f"  n={n:2d}  pyworkforce: {shown:34}  escucha C: stable={m.stable}, P(wait) "
            f"{m.p_wait:.1f}, SL {m.service_level:.1f}   escucha A: P(ab) {a.p_abandon:.4f}, "
            f"SL {a.service_level:.4f}"
        )


if __name__ == "__main__":
    main()
