"""Staffing service: call logs to Parquet, a day's plan from a CSV history (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from escucha.analytics.schemas import CALLS_SCHEMA
from escucha.errors import InvalidInput
from escucha.numerics.sim.distributions import Exponential
from escucha.numerics.sim.fast import simulate_queue
from escucha.numerics.staffing import ServiceLevelTarget, Targets
from escucha.staffing.service import (
    call_log_table,
    parse_history_csv,
    plan_day,
    read_history_csv,
    write_calls_parquet,
)

START = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday


def history_csv(weeks: int = 3, *, with_aht: bool = True, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    lines = ["interval_start,calls,aht_s" if with_aht else "interval_start,calls"]
    for i in range(48 * 7 * weeks):
        at = START + timedelta(minutes=30 * i)
        slot, dow = i % 48, (i // 48) % 7
        mean = 0.0 if slot < 16 or slot >= 44 else 60 * np.sin((slot - 16) / 28 * np.pi)
        calls = int(rng.poisson(mean * (0.5 if dow >= 5 else 1.0)))
        if with_aht:
            aht = f"{rng.normal(200, 10):.1f}" if calls else ""
            lines.append(f"{at.isoformat()},{calls},{aht}")
        else:
            lines.append(f"{at.isoformat()},{calls}")
    return "\n".join(lines) + "\n"


def test_call_log_table_follows_the_contract(tmp_path: Path) -> None:
    log = simulate_queue(
        agents=5,
        arrivals_per_h=100,
        service=Exponential(180),
        patience=Exponential(60),
        rng=np.random.default_rng(0),
        customers=500,
        track_agents=True,
    )
    table = call_log_table(log, start=START)
    assert table.schema.equals(CALLS_SCHEMA)
    first = table.slice(0, 1).to_pylist()[0]
    assert first["arrived_at"] == START + timedelta(microseconds=round(log.arrival_s[0] * 1e6))
    assert first["queue"] == "main"
    path = tmp_path / "calls.parquet"
    assert write_calls_parquet(log, path, start=START) == 500
    back = pq.read_table(path)
    assert back.num_rows == 500
    assert back.schema.equals(CALLS_SCHEMA)
    assert back.column("abandoned").to_pylist() == log.abandoned.tolist()
    with pytest.raises(InvalidInput, match="timezone"):
        call_log_table(log, start=datetime(2025, 1, 1))  # noqa: DTZ001


def test_parse_history_fills_gaps_and_reads_aht() -> None:
    text = (
        "interval_start,calls,aht_s\n"
        "2025-03-03T09:00:00Z,10,200\n"
        "\n"
        "2025-03-03T10:00:00+00:00,4,\n"
        "2025-03-03T09:30:00,6,180\n"
    )
    h = parse_history_csv(text, "h.csv")
    assert h.start == datetime(2025, 3, 3, 9, tzinfo=UTC)
    assert h.interval_s == 1800
    assert h.calls.tolist() == [10, 6, 4]
    assert h.aht_s is not None
    assert np.isnan(h.aht_s[2])
    assert h.aht_s[1] == 180
    assert h.end == datetime(2025, 3, 3, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("when,calls\n", "h.csv:1: header"),
        ("interval_start,calls\n2025-03-03T09:00:00Z,1\n", "at least two"),
        ("interval_start,calls\n2025-03-03T09:00:00Z,1\nnope,2\n", "h.csv:3: interval_start"),
        ("interval_start,calls\n2025-03-03T09:00:00Z,x\n", "h.csv:2: calls: not a number"),
        ("interval_start,calls\n2025-03-03T09:00:00Z,-1\n", "h.csv:2: calls: must be"),
        ("interval_start,calls\n2025-03-03T09:00:00Z\n", "h.csv:2: expected 2 columns"),
        (
            "interval_start,calls\n2025-03-03T09:00:00Z,1\n2025-03-03T09:00:00Z,2\n",
            "distinct",
        ),
        (
            "interval_start,calls\n2025-03-03T09:00:00Z,1\n2025-03-03T09:07:00Z,2\n",
            "divide a day",
        ),
    ],
)
def test_parse_history_errors_say_where(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_history_csv(text, "h.csv")


def test_read_history_csv_reports_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        read_history_csv(tmp_path / "none.csv")
    path = tmp_path / "h.csv"
    path.write_text(history_csv(1, with_aht=False), encoding="utf-8")
    assert read_history_csv(path).calls.size == 336


def test_plan_day_covers_the_requirement_with_breaks() -> None:
    h = parse_history_csv(history_csv(3))
    targets = Targets(service_levels=(ServiceLevelTarget(0.8, 20),))
    plan = plan_day(h, targets, patience_mean_s=120, shrinkage=0.2)
    assert plan.starts[0] == START + timedelta(weeks=3)
    assert len(plan.starts) == 48
    assert plan.interval_s == 1800
    assert plan.forecast_error is not None
    assert 0 < plan.forecast_error.wape < 0.5
    assert np.all(plan.aht_s > 150)
    assert np.all(plan.aht_s < 250)
    night = plan.calls == 0
    assert np.all(plan.required[night] == 0)
    assert np.all(plan.required[~night] >= 1)
    assert np.all(plan.scheduled_required >= plan.required)
    assert np.all(plan.shifts.on_phone >= plan.scheduled_required)
    assert plan.shifts.on_break.sum() > 0  # breaks are in the plan


def test_plan_day_aht_sources_and_errors() -> None:
    targets = Targets(max_occupancy=0.85)
    no_aht = parse_history_csv(history_csv(1, with_aht=False))
    with pytest.raises(InvalidInput, match="AHT"):
        plan_day(no_aht, targets)
    plan = plan_day(no_aht, targets, aht_s=240)
    assert plan.forecast_error is None
    assert np.all(plan.aht_s == 240)
    blank = parse_history_csv(
        "interval_start,calls,aht_s\n"
        + history_csv(1, with_aht=False).split("\n", 1)[1].replace("\n", ",\n")
    )
    with pytest.raises(InvalidInput, match="no AHT values"):
        plan_day(blank, targets)
    assert np.all(plan_day(blank, targets, aht_s=100).aht_s == 100)
    hourly = parse_history_csv(
        "interval_start,calls\n"
        + "".join(f"{(START + timedelta(hours=i)).isoformat()},5\n" for i in range(24 * 7))
    )
    with pytest.raises(InvalidInput, match="30-minute"):
        plan_day(hourly, targets, aht_s=100)
    with pytest.raises(InvalidInput, match="shrinkage"):
        plan_day(no_aht, targets, aht_s=100, shrinkage=1.5)
