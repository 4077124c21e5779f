"""Contact-center KPIs over the call-record table, computed in DuckDB (M1, W5, C6).

All the counting happens in SQL over the ``calls`` view (millions of rows never become Python
objects); Python only divides the sums of a few thousand groups.

Definitions (T = ``sl_threshold_s``; "offered" = calls that reached a queue; every queue KPI is
over offered calls):

* **offered, answered, abandoned**; **short abandons**: abandoned after at most
  ``short_abandon_s``.
* **service level**, in the variants of :data:`~escucha.analytics.schemas.SL_VARIANTS`; the
  default ``offered_ex_short`` = answered within T / (offered - short abandons).
* **ASA**: mean wait of the answered calls. **Mean wait**: over all offered calls.
* **AHT**: mean of talk + hold + wrap-up over answered calls whose talk time is known.
* **abandonment rate**: abandoned / offered; and without short abandons:
  (abandoned - short) / (offered - short).
* **FCR**: share of answered calls with a known customer after which the same customer did not
  contact again within ``fcr_days`` (any later call counts, answered or not). **Repeat
  contacts** are the complement. Calls near the end of the log have had less time to repeat.
* **occupancy** (only where agent states exist): handle time / logged-in, not-paused time.
* **holds per call**, hold time, holds not announced (W5); **transfers** per answered call.
* **callback-kept rate**: requested callbacks made by their promised time / callbacks due.
* **promise-kept rate** of announced waits: answered within the announced estimate / (those +
  callers answered or hanging up after the estimate had passed); callers who hung up before
  it are not counted (the promise was not tested).
* **estimate error**: actual wait - announced estimate over answered calls (bias and mean
  absolute error).
* **Spain 180 s**: answered by a person within 180 s / offered, against the 95 % that Spain's
  customer-service law requires.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt

from escucha.analytics.importers._base import fetch_one
from escucha.analytics.schemas import AnalysisOptions, KpiTables, Row

INTERVAL_CHOICES_MIN = (15, 30, 60, 120, 240, 360, 720, 1440, 10080)


@dataclass(frozen=True)
class Span:
    """First and last arrival (Unix seconds) and number of calls."""

    first_s: float | None
    last_s: float | None
    calls: int


def span(con: duckdb.DuckDBPyConnection) -> Span:
    row = fetch_one(
        con, "SELECT epoch(min(arrived_at)), epoch(max(arrived_at)), count(*) FROM calls"
    )
    return Span(
        None if row[0] is None else float(row[0]),
        None if row[1] is None else float(row[1]),
        int(row[2]),
    )


def choose_interval_min(sp: Span, options: AnalysisOptions) -> int:
    """The reporting interval: the one asked for, widened until the table is not too long."""
    if sp.first_s is None or sp.last_s is None:
        return options.interval_min
    width_s = max(sp.last_s - sp.first_s, 1.0)
    for minutes in (options.interval_min, *INTERVAL_CHOICES_MIN):
        if minutes >= options.interval_min and width_s / (minutes * 60) <= options.max_intervals:
            return minutes
    return INTERVAL_CHOICES_MIN[-1]


BUCKET_ORIGIN_S = 345_600
"""1970-01-05 00:00 UTC, a Monday: intervals (and weeks) start from it."""


def bucket_sql(epoch_s: str, interval_min: int) -> str:
    """SQL for the start (Unix seconds) of the interval holding ``epoch_s``."""
    width = int(interval_min) * 60
    return f"(floor(({epoch_s} - {BUCKET_ORIGIN_S}) / {width}) * {width} + {BUCKET_ORIGIN_S})"


def _aggregates(o: AnalysisOptions) -> dict[str, str]:
    """Name -> SQL aggregate of every sum the KPIs are made of.

    Written as ``sum(CASE ...)`` rather than ``count(*) FILTER (...)``: DuckDB evaluates the
    former about twice as fast when there are this many aggregates.
    """
    t = float(o.sl_threshold_s)
    short = float(o.short_abandon_s)
    spain = float(o.spain_threshold_s)
    known = "answered AND service_s IS NOT NULL"
    est = "estimate_s IS NOT NULL AND queued"

    def n(cond: str) -> str:
        return f"sum(CASE WHEN {cond} THEN 1 ELSE 0 END)"

    def total(value: str, cond: str) -> str:
        return f"sum(CASE WHEN {cond} THEN {value} END)"

    return {
        "calls": "count(*)",
        "offered": n("queued"),
        "answered": n("answered"),
        "answered_queued": n("queued AND answered"),
        "abandoned": n("queued AND abandoned"),
        "short_abandoned": n(f"queued AND abandoned AND wait_s <= {short}"),
        "abandoned_within_t": n(f"queued AND abandoned AND wait_s <= {t}"),
        "answered_within_t": n(f"queued AND answered AND wait_s <= {t}"),
        "answered_within_spain": n(f"queued AND answered AND wait_s <= {spain}"),
        "wait_sum_s": total("wait_s", "queued"),
        "answer_wait_sum_s": total("wait_s", "queued AND answered"),
        "handle_n": n(known),
        "talk_sum_s": total("service_s", known),
        "hold_sum_s": total("hold_s", known),
        "wrap_sum_s": total("wrap_s", known),
        "holds": total("holds", "answered"),
        "holds_unannounced": total("holds_unannounced", "answered"),
        "holds_with_announcement_data": total(
            "holds", "answered AND holds_unannounced IS NOT NULL"
        ),
        "transfers": total("transfers", "answered"),
        "transferred_calls": n("answered AND transfers > 0"),
        "callbacks": n("callback"),
        "callbacks_due": n("callback AND callback_kept IS NOT NULL"),
        "callbacks_kept": n("callback AND callback_kept"),
        "promises_kept": n(f"{est} AND answered AND wait_s <= estimate_s"),
        "promises_broken": n(f"{est} AND (answered OR abandoned) AND wait_s > estimate_s"),
        "estimates_checked": n(f"{est} AND answered"),
        "estimate_err_sum_s": total("wait_s - estimate_s", f"{est} AND answered"),
        "estimate_abs_err_sum_s": total("abs(wait_s - estimate_s)", f"{est} AND answered"),
        "resolved_known": n("answered AND resolved IS NOT NULL"),
        "resolved_flagged": n("answered AND resolved"),
    }


AGENT_SUMS = frozenset(
    {
        "calls",
        "answered",
        "answered_queued",
        "answered_within_t",
        "answered_within_spain",
        "answer_wait_sum_s",
        "handle_n",
        "talk_sum_s",
        "hold_sum_s",
        "wrap_sum_s",
        "holds",
        "holds_unannounced",
        "holds_with_announcement_data",
        "transfers",
        "transferred_calls",
        "callbacks",
        "estimates_checked",
        "estimate_err_sum_s",
        "estimate_abs_err_sum_s",
        "promises_kept",
        "resolved_known",
        "resolved_flagged",
    }
)
"""The sums that mean something for an agent (whose calls were all answered)."""


EXTRA_SUMS: dict[str, tuple[str, ...]] = {
    "estimate_s": (
        "promises_kept",
        "promises_broken",
        "estimates_checked",
        "estimate_err_sum_s",
        "estimate_abs_err_sum_s",
    ),
    "holds_unannounced": ("holds_unannounced", "holds_with_announcement_data"),
    "resolved": ("resolved_known", "resolved_flagged"),
    "callback_kept": ("callbacks_due", "callbacks_kept"),
}
"""Sums that need an optional column; left out (None) when no input has that column."""


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den <= 0:
        return None
    return float(num) / float(den)


def derive(row: Row, o: AnalysisOptions) -> Row:
    """Add every KPI ratio to a row of sums (None where undefined)."""
    g = {k: (0 if row.get(k) is None and not k.endswith("_s") else row.get(k)) for k in row}
    offered = g["offered"] or 0
    short = g["short_abandoned"] or 0
    within = g["answered_within_t"] or 0
    ab_within = g["abandoned_within_t"] or 0
    variants = {
        "offered_ex_short": _ratio(within, offered - short),
        "offered": _ratio(within, offered),
        "answered": _ratio(within, g["answered_queued"]),
        "offered_ex_abandoned_within_t": _ratio(within, offered - ab_within),
        "abandons_met": _ratio(within + ab_within, offered),
    }
    out = dict(row)
    parts = [row.get(k) for k in ("talk_sum_s", "hold_sum_s", "wrap_sum_s")]
    out["handle_sum_s"] = None if parts[0] is None else sum(float(x or 0.0) for x in parts)
    out["service_level"] = variants[o.sl_variant]
    out["service_level_variants"] = variants
    out["asa_s"] = _ratio(g["answer_wait_sum_s"], g["answered_queued"])
    out["mean_wait_s"] = _ratio(g["wait_sum_s"], offered)
    out["aht_s"] = _ratio(out["handle_sum_s"], g["handle_n"])
    out["talk_s"] = _ratio(g["talk_sum_s"], g["handle_n"])
    out["hold_mean_s"] = _ratio(g["hold_sum_s"], g["handle_n"])
    out["wrap_mean_s"] = _ratio(g["wrap_sum_s"], g["handle_n"])
    out["abandon_rate"] = _ratio(g["abandoned"], offered)
    out["abandon_rate_ex_short"] = _ratio((g["abandoned"] or 0) - short, offered - short)
    eligible = g["fcr_eligible"] or 0
    repeats = g["repeats"] or 0
    out["fcr"] = _ratio(eligible - repeats, eligible)
    out["repeat_rate"] = _ratio(repeats, eligible)
    out["resolved_rate"] = _ratio(g["resolved_flagged"], g["resolved_known"])
    out["holds_per_call"] = _ratio(g["holds"], g["answered"])
    out["unannounced_hold_share"] = _ratio(
        g["holds_unannounced"], g["holds_with_announcement_data"]
    )
    out["transfers_per_call"] = _ratio(g["transfers"], g["answered"])
    out["callback_kept_rate"] = _ratio(g["callbacks_kept"], g["callbacks_due"])
    kept = g["promises_kept"] or 0
    out["promise_kept_rate"] = _ratio(kept, kept + (g["promises_broken"] or 0))
    out["estimate_bias_s"] = _ratio(g["estimate_err_sum_s"], g["estimates_checked"])
    out["estimate_mae_s"] = _ratio(g["estimate_abs_err_sum_s"], g["estimates_checked"])
    spain = _ratio(g["answered_within_spain"], offered)
    out["spain_180s"] = spain
    out["spain_180s_met"] = None if spain is None else spain >= o.spain_target
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):  # DuckDB sums of integers are HUGEINT
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _rows(con: duckdb.DuckDBPyConnection, query: str) -> list[Row]:
    table = con.sql(query).to_arrow_table()
    return [{k: _jsonable(v) for k, v in r.items()} for r in table.to_pylist()]


def _add(rows: list[Row], names: list[str]) -> Row:
    """Sum rows of sums (None stays None only where every row has None)."""
    out: Row = {}
    for name in names:
        values = [r[name] for r in rows if r.get(name) is not None]
        out[name] = sum(values) if values else None
    return out


EXACT_DISTINCT_MAX_CALLS = 1_000_000


def compute_kpis(
    con: duckdb.DuckDBPyConnection,
    options: AnalysisOptions,
    interval_min: int,
    *,
    calls: int = 0,
    extras: frozenset[str] | None = None,
) -> KpiTables:
    """KPIs overall and by interval, queue, agent and call type.

    Four scans of the call table: by interval, by (queue, call type), by agent, and one
    window over (customer, arrival) for first-contact resolution, whose group keys travel as
    hashes so the sort carries fixed-width values only. Overall, per-queue and per-type rows
    are added up from the first two. ``extras`` names the optional columns some input has
    (None: assume all); sums over absent ones are not computed.
    """
    aggs = _aggregates(options)
    names = list(aggs)
    if extras is not None:
        for column, needed in EXTRA_SUMS.items():
            if column not in extras:
                for name in needed:
                    del aggs[name]
    select = ", ".join(f"{expr} AS {name}" for name, expr in aggs.items())
    bucket = bucket_sql("epoch(arrived_at)", interval_min)
    distinct = (
        "count(DISTINCT agent)"
        if calls <= EXACT_DISTINCT_MAX_CALLS
        else "approx_count_distinct(agent)"
    )
    by_bucket = _rows(
        con,
        f"SELECT {bucket} AS bucket, {select}, "  # noqa: S608
        f"{distinct} FILTER (WHERE answered) AS agents_answering "
        "FROM calls GROUP BY ALL",
    )
    by_qt = _rows(
        con,
        f"SELECT queue, call_type, hash(queue, call_type) AS qt, {select} FROM calls GROUP BY ALL",  # noqa: S608
    )
    # An agent's calls are answered calls: the queue-side sums would all be zero there.
    agent_select = ", ".join(
        f"{expr} AS {name}" for name, expr in aggs.items() if name in AGENT_SUMS
    )
    by_ag = _rows(
        con,
        f"SELECT agent, hash(agent) AS ag, {agent_select} "  # noqa: S608
        "FROM calls WHERE answered AND agent IS NOT NULL GROUP BY ALL",
    )
    for rows in (by_bucket, by_qt, by_ag):
        for r in rows:
            for name in names:
                r.setdefault(name, None)
    fcr_s = float(options.fcr_days) * 86400.0
    fcr = _rows(
        con,
        f"""
        SELECT GROUPING(bucket) AS g_bucket, GROUPING(qt) AS g_qt, bucket, qt, ag,
               sum(CASE WHEN answered THEN 1 ELSE 0 END) AS fcr_eligible,
               sum(CASE WHEN answered AND nxt - t <= {fcr_s} THEN 1 ELSE 0 END) AS repeats
        FROM (
            SELECT answered, bucket, qt, ag, t,
                   lead(t) OVER (PARTITION BY h ORDER BY t) AS nxt
            FROM (
                SELECT answered, {bucket} AS bucket, hash(queue, call_type) AS qt,
                       hash(agent) AS ag, epoch(arrived_at) AS t, hash(customer_id) AS h
                FROM calls WHERE customer_id IS NOT NULL AND arrived_at IS NOT NULL
            )
        )
        GROUP BY GROUPING SETS ((bucket), (qt), (ag))
        """,  # noqa: S608
    )
    zero = {"fcr_eligible": 0, "repeats": 0}
    fcr_bucket = {r["bucket"]: r for r in fcr if r["g_bucket"] == 0}
    fcr_qt = {r["qt"]: r for r in fcr if r["g_bucket"] == 1 and r["g_qt"] == 0}
    fcr_ag = {r["ag"]: r for r in fcr if r["g_bucket"] == 1 and r["g_qt"] == 1}
    for r in by_bucket:
        f = fcr_bucket.get(r["bucket"], zero)
        r["fcr_eligible"], r["repeats"] = f["fcr_eligible"], f["repeats"]
    for r in by_qt:
        f = fcr_qt.get(r.pop("qt"), zero)
        r["fcr_eligible"], r["repeats"] = f["fcr_eligible"], f["repeats"]
    for r in by_ag:
        f = fcr_ag.get(r.pop("ag"), zero)
        r["fcr_eligible"], r["repeats"] = f["fcr_eligible"], f["repeats"]
    sums = [*names, "fcr_eligible", "repeats"]
    overall = derive(_add(by_bucket, sums), options)
    by_interval = sorted(
        (
            {"interval_start_s": float(r["bucket"]), **derive(r, options)}
            for r in by_bucket
            if r["bucket"] is not None
        ),
        key=lambda r: r["interval_start_s"],
    )
    for r in by_interval:
        r.pop("bucket", None)

    def roll(key: str) -> list[Row]:
        groups: dict[Any, list[Row]] = {}
        for r in by_qt:
            groups.setdefault(r[key], []).append(r)
        return [
            {key: k, **derive(_add(rows, sums), options)}
            for k, rows in sorted(groups.items(), key=lambda kv: str(kv[0]))
        ]

    by_agent = [{"agent": r.pop("agent"), **derive(r, options)} for r in by_ag]
    by_agent.sort(key=lambda r: str(r["agent"]))
    has_states = _add_occupancy(con, overall, by_agent)
    return KpiTables(
        overall=overall,
        by_interval=by_interval,
        by_queue=roll("queue"),
        by_agent=by_agent,
        by_call_type=roll("call_type"),
        interval_min=interval_min,
        has_agent_states=has_states,
    )


def _add_occupancy(con: duckdb.DuckDBPyConnection, overall: Row, by_agent: list[Row]) -> bool:
    states = con.execute(
        """
        SELECT agent,
               sum(end_s - start_s) FILTER (WHERE state = 'available') AS staffed_s,
               sum(end_s - start_s) FILTER (WHERE state = 'paused') AS paused_s
        FROM agent_states GROUP BY agent
        """
    ).fetchall()
    rna = dict(
        con.execute("SELECT agent, sum(n) FROM agent_ring_no_answer GROUP BY agent").fetchall()
    )
    staffed = {str(a): (float(s or 0.0), float(p or 0.0)) for a, s, p in states}
    for row in by_agent:
        row["ring_no_answer"] = int(rna.get(row["agent"], 0)) if rna else None
        st = staffed.get(str(row["agent"]))
        row["staffed_s"] = st[0] if st else None
        row["paused_s"] = st[1] if st else None
        row["occupancy"] = _ratio(row.get("handle_sum_s"), st[0]) if st else None
    if not staffed:
        overall["occupancy"] = None
        return False
    handle = sum(
        float(r.get("handle_sum_s") or 0.0) for r in by_agent if str(r["agent"]) in staffed
    )
    total = sum(s for s, _ in staffed.values())
    overall["occupancy"] = _ratio(handle, total)
    overall["staffed_s"] = total
    overall["paused_s"] = sum(p for _, p in staffed.values())
    return True


def staffed_agents_by_interval(
    con: duckdb.DuckDBPyConnection, interval_min: int
) -> dict[float, float]:
    """Mean number of logged-in, not-paused agents in each interval (from agent states)."""
    width = interval_min * 60.0
    rows = con.execute(
        f"""
        WITH s AS (
            SELECT start_s, end_s,
                   {bucket_sql("start_s", interval_min)} AS first_b,
                   {bucket_sql("(end_s - 1e-9)", interval_min)} AS last_b
            FROM agent_states WHERE state = 'available' AND end_s > start_s
        ), b AS (
            SELECT start_s, end_s, unnest(range(CAST(first_b AS BIGINT),
                                                CAST(last_b AS BIGINT) + 1,
                                                CAST({width} AS BIGINT))) AS bucket
            FROM s
        )
        SELECT bucket, sum(least(end_s, bucket + {width}) - greatest(start_s, bucket)) / {width}
        FROM b GROUP BY bucket
        """  # noqa: S608 - numbers only
    ).fetchall()
    return {float(b): float(n) for b, n in rows}


def patience_inputs(
    con: duckdb.DuckDBPyConnection, resolution_s: float = 0.01
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Distinct ``(wait_s, abandoned)`` pairs of queued calls with their counts.

    Waits are rounded *up* to steps of ``resolution_s`` (a wait of at most t seconds stays at
    most t for every t on that grid), so ten million calls become at most a few hundred
    thousand pairs; logs in whole seconds are unchanged.
    """
    steps = 1.0 / float(resolution_s)
    res = con.execute(
        f"SELECT CAST(ceil(wait_s * {steps} - 1e-6) AS BIGINT) AS w, abandoned, "  # noqa: S608
        "count(*)::DOUBLE AS n FROM calls WHERE queued GROUP BY ALL"
    ).fetchnumpy()
    wait = np.maximum(np.asarray(res["w"], dtype=np.float64), 0.0) / steps
    ab = np.asarray(res["abandoned"], dtype=np.bool_)
    n = np.asarray(res["n"], dtype=np.float64)
    return wait, ab, n
