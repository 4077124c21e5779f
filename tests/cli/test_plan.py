"""``escucha plan``: a day's plan from a CSV history, as JSON or tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from escucha.cli.plan import register
from tests.staffing.test_service import history_csv


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """The root command, as in ``escucha``."""

    register(app)
    return app


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "history.csv"
    path.write_text(history_csv(3), encoding="utf-8")
    return path


def test_json_plan(app: typer.Typer, history: Path) -> None:
    res = CliRunner().invoke(
        app, ["plan", str(history), "--patience", "120", "--shrinkage", "0.1", "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    rows = doc["intervals"]
    assert len(rows) == 48
    assert doc["interval_s"] == 1800
    assert all(r["on_phone"] >= r["scheduled_required"] for r in rows)
    assert all(r["under"] == 0 for r in rows)
    assert sum(r["on_break"] for r in rows) > 0
    assert doc["forecast_error"]["holdout_intervals"] == 336
    assert doc["totals"]["people"] == sum(s["count"] for s in doc["shifts"])
    assert all(s["breaks"] for s in doc["shifts"])


def test_table_plan_and_other_targets(app: typer.Typer, history: Path) -> None:
    res = CliRunner().invoke(
        app,
        [
            "plan",
            str(history),
            "--spain-95-180",
            "--target-asa",
            "30",
            "--max-occupancy",
            "0.9",
            "--max-abandon",
            "0.05",
            "--patience",
            "90",
            "--under-penalty",
            "50",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Plan del día" in res.stdout
    assert "Turnos" in res.stdout
    assert "WAPE" in res.stdout


def test_errors(app: typer.Typer, tmp_path: Path, history: Path) -> None:
    res = CliRunner().invoke(app, ["plan", str(tmp_path / "none.csv"), "--json"])
    assert res.exit_code == 1
    assert "cannot read" in res.stderr
    assert res.stdout == ""
    res = CliRunner().invoke(app, ["plan", str(history), "--target-sl", "2", "--json"])
    assert res.exit_code == 2
    assert "share" in res.stderr
