"""The live wait estimate on a small floor and on a large one (ADR 25).

Run: ``.venv/bin/python benchmarks/estimate_scale.py [--database-url URL]``. On a scratch
database (a temporary SQLite file unless a URL is given; it must be empty), the demo
organisation and a floor written at once: 10 agents and 20 callers waiting, then 1,000 agents
and 10,000 callers waiting, each queue with 600 callers who already left and their estimates.
Times one estimate told to a waiting caller (:func:`escucha.routing.service.tell_estimate`, as
``/gather`` does it, in its own transaction), taking turns over callers across the line, and
prints per floor the median CPU per estimate, the wall time with its commit, and the CPU of the
full read the estimate made before (the whole floor, the queue's latest rows); then the ratio of
the CPU on the large floor to the small one (goal: at most 1.2) and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from escucha.config import Settings
from escucha.contacts.models import Contact
from escucha.db import migrate
from escucha.db.engine import make_engine, make_sessionmaker
from escucha.org import models as org
from escucha.org import service as org_service
from escucha.routing import benchdb, floor, meters
from escucha.routing import service as routing

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DEMO = Path(org_service.__file__).parent / "demo.yaml"
FLOORS = (("small", 10, 20), ("large", 1_000, 10_000))
HISTORY = 600


def per_call(
    factory: sessionmaker[Session], ids: list[int], calls: int
) -> tuple[list[float], list[float]]:
    """CPU seconds per estimate (this thread's; a loaded machine's waits left out) and wall
    seconds with the commit, each in its own transaction, over ``calls`` callers."""
    cpu: list[float] = []
    wall: list[float] = []
    step = max(1, len(ids) // calls)
    at = NOW + timedelta(hours=2)
    for n in range(calls):
        cid = ids[(n * step) % len(ids)]
        with factory() as session:
            contact = session.get(Contact, cid)
            assert contact is not None
            start, began = time.thread_time(), time.perf_counter()
            routing.tell_estimate(session, contact, now=at)
            cpu.append(time.thread_time() - start)
            session.commit()
            wall.append(time.perf_counter() - began)
    return cpu, wall


def full_read(factory: sessionmaker[Session], queue: str, runs: int = 5) -> float:
    """CPU seconds of what the estimate read before: the whole floor and the queue's rows."""
    times = []
    for _ in range(runs):
        with factory() as session:
            start = time.thread_time()
            floor.load_engine(session)
            meters.meter_of(s for _, s in reversed(floor.exits(session, queue)))
            meters.margin_of(p for _, p in reversed(floor.pairs(session, queue)))
            times.append(time.thread_time() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--calls", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/estimate.db"
        engine = make_engine(Settings(database_url=url, secret_key="x" * 32))
        migrate.upgrade(engine)
        factory = make_sessionmaker(engine)
        with factory() as session:
            if session.scalar(select(func.count()).select_from(org.Organisation)):
                raise SystemExit("give an empty scratch database, not a live one")
            parsed = org_service.parse_org(DEMO.read_text(encoding="utf-8"), str(DEMO))[0]
            org_service.apply_org(session, parsed, now=NOW)
            session.commit()
        results: dict[str, float] = {}
        print(f"database: {engine.dialect.name}; {args.calls} estimates per floor")
        print(
            f"{'floor':<7}{'agents':>7}{'waiting':>8}{'cpu us':>8}{'wall us':>9}"
            f"{'full read us':>14}"
        )
        for (name, agents, waiting), queue in zip(FLOORS, ("facturas", "averias"), strict=True):
            with factory() as session:
                ids = benchdb.seed_floor(
                    session,
                    queue=queue,
                    agents=agents,
                    waiting=waiting,
                    history=HISTORY,
                    now=NOW,
                    seed=len(name),
                )
                session.commit()
            per_call(factory, ids, 20)  # this process reads the floor once
            cpu, wall = per_call(factory, ids, args.calls)
            results[name] = statistics.median(cpu)
            before = full_read(factory, queue)
            print(
                f"{name:<7}{agents:>7}{waiting:>8}{results[name] * 1e6:>8.0f}"
                f"{statistics.median(wall) * 1e6:>9.0f}{before * 1e6:>14.0f}"
            )
        engine.dispose()
    ratio = results["large"] / results["small"]
    print(f"ratio large/small (median CPU per estimate): {ratio:.2f} (goal <= 1.2)")
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
