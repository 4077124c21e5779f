"""Administration in the browser: people and organisation settings (day one)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.audit import service as audit
from escucha.audit.models import AuditEvent
from escucha.auth.models import User
from escucha.org import models as org
from tests.conftest import csrf_from, login
from tests.factories import demo_users


@pytest.fixture
def admin(app: FastAPI, session: Session) -> Iterator[TestClient]:
    demo_users(session)
    with TestClient(app) as c:
        assert login(c, "admin", "escucha-admin").status_code == 303
        yield c


def _post(c: TestClient, page: str, action: str, data: dict[str, object]) -> object:
    token = csrf_from(c.get(page).text)
    return c.post(action, data={"csrf_token": token, **data}, follow_redirects=False)


def _user(session: Session, username: str) -> User:
    session.expire_all()
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None
    return user


def test_an_admin_adds_a_person_with_team_skills_and_languages(
    admin: TestClient, session: Session
) -> None:
    page = admin.get("/admin/users")
    assert page.status_code == 200
    assert 'data-user="ana"' in page.text
    r = _post(
        admin,
        "/admin/users",
        "/admin/users",
        {
            "username": "rosa",
            "display_name": "Rosa Gil",
            "role": "agent",
            "team": "averias",
            "skill:averias": "3",
            "skill:ingles": "1",
            "skill:facturas": "0",
            "languages": ["es", "en"],
            "password": "una-clave-larga",
        },
    )
    assert r.status_code == 303  # type: ignore[attr-defined]
    rosa = _user(session, "rosa")
    profile = session.scalar(select(org.AgentProfile).where(org.AgentProfile.user_id == rosa.id))
    assert profile is not None
    assert profile.skills == {"averias": 3, "ingles": 1}
    assert profile.languages == ["es", "en"]
    assert rosa.display_name == "Rosa Gil"
    assert [e.action for e in audit.events_for(session, "user", rosa.id)] == ["user.created"]
    with TestClient(admin.app) as other:
        assert login(other, "rosa", "una-clave-larga").status_code == 303


def test_a_mistake_is_told_and_nothing_is_saved(admin: TestClient, session: Session) -> None:
    r = _post(
        admin,
        "/admin/users",
        "/admin/users",
        {"username": "Mal Nombre", "role": "agent", "team": "nadie"},
    )
    assert r.status_code == 422  # type: ignore[attr-defined]
    assert "username" in r.text  # type: ignore[attr-defined]
    r = _post(admin, "/admin/users", "/admin/users", {"username": "pepe", "team": "nadie"})
    assert "unknown team" in r.text  # type: ignore[attr-defined]
    session.expire_all()
    assert session.scalar(select(User).where(User.username == "pepe")) is None


def test_disabling_a_person_ends_their_sessions(
    app: FastAPI, admin: TestClient, session: Session
) -> None:
    with TestClient(app) as ana:
        assert login(ana, "ana", "escucha-demo").status_code == 303
        assert ana.get("/agent", follow_redirects=False).status_code == 200
        ana_id = _user(session, "ana").id
        r = _post(admin, f"/admin/users/{ana_id}", f"/admin/users/{ana_id}/active", {"active": "0"})
        assert r.status_code == 303  # type: ignore[attr-defined]
        assert _user(session, "ana").active is False
        assert ana.get("/agent", follow_redirects=False).status_code in (303, 401)
        assert login(ana, "ana", "escucha-demo").status_code == 401
    admin_id = _user(session, "admin").id
    r = _post(admin, f"/admin/users/{admin_id}", f"/admin/users/{admin_id}/active", {"active": "0"})
    assert r.status_code == 422  # type: ignore[attr-defined]
    assert _user(session, "admin").active is True


def test_a_reset_password_is_shown_once_and_works(
    app: FastAPI, admin: TestClient, session: Session
) -> None:
    luis = _user(session, "luis")
    r = _post(admin, f"/admin/users/{luis.id}", f"/admin/users/{luis.id}/password", {})
    found = re.search(r'<code id="new-password">([^<]+)</code>', r.text)  # type: ignore[attr-defined]
    assert found
    with TestClient(app) as c:
        assert login(c, "luis", "escucha-demo").status_code == 401
        assert login(c, "luis", found.group(1)).status_code == 303
    assert "new-password" not in admin.get(f"/admin/users/{luis.id}").text


def test_editing_a_person_changes_role_and_skills(admin: TestClient, session: Session) -> None:
    marta = _user(session, "marta")
    r = _post(
        admin,
        f"/admin/users/{marta.id}",
        f"/admin/users/{marta.id}",
        {"display_name": "Marta Ruiz", "role": "supervisor", "skill:facturas": "2"},
    )
    assert r.status_code == 303  # type: ignore[attr-defined]
    marta = _user(session, "marta")
    assert marta.role == "supervisor"
    changed = [e for e in audit.events_for(session, "user", marta.id) if e.action == "user.changed"]
    assert changed[0].data["before"]["role"] == "agent"
    assert changed[0].data["after"]["role"] == "supervisor"


def test_a_settings_section_is_checked_like_the_file_and_applied(
    admin: TestClient, session: Session
) -> None:
    page = admin.get("/admin/config/queues")
    assert page.status_code == 200
    text = re.search(r'<textarea id="yaml"[^>]*>(.*?)</textarea>', page.text, re.S)
    assert text
    yaml = text.group(1).replace("&#39;", "'").replace("&#34;", '"').replace("&amp;", "&")
    assert "sl_target_pct: 80" in yaml
    # A mistake: an unknown team, told by line, and nothing changes.
    bad = yaml.replace("team: atencion", "team: nadie", 1)
    line = bad.splitlines().index(next(x for x in bad.splitlines() if "team: nadie" in x)) + 1
    r = _post(admin, "/admin/config/queues", "/admin/config/queues", {"yaml": bad})
    assert r.status_code == 422  # type: ignore[attr-defined]
    assert f"line {line}" in r.text or f"línea {line}" in r.text  # type: ignore[attr-defined]
    assert "unknown team" in r.text  # type: ignore[attr-defined]
    # A good change is applied and audited.
    good = yaml.replace("sl_target_pct: 80", "sl_target_pct: 85", 1)
    r = _post(admin, "/admin/config/queues", "/admin/config/queues", {"yaml": good})
    assert r.status_code == 303  # type: ignore[attr-defined]
    session.expire_all()
    facturas = session.scalar(select(org.Queue).where(org.Queue.name == "facturas"))
    assert facturas is not None
    assert facturas.sl_target_pct == 85
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "org.section_changed"))
    assert event is not None
    assert event.subject_ref == "queues"
    # The IVR and the people were left as they were.
    assert session.scalar(select(org.Organisation)).ivr  # type: ignore[union-attr]
    assert _user(session, "ana").password_hash


def test_only_admins_reach_administration(app: FastAPI, session: Session) -> None:
    demo_users(session)
    with TestClient(app) as c:
        assert login(c, "sofia", "escucha-demo").status_code == 303
        for path in ("/admin/users", "/admin/config", "/admin/config/queues"):
            assert c.get(path, follow_redirects=False).status_code == 403, path
