"""Call-log report on ten million calls: escucha (DuckDB) against a straightforward pandas version.

Generates a call-record table (the ``CALL_COLUMNS`` contract) into Parquet under a temporary
directory, then runs, each in its own process so peak memory is measured separately:

* ``escucha``: ``analyze_files`` + ``render_report`` + writing the HTML file (the whole
  ``escucha analyze calls.parquet --out report.html``), DuckDB on 2 threads;
* ``pandas``: the same numbers (KPI sums by interval, queue, agent and call type, FCR,
  abandonment by wait, Kaplan-Meier patience) computed with pandas group-bys, without
  drawing any report.

Prints a table of wall-clock and CPU seconds, peak RSS and the speed ratio, with the load
average (wall times on a shared machine stretch with everything else that runs). Usage::

    python benchmarks/analytics_vs_pandas.py [--rows 10000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

START = datetime(2024, 1, 1, tzinfo=UTC)
DAYS = 90
CHUNK = 1_000_000


def generate(path: Path, rows: int, seed: int = 20240101) -> None:
    """Write ``rows`` synthetic calls (day-shaped arrivals, patience, service) to Parquet."""
    from escucha.analytics.schemas import CALLS_SCHEMA

    rng = np.random.default_rng(seed)
    t0 = START.timestamp()
    # Arrival times: uniform days, hours drawn from a day-time profile, then sorted.
    hours = np.arange(24)
    profile = np.exp(-0.5 * ((hours - 12.5) / 3.5) ** 2) + 0.03
    profile /= profile.sum()
    day = rng.integers(0, DAYS, rows)
    hour = rng.choice(24, size=rows, p=profile)
    arrival_s = np.sort(t0 + day * 86400.0 + hour * 3600.0 + rng.random(rows) * 3600.0)
    queues = pa.array([f"queue-{i}" for i in range(8)])
    types = pa.array(["billing", "faults", "sales", "moves"])
    with pq.ParquetWriter(path, CALLS_SCHEMA) as writer:
        for lo in range(0, rows, CHUNK):
            n = min(CHUNK, rows - lo)
            queued = rng.random(n) < 0.95
            patience = rng.exponential(120.0, n)
            offered_wait = rng.exponential(35.0, n)
            timeout = rng.random(n) < 0.01
            abandoned = queued & (patience < offered_wait)
            answered = queued & ~abandoned & ~timeout
            wait = np.where(queued, np.minimum(patience, offered_wait), 0.0)
            service = np.where(answered, rng.lognormal(5.3, 0.6, n), 0.0)
            holds = np.where(answered, rng.poisson(0.4, n), 0).astype(np.int32)
            hold_s = holds * rng.exponential(40.0, n)
            wrap = np.where(answered, rng.gamma(2.0, 15.0, n), 0.0)
            transfers = (answered & (rng.random(n) < 0.05)).astype(np.int32)
            customer = rng.integers(0, 3_000_000, n)
            known = rng.random(n) < 0.9
            agent = rng.integers(0, 2000, n)
            ids = pc.cast(pa.array(np.arange(lo, lo + n)), pa.string())
            cust = pc.binary_join_element_wise("C", pc.cast(pa.array(customer), pa.string()), "")
            ag = pc.binary_join_element_wise("A", pc.cast(pa.array(agent), pa.string()), "")
            table = pa.table(
                {
                    "call_id": ids,
                    "queue": pc.take(queues, pa.array(rng.integers(0, 8, n))),
                    "customer_id": pc.if_else(pa.array(known), cust, pa.nulls(n, pa.string())),
                    "call_type": pc.take(types, pa.array(rng.integers(0, 4, n))),
                    "arrived_at": pa.array(
                        (arrival_s[lo : lo + n] * 1e6).astype("int64"),
                        pa.timestamp("us", tz="UTC"),
                    ),
                    "queued": queued,
                    "wait_s": wait,
                    "abandoned": abandoned,
                    "answered": answered,
                    "service_s": service,
                    "hold_s": hold_s,
                    "holds": holds,
                    "wrap_s": wrap,
                    "agent": pc.if_else(pa.array(answered), ag, pa.nulls(n, pa.string())),
                    "transfers": transfers,
                    "callback": rng.random(n) < 0.02,
                },
                schema=CALLS_SCHEMA,
            )
            writer.write_table(table)


def run_escucha(path: Path, out: Path) -> dict[str, float]:
    from escucha.analytics.schemas import AnalysisOptions
    from escucha.analytics.service import analyze_files, render_report

    result = analyze_files([path], options=AnalysisOptions(threads=2, memory_limit="1GB"))
    out.write_text(render_report(result), encoding="utf-8")
    return {
        "calls": result.summary["calls"],
        "p_abandon": result.summary["p_abandon_queued"],
        "fcr": result.kpis.overall["fcr"],
        "km_median_s": result.summary["patience"]["km_median_s"],
    }


def run_pandas(path: Path) -> dict[str, float]:
    """The same numbers with plain pandas (no report drawn)."""
    import pandas as pd

    df = pd.read_parquet(path)
    T, short, spain = 20.0, 5.0, 180.0
    df["bucket"] = df["arrived_at"].dt.floor("30min")
    df["handle"] = df["service_s"] + df["hold_s"] + df["wrap_s"]
    df = df.sort_values(["customer_id", "arrived_at"])
    nxt = df.groupby("customer_id")["arrived_at"].shift(-1)
    df["repeated"] = (nxt - df["arrived_at"]).dt.total_seconds() <= 7 * 86400
    q, a, ab = df["queued"], df["answered"], df["queued"] & df["abandoned"]
    df["offered"] = q
    df["ans_q"] = q & a
    df["ab"] = ab
    df["short"] = ab & (df["wait_s"] <= short)
    df["ab_t"] = ab & (df["wait_s"] <= T)
    df["ans_t"] = q & a & (df["wait_s"] <= T)
    df["ans_spain"] = q & a & (df["wait_s"] <= spain)
    df["wait_q"] = df["wait_s"].where(q, 0.0)
    df["wait_a"] = df["wait_s"].where(q & a, 0.0)
    df["handle_a"] = df["handle"].where(a, 0.0)
    df["eligible"] = a & df["customer_id"].notna()
    df["rep"] = df["eligible"] & df["repeated"]
    cols = {
        "calls": ("call_id", "size"),
        "offered": ("offered", "sum"),
        "answered": ("answered", "sum"),
        "ans_q": ("ans_q", "sum"),
        "abandoned": ("ab", "sum"),
        "short": ("short", "sum"),
        "ab_t": ("ab_t", "sum"),
        "ans_t": ("ans_t", "sum"),
        "ans_spain": ("ans_spain", "sum"),
        "wait_q": ("wait_q", "sum"),
        "wait_a": ("wait_a", "sum"),
        "handle": ("handle_a", "sum"),
        "holds": ("holds", "sum"),
        "transfers": ("transfers", "sum"),
        "eligible": ("eligible", "sum"),
        "rep": ("rep", "sum"),
        "agents": ("agent", "nunique"),
    }
    tables = {
        key: df.groupby(key, dropna=False).agg(**cols)
        for key in ("bucket", "queue", "agent", "call_type")
    }
    overall = {k: df[col].sum() for k, (col, how) in cols.items() if how == "sum"}
    queued = df[q]
    counts = queued.groupby(["wait_s", "abandoned"]).size().reset_index(name="n")
    counts = counts.sort_values("wait_s")
    total = counts["n"].sum()
    leaving = counts.groupby("wait_s")["n"].sum()
    events = counts[counts["abandoned"]].groupby("wait_s")["n"].sum()
    at_risk = total - leaving.cumsum().shift(1, fill_value=0)
    d = events.reindex(leaving.index, fill_value=0)
    keep = d > 0
    surv = (1 - d[keep] / at_risk[keep]).cumprod()
    median = surv[surv <= 0.5].index.min()
    by_wait = {
        t: float((queued["abandoned"] & (queued["wait_s"] <= t)).sum() / len(queued))
        for t in (10, 20, 30, 60, 90, 120)
    }
    del tables, by_wait
    return {
        "calls": len(df),
        "p_abandon": float(overall["abandoned"] / overall["offered"]),
        "fcr": float(1 - overall["rep"] / overall["eligible"]),
        "km_median_s": float(median),
    }


def child(which: str, path: Path, out: Path) -> None:
    start = time.perf_counter()
    cpu0 = time.process_time()
    numbers = run_escucha(path, out) if which == "escucha" else run_pandas(path)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "cpu_s": cpu, "peak_mb": peak_mb, "numbers": numbers}))


def measure(which: str, path: Path, out: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", which, "--path", str(path), "--out", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="write the data here")
    parser.add_argument("--child", choices=("escucha", "pandas"), help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.path, args.out)
        return
    with tempfile.TemporaryDirectory(prefix="escucha-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "calls.parquet"
        if not path.exists():
            t = time.perf_counter()
            generate(path, args.rows)
            print(
                f"generated {args.rows:,} calls in {time.perf_counter() - t:.1f} s "
                f"({path.stat().st_size / 2**20:.0f} MiB Parquet)"
            )
        out = folder / "report.html"
        load_before = os.getloadavg()[0]
        esc = measure("escucha", path, out)
        pan = measure("pandas", path, out)
        load_after = os.getloadavg()[0]
        print()
        print(f"{'engine':<10} {'wall s':>8} {'CPU s':>8} {'peak RSS MiB':>13} {'wall ratio':>11}")
        for name, res in (("escucha", esc), ("pandas", pan)):
            ratio = float(pan["seconds"]) / float(res["seconds"])  # type: ignore[arg-type]
            print(
                f"{name:<10} {res['seconds']:>8.1f} {res['cpu_s']:>8.1f} "
                f"{res['peak_mb']:>13.0f} {ratio:>10.1f}x"
            )
        print(
            f"\n1-minute load average before/after: {load_before:.1f} / {load_after:.1f} "
            f"on {os.cpu_count()} CPUs (wall times stretch when other work shares them)"
        )
        print("same numbers:", esc["numbers"], pan["numbers"], sep="\n  ")


if __name__ == "__main__":
    main()
