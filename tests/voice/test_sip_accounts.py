"""Agents on the PBX: SIP accounts escucha keeps, and presence by registration (ADR 23)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.app import create_app
from escucha.auth.models import User
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.errors import Conflict, InvalidInput
from escucha.routing import service as routing
from escucha.routing.models import AgentStatus
from escucha.voice import rules as R
from escucha.voice import sip
from escucha.voice.models import SipAccount
from tests.conftest import START, csrf_from, login
from tests.factories import make_sip_account

S = timedelta(seconds=1)
WS = "ws://127.0.0.1:8088"


@pytest.fixture
def pbx_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sip_ws_url": WS, "sip_domain": "pbx.example.org"})


def _user(session: Session, users: dict[str, int], name: str) -> User:
    user = session.get(User, users[name])
    assert user is not None
    return user


# --- rules --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "-ana", "ana lópez", "a" * 41, "ana;x=1", "ana@pbx"])
def test_a_sip_username_must_fit_pjsip_and_a_uri(name: str) -> None:
    with pytest.raises(ValueError, match="SIP username"):
        R.check_sip_username(name)


def test_the_websocket_url_is_wss_except_on_this_machine() -> None:
    assert R.parse_sip_ws_url(" wss://pbx.example.org:8089/ws ") == "wss://pbx.example.org:8089/ws"
    assert R.parse_sip_ws_url("ws://127.0.0.1:8088") == "ws://127.0.0.1:8088"
    assert R.parse_sip_ws_url("") == ""
    with pytest.raises(ValueError, match="must use wss://"):
        R.parse_sip_ws_url("ws://pbx.example.org:8088/ws")
    with pytest.raises(ValueError, match="not a WebSocket URL"):
        R.parse_sip_ws_url("https://pbx.example.org:8089/ws")
    with pytest.raises(ValueError, match="ESCUCHA_SIP_WS_URL"):
        Settings(sip_ws_url="ws://10.0.0.5:8088/ws")


def test_the_sip_domain_is_the_setting_else_the_pbx_host() -> None:
    assert R.sip_domain("wss://pbx.example.org:8089/ws", "") == "pbx.example.org"
    assert R.sip_domain("ws://127.0.0.1:8088", "") == "127.0.0.1"
    assert R.sip_domain("wss://[::1]:8089/ws", "") == "[::1]"
    assert R.sip_domain("wss://pbx.example.org:8089/ws", "example.org") == "example.org"


# --- accounts -----------------------------------------------------------------------------------


def test_an_account_gets_a_generated_password_shown_once_and_rotated(
    session: Session, users: dict[str, int]
) -> None:
    ana = _user(session, users, "ana")
    issued = make_sip_account(session, ana)
    assert issued.account.username == "ana"
    assert len(issued.password) >= 24
    again = sip.issue(session, ana, now=START + S, phone="desk")
    assert isinstance(again, SipAccount)  # a change of phone shows no password
    assert again.phone == "desk"
    assert again.password == issued.password
    rotated = sip.issue(session, ana, now=START + 2 * S, rotate=True)
    assert isinstance(rotated, sip.Issued)
    assert rotated.password != issued.password
    assert rotated.account.rotated_at == START + 2 * S
    block = sip.pjsip_block("ana", rotated.password, phone="desk")
    assert f"password={rotated.password}" in block
    assert "(escucha-deskphone)" in block


def test_two_agents_cannot_share_a_sip_username_nor_use_a_bad_one(
    session: Session, users: dict[str, int]
) -> None:
    make_sip_account(session, _user(session, users, "ana"), username="agent-7")
    luis = _user(session, users, "luis")
    with pytest.raises(Conflict, match="belongs to another agent"):
        sip.issue(session, luis, now=START, username="agent-7")
    with pytest.raises(InvalidInput, match="SIP username"):
        sip.issue(session, luis, now=START, username="luis garcía")
    with pytest.raises(InvalidInput, match="phone: one of browser, desk"):
        sip.issue(session, luis, now=START, phone="cell")
    assert sip.account_of(session, luis.id) is None


def test_the_desk_gets_credentials_only_for_a_browser_phone_with_a_pbx(
    session: Session, users: dict[str, int], settings: Settings, pbx_settings: Settings
) -> None:
    ana = _user(session, users, "ana")
    assert sip.browser_phone(pbx_settings, None, "Ana") == {"phone": "none"}
    issued = make_sip_account(session, ana)
    assert sip.browser_phone(settings, issued.account, "Ana") == {"phone": "none"}  # no PBX URL
    phone = sip.browser_phone(pbx_settings, issued.account, "Ana López")
    assert phone == {
        "phone": "browser",
        "ws_url": WS,
        "uri": "sip:ana@pbx.example.org",
        "username": "ana",
        "password": issued.password,
        "display_name": "Ana López",
    }
    sip.issue(session, ana, now=START, phone="desk")
    assert sip.browser_phone(pbx_settings, issued.account, "Ana") == {
        "phone": "desk",
        "username": "ana",
    }


# --- presence -----------------------------------------------------------------------------------


def test_a_browser_phone_goes_available_only_registered_and_leaves_after_the_grace(
    session: Session, users: dict[str, int], pbx_settings: Settings
) -> None:
    ana = _user(session, users, "ana")
    make_sip_account(session, ana)
    with pytest.raises(Conflict, match="not registered"):
        sip.check_may_go_available(session, ana.id, now=START, settings=pbx_settings)
    sip.report(session, ana.id, "registering", now=START)
    with pytest.raises(Conflict, match="not registered"):
        sip.check_may_go_available(session, ana.id, now=START, settings=pbx_settings)
    sip.report(session, ana.id, "registered", now=START + S)
    sip.check_may_go_available(session, ana.id, now=START + S, settings=pbx_settings)
    routing.set_agent_state(session, ana.id, "available", now=START + S)

    # registered and reporting: stays available
    sip.report(session, ana.id, "registered", now=START + 20 * S)
    assert sip.sweep(session, now=START + 40 * S, settings=pbx_settings) == 0
    # the PBX dropped the registration: still available within the grace, offline after it
    sip.report(session, ana.id, "failed", now=START + 41 * S)
    sip.report(session, ana.id, "failed", now=START + 61 * S)
    grace = R.AGENT_IDLE_GRACE_S * S
    assert sip.sweep(session, now=START + 41 * S + grace - S, settings=pbx_settings) == 0
    assert sip.sweep(session, now=START + 41 * S + grace + S, settings=pbx_settings) == 1
    status = session.get(AgentStatus, ana.id)
    assert status is not None
    assert status.state == "offline"


def test_a_phone_that_stops_reporting_is_offline_after_the_grace_a_desk_phone_never(
    session: Session, users: dict[str, int], settings: Settings, pbx_settings: Settings
) -> None:
    ana, luis = _user(session, users, "ana"), _user(session, users, "luis")
    make_sip_account(session, ana)
    make_sip_account(session, luis, phone="desk")
    sip.report(session, ana.id, "registered", now=START)
    sip.check_may_go_available(session, luis.id, now=START, settings=pbx_settings)  # desk phone
    for user in (ana, luis):
        routing.set_agent_state(session, user.id, "available", now=START)
    assert sip.sweep(session, now=START + 600 * S, settings=settings) == 0  # no PBX configured
    assert sip.sweep(session, now=START + 29 * S, settings=pbx_settings) == 0
    assert sip.sweep(session, now=START + 31 * S, settings=pbx_settings) == 1
    states = {u.username: session.get(AgentStatus, u.id).state for u in (ana, luis)}  # type: ignore[union-attr]
    assert states == {"ana": "offline", "luis": "available"}


def test_a_report_must_name_a_known_registration_state(
    session: Session, users: dict[str, int]
) -> None:
    ana = _user(session, users, "ana")
    make_sip_account(session, ana)
    with pytest.raises(InvalidInput, match="registration: one of"):
        sip.report(session, ana.id, "online", now=START)


# --- the desk's routes -------------------------------------------------


@pytest.fixture
def pbx_app(pbx_settings: Settings, clock: FrozenClock) -> FastAPI:
    return create_app(pbx_settings, clock=clock)


@pytest.fixture
def ana_desk(pbx_app: FastAPI, users: dict[str, int]) -> Iterator[tuple[TestClient, str]]:
    with TestClient(pbx_app) as c:
        assert login(c, "ana", "escucha-demo").status_code == 303
        page = c.get("/agent")
        assert 'data-sip="/agent/voice/sip"' in page.text
        yield c, csrf_from(page.text)


def test_the_desk_reads_its_own_account_and_reports_registration(
    ana_desk: tuple[TestClient, str], session: Session, users: dict[str, int]
) -> None:
    client, token = ana_desk
    assert client.get("/agent/voice/sip").json() == {"phone": "none"}
    issued = make_sip_account(session, _user(session, users, "ana"))
    session.commit()
    got = client.get("/agent/voice/sip")
    assert got.headers["cache-control"] == "no-store"
    assert got.json()["password"] == issued.password
    available = {"state": "available", "csrf_token": token}
    refused = client.post("/agent/state", data=available, headers={"HX-Request": "true"})
    assert refused.status_code == 409
    assert "not registered" in refused.text
    headers = {"X-CSRF-Token": token}
    r = client.post("/agent/voice/sip", json={"registration": "registered"}, headers=headers)
    assert r.json() == {"registration": "registered"}
    ok = client.post("/agent/state", data=available, headers={"HX-Request": "true"})
    assert ok.status_code == 200
    session.expire_all()
    status = session.get(AgentStatus, users["ana"])
    assert status is not None
    assert status.state == "available"
    bad = client.post("/agent/voice/sip", json={"registration": "up"}, headers=headers)
    assert bad.status_code == 422
    assert "registration: one of" in bad.text
