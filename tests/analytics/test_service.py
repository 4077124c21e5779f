"""The analytics entry point: the JSON contract, the live event log, patience, Erlang A check."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from escucha.analytics.schemas import AnalysisOptions, BadRow, clean_json
from escucha.analytics.service import (
    analyze_event_rows,
    analyze_files,
    patience_of_files,
    render_report,
)
from escucha.errors import InvalidInput

DATA = Path(__file__).parent / "data"

CONTRACT_KEYS = {
    "calls",
    "queued",
    "abandoned",
    "p_abandon_queued",
    "mean_wait_queued_s",
    "mean_service_s",
    "abandon_by_wait",
    "patience",
}


def test_json_contract_on_the_anonymous_bank_sample() -> None:
    doc = analyze_files([DATA / "anonymous_bank.txt"]).to_json()
    assert set(doc) >= CONTRACT_KEYS
    # 10 rows, one PHANTOM left out; 8 reached the queue (one hung up in the VRU)
    assert (doc["calls"], doc["queued"], doc["abandoned"]) == (9, 8, 4)
    assert doc["p_abandon_queued"] == pytest.approx(0.5)
    assert doc["mean_wait_queued_s"] == pytest.approx(389 / 8)
    assert doc["mean_service_s"] == pytest.approx(812 / 4)
    # abandons at 5, 45, 90 and 120 s out of 8 queued calls
    assert doc["abandon_by_wait"] == pytest.approx(
        {"10": 1 / 8, "20": 1 / 8, "30": 1 / 8, "60": 2 / 8, "90": 3 / 8, "120": 4 / 8}
    )
    p = doc["patience"]
    # waits 5A 10 15 25 45A 79 90A 120A: S = 7/8, then x 3/4, x 1/2, x 0
    s1, s2, s3 = 7 / 8, 7 / 8 * 3 / 4, 7 / 8 * 3 / 4 / 2
    assert p["km_survival"] == pytest.approx(
        {"10": s1, "20": s1, "30": s1, "60": s2, "90": s3, "120": 0, "180": 0, "300": 0}
    )
    assert p["km_median_s"] == 90
    assert p["mean_s"] == pytest.approx(389 / 4)
    assert doc["bad_rows"] == {"count": 0, "shown": []}
    json.dumps(doc, allow_nan=False)


def test_event_rows_from_csv_text_as_the_reports_page_reads_them() -> None:
    text = (DATA / "events.csv").read_text(encoding="utf-8")
    result = analyze_event_rows(text)
    assert result.imports[0].file == "<event-log>"
    assert (result.summary["calls"], result.summary["queued"]) == (6, 5)
    ov = result.kpis.overall
    assert ov["callback_kept_rate"] == pytest.approx(0.5)
    assert ov["promise_kept_rate"] == pytest.approx(0.5)
    assert ov["estimate_bias_s"] == pytest.approx(-20.0)
    assert ov["unannounced_hold_share"] == pytest.approx(0.5)
    assert ov["resolved_rate"] == pytest.approx(2 / 3)
    html = render_report(result)
    assert "<html" in html


def test_several_files_of_different_formats_make_one_table() -> None:
    result = analyze_files([DATA / "anonymous_bank.txt", DATA / "queue_log"])
    assert [i.format for i in result.imports] == ["anonymous-bank", "asterisk"]
    assert result.summary["calls"] == 9 + 8
    queues = {r["queue"] for r in result.kpis.by_queue}
    assert {"PS", "support", "sales"} <= queues


def test_bad_rows_are_counted_and_kept_in_order() -> None:
    result = analyze_files(
        [DATA / "queue_log_bad", DATA / "anonymous_bank_bad.txt"],
        options=AnalysisOptions(max_bad_rows_kept=5, lang="en"),
    )
    assert result.bad_row_count == 22
    assert len(result.bad_rows) == 5
    assert all(isinstance(b, BadRow) for b in result.bad_rows)
    assert str(result.bad_rows[0]).endswith(
        "queue_log_bad:4: <row>: expected 5 to 10 fields "
        "(time|callid|queue|agent|event|data...), found 3"
    )
    doc = result.to_json()
    assert doc["bad_rows"]["count"] == 22
    assert [f["bad_rows"] for f in doc["files"]] == [12, 10]


def test_missing_file_and_no_files() -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        analyze_files([DATA / "nope.csv"])
    with pytest.raises(InvalidInput, match="no files"):
        analyze_files([])


def test_erlang_a_check_uses_measured_staffing() -> None:
    result = analyze_files([DATA / "queue_log"], options=AnalysisOptions(lang="en"))
    assert result.erlang_check is not None
    assert result.erlang_note == "agents logged in and not paused"
    row = result.erlang_check[0]
    # all 8 calls arrived in the half hour from 22:00; SIP/1001 and SIP/1002 logged in at
    # 22:13:20, so 2 x 1000 s of the 1800 s were staffed: 1.1 agents on average, rounded to 1
    assert row.arrivals_per_h == pytest.approx(16.0)
    assert row.agents == 1
    assert row.p_abandon_measured == pytest.approx(0.25)
    assert 0 <= row.p_abandon_predicted <= 1
    assert "erlang_a_check" in result.to_json()


def test_erlang_a_check_without_abandons_says_why(tmp_path: Path) -> None:
    f = tmp_path / "p.csv"
    f.write_text("wait_s,abandoned\n1,false\n2,false\n", encoding="utf-8")
    result = analyze_files([f], options=AnalysisOptions(lang="en"))
    assert result.erlang_check is None
    assert result.erlang_note is not None
    assert "abandons" in result.erlang_note


def test_patience_of_a_wait_csv() -> None:
    doc, result = patience_of_files([DATA / "patience.csv"])
    assert (doc["queued"], doc["abandoned"]) == (10, 5)
    assert doc["abandon_by_wait"]["10"] == pytest.approx(0.2)
    assert doc["abandon_in_interval"]["20"] == pytest.approx(1 / 7)
    assert doc["km_survival"]["10"] == pytest.approx(0.8)
    lo, hi = doc["km_survival_band"]["10"]
    assert lo < 0.8 < hi
    assert doc["km_median_s"] == 60
    assert doc["mean_s"] == pytest.approx(99.0)
    assert doc["recommended_target_s"] == 5
    assert doc["bad_rows"] == 0
    assert result.patience is not None


def test_patience_points_and_level_are_configurable() -> None:
    options = AnalysisOptions(wait_points_s=(15.0, 45.0), survival_level=0.5)
    doc, _ = patience_of_files([DATA / "patience.csv"], options=options)
    assert list(doc["abandon_by_wait"]) == ["15", "45"]
    assert doc["recommended_target_s"] == 60


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="variant"):
        AnalysisOptions(sl_variant="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="interval"):
        AnalysisOptions(interval_min=0)
    with pytest.raises(ValueError, match="negative"):
        AnalysisOptions(fcr_days=-1)
    with pytest.raises(ValueError, match="survival_level"):
        AnalysisOptions(survival_level=1.0)


def test_clean_json_drops_non_finite_numbers() -> None:
    assert clean_json({"a": math.nan, "b": [math.inf, 1.5], "c": (2,)}) == {
        "a": None,
        "b": [None, 1.5],
        "c": [2],
    }
