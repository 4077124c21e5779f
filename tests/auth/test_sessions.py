"""Sessions live on the server: logout, a password change or an admin ends them, and a copy
of the cookie taken before stops working (issue 14, finding 6)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from escucha.auth import service
from escucha.auth.models import UserSession
from escucha.cli.main import app as cli
from escucha.clock import FrozenClock
from escucha.config import Settings
from tests.conftest import START, csrf_from, login
from tests.factories import make_user

COOKIE = "escucha_session"


def _copy(app: FastAPI, client: TestClient) -> TestClient:
    """Another browser holding a copy of ``client``'s session cookie."""
    value = client.cookies.get(COOKIE)
    assert value
    return TestClient(app, cookies={COOKIE: value})


def test_a_cookie_copied_before_logout_stops_working(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    make_user(session, username="ana", role="agent")
    session.commit()
    assert login(client, "ana", "correct-horse-battery").status_code == 303
    thief = _copy(app, client)
    assert thief.get("/agent", follow_redirects=False).status_code == 200
    assert thief.get("/api/v1/auth/me").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/agent").text)})
    assert thief.get("/agent", follow_redirects=False).status_code == 303
    assert thief.get("/api/v1/auth/me").status_code == 401
    ended = session.scalars(select(UserSession)).one()
    assert ended.ended_reason == "logout"


def test_logout_ends_only_that_session(app: FastAPI, session: Session) -> None:
    make_user(session, username="ana", role="agent")
    session.commit()
    with TestClient(app) as desk, TestClient(app) as laptop:
        login(desk, "ana", "correct-horse-battery")
        login(laptop, "ana", "correct-horse-battery")
        desk.post("/logout", data={"csrf_token": csrf_from(desk.get("/agent").text)})
        assert desk.get("/agent", follow_redirects=False).status_code == 303
        assert laptop.get("/agent", follow_redirects=False).status_code == 200


def test_a_password_change_ends_a_copied_cookie(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    ana = make_user(session, username="ana", role="agent")
    session.commit()
    login(client, "ana", "correct-horse-battery")
    thief = _copy(app, client)
    assert service.set_password(session, ana, "a-brand-new-password", now=START)
    session.commit()
    assert thief.get("/api/v1/auth/me").status_code == 401
    assert client.get("/api/v1/auth/me").status_code == 401
    # the same password again changes nothing (an org file applied twice ends nobody)
    login(client, "ana", "a-brand-new-password")
    assert not service.set_password(session, ana, "a-brand-new-password", now=START)
    session.commit()
    assert client.get("/api/v1/auth/me").status_code == 200


def test_an_admin_ends_a_user_s_sessions_through_the_api(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    make_user(session, username="ana", role="agent")
    make_user(session, username="root", role="admin")
    session.commit()
    with TestClient(app) as ana:
        login(ana, "ana", "correct-horse-battery")
        login(client, "root", "correct-horse-battery")
        csrf = csrf_from(client.get("/admin").text)
        r = client.post("/api/v1/auth/users/ana/end-sessions", headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200, r.text
        assert r.json() == {"username": "ana", "ended": 1}
        assert ana.get("/api/v1/auth/me").status_code == 401
        assert client.get("/api/v1/auth/me").status_code == 200  # the admin's own goes on
        missing = client.post(
            "/api/v1/auth/users/nobody/end-sessions", headers={"X-CSRF-Token": csrf}
        )
        assert missing.status_code == 404
        # an agent may not end anyone's sessions
        login(ana, "ana", "correct-horse-battery")
        agent_csrf = csrf_from(ana.get("/agent").text)
        refused = ana.post(
            "/api/v1/auth/users/root/end-sessions", headers={"X-CSRF-Token": agent_csrf}
        )
        assert refused.status_code == 403


def test_an_admin_ends_a_user_s_sessions_from_the_command_line(
    app: FastAPI, client: TestClient, session: Session, settings: Settings, monkeypatch: object
) -> None:
    make_user(session, username="ana", role="agent")
    session.commit()
    login(client, "ana", "correct-horse-battery")
    result = CliRunner().invoke(
        cli,
        ["users", "end-sessions", "ana"],
        env={"ESCUCHA_DATABASE_URL": settings.database_url},
    )
    assert result.exit_code == 0, result.output
    assert "1 session(s) of ana ended" in result.output
    assert client.get("/api/v1/auth/me").status_code == 401
    unknown = CliRunner().invoke(
        cli,
        ["users", "end-sessions", "nobody"],
        env={"ESCUCHA_DATABASE_URL": settings.database_url},
    )
    assert unknown.exit_code == 1
    assert "nobody" in unknown.output


def test_a_session_ends_on_the_server_after_its_lifetime(
    client: TestClient, session: Session, clock: FrozenClock, settings: Settings
) -> None:
    make_user(session, username="ana", role="agent")
    session.commit()
    login(client, "ana", "correct-horse-battery")
    clock.advance(timedelta(seconds=settings.session_max_age_s - 60))
    assert client.get("/api/v1/auth/me").status_code == 200
    clock.advance(timedelta(seconds=120))
    assert client.get("/api/v1/auth/me").status_code == 401


def test_a_deactivated_user_s_session_stops(client: TestClient, session: Session) -> None:
    ana = make_user(session, username="ana", role="agent")
    session.commit()
    login(client, "ana", "correct-horse-battery")
    ana.active = False
    session.commit()
    assert client.get("/api/v1/auth/me").status_code == 401


def test_checking_a_session_is_one_query_and_writes_at_most_every_few_minutes(
    session: Session,
) -> None:
    ana = make_user(session, username="ana", role="agent")
    sid = service.start_session(session, ana, now=START, address="10.0.0.1", user_agent="t")
    session.commit()
    seen = START + timedelta(seconds=30)
    assert service.session_user(session, sid, ana.id, now=seen, max_age_s=3600) is ana
    assert not session.dirty
    later = START + service.SESSION_SEEN_RESOLUTION
    assert service.session_user(session, sid, ana.id, now=later, max_age_s=3600) is ana
    row = session.scalars(select(UserSession)).one()
    assert row.last_seen_at == later
    # a session id is bound to its user
    assert service.session_user(session, sid, ana.id + 1, now=later, max_age_s=3600) is None
