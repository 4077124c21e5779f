"""``escucha analyze`` (call-log report) and ``escucha patience`` (customers' patience).

Both read any format the importers know: escucha's event log, Asterisk ``queue_log``, the
Anonymous Bank data set, CSV through a mapping file, the call table as Parquet, or a CSV with
``wait_s,abandoned`` columns. Bad rows go to stderr as ``file:line: column: reason``; with
``--json`` only the JSON document is written to stdout.
"""

from __future__ import annotations

import itertools
import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from escucha.cli.common import pct, words
from escucha.errors import EscuchaError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from escucha.analytics.schemas import AnalysisResult

PROGRESS_MIN_BYTES = 20 * 1024 * 1024


class InputFormat(StrEnum):
    auto = "auto"
    escucha = "escucha"
    asterisk = "asterisk"
    anonymous_bank = "anonymous-bank"
    csv = "csv"
    calls = "calls"


class Lang(StrEnum):
    es = "es"
    en = "en"


class SlVariantChoice(StrEnum):
    """The service-level definitions of :data:`~escucha.analytics.schemas.SL_VARIANTS`."""

    offered_ex_short = "offered_ex_short"
    offered = "offered"
    answered = "answered"
    offered_ex_abandoned_within_t = "offered_ex_abandoned_within_t"
    abandons_met = "abandons_met"


class _RichProgress:
    """Progress bar on stderr for large inputs (a no-op on small ones or off a terminal)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def start(self, total_bytes: int) -> None:
        if total_bytes < PROGRESS_MIN_BYTES or not self.console.is_terminal:
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.bar.start()
        self.task = self.bar.add_task("…", total=total_bytes)

    def advance(self, n_bytes: int) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task, n_bytes)

    def stage(self, label: str) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, description=label)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _points(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise typer.BadParameter(
            f"{text!r}: se esperaban segundos separados por comas / expected comma-separated "
            "seconds"
        ) from exc
    if not values or any(b <= a for a, b in itertools.pairwise(values)):
        raise typer.BadParameter(f"{text!r}: valores crecientes / increasing values needed")
    return values


def _report_bad_rows(result: AnalysisResult, err: Console, show: int, lang: Lang) -> None:
    for bad in result.bad_rows[:show]:
        err.print(str(bad), markup=False, highlight=False, soft_wrap=True)
    if result.bad_row_count:
        _ = words(lang.value)
        files = sum(1 for i in result.imports if i.bad_rows)
        err.print(
            _(
                "{count} bad rows in {files} file(s) (left out)",
                count=result.bad_row_count,
                files=files,
            ),
            markup=False,
            highlight=False,
        )
    for imp in result.imports:
        for note in imp.notes:
            err.print(f"{imp.file}: {note}", markup=False, highlight=False, soft_wrap=True)


def _fail(err: Console, message: str, code: int = 1) -> typer.Exit:
    err.print(message, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _pct(x: Any, lang: Lang) -> str:
    return pct(x, 1, lang.value)


def _secs(x: Any) -> str:
    return "—" if x is None else f"{float(x):.1f} s"


FilesArg = Annotated[
    list[Path],
    typer.Argument(help="Ficheros de registro de llamadas / call-log files.", show_default=False),
]
FormatOpt = Annotated[
    InputFormat, typer.Option("--format", "-f", help="Formato de entrada / input format.")
]
MappingOpt = Annotated[
    Path | None,
    typer.Option(help="Fichero de correspondencia de columnas (CSV) / column-mapping file."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON en stdout / JSON on stdout.")]
LangOpt = Annotated[Lang, typer.Option(help="Idioma / language.")]
LevelOpt = Annotated[
    float,
    typer.Option(
        "--level",
        min=0.01,
        max=0.99,
        help="Supervivencia del objetivo de respuesta / survival level of the answer target.",
    ),
]


def analyze(
    files: FilesArg,
    fmt: FormatOpt = InputFormat.auto,
    mapping: MappingOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Informe HTML / HTML report.")
    ] = None,
    as_json: JsonOpt = False,
    lang: LangOpt = Lang.es,
    interval_min: Annotated[
        int, typer.Option("--interval", min=1, help="Intervalo en minutos / interval, minutes.")
    ] = 30,
    sl_threshold_s: Annotated[
        float, typer.Option("--sl-threshold", min=0, help="T del nivel de servicio, s.")
    ] = 20.0,
    sl_variant: Annotated[
        SlVariantChoice,
        typer.Option("--sl-variant", help="Definición del nivel de servicio / SL definition."),
    ] = SlVariantChoice.offered_ex_short,
    short_abandon_s: Annotated[
        float, typer.Option("--short-abandon", min=0, help="Abandono corto, s / short abandon, s.")
    ] = 5.0,
    fcr_days: Annotated[
        float, typer.Option("--fcr-days", min=0, help="Ventana de repetición, días / days.")
    ] = 7.0,
    level: LevelOpt = 0.9,
    show_bad: Annotated[
        int, typer.Option(min=0, help="Filas con errores a mostrar / bad rows to show.")
    ] = 20,
) -> None:
    """Informe de un registro de llamadas / call-log report (W3, W4, W5, M1, C6)."""
    # Imported when the command runs, so the CLI starts fast.
    from escucha.analytics import service
    from escucha.analytics.schemas import AnalysisOptions

    err = Console(stderr=True)
    options = AnalysisOptions(
        interval_min=interval_min,
        sl_threshold_s=sl_threshold_s,
        sl_variant=sl_variant.value,
        short_abandon_s=short_abandon_s,
        fcr_days=fcr_days,
        survival_level=level,
        lang=lang.value,
    )
    progress = _RichProgress(err)
    try:
        result = service.analyze_files(
            files, fmt.value, options=options, mapping=mapping, progress=progress
        )
    except EscuchaError as exc:
        raise _fail(err, exc.message) from exc
    finally:
        progress.stop()
    _report_bad_rows(result, err, show_bad, lang)
    _ = words(lang.value)
    if result.summary["calls"] == 0:
        raise _fail(err, _("No calls to analyse."))
    if out is not None:
        try:
            out.write_text(service.render_report(result), encoding="utf-8")
        except OSError as exc:
            raise _fail(err, f"{out}: {exc.strerror or exc}") from exc
        err.print(_("Report written to {path}", path=out), markup=False, highlight=False)
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        _print_summary(result, lang)


def _print_summary(result: AnalysisResult, lang: Lang) -> None:
    _ = words(lang.value)
    ov = result.kpis.overall
    p = result.patience
    table = Table(title="escucha — " + _("summary"), show_header=False)
    rows: list[tuple[str, str]] = [
        (_("Calls"), str(ov.get("calls"))),
        (_("Queued"), str(ov.get("offered"))),
        (_("Abandonment"), _pct(ov.get("abandon_rate"), lang)),
        (_("Service level"), _pct(ov.get("service_level"), lang)),
        ("ASA", _secs(ov.get("asa_s"))),
        ("AHT", _secs(ov.get("aht_s"))),
        ("FCR", _pct(ov.get("fcr"), lang)),
        ("180 s (ES)", _pct(ov.get("spain_180s"), lang)),
    ]
    if p is not None:
        rows.append((_("Answer target"), _secs(p.target.target_s)))
    for label, value in rows:
        table.add_row(label, value)
    Console().print(table)


def patience(
    files: FilesArg,
    fmt: FormatOpt = InputFormat.auto,
    mapping: MappingOpt = None,
    as_json: JsonOpt = False,
    lang: LangOpt = Lang.es,
    points: Annotated[
        str,
        typer.Option(help="Esperas del abandono por intervalo, s / wait points, s."),
    ] = "10,20,30,60,90,120",
    survival_points: Annotated[
        str, typer.Option(help="Esperas de la supervivencia, s / survival points, s.")
    ] = "10,20,30,60,90,120,180,300",
    level: LevelOpt = 0.9,
    show_bad: Annotated[
        int, typer.Option(min=0, help="Filas con errores a mostrar / bad rows to show.")
    ] = 20,
) -> None:
    """Paciencia de los clientes / customers' patience (W3, W4).

    Abandono por intervalo de espera, supervivencia Kaplan-Meier, paciencia mediana y media,
    y el objetivo de respuesta recomendado. Abandonment by wait interval, Kaplan-Meier
    survival, median and mean patience, and the recommended answer target.
    """
    # Imported when the command runs, so the CLI starts fast.
    from escucha.analytics import service
    from escucha.analytics.schemas import AnalysisOptions

    err = Console(stderr=True)
    options = AnalysisOptions(
        wait_points_s=_points(points),
        survival_points_s=_points(survival_points),
        survival_level=level,
        lang=lang.value,
    )
    try:
        doc, result = service.patience_of_files(files, fmt.value, options=options, mapping=mapping)
    except EscuchaError as exc:
        raise _fail(err, exc.message) from exc
    _report_bad_rows(result, err, show_bad, lang)
    _ = words(lang.value)
    if doc["queued"] == 0:
        raise _fail(err, _("No queued calls."))
    if as_json:
        typer.echo(json.dumps(doc, ensure_ascii=False))
        return
    table = Table(title=_("Patience"))
    table.add_column("t (s)")
    table.add_column(_("Abandoned ≤ t"))
    table.add_column(_("Survival"))
    surv = doc["km_survival"]
    for key, share in doc["abandon_by_wait"].items():
        table.add_row(key, _pct(share, lang), _pct(surv.get(key), lang))
    console = Console()
    console.print(table)
    console.print(
        f"{_('Median')}: {_secs(doc['km_median_s'])} · "
        f"{_('Mean')}: {_secs(doc['mean_s'])} · "
        f"{_('Answer target')}: {_secs(doc['recommended_target_s'])}",
        markup=False,
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``analyze`` and ``patience`` to the root command."""
    app.command("analyze")(analyze)
    app.command("patience")(patience)
