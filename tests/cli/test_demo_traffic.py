"""``escucha demo-traffic`` against a real server for a few seconds, and its refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from escucha.auth import service as auth_service
from escucha.auth.models import User
from escucha.cli.demo_traffic import check_target, register
from escucha.config import Settings
from escucha.contacts.models import Contact, ContactEvent
from tests.conftest import START
from tests.factories import demo
from tests.system.conftest import LiveServer, free_port, running_server


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """escucha"""

    register(app)
    return app


@pytest.fixture
def tokens(session: Session, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The demo organisation and API tokens, in the database before the server starts."""
    demo(session)
    found = {name: _token(session, name) for name in ("sofia", "ana", "luis", "marta")}
    session.commit()
    return found


@pytest.fixture
def server(settings: Settings, tmp_path: Path, tokens: dict[str, str]) -> Iterator[LiveServer]:
    """The server, started once the tokens are in the database."""
    with running_server(settings, tmp_path) as live:
        yield live


def _token(session: Session, username: str) -> str:
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None
    return auth_service.create_token(session, user, "demo-traffic", now=START)


@pytest.mark.parametrize(
    "url",
    ["http://example.org:8000", "http://10.0.0.5:8000", "ftp://127.0.0.1", "127.0.0.1:8000"],
)
def test_only_this_machine_is_a_target(url: str) -> None:
    result = CliRunner().invoke(_app(), ["demo-traffic", "--url", url, "--token", "t"])
    assert result.exit_code == 2
    assert "error:" in result.output


def test_loopback_targets_are_accepted() -> None:
    assert check_target("http://localhost:8000/") == "http://localhost:8000"
    assert check_target("http://127.0.0.1:9") == "http://127.0.0.1:9"


def test_more_bots_than_agent_tokens_is_a_usage_error() -> None:
    result = CliRunner().invoke(
        _app(), ["demo-traffic", "--token", "t", "--agents", "2", "--agent-token", "a"]
    )
    assert result.exit_code == 2
    assert "escucha users token" in result.output


def test_a_server_that_is_not_running_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(_app(), ["demo-traffic", "--url", url, "--token", "t"])
    assert result.exit_code == 1
    assert "does not answer" in result.output


def test_simulated_callers_and_bot_agents_move_the_queues(
    server: LiveServer, tokens: dict[str, str], session: Session
) -> None:
    supervisor = tokens["sofia"]
    bots = [tokens[name] for name in ("ana", "luis", "marta")]
    args = [
        "demo-traffic",
        "--url",
        server.url,
        "--token",
        supervisor,
        "--calls-per-hour",
        "7200",
        "--duration",
        "3",
        "--seed",
        "7",
        "--aht-s",
        "0.5",
        "--wrap-s",
        "0.2",
        "--patience-s",
        "2",
        "--json",
    ]
    for token in bots:
        args += ["--agent-token", token]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["placed"] >= 1
    assert sum(summary["by_queue"].values()) == summary["placed"]
    session.expire_all()
    placed = session.scalar(select(func.count()).where(Contact.provider == "api"))
    assert placed == summary["placed"]
    answered = session.scalar(select(func.count()).where(ContactEvent.event == "answered"))
    assert answered == summary["answered_by_bots"]
    assert summary["answered_by_bots"] >= 1
    # the run leaves nobody waiting and no bot holding a call
    waiting = session.scalar(
        select(func.count()).where(Contact.state.in_(("queued", "offered", "connected")))
    )
    assert waiting == 0
