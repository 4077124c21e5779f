"""The call-log report: one self-contained HTML page (Plotly's JS embedded; works offline).

Charts are plain Plotly figure dictionaries (data + layout) serialised to JSON inside the page;
the template is ``templates/analytics_report.html``. Text is Spanish or English
(``AnalysisOptions.lang``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from escucha.analytics.charts import Figure, hazard_bars, survival_grid, wait_labels
from escucha.analytics.figures import finite, fmt_pct, fmt_s
from escucha.analytics.figures import fmt_num as fmt_n
from escucha.analytics.schemas import SL_VARIANTS, AnalysisResult, Row
from escucha.numerics.patience import PatienceSummary

TEXT: dict[str, tuple[str, str]] = {
    "title": ("Informe de llamadas", "Call report"),
    "period": ("Periodo", "Period"),
    "files": ("Ficheros", "Files"),
    "interval": ("Intervalo", "Interval"),
    "calls": ("Llamadas", "Calls"),
    "offered": ("Ofrecidas (en cola)", "Offered (queued)"),
    "answered": ("Atendidas", "Answered"),
    "abandoned": ("Abandonadas", "Abandoned"),
    "abandon_rate": ("Tasa de abandono", "Abandonment rate"),
    "abandon_rate_ex_short": (
        "Abandono sin abandonos cortos",
        "Abandonment without short abandons",
    ),
    "short_abandoned": ("Abandonos cortos", "Short abandons"),
    "service_level": ("Nivel de servicio", "Service level"),
    "asa": ("Velocidad media de respuesta (ASA)", "Average speed of answer (ASA)"),
    "mean_wait": ("Espera media (todas)", "Mean wait (all)"),
    "aht": ("Tiempo medio de gestión (TMO/AHT)", "Average handle time (AHT)"),
    "talk": ("Conversación", "Talk"),
    "hold": ("Espera en llamada", "Hold"),
    "wrap": ("Cierre", "Wrap-up"),
    "fcr": ("Resolución en el primer contacto", "First-contact resolution"),
    "repeat": ("Contactos repetidos", "Repeat contacts"),
    "occupancy": ("Ocupación", "Occupancy"),
    "holds_per_call": ("Esperas por llamada", "Holds per call"),
    "unannounced": ("Esperas sin avisar", "Unannounced holds"),
    "transfers": ("Transferencias por llamada", "Transfers per call"),
    "callback_kept": ("Rellamadas cumplidas", "Callbacks kept"),
    "promise_kept": ("Esperas anunciadas cumplidas", "Announced waits kept"),
    "estimate_bias": ("Error medio de la estimación", "Mean estimate error"),
    "estimate_mae": ("Error absoluto medio", "Mean absolute error"),
    "spain": ("Atendidas por una persona en 180 s", "Answered by a person within 180 s"),
    "spain_note": (
        "La ley española de servicios de atención a la clientela exige el 95 %.",
        "Spain's customer-service law requires 95 %.",
    ),
    "met": ("cumple", "met"),
    "not_met": ("no cumple", "not met"),
    "volume": ("Volumen por intervalo", "Volume by interval"),
    "sl_asa": ("Nivel de servicio y ASA por intervalo", "Service level and ASA by interval"),
    "abandon_by_wait": ("Abandono según la espera", "Abandonment by wait"),
    "abandon_by_wait_lead": (
        "Proporción de las llamadas en cola que colgaron habiendo esperado como mucho t "
        "segundos, y de las que seguían esperando al empezar cada tramo, las que colgaron "
        "en él.",
        "Share of queued calls that hung up after waiting at most t seconds, and of those "
        "still waiting at the start of each band, the share who hung up within it.",
    ),
    "cumulative": ("Acumulado (de todas)", "Cumulative (of all)"),
    "in_band": ("En el tramo (de las que esperaban)", "In the band (of those waiting)"),
    "patience": ("Paciencia de los clientes", "Customers' patience"),
    "patience_lead": (
        "Kaplan-Meier: proporción de clientes dispuestos a esperar al menos t segundos "
        "(las llamadas atendidas cuentan como censuradas en su espera), con banda de "
        "confianza (Greenwood, log-log).",
        "Kaplan-Meier: share of customers willing to wait at least t seconds (answered "
        "calls are censored at their wait), with a confidence band (Greenwood, log-log).",
    ),
    "survival": ("Supervivencia", "Survival"),
    "band": ("Banda de confianza", "Confidence band"),
    "hazard": ("Tasa de abandono por segundo de espera", "Hang-ups per second of waiting"),
    "median_patience": ("Paciencia mediana", "Median patience"),
    "mean_patience": (
        "Paciencia media (espera total / abandonos)",
        "Mean patience (total wait / abandons)",
    ),
    "mean_patience_reg": (
        "Paciencia media (regresión de P(abandono) sobre la espera media)",
        "Mean patience (regression of P(abandon) on mean wait)",
    ),
    "not_reached": ("no se alcanza en los datos", "not reached in the data"),
    "target": ("Objetivo de respuesta recomendado", "Recommended answer target"),
    "target_lead": (
        "Responder antes de que cuelguen los clientes: el momento en que la supervivencia "
        "de la paciencia cae a {level}.",
        "Answer just before customers hang up: the wait at which patience survival falls "
        "to {level}.",
    ),
    "erlang": ("Comprobación Erlang A", "Erlang A check"),
    "erlang_lead": (
        "Con las llamadas, el AHT y la plantilla medidos en cada intervalo, y la paciencia "
        "media estimada, lo que predice Erlang A frente a lo que pasó. Plantilla: {basis}.",
        "With the measured calls, AHT and staffing of each interval and the estimated mean "
        "patience, what Erlang A predicts next to what happened. Staffing: {basis}.",
    ),
    "predicted": ("previsto", "predicted"),
    "measured": ("medido", "measured"),
    "agents": ("Agentes", "Agents"),
    "agents_lead": (
        "El tiempo de gestión siempre junto a la resolución y los contactos repetidos: "
        "una llamada corta que obliga al cliente a volver a llamar no es una buena llamada.",
        "Handle time always next to resolution and repeat contacts: a short call that "
        "makes the customer call back is not a good call.",
    ),
    "agent": ("Agente", "Agent"),
    "queues": ("Colas", "Queues"),
    "queue": ("Cola", "Queue"),
    "call_types": ("Tipos de llamada", "Call types"),
    "call_type": ("Tipo", "Type"),
    "promises": ("Promesas y rellamadas", "Promises and callbacks"),
    "definitions": ("Definiciones", "Definitions"),
    "sl_variants": ("Variantes del nivel de servicio", "Service-level variants"),
    "data_quality": ("Calidad de los datos", "Data quality"),
    "rows_read": ("Filas leídas", "Rows read"),
    "bad_rows": ("Filas con errores", "Bad rows"),
    "format": ("Formato", "Format"),
    "notes": ("Notas", "Notes"),
    "shown_first": ("se muestran las primeras {n}", "the first {n} are shown"),
    "ring_no_answer": ("Sin respuesta al timbre", "Ring, no answer"),
    "seconds": ("segundos", "seconds"),
    "wait_s": ("Espera (s)", "Wait (s)"),
    "none": ("—", "—"),
    "yes": ("sí", "yes"),
    "no": ("no", "no"),
    "generated": ("Generado", "Generated"),
}

DEFINITIONS: tuple[tuple[str, str, str], ...] = (
    (
        "service_level",
        "Atendidas en T / (ofrecidas − abandonos cortos), salvo otra variante elegida.",
        "Answered within T / (offered − short abandons), unless another variant is chosen.",
    ),
    ("asa", "Espera media de las llamadas atendidas.", "Mean wait of answered calls."),
    (
        "aht",
        "Conversación + espera en llamada + cierre, media de las atendidas.",
        "Talk + hold + wrap-up, mean over answered calls.",
    ),
    (
        "abandon_rate",
        "Abandonadas / ofrecidas; abandono corto: colgó en ≤ {short} s.",
        "Abandoned / offered; short abandon: hung up within {short} s.",
    ),
    (
        "fcr",
        "Atendidas tras las que el mismo cliente no volvió a llamar en {days} días.",
        "Answered calls after which the same customer did not call again within {days} days.",
    ),
    (
        "occupancy",
        "Tiempo de gestión / tiempo conectado y no en pausa (si hay estados de agente).",
        "Handle time / logged-in, not-paused time (where agent states exist).",
    ),
    (
        "promise_kept",
        "Atendidas dentro de la espera anunciada / (esas + las que la superaron).",
        "Answered within the announced wait / (those + calls that outlasted it).",
    ),
    (
        "callback_kept",
        "Rellamadas hechas antes de la hora prometida / rellamadas vencidas.",
        "Callbacks made by the promised time / callbacks due.",
    ),
    (
        "spain",
        "Atendidas por una persona en ≤ 180 s / ofrecidas (objetivo 95 %).",
        "Answered by a person within 180 s / offered (goal 95 %).",
    ),
)


class _T:
    """Text lookup for the template: ``t.key`` or ``t("key", n=3)``."""

    def __init__(self, lang: str) -> None:
        self.i = 0 if lang == "es" else 1

    def __getattr__(self, key: str) -> str:
        if key not in TEXT:
            raise AttributeError(key)
        return TEXT[key][self.i]

    def __call__(self, key: str, **kw: Any) -> str:
        return TEXT[key][self.i].format(**kw)


def fmt_time(epoch_s: Any) -> str:
    v = finite(epoch_s)
    if v is None:
        return "—"
    return datetime.fromtimestamp(v, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _clean(values: Any) -> list[float | None]:
    return [finite(v) for v in values]


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": {"text": title},
        "margin": {"l": 60, "r": 60, "t": 50, "b": 50},
        "legend": {"orientation": "h", "y": -0.2},
        "hovermode": "x unified",
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#fafafa",
    }
    base.update(extra)
    return base


def volume_figure(rows: list[Row], t: _T) -> Figure:
    x = [_iso(r["interval_start_s"]) for r in rows]
    other = [
        (r["offered"] or 0) - (r["answered_queued"] or 0) - (r["abandoned"] or 0) for r in rows
    ]
    return {
        "data": [
            {"type": "bar", "name": t.answered, "x": x, "y": [r["answered_queued"] for r in rows]},
            {"type": "bar", "name": t.abandoned, "x": x, "y": [r["abandoned"] for r in rows]},
            {"type": "bar", "name": "Otras / other", "x": x, "y": other},
        ],
        "layout": _layout(t.volume, barmode="stack", yaxis={"title": {"text": t.calls}}),
    }


def sl_asa_figure(rows: list[Row], t: _T, target: float, threshold_s: float) -> Figure:
    x = [_iso(r["interval_start_s"]) for r in rows]
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": f"{t.service_level} ({threshold_s:g} s)",
                "x": x,
                "y": _clean(r["service_level"] for r in rows),
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"{t.service_level} — objetivo / goal",
                "x": [x[0], x[-1]] if x else [],
                "y": [target, target] if x else [],
                "line": {"dash": "dash"},
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "ASA (s)",
                "x": x,
                "y": _clean(r["asa_s"] for r in rows),
                "yaxis": "y2",
            },
        ],
        "layout": _layout(
            t.sl_asa,
            yaxis={"title": {"text": t.service_level}, "tickformat": ".0%", "range": [0, 1.05]},
            yaxis2={"title": {"text": "ASA (s)"}, "overlaying": "y", "side": "right"},
        ),
    }


def abandon_figure(p: PatienceSummary, t: _T) -> Figure:
    labels = wait_labels(p)
    return {
        "data": [
            {
                "type": "bar",
                "name": t.cumulative,
                "x": labels,
                "y": _clean(p.by_wait.share),
            },
            {
                "type": "bar",
                "name": t.in_band,
                "x": labels,
                "y": _clean(p.by_wait.conditional_share),
            },
        ],
        "layout": _layout(t.abandon_by_wait, barmode="group", yaxis={"tickformat": ".0%"}),
    }


def survival_figure(p: PatienceSummary, t: _T) -> Figure:
    c = p.curve
    grid = survival_grid(p)
    surv = c.survival_at(grid)
    lower, upper = c.band_at(grid)
    x = [float(v) for v in grid]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "line": {"shape": "hv", "width": 0},
            "x": x,
            "y": _clean(upper),
            "name": t.band,
            "showlegend": False,
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "line": {"shape": "hv", "width": 0},
            "x": x,
            "y": _clean(lower),
            "fill": "tonexty",
            "fillcolor": "rgba(31,119,180,0.2)",
            "name": t.band,
        },
        {
            "type": "scatter",
            "mode": "lines",
            "line": {"shape": "hv", "color": "rgb(31,119,180)"},
            "x": x,
            "y": _clean(surv),
            "name": t.survival,
        },
    ]
    shapes = []
    target = p.target.target_s
    if target is not None:
        shapes.append(
            {
                "type": "line",
                "x0": target,
                "x1": target,
                "y0": 0,
                "y1": 1,
                "line": {"dash": "dot", "color": "crimson"},
            }
        )
    mids, widths = hazard_bars(p)
    data.append(
        {
            "type": "bar",
            "name": t.hazard,
            "x": mids,
            "width": widths,
            "y": _clean(p.hazard.hazard_per_s),
            "yaxis": "y2",
            "opacity": 0.35,
            "marker": {"color": "darkorange"},
        }
    )
    return {
        "data": data,
        "layout": _layout(
            t.patience,
            xaxis={"title": {"text": t.wait_s}},
            yaxis={"title": {"text": t.survival}, "range": [0, 1.02], "tickformat": ".0%"},
            yaxis2={"title": {"text": t.hazard}, "overlaying": "y", "side": "right"},
            shapes=shapes,
        ),
    }


def erlang_figure(result: AnalysisResult, t: _T) -> Figure:
    rows = result.erlang_check or []
    x = [_iso(r.interval_start_s) for r in rows]

    def line(name: str, values: list[float], dash: str | None, axis: str = "y") -> dict[str, Any]:
        return {
            "type": "scatter",
            "mode": "lines+markers",
            "name": name,
            "x": x,
            "y": _clean(values),
            "line": {"dash": dash} if dash else {},
            "yaxis": axis,
        }

    return {
        "data": [
            line(f"{t.abandon_rate} — {t.measured}", [r.p_abandon_measured for r in rows], None),
            line(f"{t.abandon_rate} — {t.predicted}", [r.p_abandon_predicted for r in rows], "dot"),
            line(f"{t.service_level} — {t.measured}", [r.sl_measured for r in rows], None),
            line(f"{t.service_level} — {t.predicted}", [r.sl_predicted for r in rows], "dot"),
        ],
        "layout": _layout(t.erlang, yaxis={"tickformat": ".0%", "range": [0, 1.05]}),
    }


@cache
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    js: str = get_plotlyjs()
    return js


@pass_context
def _pct(ctx: Context, share: Any, digits: int = 1) -> str:
    return fmt_pct(share, digits, str(ctx.get("lang", "en")))


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("escucha.analytics", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = _pct
    env.filters["secs"] = fmt_s
    env.filters["num"] = fmt_n
    env.filters["when"] = fmt_time
    return env


def _script_json(value: Any) -> str:
    """JSON that is safe inside a ``<script>`` element."""
    text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(result: AnalysisResult) -> str:
    """Render the whole report page."""
    o = result.options
    t = _T(o.lang)
    k = result.kpis
    figures: dict[str, Figure] = {}
    if k.by_interval:
        figures["volume"] = volume_figure(k.by_interval, t)
        figures["sl_asa"] = sl_asa_figure(k.by_interval, t, o.sl_target, o.sl_threshold_s)
    if result.patience is not None and result.patience.queued > 0:
        figures["abandon"] = abandon_figure(result.patience, t)
        figures["survival"] = survival_figure(result.patience, t)
    if result.erlang_check:
        figures["erlang"] = erlang_figure(result, t)
    first = k.by_interval[0]["interval_start_s"] if k.by_interval else None
    last = k.by_interval[-1]["interval_start_s"] if k.by_interval else None
    definitions = [
        (
            t(key),
            (es if o.lang == "es" else en).format(short=o.short_abandon_s, days=o.fcr_days),
        )
        for key, es, en in DEFINITIONS
    ]
    return (
        _env()
        .get_template("analytics_report.html")
        .render(
            t=t,
            lang=o.lang,
            r=result,
            o=o,
            k=k,
            ov=k.overall,
            p=result.patience,
            first=first,
            last=last,
            figures_json=_script_json(figures),
            figure_ids=list(figures),
            plotly_js=_plotly_js(),
            definitions=definitions,
            sl_variants=SL_VARIANTS,
            shown_bad=result.bad_rows[:50],
        )
    )
