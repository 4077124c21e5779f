from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.auth import service
from tests.conftest import START, csrf_from, login
from tests.factories import make_user

pytestmark = pytest.mark.real_passwords


def _users(session: Session) -> None:
    make_user(session, username="ana", role="agent")
    make_user(session, username="sofia", role="supervisor")
    make_user(session, username="root", role="admin")
    make_user(session, username="gone", role="admin").active = False
    session.commit()


def test_login_with_the_right_password_opens_the_role_home(
    client: TestClient, session: Session
) -> None:
    _users(session)
    r = login(client, "sofia", "correct-horse-battery")
    assert r.status_code == 303
    assert r.headers["location"] == "/supervisor"
    page = client.get("/supervisor")
    assert page.status_code == 200
    assert "User" in page.text


def test_a_wrong_password_or_unknown_user_gets_the_same_answer(
    client: TestClient, session: Session
) -> None:
    _users(session)
    wrong = login(client, "sofia", "nope-nope-nope")
    unknown = login(client, "nobody", "nope-nope-nope")
    inactive = login(client, "gone", "correct-horse-battery")
    assert wrong.status_code == unknown.status_code == inactive.status_code == 401
    assert "Usuario o contraseña incorrectos" in wrong.text


def test_pages_send_anonymous_people_to_login_and_api_answers_401(client: TestClient) -> None:
    page = client.get("/admin", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/admin"
    api = client.get("/api/v1/org/queues")
    assert api.status_code == 401
    assert api.json() == {"error": "unauthenticated", "detail": "log in first"}


def test_roles_are_enforced(client: TestClient, session: Session) -> None:
    _users(session)
    login(client, "ana", "correct-horse-battery")
    assert client.get("/agent").status_code == 200
    assert client.get("/admin").status_code == 403
    r = client.get("/api/v1/jobs")
    assert r.status_code == 403
    assert r.json()["error"] == "forbidden"


def test_forms_without_the_csrf_token_are_refused(client: TestClient, session: Session) -> None:
    _users(session)
    client.get("/login")
    r = client.post("/login", data={"username": "ana", "password": "correct-horse-battery"})
    assert r.status_code == 403
    r = client.post(
        "/login",
        data={"username": "ana", "password": "correct-horse-battery", "csrf_token": "forged"},
    )
    assert r.status_code == 403


def test_the_session_is_replaced_at_login(client: TestClient, session: Session) -> None:
    _users(session)
    page = client.get("/login")
    before = client.cookies.get("escucha_session")
    anonymous_csrf = csrf_from(page.text)
    login(client, "ana", "correct-horse-battery")
    after = client.cookies.get("escucha_session")
    assert before
    assert after
    assert before != after
    assert csrf_from(client.get("/agent").text) != anonymous_csrf


def test_logout_ends_the_session(client: TestClient, session: Session) -> None:
    _users(session)
    login(client, "ana", "correct-horse-battery")
    token = csrf_from(client.get("/agent").text)
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/agent", follow_redirects=False).status_code == 303


def test_a_password_change_ends_other_sessions(client: TestClient, session: Session) -> None:
    _users(session)
    login(client, "ana", "correct-horse-battery")
    assert client.get("/agent").status_code == 200
    user = service.authenticate(session, "ana", "correct-horse-battery")
    service.set_password(session, user, "another-long-password", now=START)
    session.commit()
    assert client.get("/agent", follow_redirects=False).status_code == 303


def test_api_tokens_work_and_are_stored_hashed(client: TestClient, session: Session) -> None:
    _users(session)
    root = service.authenticate(session, "root", "correct-horse-battery")
    raw = service.create_token(session, root, "crm", now=START)
    session.commit()
    from escucha.auth.models import ApiToken

    stored = session.query(ApiToken).one()
    assert raw not in (stored.token_hash, stored.prefix)
    r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 200
    assert r.json()["username"] == "root"
    bad = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer esc_wrong"})
    assert bad.status_code == 401
    service.revoke_token(session, stored.id, now=START)
    session.commit()
    assert (
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    )


def test_login_is_rate_limited(client: TestClient, session: Session, app: object) -> None:
    _users(session)
    client.app.state.settings.login_rate_per_min = 3  # type: ignore[attr-defined]
    codes = [login(client, "ana", "wrong-password-x").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert login(client, "ana", "correct-horse-battery").status_code == 429


def test_open_redirects_are_refused(client: TestClient, session: Session) -> None:
    _users(session)
    page = client.get("/login")
    r = client.post(
        "/login",
        data={
            "username": "ana",
            "password": "correct-horse-battery",
            "csrf_token": csrf_from(page.text),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/agent"


def test_an_error_on_a_screen_renders_the_error_page_for_a_signed_in_user(
    client: TestClient, session: Session
) -> None:
    _users(session)
    login(client, "root", "correct-horse-battery")
    token = csrf_from(client.get("/admin").text)
    r = client.post("/admin/jobs/999/retry", data={"csrf_token": token})
    assert r.status_code == 404
    assert "job 999 not found" in r.text
    assert "Administración" in r.text  # the page is rendered for the signed-in admin


def test_a_token_s_last_use_is_kept_to_the_minute_without_a_write_per_request(
    session: Session,
) -> None:
    _users(session)
    root = service.authenticate(session, "root", "correct-horse-battery")
    raw = service.create_token(session, root, "crm", now=START)
    session.commit()
    from escucha.auth.models import ApiToken

    stored = session.query(ApiToken).one()
    service.user_for_token(session, raw, now=START)
    assert stored.last_used_at == START
    session.commit()
    service.user_for_token(session, raw, now=START + timedelta(seconds=30))
    assert not session.dirty  # a read within the minute writes nothing
    service.user_for_token(session, raw, now=START + timedelta(seconds=61))
    assert stored.last_used_at == START + timedelta(seconds=61)
