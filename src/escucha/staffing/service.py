"""Staffing helpers around the pure numerics: call logs to Parquet, a day's plan from a CSV.

Nothing here needs a database: the inputs are files and numbers, the outputs Arrow tables and
frozen dataclasses that the CLI and the Planning screen render.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from escucha.analytics.schemas import CALLS_SCHEMA
from escucha.errors import InvalidInput
from escucha.numerics.forecast import ForecastError, holdout_error, seasonal_forecast
from escucha.numerics.schedule import ShiftPlan, ShiftTemplate, default_templates, plan_shifts
from escucha.numerics.sim.log import CallLog
from escucha.numerics.staffing import Targets, required_agents, scheduled_headcount

__all__ = [
    "DayPlan",
    "History",
    "call_log_table",
    "parse_history_csv",
    "plan_day",
    "read_history_csv",
    "write_calls_parquet",
]


def call_log_table(log: CallLog, *, start: datetime) -> pa.Table:
    """The simulator's log as a call-record table (the shared ``calls`` contract).

    ``start`` (timezone-aware) is the moment that ``arrival_s == 0`` stands for.
    """
    if start.tzinfo is None:
        raise InvalidInput("start must be timezone-aware")
    cols = log.columns()
    epoch_us = (start - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    arrived = epoch_us + np.round(log.arrival_s * 1e6).astype(np.int64)
    arrays = {
        name: pa.array(
            arrived if name == "arrived_at" else cols[name],
            type=CALLS_SCHEMA.field(name).type,
        )
        for name in CALLS_SCHEMA.names
    }
    return pa.Table.from_pydict(arrays, schema=CALLS_SCHEMA)


def write_calls_parquet(log: CallLog, path: Path, *, start: datetime) -> int:
    """Write the log as a Parquet call-record table; returns the number of rows."""
    table = call_log_table(log, start=start)
    pq.write_table(table, path)
    return int(table.num_rows)


# ---------------------------------------------------------------------------------------------
# History and the day plan
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    """Calls (and optionally AHT) per interval, consecutive; missing intervals count as 0."""

    start: datetime
    interval_s: int
    calls: NDArray[np.float64]
    aht_s: NDArray[np.float64] | None  # NaN where unknown (no calls)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.interval_s * self.calls.size)


def _parse_time(text: str, where: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(f"{where}: interval_start: not an ISO 8601 time: {text!r}") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _parse_number(text: str, where: str, column: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise InvalidInput(f"{where}: {column}: not a number: {text!r}") from exc
    if not math.isfinite(value) or value < 0:
        raise InvalidInput(f"{where}: {column}: must be a number >= 0, got {text!r}")
    return value


def parse_history_csv(text: str, filename: str = "<csv>") -> History:
    """Parse ``interval_start,calls[,aht_s]`` (ISO 8601 times; no offset means UTC).

    Errors name the file, line and column: ``history.csv:7: calls: not a number: 'x'``.
    """
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise InvalidInput(f"{filename}: empty file")
    names = [h.strip() for h in header]
    if names[:2] != ["interval_start", "calls"] or names[2:] not in ([], ["aht_s"]):
        raise InvalidInput(f"{filename}:1: header must be interval_start,calls[,aht_s]")
    has_aht = len(names) == 3
    rows: list[tuple[datetime, float, float]] = []
    for lineno, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        where = f"{filename}:{lineno}"
        if len(row) != len(names):
            raise InvalidInput(f"{where}: expected {len(names)} columns, got {len(row)}")
        at = _parse_time(row[0], where)
        calls = _parse_number(row[1], where, "calls")
        aht = math.nan
        if has_aht and row[2].strip():
            aht = _parse_number(row[2], where, "aht_s")
        rows.append((at, calls, aht))
    if len(rows) < 2:
        raise InvalidInput(f"{filename}: need at least two intervals of history")
    rows.sort(key=lambda r: r[0])
    steps = {int((b[0] - a[0]).total_seconds()) for a, b in itertools.pairwise(rows)}
    step = min(steps)
    if step <= 0:
        raise InvalidInput(f"{filename}: interval_start values must be distinct")
    if any(s % step for s in steps) or 86400 % step:
        raise InvalidInput(f"{filename}: intervals must be evenly spaced and divide a day")
    start = rows[0][0]
    size = int((rows[-1][0] - start).total_seconds()) // step + 1
    calls_arr = np.zeros(size)
    aht_arr = np.full(size, np.nan)
    for at, count, handle in rows:
        i = int((at - start).total_seconds()) // step
        calls_arr[i] = count
        aht_arr[i] = handle
    return History(
        start=start, interval_s=step, calls=calls_arr, aht_s=aht_arr if has_aht else None
    )


def read_history_csv(path: Path) -> History:
    """:func:`parse_history_csv` on a file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_history_csv(text, str(path))


@dataclass(frozen=True)
class DayPlan:
    """A day's plan: forecast, agents required per interval, shifts with breaks, coverage.

    ``required`` is agents on the phone (Erlang); ``scheduled_required`` adds shrinkage (absence,
    training: breaks are planned explicitly in the shifts, not in shrinkage).
    """

    starts: tuple[datetime, ...]
    interval_s: int
    calls: NDArray[np.float64]
    aht_s: NDArray[np.float64]
    required: NDArray[np.int64]
    scheduled_required: NDArray[np.int64]
    shifts: ShiftPlan
    forecast_error: ForecastError | None


def _slot_aht(
    history: History, horizon: int, period: int, default: float | None
) -> NDArray[np.float64]:
    """AHT per forecast interval: call-weighted mean of the same slot in past weeks."""
    if history.aht_s is None:
        if default is None:
            raise InvalidInput("the history has no aht_s column: give an AHT")
        return np.full(horizon, float(default))
    known = ~np.isnan(history.aht_s) & (history.calls > 0)
    if not np.any(known):
        if default is None:
            raise InvalidInput("the history has no AHT values: give an AHT")
        return np.full(horizon, float(default))
    w = np.where(known, history.calls, 0.0)
    h = np.where(known, history.aht_s, 0.0)
    overall = float((w * h).sum() / w.sum())
    slot = np.arange(history.calls.size) % period
    num = np.bincount(slot, weights=w * h, minlength=period)
    den = np.bincount(slot, weights=w, minlength=period)
    per_slot = np.where(den > 0, num / np.where(den > 0, den, 1.0), overall)
    future = (history.calls.size + np.arange(horizon)) % period
    return per_slot[future]


def plan_day(
    history: History,
    targets: Targets,
    *,
    patience_mean_s: float | None = None,
    shrinkage: float = 0.0,
    aht_s: float | None = None,
    templates: Iterable[ShiftTemplate] | None = None,
    under_penalty: float | None = None,
) -> DayPlan:
    """Forecast the day after the history, staff each interval, and schedule shifts with breaks.

    Raises :class:`InvalidInput` when the history is too short or the inputs do not fit.
    """
    period = 7 * 86400 // history.interval_s
    horizon = 86400 // history.interval_s
    try:
        calls = seasonal_forecast(history.calls, horizon=horizon, period=period)
        error = (
            holdout_error(history.calls, period=period)
            if history.calls.size >= 2 * period
            else None
        )
        aht = _slot_aht(history, horizon, period, aht_s)
        per_h = calls * 3600.0 / history.interval_s
        required, _ = required_agents(
            per_h, aht, targets, patience_mean_s=patience_mean_s, shrinkage=shrinkage
        )
        scheduled = np.array([scheduled_headcount(int(n), shrinkage) for n in required])
        tpl = tuple(templates) if templates is not None else _templates_for(history.interval_s)
        shifts = plan_shifts(scheduled, tpl, under_penalty=under_penalty)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    starts = tuple(history.end + timedelta(seconds=history.interval_s * i) for i in range(horizon))
    return DayPlan(
        starts=starts,
        interval_s=history.interval_s,
        calls=calls,
        aht_s=aht,
        required=required.astype(np.int64),
        scheduled_required=scheduled.astype(np.int64),
        shifts=shifts,
        forecast_error=error,
    )


def _templates_for(interval_s: int) -> tuple[ShiftTemplate, ...]:
    if interval_s != 1800:
        raise InvalidInput("the default shift templates need 30-minute intervals")
    return default_templates()
