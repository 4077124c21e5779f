"""``escucha plan``: a day's staffing plan from a history of calls per interval (C6).

Reads ``interval_start,calls[,aht_s]``; forecasts the next day (weekly-seasonal, with its error
on the last week held back), computes the agents required per interval for the targets, and
schedules shifts whose breaks are part of the plan. Prints the coverage, over- and
under-staffing per interval.
"""

from __future__ import annotations

import json
from pathlib import Path
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
from escucha.errors import EscuchaError

if TYPE_CHECKING:
    from escucha.staffing.service import DayPlan


def register(app: typer.Typer) -> None:
    """Add the ``plan`` command to the root ``escucha`` command."""
    app.command("plan")(plan_command)


def plan_json(plan: DayPlan) -> dict[str, Any]:
    """The JSON document of ``escucha plan`` (also used by the Planning screen)."""
    step = plan.interval_s
    sp = plan.shifts
    err = plan.forecast_error
    return {
        "interval_s": step,
        "forecast_error": None
        if err is None
        else {
            "holdout_intervals": err.intervals,
            "actual_calls": err.actual_calls,
            "forecast_calls": err.forecast_calls,
            "wape": err.wape,
            "bias": err.bias,
            "rmse_calls": err.rmse_calls,
        },
        "intervals": [
            {
                "start": plan.starts[i].isoformat(),
                "calls": float(plan.calls[i]),
                "aht_s": float(plan.aht_s[i]),
                "agents_required": int(plan.required[i]),
                "scheduled_required": int(plan.scheduled_required[i]),
                "on_phone": int(sp.on_phone[i]),
                "on_break": int(sp.on_break[i]),
                "over": int(sp.over[i]),
                "under": int(sp.under[i]),
            }
            for i in range(len(plan.starts))
        ],
        "shifts": [
            {
                "template": s.template,
                "start": plan.starts[s.start].isoformat(),
                "start_interval": s.start,
                "end_interval": s.end,
                "breaks": [
                    {"start_interval": b, "length_intervals": n}
                    for b, n in zip(s.break_starts, s.break_lengths, strict=True)
                ],
                "count": s.count,
            }
            for s in sp.shifts
        ],
        "totals": {
            "calls": float(plan.calls.sum()),
            "people": sp.agents,
            "paid_hours": sp.paid_intervals * step / 3600.0,
            "over_agent_hours": float(sp.over.sum()) * step / 3600.0,
            "under_agent_hours": float(sp.under.sum()) * step / 3600.0,
            "optimal": sp.optimal,
        },
    }


def plan_command(
    history: Annotated[Path, typer.Argument(help="CSV: interval_start,calls[,aht_s].")],
    target_sl: Annotated[
        float | None, typer.Option("--target-sl", help="Share answered within --target-time.")
    ] = 0.8,
    target_time: TargetTime = 20.0,
    target_asa: TargetAsa = None,
    max_abandon: MaxAbandon = None,
    max_occupancy: MaxOccupancy = None,
    spain: Spain = False,
    patience: Patience = None,
    shrinkage: Annotated[
        float,
        typer.Option("--shrinkage", help="Absence and training (breaks are planned apart)."),
    ] = 0.0,
    aht: Annotated[
        float | None, typer.Option("--aht", help="AHT in seconds when the CSV has none.")
    ] = None,
    under_penalty: Annotated[
        float | None,
        typer.Option("--under-penalty", help="Allow under-staffing at this cost per agent-slot."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Plan a day: forecast, agents per interval, shifts with breaks / Planificar un día."""
    # Imported when the command runs, so the CLI starts fast.
    from escucha.numerics.staffing import Targets
    from escucha.staffing.service import plan_day, read_history_csv

    try:
        targets = Targets(
            service_levels=tuple(service_levels(target_sl, target_time, spain)),
            max_asa_s=target_asa,
            max_abandon=max_abandon,
            max_occupancy=max_occupancy,
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        plan = plan_day(
            read_history_csv(history),
            targets,
            patience_mean_s=patience,
            shrinkage=shrinkage,
            aht_s=aht,
            under_penalty=under_penalty,
        )
    except EscuchaError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    doc = plan_json(plan)
    if as_json:
        typer.echo(json.dumps(doc))
        return
    _render(doc)


def _render(doc: dict[str, Any]) -> None:
    console = Console()
    err = doc["forecast_error"]
    if err is not None:
        console.print(
            f"Error del pronóstico en la última semana / forecast error on the last week: "
            f"WAPE {pct(err['wape'])}, sesgo / bias {'+' if err['bias'] > 0 else ''}"
            f"{pct(err['bias'])}"
        )
    table = Table(title="Plan del día / Day plan")
    for col in (
        "Inicio / Start",
        "Llamadas",
        "AHT s",
        "Necesarios",
        "Con merma",
        "Al teléfono",
        "En pausa",
        "Exceso",
        "Falta",
    ):
        table.add_column(col, justify="right")
    for row in doc["intervals"]:
        table.add_row(
            row["start"][11:16],
            f"{row['calls']:.1f}",
            f"{row['aht_s']:.0f}",
            str(row["agents_required"]),
            str(row["scheduled_required"]),
            str(row["on_phone"]),
            str(row["on_break"]),
            str(row["over"]),
            f"[red]{row['under']}[/red]" if row["under"] else "0",
        )
    console.print(table)
    shifts = Table(title="Turnos / Shifts")
    for col in ("Tipo / Kind", "Desde / From", "Hasta / To", "Pausas / Breaks", "Personas"):
        shifts.add_column(col)
    starts = [r["start"][11:16] for r in doc["intervals"]]

    def at(i: int) -> str:
        return starts[i] if i < len(starts) else "24:00"

    for s in doc["shifts"]:
        breaks = ", ".join(at(b["start_interval"]) for b in s["breaks"]) or "-"
        shifts.add_row(
            s["template"], at(s["start_interval"]), at(s["end_interval"]), breaks, str(s["count"])
        )
    console.print(shifts)
    t = doc["totals"]
    console.print(
        f"{t['people']} personas / people, {t['paid_hours']:.1f} h pagadas / paid, "
        f"exceso / over {t['over_agent_hours']:.1f} h, falta / under {t['under_agent_hours']:.1f} h"
    )
