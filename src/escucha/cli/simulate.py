"""``escucha simulate``: simulate a queue with impatient callers and measure it.

Uses the fast single-pool engine (first come, first served, ``n`` agents). With exponential
handle times and patience the model is Erlang A, and the exact values are printed next to the
simulated ones. ``--out calls.parquet`` writes the call-record table that the analytics read.
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from escucha.cli.common import pct
from escucha.errors import EscuchaError

if TYPE_CHECKING:
    from escucha.numerics.sim.distributions import Distribution


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to the root ``escucha`` command."""
    app.command("simulate")(simulate_command)


def _usage(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _distribution(kind: str, mean_s: float, cv: float, option: str) -> Distribution:
    # Imported when the command runs, so the CLI starts fast.
    from escucha.numerics.sim.distributions import Exponential, LogNormal

    if kind == "exponential":
        return Exponential(mean_s)
    if kind == "lognormal":
        return LogNormal(mean_s, cv)
    raise ValueError(f"{option}: use exponential or lognormal, not {kind!r}")


def simulate_command(
    arrivals_per_hour: Annotated[
        float, typer.Option("--arrivals-per-hour", help="Calls offered per hour.")
    ],
    aht: Annotated[float, typer.Option("--aht", help="Mean handle time, seconds.")],
    agents: Annotated[int, typer.Option("--agents", help="Agents on the phone.")],
    patience: Annotated[
        float | None,
        typer.Option("--patience", help="Mean caller patience, seconds (none: never hang up)."),
    ] = None,
    customers: Annotated[int, typer.Option("--customers", help="Calls to simulate.")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 1,
    target_time: Annotated[
        float, typer.Option("--target-time", help="Service-level time, seconds.")
    ] = 20.0,
    service_dist: Annotated[
        str, typer.Option("--service-dist", help="exponential or lognormal.")
    ] = "exponential",
    service_cv: Annotated[
        float, typer.Option("--service-cv", help="Coefficient of variation (lognormal).")
    ] = 1.0,
    patience_dist: Annotated[
        str, typer.Option("--patience-dist", help="exponential or lognormal.")
    ] = "exponential",
    patience_cv: Annotated[
        float, typer.Option("--patience-cv", help="Coefficient of variation (lognormal).")
    ] = 1.0,
    warmup: Annotated[
        float, typer.Option("--warmup", help="Share of the first calls left out of the measures.")
    ] = 0.01,
    start: Annotated[
        str | None,
        typer.Option("--start", help="ISO 8601 time of the first instant (default: now, UTC)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the call records as Parquet.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout, nothing else.")] = False,
) -> None:
    """Simulate a queue and measure it / Simular una cola y medirla."""
    import numpy as np

    # Imported when the command runs, so the CLI starts fast.
    from escucha.numerics.erlang import erlang_a
    from escucha.numerics.sim.distributions import Exponential
    from escucha.numerics.sim.fast import simulate_queue

    if customers < 20:
        raise _usage("--customers must be at least 20")
    try:
        service = _distribution(service_dist, aht, service_cv, "--service-dist")
        pat = (
            None
            if patience is None
            else _distribution(patience_dist, patience, patience_cv, "--patience-dist")
        )
        began = datetime.now(UTC) if start is None else datetime.fromisoformat(start)
        if began.tzinfo is None:
            began = began.replace(tzinfo=UTC)
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        log = simulate_queue(
            agents=agents,
            arrivals_per_h=arrivals_per_hour,
            service=service,
            patience=pat,
            rng=rng,
            customers=customers,
        )
        wall = time.perf_counter() - t0
        summary = log.summary(target_time_s=target_time, warmup_fraction=warmup)
    except ValueError as exc:
        raise _usage(str(exc)) from exc
    doc: dict[str, Any] = {
        "customers": len(log),
        "measured_customers": summary.customers,
        "p_abandon": summary.p_abandon,
        "p_abandon_ci95": summary.p_abandon_ci95,
        "service_level": summary.service_level,
        "service_level_ci95": summary.service_level_ci95,
        "target_time_s": target_time,
        "asa_s": summary.asa_s,
        "asa_ci95_s": summary.asa_ci95_s,
        "mean_wait_s": summary.mean_wait_s,
        "wall_s": wall,
        "customers_per_s": len(log) / wall if wall > 0 else None,
        "seed": seed,
    }
    if isinstance(service, Exponential) and isinstance(pat, Exponential):
        exact = erlang_a(agents, arrivals_per_hour, aht, pat.mean_s, target_time_s=target_time)
        doc["erlang_a"] = {
            "p_abandon": float(exact.p_abandon),
            "service_level": float(exact.service_level),
            "asa_s": float(exact.asa_s),
        }
    if out is not None:
        # Imported only here: the Parquet writer brings pyarrow and the staffing domain.
        from escucha.staffing.service import write_calls_parquet

        try:
            doc["rows_written"] = write_calls_parquet(log, out, start=began)
        except (OSError, EscuchaError) as exc:
            typer.echo(f"error: {out}: {exc}", err=True)
            raise typer.Exit(1) from exc
        doc["out"] = str(out)
    if as_json:
        typer.echo(json.dumps(doc))
        return
    _render(doc)


def _render(doc: dict[str, Any]) -> None:
    table = Table(title=f"escucha simulate: {doc['customers']:,} llamadas / calls")
    table.add_column("Medida / Measure")
    table.add_column("Simulado / Simulated (±95%)", justify="right")
    table.add_column("Erlang A", justify="right")
    exact = doc.get("erlang_a", {})

    table.add_row(
        "Abandono / Abandonment",
        f"{pct(doc['p_abandon'], 2)} ± {pct(doc['p_abandon_ci95'], 2)}",
        pct(exact["p_abandon"], 2) if exact else "-",
    )
    table.add_row(
        f"Nivel de servicio {doc['target_time_s']:g} s / Service level",
        f"{pct(doc['service_level'], 2)} ± {pct(doc['service_level_ci95'], 2)}",
        pct(exact["service_level"], 2) if exact else "-",
    )
    table.add_row(
        "ASA",
        f"{doc['asa_s']:.2f} ± {doc['asa_ci95_s']:.2f} s",
        f"{exact['asa_s']:.2f} s" if exact else "-",
    )
    console = Console()
    console.print(table)
    rate = doc["customers_per_s"]
    speed = f"{rate:,.0f}" if rate is not None and math.isfinite(rate) else "-"
    console.print(f"{doc['wall_s']:.2f} s, {speed} llamadas/s (calls/s)")
    if "out" in doc:
        console.print(f"{doc['rows_written']:,} filas / rows -> {doc['out']}")
