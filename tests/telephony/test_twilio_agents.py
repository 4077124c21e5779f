"""Agents on Twilio's Voice JavaScript SDK: the access token and the TwiML that rings them
(ADR 24). No real Twilio call can be made here: the token is decoded with PyJWT, as Twilio
would, and the TwiML is read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from escucha.app import create_app
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.contacts.models import Contact
from escucha.jobs.models import Job
from escucha.jobs.service import run_due
from escucha.routing import service as routing
from escucha.telephony import calls as tel
from escucha.telephony import rules as R
from escucha.telephony import twilio
from tests.conftest import START, csrf_from, login
from tests.telephony.test_twilio_webhooks import (
    Twilio,
    _contact,
    _seq,
    twilio_body,
    twilio_settings,
)
from tests.telephony.test_wake import ACCOUNT as WAKE_ACCOUNT
from tests.telephony.test_wake import (
    CALL,
    FakeTwilioApi,
    _caller_in_line,
    _rest_settings,
    twilio_api,
)

__all__ = ["twilio_api", "twilio_settings"]  # fixtures the tests below use

ACCOUNT = "AC" + "a" * 32
KEY, SECRET, APP = "SK" + "1" * 32, "s3cr3t-of-the-api-key-0123456789", "AP" + "2" * 32


def sdk_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "twilio_account_sid": ACCOUNT,
            "twilio_api_key_sid": KEY,
            "twilio_api_key_secret": SECRET,
            "twilio_twiml_app_sid": APP,
            "twilio_token_ttl_s": 600,
        }
    )


@pytest.fixture
def sdk(settings: Settings, clock: FrozenClock) -> Iterator[TestClient]:
    with TestClient(create_app(sdk_settings(settings), clock=clock)) as c:
        yield c


def _token(client: TestClient) -> tuple[int, dict[str, object]]:
    csrf = csrf_from(client.get("/agent").text)
    r = client.post("/agent/voice/twilio-token", headers={"X-CSRF-Token": csrf})
    return r.status_code, (r.json() if r.status_code == 200 else {"detail": r.text})


def test_an_agent_gets_a_short_voice_token_for_their_own_identity(
    sdk: TestClient, users: dict[str, int]
) -> None:
    assert login(sdk, "ana", "escucha-demo").status_code == 303
    before = time.time()
    status, body = _token(sdk)
    assert status == 200, body
    assert body["identity"] == f"agent-{users['ana']}"
    claims = jwt.decode(str(body["token"]), SECRET, algorithms=["HS256"])
    header = jwt.get_unverified_header(str(body["token"]))
    assert header["cty"] == "twilio-fpa;v=1"
    assert (claims["iss"], claims["sub"]) == (KEY, ACCOUNT)
    grants = claims["grants"]
    assert grants["identity"] == f"agent-{users['ana']}"
    assert grants["voice"]["incoming"] == {"allow": True}
    assert grants["voice"]["outgoing"]["application_sid"] == APP
    assert before + 590 <= claims["exp"] <= time.time() + 600
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(str(body["token"]), "another-secret-of-32-bytes-or-more", algorithms=["HS256"])


def test_the_token_is_refused_to_anyone_not_signed_in_as_an_agent(
    sdk: TestClient, users: dict[str, int]
) -> None:
    anonymous = sdk.post("/agent/voice/twilio-token", follow_redirects=False)
    assert anonymous.status_code in (401, 403)
    assert "eyJ" not in anonymous.text  # no JWT in the answer
    assert login(sdk, "luis", "escucha-demo").status_code == 303
    status, body = _token(sdk)
    assert status == 200
    assert body["identity"] == f"agent-{users['luis']}"  # always the agent's own
    no_csrf = sdk.post("/agent/voice/twilio-token")
    assert no_csrf.status_code == 403


def test_without_the_twilio_settings_no_token_is_made(
    client: TestClient, users: dict[str, int]
) -> None:
    assert login(client, "ana", "escucha-demo").status_code == 303
    status, body = _token(client)
    assert status == 409
    assert "ESCUCHA_TWILIO_API_KEY_SID" in str(body["detail"])


def test_the_twiml_that_puts_a_caller_through_rings_the_agents_client() -> None:
    turn = R.Turn(call="twilio:CA1", contact_id=1, phase="offered", language="es")
    turn = R.Turn(**{**turn.__dict__, "actions": (R.Connect(42),)})
    xml = twilio.twiml(turn)
    assert "<Dial" in xml
    assert ">agent-42</Client></Dial>" in xml
    assert twilio.client_identity(42) == "agent-42"


def test_on_hold_the_phone_line_plays_the_hold_message_and_rings_the_desk_again_after(
    users: dict[str, int], session: Session, clock: FrozenClock, twilio_settings: Settings
) -> None:
    """The desk's hold redirects the Twilio call (a job, after the commit) to TwiML that says
    the hold message in a loop; the agent's leg ending meanwhile does not end the call; resumed,
    ``<Dial><Client>`` rings the agent again."""
    with TestClient(create_app(twilio_settings, clock=clock)) as c:
        line = Twilio(c)
        first = line.post("/telephony/twilio/voice", twilio_body("voice"))
        line.post(
            f"/telephony/twilio/gather?n={_seq(first.text)}", twilio_body("gather", Digits="2")
        )
        routing.set_agent_state(session, users["ana"], "available", now=clock.now())
        session.commit()
        contact = _contact(session)
        routing.answer(session, users["ana"], contact.id, now=clock.now())
        routing.hold(session, users["ana"], contact.id, now=clock.now(), announced=True)
        session.commit()
        jobs = session.scalars(select(Job.payload).where(Job.name == "telephony.hold")).all()
        assert jobs == [{"contact_id": contact.id}]
        held = line.post("/telephony/twilio/wait", twilio_body("wait"))
        assert "Le atendemos enseguida; por favor, no cuelgue." in held.text
        assert "<Dial" not in held.text
        leg = line.post(
            "/telephony/twilio/dialed", twilio_body("dialed", DialCallStatus="completed")
        )
        assert "<Hangup" not in leg.text
        assert _contact(session).state == "on_hold"
        routing.resume(session, users["ana"], contact.id, now=clock.now())
        session.commit()
        back = line.post("/telephony/twilio/wait", twilio_body("wait"))
        assert f">agent-{users['ana']}</Client></Dial>" in back.text


def test_the_hold_job_redirects_the_live_call_to_the_hold_and_back(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
    twilio_api: FakeTwilioApi,
) -> None:
    users = _caller_in_line(session)
    routing.set_agent_state(session, users["ana"], "available", now=START)
    contact = session.scalar(select(Contact).where(Contact.provider_ref == f"twilio:{CALL}"))
    assert contact is not None
    routing.answer(session, users["ana"], contact.id, now=START)
    routing.hold(session, users["ana"], contact.id, now=START, announced=True)
    session.commit()
    rest = _rest_settings(settings, twilio_api)
    clock.advance(10)
    run_due(session_factory, rest, clock)
    redirects = [(p, f["Url"]) for p, f in twilio_api.requests]
    wait = ["https://escucha.example.org/telephony/twilio/wait"]
    assert (f"/2010-04-01/Accounts/{WAKE_ACCOUNT}/Calls/{CALL}.json", wait) in redirects
    held = tel.wait_turn(session, "twilio", CALL, now=START + timedelta(seconds=10))
    assert R.Say("Le atendemos enseguida; por favor, no cuelgue.", "es") in held.texts()
    routing.resume(session, users["ana"], contact.id, now=START + timedelta(seconds=20))
    session.commit()
    twilio_api.requests.clear()
    clock.advance(10)
    run_due(session_factory, rest, clock)
    assert [f["Url"] for _, f in twilio_api.requests] == [wait]
    back = tel.wait_turn(session, "twilio", CALL, now=START + timedelta(seconds=30))
    assert R.Connect(users["ana"]) in back.actions
