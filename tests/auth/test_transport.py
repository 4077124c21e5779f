"""The session cookie is ``Secure`` in production, and forwarding headers are believed only
from the proxies named in ESCUCHA_TRUSTED_PROXIES (issue 14, findings 9 and 12)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.app import create_app
from escucha.auth.models import LoginEvent, UserSession
from escucha.clock import FrozenClock
from escucha.config import Settings, load_settings
from escucha.errors import ConfigurationError
from tests.conftest import login
from tests.factories import make_user

SECRET = "x" * 40


def test_secure_cookies_are_on_in_production_and_cannot_be_turned_off() -> None:
    assert Settings(environment="production", secret_key=SECRET).cookies_secure
    assert not Settings(environment="development").cookies_secure
    assert Settings(environment="development", secure_cookies=True).cookies_secure
    with pytest.raises(ConfigurationError, match="ESCUCHA_SECURE_COOKIES"):
        load_settings(environment="production", secret_key=SECRET, secure_cookies=False)


def test_the_production_session_cookie_carries_the_secure_flag(
    settings: Settings, clock: FrozenClock, session: Session
) -> None:
    make_user(session, username="ana", role="agent")
    session.commit()
    prod = settings.model_copy(update={"environment": "production"})
    with TestClient(create_app(prod, clock=clock), base_url="https://testserver") as https:
        r = login(https, "ana", "correct-horse-battery")
        assert r.status_code == 303
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("escucha_session=")
        assert "secure" in cookie.lower()
        assert "httponly" in cookie.lower()
        assert https.get("/agent", follow_redirects=False).status_code == 200


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    ok = Settings(trusted_proxies="10.0.0.5, 192.168.1.0/24")
    assert ok.trusted_proxy_list == ["10.0.0.5", "192.168.1.0/24"]
    with pytest.raises(ConfigurationError, match="not an IP address"):
        load_settings(trusted_proxies="proxy.example")


def _login_from(settings: Settings, clock: FrozenClock, peer: str, forwarded: str) -> None:
    with TestClient(create_app(settings, clock=clock), client=(peer, 5000)) as c:
        page = c.get("/login")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        c.post(
            "/login",
            data={"username": "ana", "password": "correct-horse-battery", "csrf_token": token},
            headers={"X-Forwarded-For": forwarded, "X-Forwarded-Proto": "https"},
            follow_redirects=False,
        )


def test_forwarded_for_is_believed_only_from_a_named_proxy(
    settings: Settings, clock: FrozenClock, session: Session
) -> None:
    make_user(session, username="ana", role="agent")
    session.commit()
    # no proxy named: the header of anyone, loopback included, is ignored
    _login_from(settings, clock, "127.0.0.1", "203.0.113.1")
    # a named network: its forwarded client is the caller (a forged left part is skipped)
    behind = settings.model_copy(update={"trusted_proxies": "10.1.0.0/16"})
    _login_from(behind, clock, "10.1.2.3", "6.6.6.6, 203.0.113.2")
    # a peer outside it is not believed
    _login_from(behind, clock, "10.2.0.1", "203.0.113.3")
    seen = list(session.scalars(select(LoginEvent.address).order_by(LoginEvent.id)))
    assert seen == ["127.0.0.1", "203.0.113.2", "10.2.0.1"]
    assert set(session.scalars(select(UserSession.address))) == set(seen)
