"""The Planning page (W4, C6): staffing for targets, the cost balance, a day's plan with breaks,
and the answer target drawn from the live callers' patience.

The page only gathers inputs and draws results: the queue mathematics is in
``escucha.numerics`` (``staffing.staff``, ``erlang.evaluate``, ``cost.cost_curve``,
``patience.summarize_patience``) and the day plan in ``escucha.staffing.service.plan_day``.
Forms post with HTMX and get a fragment back; without JavaScript they get the whole page.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile
from starlette.responses import HTMLResponse

from escucha.analytics.charts import (
    abandonment_by_wait_figure,
    cost_figure,
    day_plan_figure,
    figure_json,
    service_level_figure,
    survival_figure,
)
from escucha.auth.api import DB, ClockDep, SupervisorCaller
from escucha.contacts.waits import live_waits
from escucha.errors import InvalidInput
from escucha.numerics import patience as pt
from escucha.numerics.cost import CostRates, cost_curve
from escucha.numerics.erlang import SL_DEFINITIONS, ErlangResult, evaluate, known_sl_definition
from escucha.numerics.staffing import (
    SPAIN_95_180,
    ServiceLevelTarget,
    StaffingResult,
    Targets,
    on_phone_headcount,
    staff,
)
from escucha.staffing.samples import sample_history_csv
from escucha.staffing.service import DayPlan, parse_history_csv, plan_day
from escucha.web import charts
from escucha.web.render import render

router = APIRouter(include_in_schema=False)

MIN_QUEUED = 30
"""Fewer queued callers than this, or fewer hang-ups than :data:`MIN_ABANDONS`, is not enough
data for a patience curve worth acting on."""
MIN_ABANDONS = 5
MAX_CHART_LEVELS = 80

STAFF_DEFAULTS: dict[str, str] = {
    "arrivals_per_h": "2000",
    "aht_s": "180",
    "target_sl_pct": "80",
    "target_time_s": "20",
    "max_asa_s": "",
    "max_abandon_pct": "",
    "max_occupancy_pct": "",
    "spain": "",
    "patience_s": "",
    "shrinkage_pct": "30",
    "sl_definition": "offered",
    "agents": "",
    "agent_per_h": "22",
    "per_abandon": "6",
    "per_wait_min": "0.5",
}
DAY_DEFAULTS: dict[str, str] = {
    "target_sl_pct": "80",
    "target_time_s": "20",
    "spain": "",
    "max_abandon_pct": "",
    "patience_s": "",
    "shrinkage_pct": "15",
    "aht_s": "180",
    "under_penalty": "",
}


# --------------------------------------------------------------------------------------------
# Reading the forms
# --------------------------------------------------------------------------------------------


class _Fields:
    """Typed reading of form text, with errors that name the field (by its label)."""

    def __init__(self, values: dict[str, str], tr: Callable[[str], str]) -> None:
        self.values = values
        self.tr = tr
        self.errors: list[str] = []

    def need(
        self,
        name: str,
        label: str,
        *,
        low: float | None = None,
        high: float | None = None,
        strict_low: bool = False,
    ) -> float:
        """A required number (NaN, with the error noted, when it is missing or wrong)."""
        value = self.number(name, label, low=low, high=high, strict_low=strict_low)
        return math.nan if value is None else value

    def number(
        self,
        name: str,
        label: str,
        *,
        low: float | None = None,
        high: float | None = None,
        strict_low: bool = False,
        optional: bool = False,
    ) -> float | None:
        """A number, or None when the field is empty and ``optional``."""
        text = self.values.get(name, "").strip().replace(",", ".")
        if not text:
            if optional:
                return None
            self.errors.append(f"{self.tr(label)}: {self.tr('a number is needed')}")
            return None
        try:
            value = float(text)
        except ValueError:
            self.errors.append(f"{self.tr(label)}: {self.tr('not a number')}: {text!r}")
            return None
        too_low = low is not None and (value <= low if strict_low else value < low)
        if not math.isfinite(value) or too_low or (high is not None and value > high):
            lo = "" if low is None else (f"> {low:g}" if strict_low else f">= {low:g}")
            hi = "" if high is None else f"<= {high:g}"
            bound = " ".join(x for x in (lo, hi) if x)
            self.errors.append(f"{self.tr(label)}: {self.tr('must be')} {bound}")
            return None
        return value

    def share(self, name: str, label: str, *, optional: bool = False) -> float | None:
        """A percentage field in (0, 100] as a share in (0, 1]."""
        value = self.number(name, label, low=0.0, high=100.0, strict_low=True, optional=optional)
        return None if value is None else value / 100.0

    def flag(self, name: str) -> bool:
        return self.values.get(name, "") not in ("", "0", "false", "off")


def _values(form: FormData | dict[str, str], defaults: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, default in defaults.items():
        value = form.get(key)
        if key == "spain":  # a checkbox: absent means off once the form is sent
            out[key] = "on" if isinstance(value, str) and value else ""
        else:
            out[key] = value if isinstance(value, str) else default
    return out


def _fragment(request: Request) -> bool:
    return request.headers.get("hx-request", "").lower() == "true"


# --------------------------------------------------------------------------------------------
# Staffing
# --------------------------------------------------------------------------------------------


@dataclass
class StaffView:
    """What the staffing result shows; ``errors`` alone when the form was wrong."""

    errors: list[str] = field(default_factory=list)
    model: str = ""
    load_erl: float = 0.0
    required: StaffingResult | None = None
    required_levels: list[tuple[ServiceLevelTarget, float]] = field(default_factory=list)
    given: int | None = None
    given_on_phone: int | None = None
    given_metrics: ErlangResult | None = None
    given_levels: list[tuple[ServiceLevelTarget, float]] = field(default_factory=list)
    unstable: bool = False
    best_agents: int | None = None
    best_cost: float | None = None
    required_cost: float | None = None
    extra_agent: dict[str, float] | None = None
    currency: str = "€"
    figures: dict[str, str] = field(default_factory=dict)


def compute_staffing(values: dict[str, str], tr: Callable[[str], str]) -> StaffView:
    """Read the staffing form and compute the answer with the numerics."""
    f = _Fields(values, tr)
    arrivals = f.need("arrivals_per_h", "Calls per hour", low=0.0)
    aht = f.need("aht_s", "Average handle time (s)", low=0.0, strict_low=True)
    sl = f.share("target_sl_pct", "Service level (%)", optional=True)
    sl_time = f.need("target_time_s", "Answered within (s)", low=0.0)
    max_asa = f.number("max_asa_s", "Maximum ASA (s)", low=0.0, strict_low=True, optional=True)
    max_ab = f.share("max_abandon_pct", "Maximum abandonment (%)", optional=True)
    max_occ = f.share("max_occupancy_pct", "Maximum occupancy (%)", optional=True)
    patience = f.number("patience_s", "Mean patience (s)", low=0.0, strict_low=True, optional=True)
    shrink_pct = f.need("shrinkage_pct", "Shrinkage (%)", low=0.0, high=95.0)
    given = f.number("agents", "Scheduled agents", low=0.0, optional=True)
    agent_cost = f.need("agent_per_h", "Cost of an agent-hour", low=0.0, strict_low=True)
    per_abandon = f.need("per_abandon", "Cost of an abandoned call", low=0.0)
    per_wait = f.need("per_wait_min", "Cost of a minute waited", low=0.0)
    definition = values.get("sl_definition", "offered")
    if not known_sl_definition(definition):
        f.errors.append(tr("Unknown service-level definition"))
    if given is not None and not float(given).is_integer():
        f.errors.append(f"{tr('Scheduled agents')}: {tr('a whole number is needed')}")
    if max_ab is not None and patience is None:
        f.errors.append(tr("A maximum abandonment needs the callers' mean patience (Erlang A)."))
    view = StaffView(errors=f.errors)
    if f.errors:
        return view
    shrinkage = shrink_pct / 100.0
    levels: list[ServiceLevelTarget] = []
    if sl is not None:
        levels.append(ServiceLevelTarget(sl, sl_time))
    if f.flag("spain"):
        levels.append(SPAIN_95_180)
    view.model = "Erlang A" if patience is not None else "Erlang C"
    view.load_erl = arrivals * aht / 3600.0
    sl_def: Any = definition
    has_target = bool(levels) or max_asa is not None or max_ab is not None or max_occ is not None
    if not has_target and given is None:
        view.errors.append(tr("Give at least one target, or a number of agents to evaluate."))
        return view
    report_t = levels[0].within_s if levels else sl_time

    def per_target(n: int) -> list[tuple[ServiceLevelTarget, float]]:
        return [
            (
                s,
                float(
                    evaluate(
                        n,
                        arrivals,
                        aht,
                        patience_mean_s=patience,
                        target_time_s=s.within_s,
                        sl_definition=sl_def,
                    ).service_level
                ),
            )
            for s in levels
        ]

    if has_target:
        targets = Targets(
            service_levels=tuple(levels),
            max_asa_s=max_asa,
            max_abandon=max_ab,
            max_occupancy=max_occ,
            sl_definition=sl_def,
        )
        try:
            view.required = staff(
                arrivals, aht, targets, patience_mean_s=patience, shrinkage=shrinkage
            )
        except ValueError as exc:
            view.errors.append(str(exc))
            return view
        view.required_levels = per_target(view.required.agents)
    if given is not None:
        view.given = int(given)
        on_phone = on_phone_headcount(view.given, shrinkage)
        view.given_on_phone = on_phone
        view.given_metrics = evaluate(
            on_phone,
            arrivals,
            aht,
            patience_mean_s=patience,
            target_time_s=report_t,
            sl_definition=sl_def,
        ).result()
        view.given_levels = per_target(on_phone)
        view.unstable = not view.given_metrics.stable
    try:
        rates = CostRates(agent_cost, per_abandon, per_wait)
        curve = cost_curve(arrivals, aht, rates, patience_mean_s=patience, shrinkage=shrinkage)
    except ValueError as exc:
        view.errors.append(str(exc))
        return view
    view.best_agents = curve.best_agents
    view.best_cost = float(curve.total_per_h[curve.best])
    chosen = (
        view.required.agents
        if view.required is not None
        else (view.given_on_phone if view.given_on_phone is not None else None)
    )
    if view.required is not None and arrivals > 0:
        n = view.required.agents
        pair = cost_curve(
            arrivals,
            aht,
            rates,
            patience_mean_s=patience,
            shrinkage=shrinkage,
            agents=np.array([n, n + 1], dtype=np.int64),
        )
        view.required_cost = float(pair.total_per_h[0])
        view.extra_agent = {
            "agent_cost_per_h": float(pair.agent_cost_per_h[1] - pair.agent_cost_per_h[0]),
            "abandons_saved_per_h": arrivals * float(pair.p_abandon[0] - pair.p_abandon[1]),
            "wait_min_saved_per_h": 60.0 * float(pair.mean_queue_len[0] - pair.mean_queue_len[1]),
            "total_change_per_h": float(pair.total_per_h[1] - pair.total_per_h[0]),
        }
    # Charts: the service level over a band of staffing levels, and the cost curve.
    if arrivals > 0:
        marks = [x for x in (chosen, view.best_agents) if x is not None]
        lo = max(1, math.floor(view.load_erl * 0.85))
        hi = max([*marks, math.ceil(view.load_erl) + 1]) + max(
            5, math.ceil(math.sqrt(view.load_erl))
        )
        step = max(1, math.ceil((hi - lo + 1) / MAX_CHART_LEVELS))
        agents = np.arange(lo, hi + 1, step, dtype=np.int64)
        metrics = evaluate(
            agents,
            arrivals,
            aht,
            patience_mean_s=patience,
            target_time_s=report_t,
            sl_definition=sl_def,
        )
        view.figures["service_level"] = figure_json(
            service_level_figure(
                tr,
                agents.tolist(),
                metrics.service_level.tolist(),
                target_share=levels[0].share if levels else None,
                within_s=report_t,
                p_abandon=metrics.p_abandon.tolist() if patience is not None else None,
                occupancy=metrics.occupancy.tolist(),
                chosen=chosen,
            )
        )
        view.figures["cost"] = figure_json(
            cost_figure(tr, curve, currency=view.currency, chosen=chosen)
        )
    return view


# --------------------------------------------------------------------------------------------
# The day plan
# --------------------------------------------------------------------------------------------


@dataclass
class DayView:
    """A day plan as the page shows it (times in the organisation's zone)."""

    errors: list[str] = field(default_factory=list)
    filename: str = ""
    plan: DayPlan | None = None
    day: str = ""
    intervals: list[dict[str, Any]] = field(default_factory=list)
    shifts: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, float] = field(default_factory=dict)
    figures: dict[str, str] = field(default_factory=dict)


async def _read_upload(
    request: Request, form: FormData, tr: Callable[[str], str]
) -> tuple[str, str]:
    limit = int(request.app.state.settings.max_upload_bytes)
    upload = form.get("history")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInput(tr("Choose a history file (CSV) to upload."))
    name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:120] or "history.csv"
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"{name}: {tr('the file is larger than')} {limit} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name}: {tr('the file is not UTF-8 text')}") from exc
    return name, text


def compute_day_plan(
    name: str, text: str, values: dict[str, str], tr: Callable[[str], str], zone: ZoneInfo
) -> DayView:
    """Parse the history and plan the next day with the staffing service."""
    f = _Fields(values, tr)
    sl = f.share("target_sl_pct", "Service level (%)", optional=True)
    sl_time = f.need("target_time_s", "Answered within (s)", low=0.0)
    max_ab = f.share("max_abandon_pct", "Maximum abandonment (%)", optional=True)
    patience = f.number("patience_s", "Mean patience (s)", low=0.0, strict_low=True, optional=True)
    shrink_pct = f.need("shrinkage_pct", "Shrinkage (%)", low=0.0, high=95.0)
    aht = f.number("aht_s", "Average handle time (s)", low=0.0, strict_low=True, optional=True)
    penalty = f.number(
        "under_penalty",
        "Allow under-staffing at a cost of",
        low=0.0,
        strict_low=True,
        optional=True,
    )
    if max_ab is not None and patience is None:
        f.errors.append(tr("A maximum abandonment needs the callers' mean patience (Erlang A)."))
    view = DayView(errors=f.errors, filename=name)
    if f.errors:
        return view
    levels = [] if sl is None else [ServiceLevelTarget(sl, sl_time)]
    if f.flag("spain"):
        levels.append(SPAIN_95_180)
    try:
        targets = Targets(service_levels=tuple(levels), max_abandon=max_ab)
    except ValueError:
        view.errors.append(tr("Give at least one target, or a number of agents to evaluate."))
        return view
    try:
        history = parse_history_csv(text, name)
        plan = plan_day(
            history,
            targets,
            patience_mean_s=patience,
            shrinkage=shrink_pct / 100.0,
            aht_s=aht,
            under_penalty=penalty,
        )
    except InvalidInput as exc:
        view.errors.append(exc.message)
        return view
    view.plan = plan
    local = [s.astimezone(zone) for s in plan.starts]
    view.day = local[0].strftime("%Y-%m-%d") if local else ""
    sp = plan.shifts

    def at(i: int) -> str:
        if i < len(local):
            return local[i].strftime("%H:%M")
        return (local[-1] + timedelta(seconds=plan.interval_s)).strftime("%H:%M")

    for i, start in enumerate(local):
        view.intervals.append(
            {
                "start": start.strftime("%H:%M"),
                "calls": float(plan.calls[i]),
                "aht_s": float(plan.aht_s[i]),
                "required": int(plan.required[i]),
                "scheduled_required": int(plan.scheduled_required[i]),
                "on_phone": int(sp.on_phone[i]),
                "on_break": int(sp.on_break[i]),
                "over": int(sp.over[i]),
                "under": int(sp.under[i]),
            }
        )
    for s in sp.shifts:
        view.shifts.append(
            {
                "template": s.template,
                "start": at(s.start),
                "end": at(s.end),
                "breaks": [
                    {"start": at(b), "end": at(b + n), "minutes": n * plan.interval_s // 60}
                    for b, n in zip(s.break_starts, s.break_lengths, strict=True)
                ],
                "count": s.count,
            }
        )
    hours = plan.interval_s / 3600.0
    view.totals = {
        "calls": float(plan.calls.sum()),
        "people": float(sp.agents),
        "paid_hours": sp.paid_intervals * hours,
        "break_hours": float(sp.on_break.sum()) * hours,
        "over_hours": float(sp.over.sum()) * hours,
        "under_hours": float(sp.under.sum()) * hours,
    }
    # Chart the opening hours (with a margin), not the empty night.
    busy = [
        i
        for i in range(len(local))
        if plan.scheduled_required[i] or sp.on_phone[i] or sp.on_break[i]
    ]
    lo, hi = (max(0, busy[0] - 1), min(len(local), busy[-1] + 2)) if busy else (0, len(local))
    view.figures["day"] = figure_json(
        day_plan_figure(
            tr,
            [x["start"] for x in view.intervals[lo:hi]],
            required=plan.scheduled_required[lo:hi].tolist(),
            on_phone=sp.on_phone[lo:hi].tolist(),
            on_break=sp.on_break[lo:hi].tolist(),
            calls=plan.calls[lo:hi].tolist(),
        )
    )
    return view


# --------------------------------------------------------------------------------------------
# Patience from the live contacts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueuePatience:
    """The patience of one queue's callers (``summary`` is None when there is too little)."""

    queue: str
    queued: int
    abandoned: int
    summary: pt.PatienceSummary | None
    figures: dict[str, str]


def queue_patience(
    name: str, rows: list[tuple[str, float, bool]], level: float, tr: Callable[[str], str]
) -> QueuePatience:
    """Summarise one queue's (or every queue's) waits with ``escucha.numerics.patience``."""
    wait = np.array([w for _, w, _ in rows], dtype=np.float64)
    ab = np.array([a for _, _, a in rows], dtype=np.bool_)
    queued, abandoned = int(wait.size), int(ab.sum())
    if queued < MIN_QUEUED or abandoned < MIN_ABANDONS:
        return QueuePatience(name, queued, abandoned, None, {})
    summary = pt.summarize_patience(wait, ab, survival_level=level)
    figures = {
        "survival": figure_json(survival_figure(tr, summary)),
        "abandon": figure_json(abandonment_by_wait_figure(tr, summary)),
    }
    return QueuePatience(name, queued, abandoned, summary, figures)


# --------------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------------


def _page(
    request: Request,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    ctx = {**charts.FORMATTERS, "plotly_src": charts.plotly_src(), **context}
    return charts.allow_chart_styles(render(request, template, ctx, status_code))


def _planning_page(
    request: Request,
    staff_values: dict[str, str],
    day_values: dict[str, str],
    *,
    staff_view: StaffView | None = None,
    day_view: DayView | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return _page(
        request,
        "planning/planning.html",
        {
            "sv": staff_values,
            "dv": day_values,
            "staff_view": staff_view,
            "day_view": day_view,
            "sl_definitions": SL_DEFINITIONS,
        },
        status_code,
    )


@router.get("/planning")
def planning_page(request: Request, caller: SupervisorCaller) -> Response:
    """The forms, with defaults; query parameters pre-fill them (e.g. from the patience page)."""
    staff_values = dict(STAFF_DEFAULTS)
    day_values = dict(DAY_DEFAULTS)
    for key in ("target_time_s", "patience_s", "arrivals_per_h", "aht_s"):
        value = request.query_params.get(key)
        if value:
            staff_values[key] = value[:20]
            if key in day_values:
                day_values[key] = value[:20]
    return _planning_page(request, staff_values, day_values)


@router.post("/planning/staff")
async def planning_staff(request: Request, caller: SupervisorCaller) -> Response:
    """Staffing for the targets, the measures of a given staffing, and the cost balance."""
    _lang, tr = charts.translator(request)
    async with request.form(max_files=0, max_fields=60) as form:
        values = _values(form, STAFF_DEFAULTS)
    view = compute_staffing(values, tr)
    status = 422 if view.errors else 200
    if _fragment(request):
        return _page(request, "planning/_staff_result.html", {"view": view}, status)
    return _planning_page(request, values, dict(DAY_DEFAULTS), staff_view=view, status_code=status)


@router.post("/planning/day")
async def planning_day(request: Request, caller: SupervisorCaller, db: DB) -> Response:
    """Forecast the next day from an uploaded history and schedule shifts with breaks."""
    _lang, tr = charts.translator(request)
    limit = int(request.app.state.settings.max_upload_bytes)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + 64 * 1024:
        view = DayView(errors=[f"{tr('the file is larger than')} {limit} bytes"])
        values = dict(DAY_DEFAULTS)
    else:
        async with request.form(max_files=1, max_fields=40) as form:
            values = _values(form, DAY_DEFAULTS)
            try:
                name, text = await _read_upload(request, form, tr)
            except InvalidInput as exc:
                view = DayView(errors=[exc.message])
            else:
                view = compute_day_plan(name, text, values, tr, charts.org_zone(db))
    status = 422 if view.errors else 200
    if _fragment(request):
        return _page(request, "planning/_day_result.html", {"view": view}, status)
    return _planning_page(request, dict(STAFF_DEFAULTS), values, day_view=view, status_code=status)


@router.get("/planning/sample-history.csv")
def sample_history(caller: SupervisorCaller, clock: ClockDep) -> Response:
    """Five weeks of made-up history ending at the last Monday: plan that Monday."""
    today = clock.now().date()
    last_monday = today - timedelta(days=today.weekday())
    text = sample_history_csv(last_monday - timedelta(weeks=5))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="sample-history.csv"'},
    )


@router.get("/planning/patience")
def planning_patience(
    request: Request,
    caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    days: int = 28,
    level: float = 90.0,
) -> Response:
    """The answer target "just before most customers hang up", from the live callers (W4)."""
    if not 1 <= days <= 366:
        raise InvalidInput("days: from 1 to 366")
    if not 1.0 <= level <= 99.0:
        raise InvalidInput("level: from 1 to 99 (%)")
    _lang, tr = charts.translator(request)
    now = clock.now()
    rows = live_waits(db, since=now - timedelta(days=days), until=now, now=now)
    share = level / 100.0
    overall = queue_patience("", rows, share, tr)
    by_queue: dict[str, list[tuple[str, float, bool]]] = {}
    for row in rows:
        by_queue.setdefault(row[0], []).append(row)
    queues = [queue_patience(q, r, share, tr) for q, r in sorted(by_queue.items())]
    return _page(
        request,
        "planning/patience.html",
        {
            "days": days,
            "level": level,
            "overall": overall,
            "queues": queues,
            "min_queued": MIN_QUEUED,
            "min_abandons": MIN_ABANDONS,
        },
    )


__all__ = [
    "DayView",
    "QueuePatience",
    "StaffView",
    "compute_day_plan",
    "compute_staffing",
    "live_waits",
    "queue_patience",
    "router",
]
