"""API tokens have a scope, an expiry, die with a password change, and can be listed and
revoked from the command line, the API and the admin page (issue 14, finding 11)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from escucha.auth import service
from escucha.auth.models import ApiToken
from escucha.cli.main import app as cli
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.errors import InvalidInput
from tests.conftest import START, csrf_from, login
from tests.factories import make_user


def _bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def test_a_read_token_only_reads(client: TestClient, session: Session) -> None:
    sup = make_user(session, username="sofia", role="supervisor")
    raw = service.create_token(session, sup, "reports", now=START, scope="read")
    session.commit()
    assert client.get("/api/v1/callbacks", headers=_bearer(raw)).status_code == 200
    r = client.post("/api/v1/contacts", json={"channel": "voice"}, headers=_bearer(raw))
    assert r.status_code == 403
    assert "read scope" in r.json()["detail"]


def test_a_write_token_changes_but_never_reaches_admin_routes(
    client: TestClient, session: Session
) -> None:
    root = make_user(session, username="root", role="admin")
    raw = service.create_token(session, root, "crm", now=START)  # write by default
    session.commit()
    assert client.post("/api/v1/contacts", json={}, headers=_bearer(raw)).status_code == 201
    assert client.get("/api/v1/auth/tokens", headers=_bearer(raw)).status_code == 403
    admin_raw = service.create_token(session, root, "ops", now=START, scope="admin")
    session.commit()
    assert client.get("/api/v1/auth/tokens", headers=_bearer(admin_raw)).status_code == 200


def test_a_token_never_exceeds_its_user_s_role(client: TestClient, session: Session) -> None:
    ana = make_user(session, username="ana", role="agent")
    with pytest.raises(InvalidInput, match="cannot have the admin scope"):
        service.create_token(session, ana, "x", now=START, scope="admin")
    # a token made before scopes existed has the admin scope, capped by the role
    raw = service.create_token(session, ana, "old", now=START)
    session.query(ApiToken).filter(ApiToken.name == "old").update({"scope": "admin"})
    session.commit()
    assert client.get("/api/v1/agents/me", headers=_bearer(raw)).status_code == 200
    assert client.get("/api/v1/callbacks", headers=_bearer(raw)).status_code == 403
    assert client.get("/api/v1/auth/tokens", headers=_bearer(raw)).status_code == 403


def test_a_token_expires(client: TestClient, session: Session, clock: FrozenClock) -> None:
    ana = make_user(session, username="ana", role="agent")
    raw = service.create_token(session, ana, "short", now=START, days=1)
    session.commit()
    assert client.get("/api/v1/auth/me", headers=_bearer(raw)).status_code == 200
    clock.advance(timedelta(days=1))
    assert client.get("/api/v1/auth/me", headers=_bearer(raw)).status_code == 401
    with pytest.raises(InvalidInput, match="days"):
        service.create_token(session, ana, "forever", now=START, days=10_000)


def test_a_password_change_revokes_the_user_s_tokens(client: TestClient, session: Session) -> None:
    ana = make_user(session, username="ana", role="agent")
    luis = make_user(session, username="luis", role="agent")
    raw = service.create_token(session, ana, "desk", now=START)
    other = service.create_token(session, luis, "desk", now=START)
    session.commit()
    service.set_password(session, ana, "a-brand-new-password", now=START)
    session.commit()
    assert client.get("/api/v1/auth/me", headers=_bearer(raw)).status_code == 401
    assert client.get("/api/v1/auth/me", headers=_bearer(other)).status_code == 200
    states = {
        t.name + t.prefix: service.token_state(t, START) for t, _ in service.list_tokens(session)
    }
    assert sorted(states.values()) == ["active", "password"]


def test_admins_list_create_and_revoke_tokens_through_the_api(
    client: TestClient, session: Session
) -> None:
    root = make_user(session, username="root", role="admin")
    make_user(session, username="bot", role="agent")
    admin_raw = service.create_token(session, root, "ops", now=START, scope="admin")
    session.commit()
    made = client.post(
        "/api/v1/auth/tokens",
        json={"name": "crm", "scope": "read", "days": 30, "username": "bot"},
        headers=_bearer(admin_raw),
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["username"] == "bot"
    assert body["scope"] == "read"
    assert body["expires_at"].startswith((START + timedelta(days=30)).date().isoformat())
    listed = client.get("/api/v1/auth/tokens", headers=_bearer(admin_raw)).json()
    assert {t["name"] for t in listed} == {"ops", "crm"}
    assert all("token" not in t and "token_hash" not in t for t in listed)
    crm = next(t for t in listed if t["name"] == "crm")
    assert crm["state"] == "active"
    assert client.get("/api/v1/auth/me", headers=_bearer(body["token"])).status_code == 200
    gone = client.delete(f"/api/v1/auth/tokens/{crm['id']}", headers=_bearer(admin_raw))
    assert gone.status_code == 200
    assert gone.json()["state"] == "revoked"
    assert client.get("/api/v1/auth/me", headers=_bearer(body["token"])).status_code == 401
    refused = client.post(
        "/api/v1/auth/tokens",
        json={"name": "x", "scope": "admin", "username": "bot"},
        headers=_bearer(admin_raw),
    )
    assert refused.status_code == 422
    assert "cannot have the admin scope" in refused.json()["detail"]
    assert client.delete("/api/v1/auth/tokens/9999", headers=_bearer(admin_raw)).status_code == 404


def test_the_command_line_makes_lists_and_revokes_tokens(
    client: TestClient, session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(session, username="sofia", role="supervisor")
    session.commit()
    monkeypatch.setenv("ESCUCHA_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    # what `make demo-traffic` runs keeps working: a write token good for 90 days
    made = runner.invoke(cli, ["users", "token", "sofia", "--name", "demo-traffic"])
    assert made.exit_code == 0, made.output
    raw = made.output.strip()
    assert raw.startswith("esc_")
    assert client.get("/api/v1/agents", headers=_bearer(raw)).status_code == 200
    read = runner.invoke(cli, ["users", "token", "sofia", "--name", "r", "--scope", "read"])
    assert read.exit_code == 0
    bad = runner.invoke(cli, ["users", "token", "sofia", "--scope", "admin"])
    assert bad.exit_code == 1
    assert "cannot have the admin scope" in bad.output
    listed = runner.invoke(cli, ["users", "tokens"])
    assert listed.exit_code == 0
    assert "demo-traffic" in listed.output
    assert raw not in listed.output
    line = next(x for x in listed.output.splitlines() if "demo-traffic" in x)
    assert " write " in line
    assert " active " in line
    token_id = int(line.split()[0])
    revoked = runner.invoke(cli, ["users", "revoke-token", str(token_id)])
    assert revoked.exit_code == 0
    assert client.get("/api/v1/agents", headers=_bearer(raw)).status_code == 401
    assert runner.invoke(cli, ["users", "revoke-token", "999"]).exit_code == 1


def test_the_admin_page_creates_shows_once_lists_and_revokes(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    make_user(session, username="root", role="admin")
    make_user(session, username="bot", role="agent")
    session.commit()
    login(client, "root", "correct-horse-battery")
    page = client.get("/admin/tokens")
    assert page.status_code == 200
    csrf = csrf_from(page.text)
    made = client.post(
        "/admin/tokens",
        data={"username": "bot", "name": "crm", "scope": "read", "days": "7", "csrf_token": csrf},
    )
    assert made.status_code == 200
    assert made.headers["cache-control"] == "no-store"
    value = re.search(r'<code id="new-token">(esc_[^<]+)</code>', made.text)
    assert value
    raw = value.group(1)
    assert client.get("/api/v1/auth/me", headers=_bearer(raw)).json()["username"] == "bot"
    again = client.get("/admin/tokens")
    assert raw not in again.text  # shown once
    assert "crm" in again.text
    assert "read: solo lee" in again.text
    refused = client.post(
        "/admin/tokens",
        data={"username": "bot", "name": "x", "scope": "admin", "days": "7", "csrf_token": csrf},
    )
    assert refused.status_code == 422
    assert "cannot have the admin scope" in refused.text
    token_id = session.query(ApiToken).filter(ApiToken.name == "crm").one().id
    r = client.post(
        f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert client.get("/api/v1/auth/me", headers=_bearer(raw)).status_code == 401
    assert "revocado" in client.get("/admin/tokens").text
    with TestClient(app) as agent:
        login(agent, "bot", "correct-horse-battery")
        assert agent.get("/admin/tokens", follow_redirects=False).status_code == 403
