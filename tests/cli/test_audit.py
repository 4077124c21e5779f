"""``escucha audit verify``: exit 0 when intact, 1 with the problems when edited."""

from __future__ import annotations

import json

import pytest
import typer
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from escucha.audit import service
from escucha.cli.audit import register
from escucha.config import Settings
from tests.conftest import START

runner = CliRunner()


@pytest.fixture
def app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("ESCUCHA_DATABASE_URL", settings.database_url)
    root = typer.Typer()
    register(root)
    return root


def test_verify_passes_then_finds_an_edit(app: typer.Typer, session: Session) -> None:
    for i in range(3):
        service.record(
            session,
            action="ticket.noted",
            actor="user:1:ana",
            subject_kind="ticket",
            subject_id=1,
            now=START,
            data={"i": i},
        )
    session.commit()
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0
    assert ok.stdout.startswith("audit trail intact: 3 events")
    as_json = json.loads(runner.invoke(app, ["audit", "verify", "--json"]).stdout)
    assert as_json["ok"] is True
    assert as_json["events"] == 3
    session.execute(text("UPDATE audit_events SET actor = 'user:2:eve' WHERE seq = 2"))
    session.commit()
    bad = runner.invoke(app, ["audit", "verify"])
    assert bad.exit_code == 1
    assert "event 2" in bad.stderr
    assert "BROKEN" in bad.stderr
    assert json.loads(runner.invoke(app, ["audit", "verify", "--json"]).stdout)["ok"] is False
