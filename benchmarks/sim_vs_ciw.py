"""escucha's simulators against Ciw on the same queueing models (customers per second).

Run: ``.venv/bin/python benchmarks/sim_vs_ciw.py``. Ciw runs for about 20,000 customers per
model (it is the slow side); escucha runs longer so its rate is measured on real work. Printed:
customers per second of each, the ratio, and the abandonment each measures.

Models
------
1. M/M/n+M (Erlang A): 2,000 calls/h, AHT 180 s, patience 120 s, 100 agents.
2. Two skills: sales (1,200/h, AHT 180 s, patience 120 s) and support (800/h, AHT 240 s,
   patience 200 s), 102 agents. Ciw: one node, two customer classes sharing the servers, sales
   first. escucha: two queues, two agent groups (sales-first and support-first, both
   cross-skilled) and callbacks offered above 20 s of estimated wait, which Ciw cannot model.
"""

from __future__ import annotations

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


if __name__ == "__main__":
    main()
