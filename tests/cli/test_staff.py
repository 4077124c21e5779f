"""``escucha staff``: JSON contract, Erlang A switch, shrinkage, reverse calculation, errors."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from escucha.cli.staff import register
from escucha.numerics.erlang import erlang_a, erlang_c

REQUIRED = {"model", "agents", "service_level", "asa_s", "p_wait", "p_abandon", "occupancy"}
BASE = ["staff", "--arrivals-per-hour", "2000", "--aht", "180"]


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """The root command, as in ``escucha``."""

    register(app)
    return app


def run_json(app: typer.Typer, *args: str) -> dict[str, Any]:
    res = CliRunner().invoke(app, [*BASE, *args, "--json"])
    assert res.exit_code == 0, res.output
    doc: dict[str, Any] = json.loads(res.stdout)
    assert set(doc) >= REQUIRED
    return doc


def test_erlang_c_search(app: typer.Typer) -> None:
    doc = run_json(app, "--target-sl", "0.8", "--target-time", "20")
    assert doc["model"] == "erlang-c"
    assert doc["p_abandon"] == 0
    n = doc["agents"]
    assert isinstance(n, int)
    assert float(erlang_c(n, 2000, 180).service_level) >= 0.8
    assert float(erlang_c(n - 1, 2000, 180).service_level) < 0.8
    assert doc["service_level"] == pytest.approx(float(erlang_c(n, 2000, 180).service_level))


def test_erlang_a_with_shrinkage_and_several_targets(app: typer.Typer) -> None:
    doc = run_json(
        app,
        "--target-sl",
        "0.8",
        "--patience",
        "120",
        "--shrinkage",
        "0.3",
        "--spain-95-180",
        "--max-abandon",
        "0.03",
        "--max-occupancy",
        "0.95",
        "--target-asa",
        "15",
    )
    assert doc["model"] == "erlang-a"
    on_phone = doc["agents_on_phone"]
    assert isinstance(on_phone, int)
    assert doc["agents"] == math.ceil(on_phone / 0.7 - 1e-9)
    assert isinstance(doc["p_abandon"], float)
    assert doc["p_abandon"] <= 0.03
    levels = doc["service_levels"]
    assert isinstance(levels, list)
    assert [lv["within_s"] for lv in levels] == [20.0, 180.0]
    assert all(lv["service_level"] >= lv["share_target"] for lv in levels)


def test_reverse_calculation(app: typer.Typer) -> None:
    doc = run_json(app, "--agents", "110", "--patience", "120", "--target-time", "30")
    exact = erlang_a(110, 2000, 180, 120, target_time_s=30).result()
    assert doc["agents"] == 110
    assert doc["agents_on_phone"] == 110
    assert doc["service_level"] == pytest.approx(exact.service_level)
    assert doc["asa_s"] == pytest.approx(exact.asa_s)
    shrunk = run_json(app, "--agents", "100", "--shrinkage", "0.3")
    assert shrunk["agents_on_phone"] == 70
    assert shrunk["stable"] is False


def test_unstable_is_explicit_never_nan(app: typer.Typer) -> None:
    doc = run_json(app, "--agents", "90")
    assert doc["stable"] is False
    assert doc["asa_s"] is None
    assert doc["p_wait"] == 1.0
    assert doc["service_level"] == 0.0


@pytest.mark.parametrize(
    "args",
    [
        [],  # no target at all
        ["--target-sl", "1.5"],
        ["--target-sl", "0.8", "--shrinkage", "1"],
        ["--target-sl", "0.8", "--sl-definition", "weird"],
        ["--agents", "-3"],
        ["--target-sl", "0.8", "--patience", "-5"],
    ],
)
def test_bad_input_exits_2_with_a_message(app: typer.Typer, args: list[str]) -> None:
    res = CliRunner().invoke(app, [*BASE, *args, "--json"])
    assert res.exit_code == 2
    assert res.stdout == ""
    assert "error" in res.stderr


def test_table_output(app: typer.Typer) -> None:
    res = CliRunner().invoke(app, [*BASE, "--target-sl", "0.8", "--spain-95-180"])
    assert res.exit_code == 0
    assert "Agentes programados" in res.stdout
    assert "NS 95/180 s" in res.stdout
    res = CliRunner().invoke(app, [*BASE, "--agents", "90"])
    assert "Unstable" in res.stdout


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--arrivals-per-hour", "1e308", "--aht", "1e308"], "--aht"),
        (["--arrivals-per-hour", "1e308", "--aht", "180"], "--arrivals-per-hour × --aht"),
        (["--arrivals-per-hour", "2000", "--aht", "1e12"], "--aht"),
        (["--arrivals-per-hour", "2000", "--aht", "180", "--patience", "1e308"], "--patience"),
        (["--arrivals-per-hour", "2000", "--aht", "180", "--target-time", "inf"], "--target-time"),
        (["--arrivals-per-hour", "2000", "--aht", "180", "--target-asa", "1e300"], "--target-asa"),
        (["--arrivals-per-hour", "2000", "--aht", "0"], "--aht"),
    ],
)
def test_absurd_numbers_name_the_option_and_why_without_a_traceback(
    app: typer.Typer, args: list[str], option: str
) -> None:
    res = CliRunner().invoke(app, ["staff", *args, "--target-sl", "0.8", "--json"])
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert res.stdout == ""
    assert res.stderr.startswith(f"error: {option}")
    assert "Traceback" not in res.stderr


ABSURD = ("--arrivals-per-hour", "1e308", "--aht", "1e308")


def test_the_reported_command_prints_a_clear_error_not_a_traceback() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "escucha", "staff", *ABSURD],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "--aht: 1e+308 s" in done.stderr
    assert "are these seconds?" in done.stderr
