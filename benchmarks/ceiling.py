"""The ceiling: the most concurrent calls (and as many open desks) a server holds at webhook
p99 <= 1 s with no error.

Run: ``.venv/bin/python benchmarks/ceiling.py [--budget 1200] [--duration 30]``. Each step is
one run of ``benchmarks/load.py --calls N --desks N --json`` (a fresh SQLite database, or the
PostgreSQL database of ``--database-url``, dropped and made again before each step; name one
made for this), with a fifth as many bot agents as calls (``--agents`` to fix their number).
The number of calls doubles from ``--start`` while the step holds, then the search bisects
between the last that held and the first that did not, until the two are within 10 % (or 10
calls) of each other or the next step would pass ``--budget`` seconds in all. Each step prints
its figures beside ``/proc/loadavg``; the last line printed is one JSON object with the ceiling
and every step.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

LOAD = Path(__file__).resolve().parent / "load.py"
OVERHEAD_S = 90.0  # a step's preparing, start-up and grace beyond its duration (estimate)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def fresh_database(url: str) -> None:
    """Drop and make again the PostgreSQL database of ``url`` (so every step starts empty)."""
    parsed = make_url(url)
    name = parsed.database
    if not name or not name.replace("_", "").isalnum():
        raise SystemExit(f"--database-url: a database named with letters, digits and _ ({name!r})")
    admin = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def step(calls: int, args: argparse.Namespace) -> dict[str, Any]:
    """One run of ``load.py`` at ``calls`` calls and as many desks; its JSON figures."""
    if args.database_url:
        fresh_database(args.database_url)
    command = [
        sys.executable,
        str(LOAD),
        f"--calls={calls}",
        f"--desks={calls}",
        f"--duration={args.duration}",
        f"--agents={args.agents or agents_for(calls)}",
        f"--servers={args.servers}",
        "--json",
    ]
    if args.database_url:
        command.append(f"--database-url={args.database_url}")
    before = loadavg()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not lines[-1].startswith("{"):
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise SystemExit(f"load.py failed at {calls} calls:\n" + "\n".join(tail))
    figures: dict[str, Any] = json.loads(lines[-1])
    figures["loadavg_before"] = before
    figures["loadavg_after"] = loadavg()
    figures["held"] = figures["webhook_p99_s"] <= args.p99 and figures["errors"] == 0
    return figures


def agents_for(calls: int) -> int:
    """Bot agents for ``calls`` calls: a fifth, as in the standard run (200 calls, 40 bots),
    so a small step is not measured under the polling of a large floor's bots."""
    return min(max(calls // 5, 2), 200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start", type=int, default=25, help="calls of the first step")
    parser.add_argument("--max", type=int, default=1000, help="calls at most (load.py's limit)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of each step")
    parser.add_argument("--budget", type=float, default=1200.0, help="seconds in all (max 7200)")
    parser.add_argument("--p99", type=float, default=1.0, help="webhook p99 limit, seconds")
    parser.add_argument(
        "--agents", type=int, default=0, help="bot agents (default: a fifth of the calls)"
    )
    parser.add_argument("--servers", type=int, default=1, help="server processes (load.py)")
    parser.add_argument("--database-url", default="", help="a PostgreSQL database made for this")
    args = parser.parse_args()
    args.start = min(max(args.start, 1), 1000)
    args.max = min(max(args.max, args.start), 1000)
    args.duration = min(max(args.duration, 5.0), 600.0)
    args.budget = min(max(args.budget, 0.0), 7200.0)
    began = time.monotonic()
    steps: list[dict[str, Any]] = []
    held, failed = 0, 0  # the most calls that held, the fewest that did not (0: none yet)
    calls = args.start
    while calls and time.monotonic() - began + args.duration + OVERHEAD_S <= args.budget:
        figures = step(calls, args)
        steps.append(figures)
        errors = ", ".join(
            f"{kind} {sum(where.values())}" for kind, where in figures["errors_by_kind"].items()
        )
        print(
            f"{calls:4d} calls + {calls} desks: webhook p99 {figures['webhook_p99_s']:.2f} s, "
            f"{figures['errors']} errors{f' ({errors})' if errors else ''}, "
            f"{figures['server_cpu_ms_per_request']:.2f} ms CPU/request -> "
            f"{'held' if figures['held'] else 'not held'}; "
            f"loadavg {figures['loadavg_before']} -> {figures['loadavg_after']}",
            flush=True,
        )
        if figures["held"]:
            held = max(held, calls)
        else:
            failed = calls if not failed else min(failed, calls)
        calls = next_calls(held, failed, args.start, args.max)
    print(
        json.dumps(
            {
                "ceiling_calls": held,
                "ceiling_desks": held,
                "first_not_held": failed or None,
                "database": steps[-1]["database"] if steps else None,
                "servers": args.servers,
                "p99_limit_s": args.p99,
                "step_duration_s": args.duration,
                "elapsed_s": round(time.monotonic() - began),
                "steps": [
                    {
                        k: s[k]
                        for k in (
                            "calls",
                            "webhook_p99_s",
                            "errors",
                            "errors_by_kind",
                            "server_cpu_ms_per_request",
                            "held",
                            "loadavg_before",
                            "loadavg_after",
                        )
                    }
                    for s in steps
                ],
            }
        )
    )


def next_calls(held: int, failed: int, start: int, most: int) -> int:
    """The next step's calls: double while every step held, then bisect; 0 when done.

    >>> next_calls(50, 0, 25, 1000), next_calls(50, 100, 25, 1000), next_calls(90, 100, 25, 1000)
    (100, 75, 0)
    >>> next_calls(0, 25, 25, 1000)
    12
    """
    if not failed:
        return min(held * 2, most) if held < most else 0
    low = held or 0
    if failed - low <= max(low // 10, 10) or failed <= 1:
        return 0 if low or failed <= 1 else max(failed // 2, 1)
    return (low + failed) // 2 if low else max(failed // 2, 1)


if __name__ == "__main__":
    main()
