"""The call-log report: one self-contained HTML page (Plotly's JS embedded; works offline).

Its charts are those of the Reports screen (:func:`escucha.analytics.charts.analysis_figures`,
intervals in UTC), serialised to JSON inside the page; the template is
``templates/analytics_report.html``. Its words come from the Babel catalogs (:mod:`escucha.i18n`)
in the report's language (``AnalysisOptions.lang``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from escucha.analytics.charts import analysis_figures, figure_json, plotly_js
from escucha.analytics.figures import finite, fmt_pct, fmt_s
from escucha.analytics.figures import fmt_num as fmt_n
from escucha.analytics.schemas import SL_VARIANTS, AnalysisResult
from escucha.i18n import translator

#: (term, definition) of the report's measures, as message ids of the catalogs; ``{short}`` and
#: ``{days}`` are the analysis options.
DEFINITIONS: tuple[tuple[str, str], ...] = (
    (
        "Service level",
        "Answered within T / (offered − short abandons), unless another variant is chosen.",
    ),
    ("Average speed of answer (ASA)", "Mean wait of answered calls."),
    ("Average handle time (AHT)", "Talk + hold + wrap-up, mean over answered calls."),
    ("Abandonment rate", "Abandoned / offered; short abandon: hung up within {short} s."),
    (
        "First-contact resolution",
        "Answered calls after which the same customer did not call again within {days} days.",
    ),
    ("Occupancy", "Handle time / logged-in, not-paused time (where agent states exist)."),
    (
        "Announced waits kept",
        "Answered within the announced wait / (those + calls that outlasted it).",
    ),
    ("Callbacks kept", "Callbacks made by the promised time / callbacks due."),
    (
        "Answered by a person within 180 s",
        "Answered by a person within 180 s / offered (goal 95 %).",
    ),
)


def fmt_time(epoch_s: Any) -> str:
    v = finite(epoch_s)
    if v is None:
        return "—"
    return datetime.fromtimestamp(v, tz=UTC).strftime("%Y-%m-%d %H:%M")


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


def _spans_days(first: float | None, last: float | None) -> bool:
    if first is None or last is None:
        return False
    return (
        datetime.fromtimestamp(first, tz=UTC).date() != datetime.fromtimestamp(last, tz=UTC).date()
    )


def render_html(result: AnalysisResult) -> str:
    """Render the whole report page."""
    o = result.options
    _ = translator(o.lang)
    k = result.kpis
    first = k.by_interval[0]["interval_start_s"] if k.by_interval else None
    last = k.by_interval[-1]["interval_start_s"] if k.by_interval else None
    figures = analysis_figures(result, _, zone=UTC, with_day=_spans_days(first, last))
    definitions = [
        (_(term), _(text, short=o.short_abandon_s, days=o.fcr_days)) for term, text in DEFINITIONS
    ]
    return (
        _env()
        .get_template("analytics_report.html")
        .render(
            _=_,
            lang=o.lang,
            r=result,
            o=o,
            k=k,
            ov=k.overall,
            p=result.patience,
            first=first,
            last=last,
            figures_json=figure_json(figures),
            figure_ids=list(figures),
            plotly_js=plotly_js(),
            definitions=definitions,
            sl_variants=SL_VARIANTS,
            shown_bad=result.bad_rows[:50],
        )
    )
