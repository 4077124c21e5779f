"""``escucha bench``: measure the routing engine and the wait predictors.

``escucha bench routing`` runs the load of :mod:`escucha.routing.workload` through the
in-memory :class:`~escucha.routing.engine.RoutingEngine` (or, with ``--db``, through the
database-backed router once one is plugged in with :func:`set_db_router_factory`).
``escucha bench estimate`` simulates a day of traffic (:mod:`escucha.routing.simulate`) and
scores every predictor against the waits that followed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from escucha.cli.common import pct
from escucha.routing.rules import AgentPolicy

if TYPE_CHECKING:
    from escucha.routing.simulate import EstimateBenchResult
    from escucha.routing.workload import (
        RouterLike,
        RoutingBenchResult,
        RoutingLoad,
        RoutingWorkload,
    )

__all__ = ["DbRouterFactory", "bench_app", "register", "set_db_router_factory"]

DbRouterFactory = Callable[["RoutingWorkload", AgentPolicy], "RouterLike"]
"""Builds a database-backed router with the given policy, loaded with ``workload.state``
(every decision persisted before ``match`` returns it)."""

_db_router_factory: DbRouterFactory | None = None

bench_app = typer.Typer(
    name="bench",
    help="Benchmarks: routing decisions per second, and the accuracy of wait estimates.",
    no_args_is_help=True,
)


def set_db_router_factory(factory: DbRouterFactory | None) -> None:
    """Plug in (or remove) the router used by ``escucha bench routing --db``."""
    global _db_router_factory
    _db_router_factory = factory


def register(app: typer.Typer) -> None:
    """Add the ``bench`` group to the root ``escucha`` command."""
    app.add_typer(bench_app, name="bench")


def _fail(command: str, message: str, code: int) -> typer.Exit:
    typer.echo(f"escucha bench {command}: {message}", err=True)
    return typer.Exit(code)


@bench_app.command("routing")
def routing_command(
    agents: Annotated[int, typer.Option(min=1, help="Agents logged in.")] = 1000,
    waiting: Annotated[int, typer.Option(min=1, help="Contacts kept waiting in line.")] = 10_000,
    skills: Annotated[int, typer.Option(min=1, help="Skills (one queue per skill).")] = 20,
    decisions: Annotated[int, typer.Option(min=1, help="Decisions to measure.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Seed of the generated load.")] = 7,
    policy: Annotated[
        AgentPolicy, typer.Option(help="How to choose among qualified available agents.")
    ] = AgentPolicy.LONGEST_IDLE,
    db: Annotated[
        bool, typer.Option("--db", help="Run the same load through the configured database.")
    ] = False,
    burst: Annotated[
        int,
        typer.Option(
            min=1,
            help="With --db: free this many agents at once and time the routing transaction "
            "that assigns them (1: every step its own transactions, as requests do).",
        ),
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Routing decisions per second and their latency (p50, p99) under a full line."""
    # Imported when the command runs, so the CLI starts fast.
    from escucha.routing.engine import RoutingEngine
    from escucha.routing.workload import START_S, RoutingLoad, make_workload, run_routing_load

    load = RoutingLoad(
        agents=agents, waiting=waiting, skills=skills, decisions=decisions, seed=seed
    )
    workload = make_workload(load)
    router: RouterLike
    if burst > 1 and not db:
        raise _fail("routing", "--burst: only with --db (the engine in memory has no passes)", 2)
    if burst > 1:
        # Imported when the command runs, so the CLI starts fast.
        from escucha.config import load_settings
        from escucha.routing.benchdb import DbRouter, run_bursts

        db_router = DbRouter(load_settings(), workload)
        try:
            result = run_bursts(workload, db_router, time.perf_counter, burst)
        finally:
            db_router.close()
        _print_routing(result, load, "db", policy, as_json, burst=burst)
        return
    if db:
        factory = _db_router_factory
        if factory is None:
            # Imported when the command runs, so the CLI starts fast.
            from escucha.config import load_settings
            from escucha.routing.benchdb import make_db_router

            factory = make_db_router(load_settings())  # type: ignore[assignment]
        if factory is None:  # pragma: no cover - make_db_router always returns one
            raise _fail("routing", "--db: not available", 1)
        router = factory(workload, policy)
    else:
        engine = RoutingEngine.from_state(workload.state, policy=policy)
        engine.match(START_S)
        router = engine
    try:
        result = run_routing_load(workload, router, time.perf_counter)
    finally:
        close = getattr(router, "close", None)
        if callable(close):
            close()
    _print_routing(result, load, "db" if db else "memory", policy, as_json)


def _print_routing(
    result: RoutingBenchResult,
    load: RoutingLoad,
    backend: str,
    policy: AgentPolicy,
    as_json: bool,
    *,
    burst: int = 1,
) -> None:
    data: dict[str, Any] = {
        "decisions_per_s": round(result.decisions_per_s, 1),
        "p50_ms": round(result.p50_ms, 4),
        "p99_ms": round(result.p99_ms, 4),
        "decisions": result.decisions,
        "agents": load.agents,
        "waiting": load.waiting,
        "skills": load.skills,
        "backend": backend,
        "policy": str(policy),
    }
    if burst > 1:
        data["burst"] = burst
    if as_json:
        typer.echo(json.dumps(data))
        return
    table = Table(
        title=f"Routing ({backend}, {policy}): {load.agents} agents, {load.waiting} waiting, "
        f"{load.skills} skills"
    )
    table.add_column("decisions", justify="right")
    table.add_column("decisions/s", justify="right")
    table.add_column("p50 ms", justify="right")
    table.add_column("p99 ms", justify="right")
    table.add_row(
        str(result.decisions),
        f"{result.decisions_per_s:,.0f}",
        f"{result.p50_ms:.3f}",
        f"{result.p99_ms:.3f}",
    )
    Console().print(table)


@bench_app.command("estimate")
def estimate_command(
    agents: Annotated[int, typer.Option(min=1, help="Agents staffed.")] = 50,
    hours: Annotated[float, typer.Option(help="Length of the simulated day.")] = 8.0,
    aht_s: Annotated[float, typer.Option("--aht-s", help="Mean handling time, seconds.")] = 300.0,
    patience_s: Annotated[
        float, typer.Option("--patience-s", help="Mean patience before hanging up, seconds.")
    ] = 600.0,
    load: Annotated[float, typer.Option(help="Mean offered load per agent (1.0 = full).")] = 1.0,
    amplitude: Annotated[
        float, typer.Option(help="Swing of the arrival rate around its mean, 0 to <1.")
    ] = 0.3,
    staffing_dip: Annotated[
        float,
        typer.Option(help="Share of agents away for one hour mid-day (lunch), 0 to <1."),
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the simulation.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Error of each wait predictor on simulated traffic, next to an Asterisk-style average."""
    import numpy as np

    # Imported when the command runs, so the CLI starts fast.
    from escucha.routing.simulate import TrafficParams, simulate_estimates

    try:
        params = TrafficParams(
            agents=agents,
            hours=hours,
            aht_s=aht_s,
            patience_mean_s=patience_s,
            load=load,
            amplitude=amplitude,
            dip_fraction=staffing_dip,
            dip_start_h=hours / 2.0,
            warmup_s=min(1800.0, hours * 3600.0 / 4.0),
        )
    except ValueError as exc:
        raise _fail("estimate", str(exc), 2) from None
    result = simulate_estimates(params, np.random.default_rng(seed))
    _print_estimate(result, as_json)


def _maybe_round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _print_estimate(result: EstimateBenchResult, as_json: bool) -> None:
    p = result.params
    if as_json:
        data: dict[str, Any] = {
            "callers": result.callers,
            "queued": result.queued,
            "served": result.served,
            "abandoned": result.abandoned,
            "bound_kept": _maybe_round(result.bound_kept, 4),
            "mean_wait_s": _maybe_round(result.mean_wait_s, 2),
            "predictors": [
                {
                    "predictor": s.predictor,
                    "count": s.count,
                    "mae_s": _maybe_round(s.mae_s, 2),
                    "within_25": _maybe_round(s.within_25, 4),
                    "bias_s": _maybe_round(s.bias_s, 2),
                }
                for s in result.scores
            ],
            "params": {
                "agents": p.agents,
                "hours": p.hours,
                "aht_s": p.aht_s,
                "patience_mean_s": p.patience_mean_s,
                "load": p.load,
                "amplitude": p.amplitude,
                "staffing_dip": p.dip_fraction,
            },
        }
        typer.echo(json.dumps(data))
        return
    table = Table(
        title=(
            f"Wait estimates: {p.agents} agents, load {p.load}, AHT {p.aht_s:.0f} s, "
            f"patience {p.patience_mean_s:.0f} s, {result.queued} of {result.callers} queued"
        )
    )
    for column in ("predictor", "callers", "MAE s", "within 25 %", "bias s"):
        table.add_column(column, justify="left" if column == "predictor" else "right")
    for s in result.scores:
        table.add_row(
            s.predictor,
            str(s.count),
            "-" if s.mae_s is None else f"{s.mae_s:.1f}",
            pct(s.within_25, 1, "en"),
            "-" if s.bias_s is None else f"{s.bias_s:+.1f}",
        )
    console = Console()
    console.print(table)
    if result.bound_kept is not None and result.mean_wait_s is not None:
        console.print(
            f"Mean wait of these callers: {result.mean_wait_s:.1f} s; "
            f"waits under the announced bound: {pct(result.bound_kept, 1, 'en')}"
        )
