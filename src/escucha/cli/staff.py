"""``escucha staff``: agents needed for a queue's targets, or the measures of a given staffing.

Erlang C by default; ``--patience`` switches to Erlang A (callers who hang up). With
``--shrinkage`` the ``agents`` key is the scheduled headcount ``ceil(n / (1 - shrinkage))`` and
``agents_on_phone`` is ``n``. With ``--agents N`` the command evaluates ``N`` scheduled agents
instead of searching. Waits that are infinite (Erlang C with too few agents) print as ``null``
with ``"stable": false``.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from escucha.cli.common import pct
from escucha.cli.targets import (
    AsJson,
    MaxAbandon,
    MaxOccupancy,
    Patience,
    Spain,
    TargetAsa,
    TargetTime,
    service_levels,
)

if TYPE_CHECKING:
    from escucha.numerics.erlang import ErlangResult

#: ``escucha.numerics.erlang.SL_DEFINITIONS``, for the help of ``--sl-definition`` without
#: importing NumPy and SciPy (tests/cli/test_startup.py checks the two are the same).
SL_DEFINITION_NAMES = ("offered", "answered", "offered_ex_abandoned_within_t", "abandons_met")


def register(app: typer.Typer) -> None:
    """Add the ``staff`` command to the root ``escucha`` command."""
    app.command("staff")(staff_command)


#: The largest offered load ``escucha staff`` takes: far above any contact centre, and below
#: what the numerics can carry without overflowing.
MAX_LOAD_ERL = 1_000_000.0
#: The longest time an option in seconds may give (about 11.6 days).
MAX_SECONDS = 1_000_000.0


def check_inputs(
    arrivals_per_hour: float,
    aht: float,
    seconds: dict[str, float | None],
    shares: dict[str, float | None],
) -> str | None:
    """Why the numbers given cannot be staffed (naming the option), or None."""
    named: dict[str, float | None] = {
        "--arrivals-per-hour": arrivals_per_hour,
        "--aht": aht,
        **seconds,
        **shares,
    }
    for option, value in named.items():
        if value is not None and not math.isfinite(value):
            return f"{option}: {value} no es un número finito / is not a finite number"
    for option, value in {"--aht": aht, **seconds}.items():
        if value is not None and value > MAX_SECONDS:
            return (
                f"{option}: {value:g} s supera {MAX_SECONDS:,.0f} s (11 días); ¿son segundos? / "
                f"is more than {MAX_SECONDS:,.0f} s (11 days); are these seconds?"
            )
    if aht <= 0:
        return "--aht: debe ser mayor que 0 / must be more than 0"
    load = arrivals_per_hour / 3600.0 * aht  # in this order, 1e308 calls do not overflow
    if not load <= MAX_LOAD_ERL:
        return (
            f"--arrivals-per-hour × --aht / 3600 = {load:.3g} Erlang, más de los "
            f"{MAX_LOAD_ERL:,.0f} que escucha dimensiona; revise las unidades (llamadas por hora, "
            f"segundos) / more than the {MAX_LOAD_ERL:,.0f} escucha staffs; check the units "
            "(calls per hour, seconds)"
        )
    return None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _usage(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def result_json(
    m: ErlangResult,
    *,
    scheduled: int,
    shrinkage: float,
    service_levels: list[dict[str, float]],
    sl_definition: str,
) -> dict[str, Any]:
    """The JSON document of ``escucha staff`` (also used by the Planning screen)."""
    return {
        "model": m.model,
        "agents": scheduled,
        "agents_on_phone": m.agents,
        "shrinkage": shrinkage,
        "load_erl": m.load_erl,
        "stable": m.stable,
        "target_time_s": m.target_time_s,
        "sl_definition": sl_definition,
        "service_level": m.service_level,
        "service_levels": service_levels,
        "asa_s": _finite(m.asa_s),
        "mean_wait_s": _finite(m.mean_wait_s),
        "p_wait": m.p_wait,
        "p_abandon": m.p_abandon,
        "occupancy": m.occupancy,
        "mean_queue_len": _finite(m.mean_queue_len),
    }


def staff_command(
    arrivals_per_hour: Annotated[
        float, typer.Option("--arrivals-per-hour", help="Calls offered per hour.")
    ],
    aht: Annotated[float, typer.Option("--aht", help="Average handle time, seconds.")],
    target_sl: Annotated[
        float | None,
        typer.Option("--target-sl", help="Share answered within --target-time (0-1)."),
    ] = None,
    target_time: TargetTime = 20.0,
    target_asa: TargetAsa = None,
    max_abandon: MaxAbandon = None,
    max_occupancy: MaxOccupancy = None,
    spain: Spain = False,
    patience: Patience = None,
    shrinkage: Annotated[
        float, typer.Option("--shrinkage", help="Share of paid time off the phone (0-1).")
    ] = 0.0,
    agents: Annotated[
        int | None,
        typer.Option("--agents", help="Evaluate this scheduled headcount instead of searching."),
    ] = None,
    sl_definition: Annotated[
        str,
        typer.Option(
            "--sl-definition",
            help="How abandons count in the service level: " + ", ".join(SL_DEFINITION_NAMES) + ".",
        ),
    ] = "offered",
    as_json: AsJson = False,
) -> None:
    """Agents needed for the targets (Erlang A with --patience) / Agentes necesarios."""
    # Imported when the command runs, so the CLI starts fast.
    from escucha.numerics.erlang import SL_DEFINITIONS, evaluate, known_sl_definition
    from escucha.numerics.staffing import Targets, on_phone_headcount, staff

    if not known_sl_definition(sl_definition):
        raise _usage(f"--sl-definition: use one of {', '.join(SL_DEFINITIONS)}")
    definition = sl_definition
    if not 0.0 <= shrinkage < 1.0:
        raise _usage("--shrinkage must be in [0, 1)")
    problem = check_inputs(
        arrivals_per_hour,
        aht,
        {"--target-time": target_time, "--target-asa": target_asa, "--patience": patience},
        {"--target-sl": target_sl, "--max-abandon": max_abandon, "--max-occupancy": max_occupancy},
    )
    if problem is not None:
        raise _usage(problem)
    try:
        levels = service_levels(target_sl, target_time, spain)
        times = [s.within_s for s in levels] or [target_time]
        if agents is not None:
            if agents < 0:
                raise _usage("--agents must be >= 0")
            on_phone = on_phone_headcount(agents, shrinkage)
            scheduled = agents
            metrics = evaluate(
                on_phone,
                arrivals_per_hour,
                aht,
                patience_mean_s=patience,
                target_time_s=times[0],
                sl_definition=definition,
            ).result()
        else:
            targets = Targets(
                service_levels=tuple(levels),
                max_asa_s=target_asa,
                max_abandon=max_abandon,
                max_occupancy=max_occupancy,
                sl_definition=definition,
            )
            found = staff(
                arrivals_per_hour,
                aht,
                targets,
                patience_mean_s=patience,
                shrinkage=shrinkage,
            )
            metrics, scheduled = found.metrics, found.scheduled_agents
    except ValueError as exc:
        raise _usage(str(exc)) from exc
    per_target = [
        {
            "share_target": s.share,
            "within_s": s.within_s,
            "service_level": float(
                evaluate(
                    metrics.agents,
                    arrivals_per_hour,
                    aht,
                    patience_mean_s=patience,
                    target_time_s=s.within_s,
                    sl_definition=definition,
                ).service_level
            ),
        }
        for s in levels
    ]
    doc = result_json(
        metrics,
        scheduled=scheduled,
        shrinkage=shrinkage,
        service_levels=per_target,
        sl_definition=definition,
    )
    if as_json:
        typer.echo(json.dumps(doc))
        return
    _render(doc)


def _render(doc: dict[str, Any]) -> None:
    console = Console()
    table = Table(title=f"escucha staff ({doc['model']})")
    table.add_column("Medida / Measure")
    table.add_column("Valor / Value", justify="right")

    def secs(v: float | None) -> str:
        return "∞ (inestable / unstable)" if v is None else f"{v:.1f} s"

    rows = [
        ("Agentes programados / Scheduled agents", str(doc["agents"])),
        ("Agentes al teléfono / Agents on the phone", str(doc["agents_on_phone"])),
        ("Carga ofrecida / Offered load", f"{doc['load_erl']:.2f} Erl"),
        (
            f"Nivel de servicio en {doc['target_time_s']:g} s / Service level",
            pct(doc["service_level"], 2),
        ),
        ("Tiempo medio de respuesta / ASA", secs(doc["asa_s"])),
        ("Probabilidad de espera / P(wait)", pct(doc["p_wait"], 2)),
        ("Abandono / Abandonment", pct(doc["p_abandon"], 2)),
        ("Ocupación / Occupancy", pct(doc["occupancy"], 2)),
    ]
    rows += [
        (f"NS {100 * s['share_target']:g}/{s['within_s']:g} s", pct(s["service_level"], 2))
        for s in doc["service_levels"]
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if not doc["stable"]:
        console.print(
            "[red]Inestable: con estos agentes la cola crece sin límite. / Unstable: the queue "
            "grows without bound with these agents.[/red]"
        )
