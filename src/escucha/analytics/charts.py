"""Charts, built once for every place that draws them: the Planning and Reports screens and
the offline call-log report (``escucha analyze``).

A chart is a Plotly figure as a plain dictionary (data + layout), built from numbers the
analytics, staffing and patience code computed; the builders never compute a queue measure
themselves, and take ``tr`` (a translation function of :mod:`escucha.i18n`) for their words.
:func:`figure_json` writes figures as JSON that is safe inside a ``<script>`` element; the
screens put each in a data island (``escucha.web.charts`` serves Plotly's JS and the pages'
policy), the report puts them all in its one page with Plotly's JS (:func:`plotly_js`).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, tzinfo
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
from babel.numbers import get_decimal_symbol, get_group_symbol

from escucha import languages
from escucha.analytics.schemas import AnalysisResult
from escucha.i18n import Translator
from escucha.numerics.cost import CostCurve
from escucha.numerics.patience import PatienceSummary

Figure = dict[str, Any]

Translate = Callable[[str], str]

MAX_CURVE_POINTS = 1500
"""At most this many points of a survival curve go into a figure."""

LAST_HAZARD_BAND_S = 60.0
"""Width drawn for the open-ended last band of the hazard."""

COLOURS = {
    "blue": "#0b5cad",
    "green": "#1d7a3a",
    "orange": "#c46a00",
    "red": "#b3261e",
    "grey": "#5a6472",
    "purple": "#6b3fa0",
}


# --------------------------------------------------------------------------------------------
# Figure JSON and Plotly's JS
# --------------------------------------------------------------------------------------------


def clean(value: Any) -> Any:
    """Plain JSON values: NumPy scalars and arrays to Python, NaN and infinities to ``None``."""
    if isinstance(value, np.ndarray):
        return [clean(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return clean(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def figure_json(figure: Figure) -> str:
    """JSON of a figure that is safe inside a ``<script type="application/json">`` element."""
    text = json.dumps(clean(figure), allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@cache
def plotly_js() -> str:
    """Plotly's JS from the installed package (the report embeds it, the screens serve it)."""
    # plotly.offline is imported when a chart is first drawn, not with every analytics import
    from plotly.offline import get_plotlyjs

    js: str = get_plotlyjs()
    return js


@cache
def separators(lang: str) -> str:
    """Plotly's ``separators`` of a language: its decimal mark, then its thousands mark
    (``",."`` in Spanish and Catalan, ``".,"`` in English), from the language's Babel locale."""
    locale = languages.get(lang).locale
    return get_decimal_symbol(locale) + get_group_symbol(locale)


def layout(tr: Translate, title: str, **extra: Any) -> dict[str, Any]:
    """The common layout: title, margins, legend below, unified hover, and numbers on the axes
    and in the hover written with the marks of ``tr``'s language."""
    base: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 16}},
        "margin": {"l": 64, "r": 64, "t": 48, "b": 64},
        "legend": {"orientation": "h", "y": -0.3, "yanchor": "top"},
        "hovermode": "x unified",
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#fafbfc",
        "font": {"family": "system-ui, sans-serif", "size": 13},
    }
    if isinstance(tr, Translator):
        base["separators"] = separators(tr.lang)
    base.update(extra)
    return base


def _vline(x: float, colour: str, dash: str = "dot") -> dict[str, Any]:
    return {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "line": {"dash": dash, "color": colour, "width": 2},
    }


def _hline(y: float, colour: str, dash: str = "dash") -> dict[str, Any]:
    return {
        "type": "line",
        "xref": "paper",
        "yref": "y",
        "x0": 0,
        "x1": 1,
        "y0": y,
        "y1": y,
        "line": {"dash": dash, "color": colour, "width": 1.5},
    }


# --------------------------------------------------------------------------------------------
# Planning figures
# --------------------------------------------------------------------------------------------


def service_level_figure(
    tr: Translate,
    agents: Sequence[int],
    service_level: Sequence[float],
    *,
    target_share: float | None,
    within_s: float,
    p_abandon: Sequence[float] | None = None,
    occupancy: Sequence[float] | None = None,
    chosen: int | None = None,
) -> Figure:
    """Service level (and abandonment, occupancy) against agents on the phone."""
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": tr("Service level within {t} s").replace("{t}", f"{within_s:g}"),
            "x": list(agents),
            "y": list(service_level),
            "line": {"color": COLOURS["blue"]},
        }
    ]
    if p_abandon is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": tr("Abandonment"),
                "x": list(agents),
                "y": list(p_abandon),
                "line": {"color": COLOURS["red"]},
            }
        )
    if occupancy is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": tr("Occupancy"),
                "x": list(agents),
                "y": list(occupancy),
                "line": {"color": COLOURS["grey"], "dash": "dot"},
            }
        )
    shapes = []
    if target_share is not None:
        shapes.append(_hline(target_share, COLOURS["green"]))
    if chosen is not None:
        shapes.append(_vline(chosen, COLOURS["orange"]))
    return {
        "data": data,
        "layout": layout(
            tr,
            tr("Service level by agents on the phone"),
            xaxis={"title": {"text": tr("Agents on the phone")}, "dtick": _dtick(agents)},
            yaxis={"tickformat": ".0%", "range": [0, 1.02]},
            shapes=shapes,
        ),
    }


def _dtick(values: Sequence[int]) -> int:
    span = (max(values) - min(values)) if values else 1
    return max(1, math.ceil(span / 20))


def cost_figure(tr: Translate, curve: CostCurve, *, currency: str, chosen: int | None) -> Figure:
    """The hourly cost of each staffing level, split into its parts, with the cheapest marked."""
    x = curve.agents.tolist()

    def bar(name: str, values: Any, colour: str) -> dict[str, Any]:
        return {
            "type": "bar",
            "name": name,
            "x": x,
            "y": clean(values),
            "marker": {"color": colour},
        }

    best = curve.best_agents
    shapes = [_vline(best, COLOURS["green"], "dash")]
    if chosen is not None and chosen != best:
        shapes.append(_vline(chosen, COLOURS["orange"]))
    return {
        "data": [
            bar(tr("Agents"), curve.agent_cost_per_h, COLOURS["blue"]),
            bar(tr("Abandoned calls"), curve.abandon_cost_per_h, COLOURS["red"]),
            bar(tr("Minutes waited"), curve.wait_cost_per_h, COLOURS["orange"]),
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": tr("Total"),
                "x": x,
                "y": clean(curve.total_per_h),
                "line": {"color": "#1b1f24"},
            },
        ],
        "layout": layout(
            tr,
            tr("Cost per hour by agents on the phone"),
            barmode="stack",
            xaxis={"title": {"text": tr("Agents on the phone")}},
            yaxis={"title": {"text": f"{currency}/h"}, "rangemode": "tozero"},
            shapes=shapes,
        ),
    }


def day_plan_figure(
    tr: Translate,
    labels: Sequence[str],
    *,
    required: Sequence[int],
    on_phone: Sequence[int],
    on_break: Sequence[int],
    calls: Sequence[float],
) -> Figure:
    """Agents required against agents scheduled on the phone per interval, with breaks."""
    return {
        "data": [
            {
                "type": "bar",
                "name": tr("On the phone"),
                "x": list(labels),
                "y": list(on_phone),
                "marker": {"color": COLOURS["blue"]},
            },
            {
                "type": "bar",
                "name": tr("On a break"),
                "x": list(labels),
                "y": list(on_break),
                "marker": {"color": "#9ec3e6"},
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": tr("Required"),
                "x": list(labels),
                "y": list(required),
                "line": {"color": COLOURS["red"], "shape": "hv", "width": 3},
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": tr("Forecast calls"),
                "x": list(labels),
                "y": clean(list(calls)),
                "yaxis": "y2",
                "line": {"color": COLOURS["grey"], "dash": "dot"},
            },
        ],
        "layout": layout(
            tr,
            tr("Required and scheduled agents per interval"),
            barmode="stack",
            xaxis={"title": {"text": tr("Interval")}, "type": "category"},
            yaxis={"title": {"text": tr("Agents")}, "rangemode": "tozero"},
            yaxis2={
                "title": {"text": tr("Calls")},
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
                "showgrid": False,
            },
        ),
    }


# --------------------------------------------------------------------------------------------
# Patience figures (Planning, Reports, the offline report)
# --------------------------------------------------------------------------------------------


def wait_labels(p: PatienceSummary) -> list[str]:
    """The labels of the abandonment-by-wait bars: ``"≤ 10 s"``, ``"≤ 20 s"``, ..."""
    return [f"≤ {v:g} s" for v in p.by_wait.points_s]


def survival_grid(p: PatienceSummary) -> npt.NDArray[np.float64]:
    """The waits (s) at which to draw the patience curve: its steps (thinned to at most
    :data:`MAX_CURVE_POINTS`) from 0 to the longest wait seen."""
    c = p.curve
    if c.time_s.size > MAX_CURVE_POINTS:
        grid = np.linspace(0.0, float(c.time_s[-1]), MAX_CURVE_POINTS)
    else:
        grid = np.concatenate(([0.0], c.time_s))
    if c.max_wait_s > grid[-1]:
        grid = np.concatenate((grid, [c.max_wait_s]))
    return grid


def hazard_bars(p: PatienceSummary) -> tuple[list[float], list[float]]:
    """Middles and widths (s) of the hazard's bands, the open-ended last one drawn
    :data:`LAST_HAZARD_BAND_S` wide."""
    edges = p.hazard.edges_s
    mids = [
        float((a + b) / 2) if math.isfinite(b) else float(a + LAST_HAZARD_BAND_S / 2)
        for a, b in itertools.pairwise(edges)
    ]
    widths = [
        float(b - a) if math.isfinite(b) else LAST_HAZARD_BAND_S
        for a, b in itertools.pairwise(edges)
    ]
    return mids, widths


def abandonment_by_wait_figure(tr: Translate, p: PatienceSummary) -> Figure:
    """Share of queued callers who hung up within 10, 20, 30, 60, 90, 120 s (W3)."""
    labels = wait_labels(p)
    return {
        "data": [
            {
                "type": "bar",
                "name": tr("Hung up within (of all queued)"),
                "x": labels,
                "y": clean(p.by_wait.share),
                "marker": {"color": COLOURS["red"]},
            },
            {
                "type": "bar",
                "name": tr("Hung up in the band (of those still waiting)"),
                "x": labels,
                "y": clean(p.by_wait.conditional_share),
                "marker": {"color": COLOURS["orange"]},
            },
        ],
        "layout": layout(
            tr,
            tr("Abandonment by wait"),
            barmode="group",
            yaxis={"tickformat": ".0%", "rangemode": "tozero"},
        ),
    }


def survival_figure(tr: Translate, p: PatienceSummary) -> Figure:
    """Kaplan-Meier patience survival with its confidence band, the hazard, and the target."""
    c = p.curve
    grid = survival_grid(p)
    lower, upper = c.band_at(grid)
    x = grid.tolist()
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "line": {"shape": "hv", "width": 0},
            "x": x,
            "y": clean(upper),
            "name": tr("Confidence band"),
            "showlegend": False,
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "line": {"shape": "hv", "width": 0},
            "x": x,
            "y": clean(lower),
            "fill": "tonexty",
            "fillcolor": "rgba(11,92,173,0.18)",
            "name": tr("Confidence band"),
        },
        {
            "type": "scatter",
            "mode": "lines",
            "line": {"shape": "hv", "color": COLOURS["blue"], "width": 2.5},
            "x": x,
            "y": clean(c.survival_at(grid)),
            "name": tr("Still willing to wait"),
        },
    ]
    mids, widths = hazard_bars(p)
    data.append(
        {
            "type": "bar",
            "name": tr("Hang-ups per second of waiting"),
            "x": mids,
            "width": widths,
            "y": clean(p.hazard.hazard_per_s),
            "yaxis": "y2",
            "opacity": 0.35,
            "marker": {"color": COLOURS["orange"]},
        }
    )
    shapes = []
    if p.target.target_s is not None:
        shapes.append(_vline(p.target.target_s, COLOURS["red"]))
    return {
        "data": data,
        "layout": layout(
            tr,
            tr("Customers' patience"),
            xaxis={"title": {"text": tr("Wait (s)")}, "rangemode": "tozero"},
            yaxis={"tickformat": ".0%", "range": [0, 1.02]},
            yaxis2={
                "title": {"text": tr("Hang-ups per second of waiting")},
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
                "showgrid": False,
            },
            shapes=shapes,
        ),
    }


# --------------------------------------------------------------------------------------------
# Report figures
# --------------------------------------------------------------------------------------------


def volume_figure(tr: Translate, labels: Sequence[str], rows: Iterable[dict[str, Any]]) -> Figure:
    """Answered, abandoned and other queued calls per interval (stacked)."""
    rows = list(rows)
    answered = [r.get("answered_queued") or 0 for r in rows]
    abandoned = [r.get("abandoned") or 0 for r in rows]
    other = [
        max((r.get("offered") or 0) - a - b, 0)
        for r, a, b in zip(rows, answered, abandoned, strict=True)
    ]
    x = list(labels)
    return {
        "data": [
            {
                "type": "bar",
                "name": tr("Answered calls"),
                "x": x,
                "y": answered,
                "marker": {"color": COLOURS["green"]},
            },
            {
                "type": "bar",
                "name": tr("Abandoned"),
                "x": x,
                "y": abandoned,
                "marker": {"color": COLOURS["red"]},
            },
            {
                "type": "bar",
                "name": tr("Other (callback, still open)"),
                "x": x,
                "y": other,
                "marker": {"color": COLOURS["grey"]},
            },
        ],
        "layout": layout(
            tr,
            tr("Volume by interval"),
            barmode="stack",
            xaxis={"type": "category"},
            yaxis={"title": {"text": tr("Calls")}, "rangemode": "tozero"},
        ),
    }


def sl_asa_figure(
    tr: Translate,
    labels: Sequence[str],
    rows: Iterable[dict[str, Any]],
    *,
    target: float,
    threshold_s: float,
) -> Figure:
    """Service level (left axis) and ASA (right axis) per interval, with the goal."""
    rows = list(rows)
    x = list(labels)
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": tr("Service level within {t} s").replace("{t}", f"{threshold_s:g}"),
                "x": x,
                "y": clean([r.get("service_level") for r in rows]),
                "line": {"color": COLOURS["blue"]},
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": tr("ASA (s)"),
                "x": x,
                "y": clean([r.get("asa_s") for r in rows]),
                "yaxis": "y2",
                "line": {"color": COLOURS["orange"]},
            },
        ],
        "layout": layout(
            tr,
            tr("Service level and ASA by interval"),
            xaxis={"type": "category"},
            yaxis={"tickformat": ".0%", "range": [0, 1.05]},
            yaxis2={
                "title": {"text": tr("ASA (s)")},
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
                "showgrid": False,
            },
            shapes=[_hline(target, COLOURS["green"])],
        ),
    }


def erlang_check_figure(
    tr: Translate,
    labels: Sequence[str],
    *,
    sl_measured: Sequence[float],
    sl_predicted: Sequence[float],
    abandon_measured: Sequence[float],
    abandon_predicted: Sequence[float],
) -> Figure:
    """Erlang A's prediction next to what happened, per interval."""
    x = list(labels)

    def line(name: str, values: Sequence[float], colour: str, dash: str | None) -> dict[str, Any]:
        return {
            "type": "scatter",
            "mode": "lines+markers",
            "name": name,
            "x": x,
            "y": clean(list(values)),
            "line": {"color": colour, **({"dash": dash} if dash else {})},
        }

    return {
        "data": [
            line(tr("Service level, measured"), sl_measured, COLOURS["blue"], None),
            line(tr("Service level, Erlang A"), sl_predicted, COLOURS["blue"], "dot"),
            line(tr("Abandonment, measured"), abandon_measured, COLOURS["red"], None),
            line(tr("Abandonment, Erlang A"), abandon_predicted, COLOURS["red"], "dot"),
        ],
        "layout": layout(
            tr,
            tr("Erlang A check"),
            xaxis={"type": "category"},
            yaxis={"tickformat": ".0%", "range": [0, 1.05]},
        ),
    }


def interval_label(at: datetime, *, with_day: bool) -> str:
    """An interval's label on a chart axis: ``"23/11 09:30"``, or ``"09:30"`` within one day."""
    return at.strftime("%d/%m %H:%M") if with_day else at.strftime("%H:%M")


def analysis_figures(
    result: AnalysisResult, tr: Translate, *, zone: tzinfo, with_day: bool
) -> dict[str, Figure]:
    """The figures of a call-log analysis, those its data allow: volume and service level by
    interval, abandonment by wait and patience, the Erlang A check. Intervals are labelled in
    ``zone`` (:func:`interval_label`)."""
    o = result.options
    rows = result.kpis.by_interval
    out: dict[str, Figure] = {}

    def label(epoch_s: float) -> str:
        return interval_label(datetime.fromtimestamp(epoch_s, tz=zone), with_day=with_day)

    if rows:
        labels = [label(r["interval_start_s"]) for r in rows]
        out["volume"] = volume_figure(tr, labels, rows)
        out["sl_asa"] = sl_asa_figure(
            tr, labels, rows, target=o.sl_target, threshold_s=o.sl_threshold_s
        )
    p = result.patience
    if p is not None and p.queued > 0:
        out["abandon"] = abandonment_by_wait_figure(tr, p)
        out["survival"] = survival_figure(tr, p)
    if result.erlang_check:
        check = result.erlang_check
        out["erlang"] = erlang_check_figure(
            tr,
            [label(r.interval_start_s) for r in check],
            sl_measured=[r.sl_measured for r in check],
            sl_predicted=[r.sl_predicted for r in check],
            abandon_measured=[r.p_abandon_measured for r in check],
            abandon_predicted=[r.p_abandon_predicted for r in check],
        )
    return out
