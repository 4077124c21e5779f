"""Call-log analytics: the entry point of the CLI (``escucha analyze``) and the Reports page.

* :func:`analyze_files` reads call logs of any supported format and returns an
  :class:`~escucha.analytics.schemas.AnalysisResult` (aggregates only);
* :func:`analyze_event_rows` does the same for the CSV text of the live event log, which is how
  the web Reports page reads it;
* :func:`render_report` turns a result into a self-contained HTML page;
* :func:`patience_of_files` answers ``escucha patience``.

Each call opens its own in-memory DuckDB database and closes it before returning.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import duckdb
import numpy as np

from escucha.analytics import kpis as kpi
from escucha.analytics.importers import (
    ImportContext,
    LoadedMapping,
    Source,
    finish_calls_view,
    import_source,
    load_mapping,
    refuse_non_text,
)
from escucha.analytics.importers._base import fetch_one
from escucha.analytics.report import render_html
from escucha.analytics.schemas import (
    AnalysisOptions,
    AnalysisResult,
    BadRow,
    ErlangCheckRow,
    KpiTables,
)
from escucha.errors import InvalidInput
from escucha.i18n import translator
from escucha.numerics import erlang
from escucha.numerics import patience as pt

__all__ = [
    "AnalysisOptions",
    "AnalysisResult",
    "Progress",
    "analyze_event_rows",
    "analyze_files",
    "analyze_sources",
    "patience_json",
    "patience_of_files",
    "render_report",
    "summary_json",
]


class Progress(Protocol):
    """Receives progress: the total bytes to read, bytes read, and named steps."""

    def start(self, total_bytes: int) -> None: ...

    def advance(self, n_bytes: int) -> None: ...

    def stage(self, label: str) -> None: ...


def _count(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def _key(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else repr(float(t))


def _f(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _connect(options: AnalysisOptions, tmp: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET memory_limit = ?", [options.memory_limit])
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET temp_directory = ?", [tmp])
    if options.threads is not None:
        con.execute(f"SET threads = {int(options.threads)}")
    return con


def _mapping(mapping: Path | LoadedMapping | None) -> LoadedMapping | None:
    if mapping is None or isinstance(mapping, LoadedMapping):
        return mapping
    return load_mapping(mapping)


def analyze_files(
    paths: Sequence[Path | str],
    fmt: str = "auto",
    *,
    options: AnalysisOptions | None = None,
    mapping: Path | LoadedMapping | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Analyse call-log files (all of one format, or ``auto`` to detect each)."""
    if not paths:
        raise InvalidInput("no files to analyse / no hay ficheros que analizar")
    sources = [Source.from_path(Path(p)) for p in paths]
    for s in sources:
        if s.path is not None and not s.path.is_file():
            raise InvalidInput(f"{s.name}: no existe / does not exist")
    return analyze_sources(
        sources, fmt, options=options, mapping=_mapping(mapping), progress=progress
    )


def analyze_event_rows(
    csv_text: str,
    *,
    options: AnalysisOptions | None = None,
    name: str = "<event-log>",
) -> AnalysisResult:
    """Analyse the CSV text of escucha's contact event log (header
    ``contact_id,event,at,queue,agent,customer_id,channel,data``), as the Reports page does."""
    return analyze_sources([Source.from_text(csv_text, name)], "escucha", options=options)


def analyze_sources(
    sources: Sequence[Source],
    fmt: str = "auto",
    *,
    options: AnalysisOptions | None = None,
    mapping: LoadedMapping | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Import ``sources`` into one call table and compute KPIs, patience and the Erlang check."""
    o = options or AnalysisOptions()
    _ = translator(o.lang)
    for source in sources:  # from their first kilobytes, before any work is spent on them
        refuse_non_text(source, o.lang)
    tmp = tempfile.mkdtemp(prefix="escucha-analytics-")
    con = _connect(o, tmp)
    try:
        if progress is not None:
            progress.start(sum(s.size for s in sources))
        ctx = ImportContext(
            con, lang=o.lang, progress=progress.advance if progress is not None else None
        )
        imports = []
        for source in sources:
            if progress is not None:
                progress.stage(source.name)
            imports.append(import_source(ctx, source, fmt, mapping))
        finish_calls_view(ctx)
        if progress is not None:
            progress.stage(_("KPIs"))
        sp = kpi.span(con)
        interval = kpi.choose_interval_min(sp, o)
        tables = kpi.compute_kpis(con, o, interval, calls=sp.calls, extras=frozenset(ctx.extras))
        if progress is not None:
            progress.stage(_("patience"))
        patience = _patience(con, tables, o)
        notes: list[str] = []
        if interval != o.interval_min:
            notes.append(
                _(
                    "Interval widened to {interval} min to stay within {max_intervals} intervals.",
                    interval=interval,
                    max_intervals=o.max_intervals,
                )
            )
        staffed = kpi.staffed_agents_by_interval(con, interval) if tables.has_agent_states else {}
        check, check_note = _erlang_check(tables, staffed, patience, o)
        bad_count = int(fetch_one(con, "SELECT count(*) FROM bad_rows")[0])
        bad = [
            BadRow(str(f), int(line), str(col), str(reason))
            for f, line, col, reason in con.execute(
                "SELECT file, line, col, reason FROM bad_rows ORDER BY src, line, col LIMIT ?",
                [o.max_bad_rows_kept],
            ).fetchall()
        ]
        if progress is not None:
            progress.stage(_("report"))
        return AnalysisResult(
            options=o,
            imports=imports,
            bad_rows=bad,
            bad_row_count=bad_count,
            kpis=tables,
            patience=patience,
            summary=summary_json(tables, patience, o),
            erlang_check=check,
            erlang_note=check_note,
            notes=notes,
        )
    finally:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _patience(
    con: duckdb.DuckDBPyConnection, tables: KpiTables, o: AnalysisOptions
) -> pt.PatienceSummary:
    wait, ab, n = kpi.patience_inputs(con, o.patience_resolution_s)
    summary = pt.summarize_patience(
        wait,
        ab,
        weights=n,
        wait_points_s=o.wait_points_s,
        survival_points_s=o.survival_points_s,
        survival_level=o.survival_level,
        confidence=o.confidence,
    )
    rows = [r for r in tables.by_interval if (r["offered"] or 0) > 0]
    regression = pt.regress_abandonment_on_wait(
        [r["mean_wait_s"] for r in rows],
        [r["abandon_rate"] for r in rows],
        [r["offered"] for r in rows],
    )
    # The mean patience from the exact sums (the curve uses waits on a fine grid).
    ov = tables.overall
    abandons = float(ov.get("abandoned") or 0)
    exact_mean = float(ov.get("wait_sum_s") or 0.0) / abandons if abandons > 0 else None
    return replace(summary, regression=regression, mean_total_wait_s=exact_mean)


def summary_json(
    tables: KpiTables, patience: pt.PatienceSummary, o: AnalysisOptions
) -> dict[str, Any]:
    """The ``--json`` contract keys (plus patience extras) from KPIs and patience."""
    ov = tables.overall
    offered = int(ov.get("offered") or 0)
    by_wait = {_key(t): _f(s) for t, s in zip(o.wait_points_s, patience.by_wait.share, strict=True)}
    survival = {
        _key(t): _f(s)
        for t, s in zip(patience.survival_points_s, patience.survival_at_points, strict=True)
    }
    haz = patience.hazard
    regression = patience.regression
    return {
        "calls": int(ov.get("calls") or 0),
        "queued": offered,
        "abandoned": int(ov.get("abandoned") or 0),
        "p_abandon_queued": _f(ov.get("abandon_rate")),
        "mean_wait_queued_s": _f(ov.get("mean_wait_s")),
        "mean_service_s": _f(ov.get("talk_s")),
        "abandon_by_wait": by_wait,
        "patience": {
            "km_survival": survival,
            "km_median_s": _f(patience.curve.median_s),
            "mean_s": _f(patience.mean_total_wait_s),
            "mean_regression_s": _f(regression.mean_patience_s) if regression else None,
            "recommended_target_s": _f(patience.target.target_s),
            "recommended_target_ci_s": [
                _f(patience.target.lower_s),
                _f(patience.target.upper_s),
            ],
            "survival_level": o.survival_level,
            "hazard": [
                {
                    "from_s": _f(float(a)),
                    "to_s": _f(float(b)),
                    "abandoned": float(n),
                    "hazard_per_s": _f(float(h)),
                    "conditional_abandon": _f(float(c)),
                }
                for a, b, n, h, c in zip(
                    haz.edges_s[:-1],
                    haz.edges_s[1:],
                    haz.abandoned,
                    haz.hazard_per_s,
                    haz.conditional_abandon,
                    strict=True,
                )
            ],
        },
    }


def _erlang_check(
    tables: KpiTables,
    staffed: dict[float, float],
    patience: pt.PatienceSummary,
    o: AnalysisOptions,
) -> tuple[list[ErlangCheckRow] | None, str | None]:
    """Erlang A with the measured arrivals, AHT, staffing and patience, next to what happened."""
    _ = translator(o.lang)
    mean_patience = patience.mean_total_wait_s
    aht_all = tables.overall.get("aht_s")
    if mean_patience is None or mean_patience <= 0 or aht_all is None or aht_all <= 0:
        return None, _("Without abandons or handle times there is no patience or AHT for Erlang A.")
    hours = tables.interval_min / 60.0
    rows = []
    for r in tables.by_interval:
        if not r["offered"]:
            continue
        # logged-in agents where agent states say so, else the agents who answered calls
        agents = staffed.get(r["interval_start_s"]) or r["agents_answering"]
        if not agents:
            continue
        rows.append((r, max(round(float(agents)), 1)))
    if not rows:
        return None, _("No interval with known agents.")
    agents_arr = np.array([a for _, a in rows], dtype=np.int64)
    arrivals = np.array([r["offered"] / hours for r, _ in rows])
    aht = np.array([r["aht_s"] if r["aht_s"] else aht_all for r, _ in rows])
    metrics = erlang.erlang_a(
        agents_arr,
        arrivals,
        aht,
        float(mean_patience),
        target_time_s=o.sl_threshold_s,
        sl_definition="offered",
    )
    out = []
    for i, (r, a) in enumerate(rows):
        out.append(
            ErlangCheckRow(
                interval_start_s=float(r["interval_start_s"]),
                arrivals_per_h=float(arrivals[i]),
                aht_s=float(aht[i]),
                agents=float(a),
                p_abandon_measured=float(r["abandon_rate"] or 0.0),
                p_abandon_predicted=float(metrics.p_abandon[i]),
                asa_measured_s=_nan(r["asa_s"]),
                asa_predicted_s=float(metrics.asa_s[i]),
                sl_measured=_nan(r["service_level_variants"]["offered"]),
                sl_predicted=float(metrics.service_level[i]),
            )
        )
    basis = (
        _("agents logged in and not paused")
        if staffed
        else _("agents who answered a call in the interval (an approximation)")
    )
    return out, basis


def _nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def render_report(result: AnalysisResult) -> str:
    """The self-contained HTML report (Plotly embedded; works offline)."""
    return render_html(result)


# --------------------------------------------------------------------------------------------
# escucha patience
# --------------------------------------------------------------------------------------------


def patience_json(summary: pt.PatienceSummary, o: AnalysisOptions) -> dict[str, Any]:
    """The ``escucha patience --json`` document."""
    bw = summary.by_wait
    haz = summary.hazard
    reg = summary.regression
    return {
        "queued": _count(summary.queued),
        "abandoned": _count(summary.abandoned),
        "p_abandon": _f(summary.p_abandon),
        "abandon_by_wait": {_key(t): _f(s) for t, s in zip(bw.points_s, bw.share, strict=True)},
        "abandon_in_interval": {
            _key(t): _f(s) for t, s in zip(bw.points_s, bw.conditional_share, strict=True)
        },
        "km_survival": {
            _key(t): _f(s)
            for t, s in zip(summary.survival_points_s, summary.survival_at_points, strict=True)
        },
        "km_survival_band": {
            _key(t): [_f(lo), _f(hi)]
            for t, lo, hi in zip(
                summary.survival_points_s,
                *summary.curve.band_at(summary.survival_points_s),
                strict=True,
            )
        },
        "km_median_s": _f(summary.curve.median_s),
        "mean_s": _f(summary.mean_total_wait_s),
        "mean_regression_s": _f(reg.mean_patience_s) if reg else None,
        "hazard": [
            {
                "from_s": _f(float(a)),
                "to_s": _f(float(b)),
                "hazard_per_s": _f(float(h)),
                "conditional_abandon": _f(float(c)),
            }
            for a, b, h, c in zip(
                haz.edges_s[:-1],
                haz.edges_s[1:],
                haz.hazard_per_s,
                haz.conditional_abandon,
                strict=True,
            )
        ],
        "recommended_target_s": _f(summary.target.target_s),
        "recommended_target_ci_s": [_f(summary.target.lower_s), _f(summary.target.upper_s)],
        "survival_level": o.survival_level,
        "max_wait_s": summary.curve.max_wait_s,
    }


def patience_of_files(
    paths: Sequence[Path | str],
    fmt: str = "auto",
    *,
    options: AnalysisOptions | None = None,
    mapping: Path | LoadedMapping | None = None,
) -> tuple[dict[str, Any], AnalysisResult]:
    """Patience of the queued calls in ``paths``: the JSON document and the full result."""
    o = options or AnalysisOptions()
    result = analyze_files(paths, fmt, options=o, mapping=mapping)
    if result.patience is None:  # pragma: no cover - analyze_sources always fills it
        raise InvalidInput("no patience data")
    doc = patience_json(result.patience, o)
    doc["bad_rows"] = result.bad_row_count
    return doc, result
