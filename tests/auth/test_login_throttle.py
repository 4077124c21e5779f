"""Wrong passwords slow down one (account, address) pair with exponential backoff; an address
has an overall limit; nobody can lock an account for everyone; admins see the attempts
(issue 14, finding 7)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.auth import service
from escucha.clock import FrozenClock
from tests.conftest import csrf_from, login
from tests.factories import make_user

PASSWORD = "correct-horse-battery"


@pytest.fixture
def from_address(app: FastAPI) -> Iterator[object]:
    """``from_address("10.0.0.7")``: a browser connecting from that address."""
    opened: list[TestClient] = []

    def make(address: str) -> TestClient:
        c = TestClient(app, client=(address, 40000))
        c.__enter__()
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)


def test_a_stranger_cannot_lock_out_an_account(
    app: FastAPI, session: Session, from_address: object
) -> None:
    make_user(session, username="root", role="admin")
    session.commit()
    app.state.settings.login_rate_per_min = 10
    stranger = from_address("203.0.113.9")  # type: ignore[operator]
    codes = [login(stranger, "root", "guess-number-x").status_code for _ in range(12)]
    assert codes[:5] == [401] * 5
    assert 429 in codes[5:]  # the stranger is slowed down...
    admin = from_address("198.51.100.20")  # type: ignore[operator]
    assert login(admin, "root", PASSWORD).status_code == 303  # ...the admin is not


def test_failures_back_off_exponentially_per_account_and_address(
    app: FastAPI, session: Session, clock: FrozenClock, from_address: object
) -> None:
    make_user(session, username="ana", role="agent")
    session.commit()
    app.state.settings.login_rate_per_min = 1000
    browser = from_address("203.0.113.5")  # type: ignore[operator]
    for _ in range(service.FREE_FAILURES):
        assert login(browser, "ana", "wrong-password-1").status_code == 401
    slowed = login(browser, "ana", PASSWORD)  # even the right password waits: no oracle
    assert slowed.status_code == 429
    assert slowed.headers["Retry-After"] == "2"
    assert "Demasiados intentos" in slowed.text
    clock.advance(2)
    assert login(browser, "ana", "wrong-password-2").status_code == 401
    clock.advance(2)
    assert login(browser, "ana", "wrong-password-3").status_code == 429  # now 4 s
    clock.advance(2)
    assert login(browser, "ana", "wrong-password-3").status_code == 401
    # the waits double up to a ceiling
    assert service.backoff(service.FREE_FAILURES + 3) == timedelta(seconds=16)
    assert service.backoff(40) == service.BACKOFF_CAP
    # the other accounts of this address and this account elsewhere are not slowed down
    make_user(session, username="luis", role="agent")
    session.commit()
    assert login(browser, "luis", PASSWORD).status_code == 303
    assert login(from_address("198.51.100.1"), "ana", PASSWORD).status_code == 303  # type: ignore[operator]
    # a success from the address starts the count again
    clock.advance(8)
    assert login(browser, "ana", PASSWORD).status_code == 303
    assert login(browser, "ana", "wrong-password-4").status_code == 401


def test_an_address_has_an_overall_limit_across_accounts(
    app: FastAPI, session: Session, from_address: object
) -> None:
    for name in ("a1", "a2", "a3", "a4"):
        make_user(session, username=name, role="agent")
    session.commit()
    app.state.settings.login_rate_per_min = 3
    sprayer = from_address("203.0.113.77")  # type: ignore[operator]
    codes = [login(sprayer, n, "wrong-password-x").status_code for n in ("a1", "a2", "a3", "a4")]
    assert codes == [401, 401, 401, 429]
    assert login(from_address("198.51.100.3"), "a4", PASSWORD).status_code == 303  # type: ignore[operator]


def test_admins_see_refused_logins(
    app: FastAPI, client: TestClient, session: Session, from_address: object
) -> None:
    make_user(session, username="root", role="admin")
    make_user(session, username="ana", role="agent")
    session.commit()
    app.state.settings.login_rate_per_min = 1000
    attacker = from_address("203.0.113.66")  # type: ignore[operator]
    for _ in range(service.FREE_FAILURES + 1):
        login(attacker, "root", "wrong-password-x")
    login(client, "root", PASSWORD)
    home = client.get("/admin")
    assert 'id="refused-logins">6<' in home.text
    page = client.get("/admin/logins")
    assert page.status_code == 200
    assert "203.0.113.66" in page.text
    assert "contraseña errónea" in page.text
    assert "frenado" in page.text
    api = client.get("/api/v1/auth/login-failures")
    assert api.status_code == 200
    rows = api.json()
    assert [r["outcome"] for r in rows].count("failed") == service.FREE_FAILURES
    assert [r["outcome"] for r in rows].count("throttled") == 1
    assert {r["address"] for r in rows} == {"203.0.113.66"}
    assert {r["username"] for r in rows} == {"root"}
    # agents do not see them
    with TestClient(app) as agent:
        login(agent, "ana", PASSWORD)
        assert agent.get("/api/v1/auth/login-failures").status_code == 403
        assert agent.get("/admin/logins", follow_redirects=False).status_code == 403


def test_the_admin_page_ends_a_user_s_sessions(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    make_user(session, username="root", role="admin")
    make_user(session, username="ana", role="agent")
    session.commit()
    with TestClient(app) as ana:
        login(ana, "ana", PASSWORD)
        login(client, "root", PASSWORD)
        csrf = csrf_from(client.get("/admin/logins").text)
        r = client.post(
            "/admin/users/end-sessions",
            data={"username": "ana", "csrf_token": csrf},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert ana.get("/agent", follow_redirects=False).status_code == 303
