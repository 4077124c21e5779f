"""Twilio voice webhooks: signatures, retries, TwiML, the wait loop (W1, W2, W6, C1).

Request bodies carry Twilio's documented parameters; signatures are computed with Twilio's own
``RequestValidator`` (base64 HMAC-SHA1 of the full URL and the sorted POST parameters).
"""

from __future__ import annotations

import io
import re
import wave
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from escucha.app import create_app
from escucha.callbacks.models import Callback
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.contacts.models import Contact, ContactEvent
from escucha.ivr import audio
from escucha.routing import service as routing
from tests.conftest import START

TOKEN = "12345678901234567890123456789012"
ACCOUNT = "AC" + "a" * 32
SID = "CA" + "b" * 32


def twilio_body(event: str, **extra: str) -> dict[str, str]:
    """A webhook body with the parameters Twilio sends on every voice request."""
    body = {
        "CallSid": SID,
        "AccountSid": ACCOUNT,
        "From": "+34600111222",
        "To": "+34910000000",
        "CallStatus": "in-progress" if event != "voice" else "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        "Caller": "+34600111222",
        "Called": "+34910000000",
        "FromCountry": "ES",
        "ToCountry": "ES",
    }
    body.update(extra)
    return body


def sign(url: str, body: dict[str, str], token: str = TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, body))


class Twilio:
    """Posts signed webhooks the way Twilio does."""

    def __init__(self, client: TestClient, base: str = "http://testserver") -> None:
        self.client = client
        self.base = base

    def post(self, path: str, body: dict[str, str], *, signature: str | None = "sign") -> Any:
        headers = {}
        if signature == "sign":
            headers["X-Twilio-Signature"] = sign(self.base + path, body)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        return self.client.post(path, data=body, headers=headers)


@pytest.fixture
def twilio_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"twilio_auth_token": TOKEN, "twilio_account_sid": ACCOUNT})


@pytest.fixture
def twilio(twilio_settings: Settings, clock: FrozenClock) -> Iterator[Twilio]:
    with TestClient(create_app(twilio_settings, clock=clock)) as c:
        yield Twilio(c)


def _count(session: Session, event: str) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).where(ContactEvent.event == event)) or 0)


def _contact(session: Session) -> Contact:
    session.expire_all()
    contact = session.scalar(select(Contact).where(Contact.provider_ref == f"twilio:{SID}"))
    assert contact is not None
    return contact


def _seq(xml: str) -> str:
    found = re.search(r"/gather\?n=(\d+)", xml)
    assert found, xml
    return found.group(1)


def test_a_signed_incoming_call_gets_a_spoken_menu(twilio: Twilio, users: dict[str, int]) -> None:
    r = twilio.post("/telephony/twilio/voice", twilio_body("voice"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/xml")
    xml = r.text
    assert "<Gather" in xml
    assert 'input="dtmf speech"' in xml
    assert 'language="es-ES"' in xml
    assert '<Say language="es-ES">Aguas del Manzanares, buenos días.</Say>' in xml
    assert 'action="/telephony/twilio/gather?n=1"' in xml
    assert 'actionOnEmptyResult="true"' in xml


@pytest.mark.parametrize("signature", [None, "", "bm90IGEgc2lnbmF0dXJl"])
def test_a_missing_or_wrong_signature_is_refused(
    twilio: Twilio, users: dict[str, int], session: Session, signature: str | None
) -> None:
    r = twilio.post("/telephony/twilio/voice", twilio_body("voice"), signature=signature)
    assert r.status_code == 403
    assert session.scalar(select(func.count()).select_from(Contact)) == 0


def test_a_signature_for_other_parameters_is_refused(twilio: Twilio, users: dict[str, int]) -> None:
    body = twilio_body("voice")
    forged = sign("http://testserver/telephony/twilio/voice", {**body, "From": "+34699999999"})
    r = twilio.post("/telephony/twilio/voice", body, signature=forged)
    assert r.status_code == 403


def test_a_signature_with_another_token_is_refused(twilio: Twilio, users: dict[str, int]) -> None:
    body = twilio_body("voice")
    other = sign("http://testserver/telephony/twilio/voice", body, token="x" * 32)
    assert twilio.post("/telephony/twilio/voice", body, signature=other).status_code == 403


def test_without_an_auth_token_every_webhook_is_refused(
    client: TestClient, users: dict[str, int]
) -> None:
    body = twilio_body("voice")
    signature = sign("http://testserver/telephony/twilio/voice", body)
    r = client.post("/telephony/twilio/voice", data=body, headers={"X-Twilio-Signature": signature})
    assert r.status_code == 403
    assert "ESCUCHA_TWILIO_AUTH_TOKEN" in r.json()["detail"]


def test_behind_a_proxy_the_public_url_is_signed(
    twilio_settings: Settings, clock: FrozenClock, users: dict[str, int]
) -> None:
    public = "https://voz.example.org"
    proxied = twilio_settings.model_copy(update={"base_url": public})
    with TestClient(create_app(proxied, clock=clock)) as c:
        body = twilio_body("voice")
        internal = Twilio(c).post("/telephony/twilio/voice", body)
        assert internal.status_code == 403
        r = Twilio(c, base=public).post("/telephony/twilio/voice", body)
        assert r.status_code == 200
        assert f'action="{public}/telephony/twilio/gather?n=1"' in r.text


def test_a_retried_webhook_changes_nothing_twice(
    twilio: Twilio, users: dict[str, int], session: Session
) -> None:
    first = twilio.post("/telephony/twilio/voice", twilio_body("voice"))
    again = twilio.post("/telephony/twilio/voice", twilio_body("voice"))
    assert again.status_code == 200
    assert session.scalar(select(func.count()).select_from(Contact)) == 1
    assert _count(session, "arrived") == 1
    n = _seq(first.text)
    path = f"/telephony/twilio/gather?n={n}"
    chosen = twilio.post(path, twilio_body("gather", Digits="2"))
    retried = twilio.post(path, twilio_body("gather", Digits="2"))
    assert chosen.status_code == retried.status_code == 200
    assert _count(session, "ivr_choice") == 1
    assert _count(session, "queued") == 1
    contact = _contact(session)
    assert (contact.state, contact.queue) == ("queued", "facturas")
    assert contact.ivr_path == [{"node": "main", "key": "2"}]
    # the retry hears the wait loop, not the menu again
    assert "/telephony/twilio/wait" in retried.text
    ended = twilio.post("/telephony/twilio/status", twilio_body("status", CallStatus="completed"))
    twilio.post("/telephony/twilio/status", twilio_body("status", CallStatus="completed"))
    assert ended.status_code == 200
    assert _count(session, "abandoned") == 1


def test_spoken_words_are_understood(
    twilio: Twilio, users: dict[str, int], session: Session
) -> None:
    first = twilio.post("/telephony/twilio/voice", twilio_body("voice"))
    r = twilio.post(
        f"/telephony/twilio/gather?n={_seq(first.text)}",
        twilio_body("gather", SpeechResult="Tengo una fuga en casa", Confidence="0.91"),
    )
    assert r.status_code == 200
    assert _contact(session).queue == "averias"
    assert '<Say language="es-ES">Le pasamos con el servicio de averías' in r.text


def test_a_silent_caller_is_asked_again(twilio: Twilio, users: dict[str, int]) -> None:
    first = twilio.post("/telephony/twilio/voice", twilio_body("voice"))
    r = twilio.post(f"/telephony/twilio/gather?n={_seq(first.text)}", twilio_body("gather"))
    assert "No le he oído." in r.text
    assert "/telephony/twilio/gather?n=2" in r.text


def test_the_wait_loop_announces_and_connects_when_an_agent_frees(
    twilio: Twilio, users: dict[str, int], session: Session, clock: FrozenClock
) -> None:
    first = twilio.post("/telephony/twilio/voice", twilio_body("voice"))
    queued = twilio.post(
        f"/telephony/twilio/gather?n={_seq(first.text)}", twilio_body("gather", Digits="2")
    )
    xml = queued.text
    assert "El tiempo de espera estimado es de menos de" in xml
    assert '<Pause length="2" />' in xml
    assert '<Redirect method="POST">/telephony/twilio/wait</Redirect>' in xml
    clock.advance(timedelta(seconds=3))
    quiet = twilio.post("/telephony/twilio/wait", twilio_body("wait"))
    assert "<Say" not in quiet.text
    assert "<Dial" not in quiet.text
    routing.set_agent_state(session, users["ana"], "available", now=clock.now())
    session.commit()
    clock.advance(timedelta(seconds=3))
    connect = twilio.post("/telephony/twilio/wait", twilio_body("wait"))
    assert "<Dial" in connect.text
    assert f">agent-{users['ana']}</Client></Dial>" in connect.text
    assert 'statusCallbackEvent="answered"' in connect.text
    answered = twilio.post(
        "/telephony/twilio/agent",
        {
            "CallSid": "CA" + "c" * 32,
            "ParentCallSid": SID,
            "AccountSid": ACCOUNT,
            "CallStatus": "in-progress",
            "From": "client:anonymous",
            "To": f"client:agent-{users['ana']}",
        },
    )
    assert answered.status_code == 200
    assert _contact(session).state == "connected"
    clock.advance(timedelta(seconds=120))
    done = twilio.post(
        "/telephony/twilio/dialed", twilio_body("dialed", DialCallStatus="completed")
    )
    assert "<Hangup />" in done.text
    assert _contact(session).state == "wrap_up"


def test_an_agent_who_does_not_pick_up_sends_the_caller_back_to_the_line(
    twilio: Twilio, users: dict[str, int], session: Session, clock: FrozenClock
) -> None:
    routing.set_agent_state(session, users["ana"], "available", now=clock.now())
    session.commit()
    first = twilio.post("/telephony/twilio/voice", twilio_body("voice"))
    offered = twilio.post(
        f"/telephony/twilio/gather?n={_seq(first.text)}", twilio_body("gather", Digits="2")
    )
    assert "<Client" in offered.text
    clock.advance(timedelta(seconds=20))
    back = twilio.post(
        "/telephony/twilio/dialed", twilio_body("dialed", DialCallStatus="no-answer")
    )
    assert "/telephony/twilio/wait" in back.text
    assert _contact(session).state == "queued"


def test_the_callback_key_in_the_wait_loop_keeps_the_place(
    twilio: Twilio, users: dict[str, int], session: Session, clock: FrozenClock
) -> None:
    first = twilio.post("/telephony/twilio/voice", twilio_body("voice"))
    twilio.post(f"/telephony/twilio/gather?n={_seq(first.text)}", twilio_body("gather", Digits="2"))
    clock.advance(timedelta(seconds=40))
    r = twilio.post("/telephony/twilio/wait?n=2", twilio_body("wait", Digits="1"))
    again = twilio.post("/telephony/twilio/wait?n=2", twilio_body("wait", Digits="1"))
    assert "Le llamaremos hoy antes de las" in r.text
    assert "<Hangup />" in r.text
    assert again.text == r.text
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Callback)) == 1
    cb = session.scalar(select(Callback))
    assert cb is not None
    assert cb.joined_at == START


def test_a_voicemail_is_recorded_when_the_queue_is_closed(
    twilio_settings: Settings, users: dict[str, int], session: Session
) -> None:
    holiday = FrozenClock(START.replace(month=12, day=8))  # Madrid's holiday, 10:00
    with TestClient(create_app(twilio_settings, clock=holiday)) as c:
        twilio = Twilio(c)
        first = twilio.post("/telephony/twilio/voice", twilio_body("voice"))
        closed = twilio.post(
            f"/telephony/twilio/gather?n={_seq(first.text)}", twilio_body("gather", Digits="2")
        )
        assert "mañana antes de las" in closed.text
        record = twilio.post(
            f"/telephony/twilio/gather?n={_seq(closed.text)}", twilio_body("gather", Digits="2")
        )
        assert '<Record action="/telephony/twilio/recorded"' in record.text
        url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE{'d' * 32}"
        saved = twilio.post(
            "/telephony/twilio/recorded",
            twilio_body("recorded", RecordingUrl=url, RecordingDuration="14"),
        )
        assert "Hemos recibido su mensaje." in saved.text
    contact = _contact(session)
    assert (contact.state, contact.outcome) == ("ended", "voicemail")
    assert url in (contact.notes or "")


def test_a_twilio_callback_the_customer_answers_is_put_through(
    twilio: Twilio,
    twilio_settings: Settings,
    users: dict[str, int],
    session: Session,
    clock: FrozenClock,
) -> None:
    from escucha.telephony import calls as tel

    first = twilio.post("/telephony/twilio/voice", twilio_body("voice"))
    twilio.post(f"/telephony/twilio/gather?n={_seq(first.text)}", twilio_body("gather", Digits="2"))
    twilio.post("/telephony/twilio/wait", twilio_body("wait", Digits="1"))
    routing.set_agent_state(session, users["ana"], "available", now=clock.now())
    cb = session.scalar(select(Callback))
    assert cb is not None
    contact = session.get(Contact, cb.contact_id)
    assert contact is not None
    contact.provider = "twilio"
    contact.provider_ref = "twilio:CA" + "e" * 32  # as the dial job leaves it
    session.commit()
    body = twilio_body("outbound", CallSid="CA" + "e" * 32, Direction="outbound-api")
    r = twilio.post("/telephony/twilio/outbound", body)
    assert r.status_code == 200
    assert "como nos pidió" in r.text
    assert f">agent-{users['ana']}</Client>" in r.text
    session.expire_all()
    assert tel.find_call(session, "twilio", "CA" + "e" * 32) is not None
    assert session.get(Contact, cb.contact_id).state == "connected"  # type: ignore[union-attr]


def test_with_rest_credentials_the_line_waits_in_silence_and_the_woken_fetch_connects(
    twilio_settings: Settings, users: dict[str, int], session: Session, clock: FrozenClock
) -> None:
    """ADR 12: the wait loop stays silent until the next announcement; once an agent is
    chosen only the fetch escucha's redirect causes (``?woken=1``) connects at first."""
    woken_settings = twilio_settings.model_copy(update={"base_url": "http://testserver"})
    with TestClient(create_app(woken_settings, clock=clock)) as c:
        line = Twilio(c)
        first = line.post("/telephony/twilio/voice", twilio_body("voice"))
        queued = line.post(
            f"/telephony/twilio/gather?n={_seq(first.text)}", twilio_body("gather", Digits="2")
        )
        assert "El tiempo de espera estimado es de menos de" in queued.text
        assert '<Pause length="30" />' in queued.text
        routing.set_agent_state(session, users["ana"], "available", now=clock.now())
        session.commit()
        clock.advance(timedelta(seconds=1))
        plain = line.post("/telephony/twilio/wait", twilio_body("wait"))
        assert "<Dial" not in plain.text
        assert '<Pause length="2" />' in plain.text
        woken = line.post("/telephony/twilio/wait?woken=1", twilio_body("wait"))
        assert f">agent-{users['ana']}</Client></Dial>" in woken.text
        forged = line.post(
            "/telephony/twilio/wait?woken=1",
            twilio_body("wait"),
            signature=sign("http://testserver/telephony/twilio/wait", twilio_body("wait")),
        )
        assert forged.status_code == 403  # the query is part of what Twilio signs


def test_a_prompt_recorded_in_the_ivr_editor_is_played_instead_of_said(
    twilio: Twilio, twilio_settings: Settings, users: dict[str, int]
) -> None:
    first = twilio.post("/telephony/twilio/voice", twilio_body("voice")).text
    said = re.findall(r'<Say language="es-ES">([^<]+)</Say>', first)
    menu = next(t for t in said if t.startswith("Para una fuga"))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x10\x00\xf0\xff" * 4000)
    kept = audio.store_recorded(out.getvalue(), menu, "es", audio.recorded_dir(twilio_settings))
    again = twilio.post("/telephony/twilio/voice", twilio_body("voice", CallSid="CA" + "c" * 32))
    url = f"{twilio_settings.public_url}/telephony/recorded/{kept.path.name}"
    assert f"<Play>{url}</Play>" in again.text
    assert menu not in again.text
    assert "Aguas del Manzanares" in again.text  # the greeting changes with the hour: said
    fetched = twilio.client.get(f"/telephony/recorded/{kept.path.name}")
    assert fetched.status_code == 200
    assert fetched.content == kept.path.read_bytes()
    assert twilio.client.get(f"/telephony/recorded/{'0' * 32}.wav").status_code == 404
