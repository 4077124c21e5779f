"""``escucha analyze`` and ``escucha patience``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from escucha.cli.analyze import register

DATA = Path(__file__).parents[1] / "analytics" / "data"


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    register(root)
    return root


def _run(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_analyze_json_contract_only_on_stdout(app: typer.Typer) -> None:
    code, out, err = _run(app, "analyze", str(DATA / "anonymous_bank.txt"), "--json")
    assert code == 0
    doc = json.loads(out)
    assert (doc["calls"], doc["queued"], doc["abandoned"]) == (9, 8, 4)
    assert doc["patience"]["km_median_s"] == 90
    assert "PHANTOM" in err


def test_analyze_reports_bad_rows_on_stderr_and_goes_on(app: typer.Typer) -> None:
    code, out, err = _run(
        app, "analyze", str(DATA / "queue_log_bad"), "--json", "--lang", "en", "--show-bad", "3"
    )
    assert code == 0
    lines = err.splitlines()
    assert lines[0].endswith(
        "queue_log_bad:4: <row>: expected 5 to 10 fields "
        "(time|callid|queue|agent|event|data...), found 3"
    )
    assert lines[1].endswith("queue_log_bad:5: time: not a Unix time: '17000x0300'")
    assert "12 bad rows in 1 file(s) (left out)" in err
    assert "queue_log_bad:7" not in err  # only --show-bad 3 are listed
    assert json.loads(out)["calls"] == 2


def test_analyze_writes_the_html_report(app: typer.Typer, tmp_path: Path) -> None:
    out_file = tmp_path / "report.html"
    code, out, err = _run(
        app, "analyze", str(DATA / "events.csv"), "--out", str(out_file), "--format", "escucha"
    )
    assert code == 0
    html = out_file.read_text(encoding="utf-8")
    assert "Informe de llamadas" in html
    assert "Informe escrito en" in err
    assert "Llamadas" in out  # the summary table


def test_analyze_with_mapping_and_options(app: typer.Typer) -> None:
    code, out, _ = _run(
        app,
        "analyze",
        str(DATA / "vendor_calls.csv"),
        "--mapping",
        str(DATA / "vendor_mapping.yaml"),
        "--json",
        "--sl-threshold",
        "15",
        "--sl-variant",
        "answered",
        "--fcr-days",
        "0.5",
    )
    assert code == 0
    ov = json.loads(out)["kpis"]["overall"]
    # answered within 15 s: calls 1 (12 s) and 3 (3 s) of 2 answered
    assert ov["service_level"] == 1.0
    assert ov["fcr"] == 1.0  # the caller's next call was a day later


def test_analyze_unknown_format_is_a_usage_error(app: typer.Typer) -> None:
    code, _, err = _run(app, "analyze", str(DATA / "queue_log"), "--format", "cisco")
    assert code == 2
    assert "cisco" in err


def test_analyze_unrecognised_file(app: typer.Typer, tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("a,b\n1,2\n", encoding="utf-8")
    code, out, err = _run(app, "analyze", str(f), "--json")
    assert code == 1
    assert out == ""
    assert "x.csv" in err
    assert "--format" in err


def test_analyze_bad_mapping_names_file_and_line(app: typer.Typer, tmp_path: Path) -> None:
    m = tmp_path / "m.yaml"
    m.write_text("columns:\n  wait_s: w\n  abandoned: a\n  colour: c\n", encoding="utf-8")
    code, _, err = _run(app, "analyze", str(DATA / "vendor_calls.csv"), "--mapping", str(m))
    assert code == 1
    assert "m.yaml:1: columns" in err


def test_analyze_no_calls_is_an_error(app: typer.Typer, tmp_path: Path) -> None:
    f = tmp_path / "empty.csv"
    f.write_text("wait_s,abandoned\n", encoding="utf-8")
    code, out, err = _run(app, "analyze", str(f), "--json", "--lang", "en")
    assert code == 1
    assert out == ""
    assert "No calls" in err


def test_patience_json(app: typer.Typer) -> None:
    code, out, _ = _run(app, "patience", str(DATA / "patience.csv"), "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["abandon_by_wait"]["30"] == pytest.approx(0.4)
    assert doc["km_median_s"] == 60
    assert doc["mean_s"] == pytest.approx(99.0)
    assert doc["recommended_target_s"] == 5


def test_patience_of_a_call_log_with_points_and_level(app: typer.Typer) -> None:
    code, out, _ = _run(
        app,
        "patience",
        str(DATA / "anonymous_bank.txt"),
        "--json",
        "--points",
        "30,100",
        "--level",
        "0.5",
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["abandon_by_wait"] == pytest.approx({"30": 1 / 8, "100": 3 / 8})
    assert doc["recommended_target_s"] == 90


def test_patience_table(app: typer.Typer) -> None:
    code, out, _ = _run(app, "patience", str(DATA / "patience.csv"), "--lang", "en")
    assert code == 0
    assert "Survival" in out
    assert "Median: 60.0 s" in out


@pytest.mark.parametrize("points", ["10,x", "30,20", ""])
def test_patience_bad_points(app: typer.Typer, points: str) -> None:
    code, _, _ = _run(app, "patience", str(DATA / "patience.csv"), "--points", points)
    assert code == 2


def test_patience_without_queued_calls(app: typer.Typer, tmp_path: Path) -> None:
    f = tmp_path / "p.csv"
    f.write_text("wait_s,answered,queued\n0,true,false\n", encoding="utf-8")
    code, _, err = _run(app, "patience", str(f), "--json")
    assert code == 1
    assert "cola" in err


def test_patience_unreadable_file(app: typer.Typer, tmp_path: Path) -> None:
    code, _, err = _run(app, "patience", str(tmp_path / "missing.csv"))
    assert code == 1
    assert "missing.csv" in err


def test_analyze_call_table_csv_with_format_calls(app: typer.Typer) -> None:
    code, out, _ = _run(app, "analyze", str(DATA / "patience.csv"), "--format", "calls", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["files"][0]["format"] == "calls"
    assert doc["queued"] == 10


def test_progress_bar_on_a_terminal_for_large_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from escucha.cli import analyze as cli

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=80)
    small = cli._RichProgress(console)
    small.start(10)
    assert small.bar is None  # small inputs: no bar
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", 5)
    bar = cli._RichProgress(console)
    bar.start(100)
    assert bar.bar is not None
    bar.stage("events.csv")
    bar.advance(60)
    assert bar.bar.tasks[0].completed == 60
    assert bar.bar.tasks[0].description == "events.csv"
    bar.stop()
    assert bar.bar is None


def _timed(app: typer.Typer, *args: str) -> tuple[int, str, float]:
    import time

    import escucha.analytics.service  # noqa: F401 - imported before the clock starts

    started = time.perf_counter()
    code, _out, err = _run(app, *args)
    return code, err, time.perf_counter() - started


@pytest.mark.parametrize("fmt", ["auto", "csv", "escucha", "asterisk"])
def test_a_sparse_gigabyte_is_refused_at_once(app: typer.Typer, tmp_path: Path, fmt: str) -> None:
    zeros = tmp_path / "zeros.csv"
    with zeros.open("wb") as fh:
        fh.truncate(1 << 30)  # 1 GB of zeros that takes no disk
    code, err, elapsed = _timed(app, "analyze", str(zeros), "--format", fmt, "--lang", "en")
    assert code == 1
    assert "the file is binary (NUL byte at offset 0), not a text call log" in err
    assert str(zeros) in err
    assert elapsed < 1.0


def test_a_text_head_on_a_sparse_file_is_refused_by_its_hole(
    app: typer.Typer, tmp_path: Path
) -> None:
    f = tmp_path / "log.csv"
    head = (DATA / "vendor_calls.csv").read_bytes()
    with f.open("wb") as fh:
        fh.write(head)
        fh.write(b"x" * (200_000 - len(head)) + b"\n")  # past the first kilobytes looked at
        fh.truncate(1 << 30)
    code, err, elapsed = _timed(app, "analyze", str(f), "--lang", "es")
    assert code == 1
    # a file system that cannot tell holes has the streaming check find the zeros instead
    assert "hueco de ceros" in err or "byte nulo en la posición 200000" in err
    assert elapsed < 1.0


def test_nul_bytes_or_an_endless_line_further_on_stop_the_import(
    app: typer.Typer, tmp_path: Path
) -> None:
    lines = (DATA / "vendor_calls.csv").read_bytes()
    dense = tmp_path / "dense.csv"
    dense.write_bytes(lines + b"\n" * 100_000 + b"\0" * 1_000_000)
    code, err, _ = _timed(app, "analyze", str(dense), "--format", "csv", "--lang", "en")
    assert code == 1
    assert f"NUL byte at offset {len(lines) + 100_000}" in err
    endless = tmp_path / "endless.csv"
    endless.write_bytes((DATA / "patience.csv").read_bytes() + b"a" * 3_000_000)
    code, err, _ = _timed(app, "analyze", str(endless), "--format", "csv", "--lang", "en")
    assert code == 1
    assert "more than 1048576 bytes without an end of line" in err
