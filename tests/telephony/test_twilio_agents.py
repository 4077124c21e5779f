"""Agents on Twilio's Voice JavaScript SDK: the access token and the TwiML that rings them
(ADR 24). No real Twilio call can be made here: the token is decoded with PyJWT, as Twilio
would, and the TwiML is read."""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pytest
from fastapi.testclient import TestClient

from escucha.app import create_app
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.telephony import rules as R
from escucha.telephony import twilio
from tests.conftest import csrf_from, login

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
