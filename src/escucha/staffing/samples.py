"""A realistic sample call history, so the Planning page can be tried at once.

Five weeks of 30-minute intervals (``interval_start,calls,aht_s``): a weekly pattern (Monday the
busiest, Saturday half a weekday, Sunday closed), an intraday curve with a morning peak around
10:30 and a smaller afternoon one around 16:30, a slow upward trend, and Poisson noise. The same
seed gives the same file.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from numpy.typing import NDArray

from escucha.csvsafe import SafeWriter

__all__ = ["DAY_FACTORS", "sample_history", "sample_history_csv"]

INTERVAL_S = 1800
SLOTS_PER_DAY = 86400 // INTERVAL_S

DAY_FACTORS: tuple[float, ...] = (1.15, 1.0, 0.95, 0.95, 0.9, 0.5, 0.0)
"""Relative volume by day of the week, Monday first (Sunday closed)."""

OPEN_SLOT, CLOSE_SLOT = 16, 42
"""The line is open from 08:00 to 21:00 (slots are half hours from midnight, UTC)."""


def _intraday() -> NDArray[np.float64]:
    """Share of a day's calls in each half hour: two bumps inside the opening hours."""
    hours = (np.arange(SLOTS_PER_DAY) + 0.5) / 2.0
    curve = 1.0 * np.exp(-0.5 * ((hours - 10.5) / 1.6) ** 2)
    curve += 0.7 * np.exp(-0.5 * ((hours - 16.5) / 2.0) ** 2)
    curve += 0.15
    open_ = np.zeros(SLOTS_PER_DAY, dtype=bool)
    open_[OPEN_SLOT:CLOSE_SLOT] = True
    curve = np.where(open_, curve, 0.0)
    out: NDArray[np.float64] = curve / curve.sum()
    return out


def sample_history(
    first_day: date,
    *,
    weeks: int = 5,
    calls_per_weekday: float = 2400.0,
    aht_s: float = 240.0,
    weekly_growth: float = 0.02,
    seed: int = 7,
) -> list[tuple[datetime, int, float | None]]:
    """Rows ``(interval_start, calls, aht_s)`` for ``weeks`` weeks from ``first_day`` (UTC).

    ``aht_s`` varies a little through the day (longer calls in the evening) and is ``None``
    where no call was made.
    """
    if weeks < 1:
        raise ValueError("weeks must be >= 1")
    rng = np.random.default_rng(seed)
    profile = _intraday()
    hours = np.arange(SLOTS_PER_DAY) / 2.0
    aht_profile = aht_s * (1.0 + 0.08 * np.sin((hours - 9.0) / 12.0 * np.pi))
    start = datetime.combine(first_day, time(0, 0), tzinfo=UTC)
    rows: list[tuple[datetime, int, float | None]] = []
    for day in range(7 * weeks):
        when = start + timedelta(days=day)
        level = (
            calls_per_weekday * DAY_FACTORS[when.weekday()] * (1.0 + weekly_growth) ** (day / 7.0)
        )
        calls = rng.poisson(level * profile)
        handle = rng.normal(aht_profile, 0.04 * aht_s)
        for slot in range(SLOTS_PER_DAY):
            n = int(calls[slot])
            rows.append(
                (
                    when + timedelta(seconds=INTERVAL_S * slot),
                    n,
                    round(float(handle[slot]), 1) if n else None,
                )
            )
    return rows


def sample_history_csv(first_day: date, *, weeks: int = 5, seed: int = 7) -> str:
    """:func:`sample_history` as the CSV that ``escucha plan`` and the Planning page read."""
    buf = io.StringIO()
    writer = SafeWriter(buf)
    writer.writerow(("interval_start", "calls", "aht_s"))
    for at, calls, aht in sample_history(first_day, weeks=weeks, seed=seed):
        writer.writerow((at.isoformat().replace("+00:00", "Z"), calls, "" if aht is None else aht))
    return buf.getvalue()
