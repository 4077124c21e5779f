"""``escucha simulate``: JSON contract, Parquet call records, Erlang A next to the simulation."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from escucha.analytics.schemas import CALLS_SCHEMA
from escucha.cli.simulate import register

BASE = ["simulate", "--arrivals-per-hour", "2000", "--aht", "180", "--agents", "100"]


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """The root command, as in ``escucha``."""

    register(app)
    return app


def test_json_and_parquet(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "calls.parquet"
    args = [*BASE, "--patience", "120", "--customers", "50000", "--seed", "1", "--json"]
    res = CliRunner().invoke(app, [*args, "--out", str(out), "--start", "2025-03-03T08:00:00"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert {"customers", "p_abandon", "p_abandon_ci95", "service_level", "asa_s", "wall_s"} <= set(
        doc
    )
    assert doc["customers"] == 50000
    assert doc["rows_written"] == 50000
    exact = doc["erlang_a"]
    assert abs(doc["p_abandon"] - exact["p_abandon"]) < 3 * doc["p_abandon_ci95"]
    table = pq.read_table(out)
    assert table.schema.equals(CALLS_SCHEMA)
    assert table.num_rows == 50000
    again = json.loads(CliRunner().invoke(app, args).stdout)
    assert again["p_abandon"] == doc["p_abandon"]  # the seed decides everything


def test_lognormal_times_have_no_exact_reference(app: typer.Typer) -> None:
    args = [*BASE, "--patience", "120", "--service-dist", "lognormal", "--customers", "2000"]
    doc = json.loads(CliRunner().invoke(app, [*args, "--json"]).stdout)
    assert "erlang_a" not in doc
    res = CliRunner().invoke(app, [*BASE, "--customers", "2000", "--patience-dist", "lognormal"])
    assert res.exit_code == 0
    assert "Abandono" in res.stdout


def test_table_output(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "c.parquet"
    res = CliRunner().invoke(
        app, [*BASE, "--patience", "120", "--customers", "5000", "--out", str(out)]
    )
    assert res.exit_code == 0
    assert "Erlang A" in res.stdout
    assert "filas / rows" in res.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--customers", "5"],
        ["--customers", "100", "--service-dist", "gamma"],
        ["--customers", "100", "--warmup", "1.5"],
        ["--customers", "100", "--start", "yesterday"],
    ],
)
def test_bad_input_exits_2(app: typer.Typer, args: list[str]) -> None:
    res = CliRunner().invoke(app, [*BASE, *args, "--json"])
    assert res.exit_code == 2
    assert res.stdout == ""
    assert "error" in res.stderr


def test_unwritable_output_exits_1(app: typer.Typer, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app, [*BASE, "--customers", "100", "--out", str(tmp_path / "no" / "x.parquet"), "--json"]
    )
    assert res.exit_code == 1
    assert "error" in res.stderr
