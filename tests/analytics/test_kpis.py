"""KPI definitions (M1, W5, C6) against values worked out by hand on ten calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from escucha.analytics.schemas import CALL_COLUMNS, EXTRA_COLUMNS, AnalysisOptions
from escucha.analytics.service import analyze_files

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)

# id, queued, wait, abandoned, answered, talk, hold, holds, wrap, agent, transfers, customer,
# arrival offset (s), estimate, callback, callback_kept
CALLS: list[tuple[Any, ...]] = [
    ("1", True, 3, True, False, 0, 0, 0, 0, None, 0, "C1", 0, None, True, None),
    ("2", True, 15, True, False, 0, 0, 0, 0, None, 0, "C2", 60, 60.0, True, False),
    ("3", True, 40, True, False, 0, 0, 0, 0, None, 0, "C3", 90, 30.0, False, None),
    ("4", True, 10, False, True, 100, 20, 1, 30, "a", 0, "C1", 120, 15.0, False, None),
    ("5", True, 20, False, True, 200, 0, 0, 10, "a", 1, "C4", 180, None, False, None),
    ("6", True, 25, False, True, 150, 30, 2, 20, "b", 0, "C5", 240, 20.0, False, None),
    ("7", True, 200, False, True, 300, 0, 0, 0, "b", 0, None, 300, None, False, None),
    ("8", True, 60, False, False, 0, 0, 0, 0, None, 0, "C6", 360, None, True, True),
    ("9", True, 5, False, True, 50, 0, 0, 0, "a", 0, "C1", 3 * 86400, None, False, None),
    ("10", False, 0, False, False, 0, 0, 0, 0, None, 0, "C7", 420, None, False, None),
]


@pytest.fixture
def calls_file(tmp_path: Path) -> Path:
    cols: dict[str, list[Any]] = {name: [] for name in (*CALL_COLUMNS, *EXTRA_COLUMNS)}
    for c in CALLS:
        (
            cid,
            queued,
            wait,
            ab,
            ans,
            talk,
            hold,
            holds,
            wrap,
            agent,
            tr,
            cust,
            off,
            est,
            cb,
            kept,
        ) = c
        cols["call_id"].append(cid)
        cols["queue"].append("q")
        cols["customer_id"].append(cust)
        cols["call_type"].append("billing" if int(cid) % 2 else "tech")
        cols["arrived_at"].append(T0 + timedelta(seconds=off))
        cols["queued"].append(queued)
        cols["wait_s"].append(float(wait))
        cols["abandoned"].append(ab)
        cols["answered"].append(ans)
        cols["service_s"].append(float(talk))
        cols["hold_s"].append(float(hold))
        cols["holds"].append(holds)
        cols["wrap_s"].append(float(wrap))
        cols["agent"].append(agent)
        cols["transfers"].append(tr)
        cols["callback"].append(cb)
        cols["estimate_s"].append(est)
        cols["holds_unannounced"].append(None)
        cols["resolved"].append(None)
        cols["callback_kept"].append(kept)
    schema = pa.schema(list(CALL_COLUMNS.items()) + list(EXTRA_COLUMNS.items()))
    path = tmp_path / "calls.parquet"
    pq.write_table(pa.table(cols, schema=schema), path)
    return path


def _overall(path: Path, **options: Any) -> dict[str, Any]:
    return analyze_files([path], options=AnalysisOptions(**options)).kpis.overall


def test_counts_and_times(calls_file: Path) -> None:
    ov = _overall(calls_file)
    assert (ov["calls"], ov["offered"], ov["answered"], ov["abandoned"]) == (10, 9, 5, 3)
    assert ov["short_abandoned"] == 1
    assert ov["asa_s"] == pytest.approx(260 / 5)
    assert ov["mean_wait_s"] == pytest.approx(378 / 9)
    # AHT = talk + hold + wrap: (150 + 210 + 200 + 300 + 50) / 5
    assert ov["aht_s"] == pytest.approx(182.0)
    assert ov["talk_s"] == pytest.approx(160.0)
    assert ov["hold_mean_s"] == pytest.approx(10.0)
    assert ov["wrap_mean_s"] == pytest.approx(12.0)
    assert ov["holds_per_call"] == pytest.approx(3 / 5)
    assert ov["transfers_per_call"] == pytest.approx(1 / 5)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        # answered within 20 s: calls 4, 5 (exactly 20 s) and 9; abandoned within 20 s: 1, 2
        ("offered_ex_short", 3 / 8),
        ("offered", 3 / 9),
        ("answered", 3 / 5),
        ("offered_ex_abandoned_within_t", 3 / 7),
        ("abandons_met", 5 / 9),
    ],
)
def test_service_level_variants(calls_file: Path, variant: str, expected: float) -> None:
    ov = _overall(calls_file, sl_variant=variant)
    assert ov["service_level"] == pytest.approx(expected)
    assert ov["service_level_variants"][variant] == pytest.approx(expected)


def test_service_level_threshold_and_short_abandon_threshold(calls_file: Path) -> None:
    # T = 10 s: answered within: 4 and 9; short abandons within 2 s: none
    ov = _overall(calls_file, sl_threshold_s=10, short_abandon_s=2)
    assert ov["service_level"] == pytest.approx(2 / 9)
    assert ov["abandon_rate_ex_short"] == pytest.approx(3 / 9)


def test_abandonment_rates(calls_file: Path) -> None:
    ov = _overall(calls_file)
    assert ov["abandon_rate"] == pytest.approx(3 / 9)
    assert ov["abandon_rate_ex_short"] == pytest.approx(2 / 8)


def test_first_contact_resolution_window(calls_file: Path) -> None:
    # call 4 (C1) is followed by call 9 (C1) three days later
    week = _overall(calls_file, fcr_days=7)
    assert (week["fcr_eligible"], week["repeats"]) == (4, 1)
    assert week["fcr"] == pytest.approx(3 / 4)
    assert week["repeat_rate"] == pytest.approx(1 / 4)
    day = _overall(calls_file, fcr_days=1)
    assert day["fcr"] == pytest.approx(1.0)


def test_promises_callbacks_and_estimates(calls_file: Path) -> None:
    ov = _overall(calls_file)
    # kept: call 4 (10 <= 15); broken: 6 (25 > 20) and 3 (hung up at 40 > 30);
    # call 2 hung up at 15 before its 60 s estimate: not tested
    assert ov["promise_kept_rate"] == pytest.approx(1 / 3)
    assert ov["estimate_bias_s"] == pytest.approx(0.0)
    assert ov["estimate_mae_s"] == pytest.approx(5.0)
    # callbacks: 8 kept, 2 broken, 1 still due
    assert (ov["callbacks"], ov["callbacks_due"], ov["callbacks_kept"]) == (3, 2, 1)
    assert ov["callback_kept_rate"] == pytest.approx(0.5)


def test_spain_180_seconds(calls_file: Path) -> None:
    ov = _overall(calls_file)
    assert ov["spain_180s"] == pytest.approx(4 / 9)
    assert ov["spain_180s_met"] is False
    assert _overall(calls_file, spain_target=0.4)["spain_180s_met"] is True


def test_by_agent_shows_handle_time_with_resolution(calls_file: Path) -> None:
    result = analyze_files([calls_file])
    agents = {r["agent"]: r for r in result.kpis.by_agent}
    assert set(agents) == {"a", "b"}
    assert agents["a"]["aht_s"] == pytest.approx((150 + 210 + 50) / 3)
    assert agents["a"]["fcr"] == pytest.approx(2 / 3)
    assert agents["a"]["repeats"] == 1
    assert agents["b"]["aht_s"] == pytest.approx(250.0)
    assert agents["b"]["fcr"] == pytest.approx(1.0)
    assert agents["b"]["occupancy"] is None  # no agent states in a call table
    assert result.kpis.has_agent_states is False


def test_by_interval_queue_and_type(calls_file: Path) -> None:
    result = analyze_files([calls_file], options=AnalysisOptions(interval_min=60))
    k = result.kpis
    assert k.interval_min == 60
    assert [r["offered"] for r in k.by_interval] == [8, 1]
    assert k.by_interval[0]["interval_start_s"] == T0.timestamp()
    assert [r["queue"] for r in k.by_queue] == ["q"]
    types = {r["call_type"]: r["calls"] for r in k.by_call_type}
    assert types == {"billing": 5, "tech": 5}


def test_interval_widens_on_long_logs(calls_file: Path) -> None:
    result = analyze_files([calls_file], options=AnalysisOptions(max_intervals=10))
    assert result.kpis.interval_min == 720  # 3 days in at most 10 intervals
    assert result.notes


def test_occupancy_from_agent_states() -> None:
    data = Path(__file__).parent / "data" / "queue_log"
    result = analyze_files([data])
    agents = {r["agent"]: r for r in result.kpis.by_agent}
    # SIP/1001: 380 s of calls in 1200 s available; SIP/1002: 120 s in 1800 s
    assert agents["SIP/1001"]["occupancy"] == pytest.approx(380 / 1200)
    assert agents["SIP/1001"]["paused_s"] == pytest.approx(600)
    assert agents["SIP/1002"]["occupancy"] == pytest.approx(120 / 1800)
    assert agents["SIP/1002"]["ring_no_answer"] == 1
    assert result.kpis.overall["occupancy"] == pytest.approx(500 / 3000)
    assert result.kpis.has_agent_states is True
