"""The Reports page (W3, W4, W5, M1, C6): the live event log read the way ``escucha analyze``
reads a call log.

The log of the chosen days is exported as CSV (``escucha.contacts.service.export_csv``) and
analysed by ``escucha.analytics.service.analyze_event_rows``; the page draws the result. The
same analysis is offered as the self-contained HTML report (a download) and the raw log as CSV.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from escucha.analytics.charts import Translate, analysis_figures, figure_json
from escucha.analytics.replay import ReplayOptions
from escucha.analytics.replay_log import ReplayReport, replay_event_rows
from escucha.analytics.schemas import SL_VARIANTS, AnalysisOptions, AnalysisResult
from escucha.analytics.service import analyze_event_rows, render_report
from escucha.auth.api import DB, ClockDep, SupervisorCaller
from escucha.auth.service import display_names
from escucha.contacts.service import export_csv, iter_events
from escucha.errors import InvalidInput
from escucha.web import charts
from escucha.web.render import render

router = APIRouter(include_in_schema=False)

DEFAULT_DAYS = 7
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    """Whole days in the organisation's zone: ``first`` to ``last`` inclusive."""

    first: date
    last: date
    since: datetime
    until: datetime

    @property
    def slug(self) -> str:
        return f"{self.first.isoformat()}_{self.last.isoformat()}"


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(f"{name}: not a date (YYYY-MM-DD): {text[:40]!r}") from exc


def period_of(since: str, until: str, *, now: datetime, zone: ZoneInfo) -> Period:
    """The days asked for; by default the last seven days up to today."""
    today = now.astimezone(zone).date()
    last = _day(until, "until") if until.strip() else today
    first = _day(since, "since") if since.strip() else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidInput("since: must not be after until")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(f"since: at most {MAX_DAYS} days at a time")
    return Period(
        first=first,
        last=last,
        since=datetime.combine(first, time(0, 0), tzinfo=zone),
        until=datetime.combine(last + timedelta(days=1), time(0, 0), tzinfo=zone),
    )


def event_log_csv(session: Session, period: Period) -> str:
    """The live event log of the period, in the contract's CSV format."""
    return "".join(export_csv(iter_events(session, since=period.since, until=period.until)))


def analyse(
    session: Session, period: Period, lang: str, csv_text: str | None = None
) -> AnalysisResult:
    """``escucha analyze`` on the live log of the period."""
    options = AnalysisOptions(lang="en" if lang == "en" else "es")
    name = f"escucha-events-{period.slug}.csv"
    text = event_log_csv(session, period) if csv_text is None else csv_text
    return analyze_event_rows(text, options=options, name=name)


REPLAY_OPTIONS = ReplayOptions(warmup_s=0.0)
"""On the live log every caller of the period is scored (no warm-up)."""


def replay_estimates(csv_text: str, period: Period, lang: str, zone: ZoneInfo) -> ReplayReport:
    """``escucha estimate replay`` on the live log of the period, by queue and by week."""
    return replay_event_rows(
        csv_text,
        options=REPLAY_OPTIONS,
        name=f"escucha-events-{period.slug}.csv",
        lang="en" if lang == "en" else "es",
        zone=zone,
    )


def _agent_names(session: Session, result: AnalysisResult) -> dict[str, str]:
    ids = [int(r["agent"]) for r in result.kpis.by_agent if str(r.get("agent", "")).isdigit()]
    if not ids:
        return {}
    return {str(uid): name for uid, name in display_names(session, ids).items()}


def _figures(
    result: AnalysisResult, tr: Translate, zone: ZoneInfo, period: Period
) -> dict[str, str]:
    figures = analysis_figures(result, tr, zone=zone, with_day=period.first != period.last)
    return {name: figure_json(figure) for name, figure in figures.items()}


@router.get("/reports")
def reports_page(
    request: Request,
    caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    since: str = "",
    until: str = "",
) -> Response:
    """KPIs, patience, the Erlang A check and the agent table of the live event log."""
    zone = charts.org_zone(db)
    period = period_of(since, until, now=clock.now(), zone=zone)
    lang, tr = charts.translator(request)
    csv_text = event_log_csv(db, period)
    result = analyse(db, period, lang, csv_text)
    names = _agent_names(db, result)
    o = result.options
    context: dict[str, Any] = {
        **charts.FORMATTERS,
        "plotly_src": charts.plotly_src(),
        "period": period,
        "r": result,
        "o": o,
        "ov": result.kpis.overall,
        "p": result.patience,
        "empty": not int(result.kpis.overall.get("calls") or 0),
        "figures": _figures(result, tr, zone, period),
        "agents": [
            {**row, "name": names.get(str(row.get("agent")), str(row.get("agent")))}
            for row in result.kpis.by_agent
        ],
        "sl_variant_text": SL_VARIANTS.get(o.sl_variant, o.sl_variant),
        "when": lambda epoch_s: datetime.fromtimestamp(epoch_s, tz=zone).strftime("%Y-%m-%d %H:%M"),
        "query": f"since={period.first.isoformat()}&until={period.last.isoformat()}",
    }
    return charts.allow_chart_styles(render(request, "reports/reports.html", context))


@router.get("/reports/estimates")
def reports_estimates(
    request: Request,
    caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    since: str = "",
    until: str = "",
) -> Response:
    """The announced waits of the period replayed (a fragment the reports page loads after
    itself: the replay reads every call of the period)."""
    zone = charts.org_zone(db)
    period = period_of(since, until, now=clock.now(), zone=zone)
    lang, _tr = charts.translator(request)
    replayed = replay_estimates(event_log_csv(db, period), period, lang, zone)
    context = {**charts.FORMATTERS, "replayed": replayed}
    return render(request, "reports/_estimates.html", context)


@router.get("/reports/live.html")
def report_download(
    request: Request,
    caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    since: str = "",
    until: str = "",
) -> Response:
    """The self-contained HTML report of ``escucha analyze`` for the period, as a file."""
    period = period_of(since, until, now=clock.now(), zone=charts.org_zone(db))
    lang, _tr = charts.translator(request)
    html = render_report(analyse(db, period, lang))
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="escucha-report-{period.slug}.html"'
        },
    )


@router.get("/reports/events.csv")
def events_download(
    caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    since: str = "",
    until: str = "",
) -> Response:
    """The raw event log of the period (the CSV that ``escucha analyze`` reads)."""
    period = period_of(since, until, now=clock.now(), zone=charts.org_zone(db))
    return Response(
        event_log_csv(db, period),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="escucha-events-{period.slug}.csv"'},
    )
