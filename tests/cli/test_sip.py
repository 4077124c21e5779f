"""``escucha sip``: agents' accounts on the PBX, the password shown once (ADR 23)."""

from __future__ import annotations

import pytest
import typer
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from escucha.cli.sip import register
from escucha.config import Settings
from escucha.voice import sip


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """The root command, as in ``escucha``."""

    register(app)
    return app


def test_the_command_line_issues_rotates_and_lists_accounts(
    app: typer.Typer,
    session: Session,
    users: dict[str, int],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ESCUCHA_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    made = runner.invoke(app, ["sip", "account", "ana", "--sip-user", "agent-ana"])
    assert made.exit_code == 0, made.output
    assert "SIP user agent-ana" in made.output
    assert "[agent-ana](escucha-webrtc)" in made.output
    session.expire_all()
    first = sip.account_of(session, users["ana"])
    assert first is not None
    assert f"password={first.password}" in made.output
    changed = runner.invoke(app, ["sip", "account", "ana", "--phone", "desk"])
    assert changed.exit_code == 0
    assert "password=" not in changed.output
    rotated = runner.invoke(app, ["sip", "account", "ana", "--rotate"])
    assert "(escucha-deskphone)" in rotated.output
    assert first.password not in rotated.output
    listed = runner.invoke(app, ["sip", "list"])
    assert "agent-ana" in listed.output
    assert "password" not in listed.output.lower()
    wrong = runner.invoke(app, ["sip", "account", "ana", "--phone", "cell"])
    assert wrong.exit_code == 1
    assert "phone: one of browser, desk" in wrong.output
    removed = runner.invoke(app, ["sip", "remove", "ana"])
    assert removed.exit_code == 0
    session.expire_all()
    assert sip.account_of(session, users["ana"]) is None
