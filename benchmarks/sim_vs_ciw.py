"""escucha's simulators against Ciw on the same queueing models (customers per second).

Run: ``.venv/bin/python benchmarks/sim_vs_ciw.py``. Ciw runs for about 20,000 customers per
model (it is the slow side); escucha runs longer so its rate is measured on real work. Printed:
customers per second of each, the ratio, and the abandonment each measures; then
``escucha simulate`` of 1,000,000 customers as a whole process (start-up included: CPU seconds,
peak memory, customers per second of wall time) beside a bare 25-line Python loop of the same
queue run the same way, and the machine's load average.

Models
------
1. M/M/n+M (Erlang A): 2,000 calls/h, AHT 180 s, patience 120 s, 100 agents.
2. Two skills: sales (1,200/h, AHT 180 s, patience 120 s) and support (800/h, AHT 240 s,
   patience 200 s), 102 agents. Ciw: one node, two customer classes sharing the servers, sales
   first. escucha: two queues, two agent groups (sales-first and support-first, both
   cross-skilled) and callbacks offered above 20 s of estimated wait, which Ciw cannot model.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

import ciw  # type: ignore[import-untyped]
import numpy as np

from escucha.numerics.sim.distributions import Exponential
from escucha.numerics.sim.engine import AgentGroup, CallbackPolicy, Model, QueueSpec, simulate
from escucha.numerics.sim.fast import simulate_queue

LAM_H = 2000.0
PEER_CUSTOMERS = 20_000


def ciw_erlang_a() -> tuple[int, float, float]:
    net = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=LAM_H / 3600)],
        service_distributions=[ciw.dists.Exponential(rate=1 / 180)],
        number_of_servers=[100],
        reneging_time_distributions=[ciw.dists.Exponential(rate=1 / 120)],
    )
    ciw.seed(1)
    sim = ciw.Simulation(net)
    t0 = time.perf_counter()
    sim.simulate_until_max_time(PEER_CUSTOMERS / LAM_H * 3600)
    wall = time.perf_counter() - t0
    recs = sim.get_all_records()
    reneged = sum(r.record_type == "renege" for r in recs)
    return len(recs), wall, reneged / len(recs)


def ciw_two_skills() -> tuple[int, float, float]:
    net = ciw.create_network(
        arrival_distributions={
            "sales": [ciw.dists.Exponential(rate=1200 / 3600)],
            "support": [ciw.dists.Exponential(rate=800 / 3600)],
        },
        service_distributions={
            "sales": [ciw.dists.Exponential(rate=1 / 180)],
            "support": [ciw.dists.Exponential(rate=1 / 240)],
        },
        number_of_servers=[102],
        reneging_time_distributions={
            "sales": [ciw.dists.Exponential(rate=1 / 120)],
            "support": [ciw.dists.Exponential(rate=1 / 200)],
        },
        priority_classes={"sales": 0, "support": 1},
    )
    ciw.seed(1)
    sim = ciw.Simulation(net)
    t0 = time.perf_counter()
    sim.simulate_until_max_time(PEER_CUSTOMERS / LAM_H * 3600)
    wall = time.perf_counter() - t0
    recs = sim.get_all_records()
    reneged = sum(r.record_type == "renege" for r in recs)
    return len(recs), wall, reneged / len(recs)


def escucha_fast(customers: int) -> tuple[int, float, float]:
    t0 = time.perf_counter()
    log = simulate_queue(
        agents=100,
        arrivals_per_h=LAM_H,
        service=Exponential(180),
        patience=Exponential(120),
        rng=np.random.default_rng(1),
        customers=customers,
    )
    wall = time.perf_counter() - t0
    return len(log), wall, float(log.abandoned.mean())


def escucha_events(model: Model, hours: float) -> tuple[int, float, float]:
    t0 = time.perf_counter()
    log = simulate(model, rng=np.random.default_rng(1), horizon_s=hours * 3600)
    wall = time.perf_counter() - t0
    return len(log), wall, float(log.abandoned.mean())


BARE_LOOP = """
import heapq, random
random.seed(1)
agents, lam, aht, pat, n = 100, 2000 / 3600, 180.0, 120.0, 1_000_000
free = [0.0] * agents
t = 0.0
abandoned = 0
waited = 0.0
for _ in range(n):
    t += random.expovariate(lam)
    s = random.expovariate(1 / aht)
    p = random.expovariate(1 / pat)
    f = free[0]
    if f <= t:
        heapq.heapreplace(free, t + s)
        continue
    w = f - t
    if w > p:
        abandoned += 1
        waited += p
    else:
        heapq.heapreplace(free, f + s)
        waited += w
print(abandoned / n, waited / n)
"""


# Printed by the measured process at exit: its own peak memory. (The rusage of a child started
# from this large process reports this process's size, kept across the child's exec.)
PEAK_AT_EXIT = (
    "import atexit, sys\n"
    "atexit.register(lambda: print([l for l in open('/proc/self/status')"
    " if l.startswith('VmHWM')][0], file=sys.stderr))\n"
)


def run_process(code: str) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak MiB of one whole Python process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", PEAK_AT_EXIT + code],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {err}")
    peak_kib = float(err.split("VmHWM:")[-1].split()[0])
    return wall, usage.ru_utime + usage.ru_stime, peak_kib / 1024


def whole_process(ciw_rate: float) -> None:
    customers = 1_000_000
    argv = [
        "escucha", "simulate", "--arrivals-per-hour", "2000", "--aht", "180", "--agents",
        "100", "--patience", "120", "--customers", str(customers), "--json",
    ]  # fmt: skip
    cases = {
        # What the console script runs.
        "escucha simulate": f"sys.argv = {argv!r}\nfrom escucha.cli.main import main\nmain()",
        "bare 25-line loop": BARE_LOOP,
    }
    print(f"\nWhole process, {customers:,} customers (load average {os.getloadavg()[0]:.2f}):")
    print(
        f"{'process':20} {'wall s':>7} {'CPU s':>6} {'peak MiB':>9} "
        f"{'cust/s (wall)':>14} {'vs Ciw':>7}"
    )
    cpu_before = 0.0
    for name, code in cases.items():
        wall, cpu_total, mib = run_process(code)
        cpu, cpu_before = cpu_total - cpu_before, cpu_total
        rate = customers / wall
        print(f"{name:20} {wall:7.2f} {cpu:6.2f} {mib:9.0f} {rate:14,.0f} {rate / ciw_rate:6.1f}x")
    print(f"(load average after: {os.getloadavg()[0]:.2f})")


def main() -> None:
    erlang_a_model = Model(
        queues=(QueueSpec("main", LAM_H, Exponential(180), Exponential(120)),),
        groups=(AgentGroup("team", ("main",), count=100),),
    )
    two_skills = Model(
        queues=(
            QueueSpec("sales", 1200.0, Exponential(180), Exponential(120), CallbackPolicy(20.0)),
            QueueSpec("support", 800.0, Exponential(240), Exponential(200), CallbackPolicy(20.0)),
        ),
        groups=(
            AgentGroup("sales-first", ("sales", "support"), count=51),
            AgentGroup("support-first", ("support", "sales"), count=51),
        ),
    )
    rows = []
    peer = ciw_erlang_a()
    rows.append(("M/M/n+M, fast single-pool", escucha_fast(1_000_000), peer))
    rows.append(("M/M/n+M, event engine", escucha_events(erlang_a_model, 100.0), peer))
    rows.append(
        ("2 skills + callbacks, events", escucha_events(two_skills, 100.0), ciw_two_skills())
    )
    print(
        f"{'model':32} {'escucha cust/s':>15} {'Ciw cust/s':>12} {'ratio':>8}   abandon esc / Ciw"
    )
    for name, (n_e, w_e, ab_e), (n_c, w_c, ab_c) in rows:
        rate_e, rate_c = n_e / w_e, n_c / w_c
        print(
            f"{name:32} {rate_e:15,.0f} {rate_c:12,.0f} {rate_e / rate_c:7.1f}x"
            f"   {ab_e:.4f} / {ab_c:.4f}  ({n_e:,} vs {n_c:,} customers)"
        )
    whole_process(peer[0] / peer[1])


if __name__ == "__main__":
    main()
