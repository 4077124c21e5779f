"""``escucha complaints export``: the complaints register as CSV (P5)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from escucha.cli.complaints import register
from escucha.config import Settings
from escucha.tickets import handling, opening
from escucha.tickets.models import Ticket
from tests.conftest import START
from tests.factories import make_agent, make_org

runner = CliRunner()


@pytest.fixture
def app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("ESCUCHA_DATABASE_URL", settings.database_url)
    root = typer.Typer()
    register(root)
    return root


def _file(session: Session, text: str, days: int = 0) -> Ticket:
    return opening.file_complaint(
        session,
        opening.Intake(channel="web", description=text, email="c@example.es"),
        now=START + timedelta(days=days),
        base_url="https://x",
    ).ticket


def test_the_register_lists_complaints_of_the_days_asked_for(
    app: typer.Typer, session: Session, tmp_path: Path
) -> None:
    make_org(session)
    agent = make_agent(session)
    first = _file(session, "Cobro doble")
    second = _file(session, "Corte sin aviso", days=1)
    _file(session, "Otra semana", days=7)
    handling.resolve(
        session, first, 'Devuelto, con coma, y "comillas"', user=agent, now=START, base_url="x"
    )
    session.commit()
    result = runner.invoke(
        app, ["complaints", "export", "--from", "2026-11-23", "--to", "2026-11-24"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["code"] for r in rows] == [first.number, second.number]
    assert rows[0]["resolution"] == 'Devuelto, con coma, y "comillas"'
    assert rows[0]["notified_at"].startswith("2026-11-23T09:00")
    assert rows[1]["deadline"] > rows[1]["received_at"]
    assert rows[1]["channel"] == "web"
    assert rows[1]["kind"] == "complaint"
    out = tmp_path / "registro.csv"
    written = runner.invoke(
        app,
        ["complaints", "export", "--from", "2026-11-01", "--to", "2026-11-29", "--out", str(out)],
    )
    assert written.exit_code == 0
    assert written.stdout == ""
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1 + 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "23/11/2026", "--to", "2026-11-24"], "--from: '23/11/2026' is not a date"),
        (["--from", "2026-11-24", "--to", "2026-11-23"], "is before --from"),
    ],
)
def test_bad_dates_are_usage_errors_on_stderr(
    app: typer.Typer, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["complaints", "export", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""
