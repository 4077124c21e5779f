"""``escucha estimate``: the wait estimates told to callers, proven on a call log (W1).

``escucha estimate replay LOG`` replays any call log the importers read (escucha's event log,
Asterisk ``queue_log``, the Anonymous Bank data set, CSV through a mapping) and scores, side by
side, the wait escucha would have announced to each caller and four other predictors. With
``--json`` only the JSON document is written to stdout; bad rows go to stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from escucha.errors import EscuchaError

if TYPE_CHECKING:
    from escucha.analytics.replay import ReplayResult
    from escucha.analytics.replay_log import ReplayReport

from escucha.cli.analyze import InputFormat, Lang
from escucha.cli.common import pct

__all__ = ["estimate_app", "register"]

estimate_app = typer.Typer(
    name="estimate",
    help="Estimaciones de espera / wait estimates: replay a call log through the predictors.",
    no_args_is_help=True,
)

LABELS = {
    "escucha": "escucha",
    "asterisk_ema": "Asterisk (media móvil / moving average)",
    "hol": "HOL (cabeza de la cola / head of line)",
    "les": "LES (último en ser atendido / last to enter service)",
    "queue_length_no_abandon": "longitud de cola sin abandono / queue length, no abandonment",
}


def register(app: typer.Typer) -> None:
    """Add the ``estimate`` group to the root ``escucha`` command."""
    app.add_typer(estimate_app, name="estimate")


#: The language of the replay's tables (their words are English).
ENGLISH = "en"


def _secs(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:+.1f}" if signed else f"{x:.1f}"


@estimate_app.command("replay")
def replay_command(
    log: Annotated[list[Path], typer.Argument(help="Registro(s) de llamadas / call log(s).")],
    fmt: Annotated[
        InputFormat, typer.Option("--format", "-f", help="Formato de entrada / input format.")
    ] = InputFormat.auto,
    mapping: Annotated[
        Path | None,
        typer.Option(help="Fichero de correspondencia de columnas (CSV) / column-mapping file."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON en stdout / JSON on stdout.")
    ] = False,
    staffing_window_s: Annotated[
        float,
        typer.Option(
            "--staffing-window-s",
            min=1,
            help="Sin estados de agente: agentes vistos atendiendo la cola en estos segundos / "
            "without agent states: agents seen serving the queue within these seconds.",
        ),
    ] = 1800.0,
    warmup_s: Annotated[
        float,
        typer.Option(
            "--warmup-s",
            min=0,
            help="Llamadas iniciales sin puntuar, s / seconds of log replayed but not scored.",
        ),
    ] = 3600.0,
    answered_at_once_s: Annotated[
        float,
        typer.Option(
            "--answered-at-once-s",
            min=0,
            help="Atendidas en estos segundos no oyeron estimación / answered within these "
            "seconds: connected at once, not scored (e.g. ring time in queue_log).",
        ),
    ] = 0.0,
    default_wait_s: Annotated[
        float,
        typer.Option(
            "--default-wait-s", min=1, help="Espera por defecto de la cola / queue default wait, s."
        ),
    ] = 120.0,
    by_queue: Annotated[
        bool, typer.Option("--by-queue", help="También por cola / also by queue.")
    ] = False,
    lang: Annotated[Lang, typer.Option(help="Idioma / language.")] = Lang.es,
    show_bad: Annotated[
        int, typer.Option(min=0, help="Filas con errores a mostrar / bad rows to show.")
    ] = 20,
) -> None:
    """Replay a call log in time order: each predictor's wait at each arrival, against what
    followed (MAE, share within 25 %, bias, and the bound escucha would have kept)."""
    # Imported when the command runs, so the CLI starts fast.
    from escucha.analytics.replay import ReplayOptions
    from escucha.analytics.replay_log import replay_files

    err = Console(stderr=True, soft_wrap=True)
    try:
        options = ReplayOptions(
            staffing_window_s=staffing_window_s,
            warmup_s=warmup_s,
            answered_at_once_s=answered_at_once_s,
            default_wait_s=default_wait_s,
        )
        report = replay_files(log, fmt.value, mapping=mapping, options=options, lang=lang.value)
    except (EscuchaError, ValueError, OSError) as exc:
        err.print(f"escucha estimate replay: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    for b in report.bad_rows[:show_bad]:
        err.print(str(b), markup=False, highlight=False)
    if report.bad_row_count > show_bad:
        err.print(f"... {report.bad_row_count - show_bad} more bad rows / filas más")
    if as_json:
        typer.echo(json.dumps(report.to_json()))
        return
    _print_report(report, by_queue=by_queue)


def _table(title: str, result: ReplayResult) -> Table:
    table = Table(title=title)
    for column in ("predictor", "callers", "MAE s", "within 25 %", "bias s", "bound kept"):
        table.add_column(column, justify="left" if column == "predictor" else "right")
    for name, label in LABELS.items():
        s = result.scores[name]
        table.add_row(
            label,
            str(s.callers),
            _secs(s.mae_s),
            pct(s.within_25pct, 1, ENGLISH),
            _secs(s.bias_s, signed=True),
            pct(result.bound_kept, 1, ENGLISH) if name == "escucha" else "",
        )
    return table


def _print_report(report: ReplayReport, *, by_queue: bool) -> None:
    console = Console()
    o = report.overall
    for imp in report.imports:
        notes = "; ".join(imp.notes)
        console.print(
            f"{imp.file} ({imp.format}): {imp.calls} calls, {imp.bad_rows} bad rows"
            + (f"; {notes}" if notes else ""),
            markup=False,
            highlight=False,
        )
    console.print(
        _table(
            f"Wait estimates replayed: {o.callers} callers told a wait, {o.served} reached an "
            f"agent, {o.abandoned} hung up",
            o,
        )
    )
    staffing = (
        "agents logged in and not paused (from the log)"
        if report.staffing == "agent states"
        else f"inferred: agents who reached a caller of the queue within "
        f"{report.options.staffing_window_s:.0f} s, or still with one"
    )
    console.print(
        "Errors are measured on the callers who reached an agent. Callers who hung up are "
        "censored (their wait would have been longer): they count only for whether they had "
        "waited less than escucha's bound when they left: "
        f"{pct(o.abandoned_within_bound, 1, ENGLISH)}.\n"
        f"Mean wait of the callers scored: {_secs(o.mean_wait_s)} s. Agents on duty: "
        f"{staffing}. Callers of the first {report.options.warmup_s:.0f} s are replayed but "
        "not scored.",
        markup=False,
        highlight=False,
    )
    if by_queue:
        for queue, result in report.by_queue.items():
            console.print(_table(f"Queue {queue or '-'}: {result.callers} callers", result))
