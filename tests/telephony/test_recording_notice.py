"""The recording notice before the queue, and the caller's refusal (issue 16 item 6; ADR 24).

The notice is data of the IVR (``recording_notice`` in the organisation YAML) said by every
telephony path through the IVR runtime: Twilio's TwiML and the web call here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.app import create_app
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.contacts.models import Contact, ContactEvent
from escucha.ivr import lint
from escucha.ivr import rules as ivr
from escucha.ivr.schemas import IvrSpec
from escucha.ivr.service import say
from escucha.telephony import calls as telephony
from tests.conftest import csrf_from, login
from tests.factories import RECORDING_NOTICE, recording_notice
from tests.telephony.test_twilio_webhooks import SID, Twilio, _seq, twilio_body, twilio_settings
from tests.voice.test_signalling import Page

__all__ = ["twilio_settings"]  # a fixture the tests below use


@pytest.fixture
def notice(session: Session, users: dict[str, int]) -> dict[str, int]:
    recording_notice(session)
    session.commit()
    return users


def _recorded(settings: Settings) -> Settings:
    return settings.model_copy(update={"record_calls": True})


@pytest.fixture
def twilio_recorded(twilio_settings: Settings, clock: FrozenClock) -> Iterator[Twilio]:
    with TestClient(create_app(_recorded(twilio_settings), clock=clock)) as c:
        yield Twilio(c)


@pytest.fixture
def web_recorded(settings: Settings, clock: FrozenClock) -> Iterator[TestClient]:
    with TestClient(create_app(_recorded(settings), clock=clock)) as c:
        yield c


def _notice_rows(session: Session, contact_id: int) -> list[dict[str, object]]:
    session.expire_all()
    rows = session.scalars(
        select(ContactEvent.data).where(
            ContactEvent.contact_id == contact_id, ContactEvent.event == "ivr_choice"
        )
    )
    return [d for d in rows if d.get("node") == ivr.NOTICE_NODE]


def _twilio_contact(session: Session) -> Contact:
    session.expire_all()
    contact = session.scalar(select(Contact).where(Contact.provider_ref == f"twilio:{SID}"))
    assert contact is not None
    return contact


def test_twiml_says_the_notice_before_the_queue_and_9_refuses_the_recording(
    twilio_recorded: Twilio, notice: dict[str, int], session: Session
) -> None:
    first = twilio_recorded.post("/telephony/twilio/voice", twilio_body("voice"))
    to_queue = twilio_recorded.post(
        f"/telephony/twilio/gather?n={_seq(first.text)}", twilio_body("gather", Digits="2")
    )
    xml = to_queue.text
    said = re.search(r"<Gather[^>]*>(.*)</Gather>", xml, re.S)
    assert said is not None, xml
    assert "Esta llamada se graba para mejorar nuestro servicio." in said.group(1)
    assert "Pulse 9 si no desea que se grabe." in said.group(1)
    assert 'input="dtmf"' in xml
    assert 'timeout="4"' in xml
    assert _twilio_contact(session).state == "ivr"  # not in line before the answer

    refused = twilio_recorded.post(
        f"/telephony/twilio/gather?n={_seq(xml)}", twilio_body("gather", Digits="9")
    )
    assert "esta llamada no se grabará" in refused.text
    contact = _twilio_contact(session)
    assert (contact.state, contact.queue) == ("queued", "facturas")
    assert [r["recording"] for r in _notice_rows(session, contact.id)] == ["refused"]
    assert telephony.recording_refused(session, contact)


def test_twiml_goes_on_to_the_queue_recorded_when_no_key_is_pressed(
    twilio_recorded: Twilio, notice: dict[str, int], session: Session
) -> None:
    first = twilio_recorded.post("/telephony/twilio/voice", twilio_body("voice"))
    xml = twilio_recorded.post(
        f"/telephony/twilio/gather?n={_seq(first.text)}", twilio_body("gather", Digits="2")
    ).text
    silent = twilio_recorded.post(f"/telephony/twilio/gather?n={_seq(xml)}", twilio_body("gather"))
    assert "no se grabará" not in silent.text
    contact = _twilio_contact(session)
    assert contact.state == "queued"
    assert [r["recording"] for r in _notice_rows(session, contact.id)] == ["accepted"]
    assert not telephony.recording_refused(session, contact)


def test_without_recording_no_notice_is_said(
    twilio_settings: Settings, clock: FrozenClock, notice: dict[str, int], session: Session
) -> None:
    with TestClient(create_app(twilio_settings, clock=clock)) as c:
        line = Twilio(c)
        first = line.post("/telephony/twilio/voice", twilio_body("voice"))
        xml = line.post(
            f"/telephony/twilio/gather?n={_seq(first.text)}", twilio_body("gather", Digits="2")
        ).text
    assert "se graba" not in xml
    assert _twilio_contact(session).state == "queued"


def _at_notice(page: Page, language: str) -> tuple[str, str]:
    """The web caller dials and chooses billing (key 2): the page at the notice, its input no."""
    html = page.form("/phone/dial", number="600111222", language=language)
    seq = re.search(r'name="n" value="(\d+)"', html)
    assert seq is not None
    at_notice = page.form("/phone/key", digits="2", n=seq.group(1))
    after = re.search(r'name="n" value="(\d+)"', at_notice)
    assert after is not None
    return at_notice, after.group(1)


def test_a_web_caller_hears_the_notice_refuses_and_the_desk_does_not_record(
    web_recorded: TestClient, app_agent: TestClient, notice: dict[str, int], session: Session
) -> None:
    page = Page(web_recorded)
    at_notice, seq = _at_notice(page, "es")
    assert "Esta llamada se graba para mejorar nuestro servicio." in at_notice
    assert "data-notice-continue" in at_notice  # no key: the page goes on by itself
    queued = page.form("/phone/key", digits="9", n=seq)
    assert "no se grabará" in queued
    contact = session.scalar(select(Contact).order_by(Contact.id.desc()).limit(1))
    assert contact is not None
    session.refresh(contact)
    assert contact.state == "queued"
    assert [r["recording"] for r in _notice_rows(session, contact.id)] == ["refused"]

    agent = app_agent
    assert login(agent, "ana", "escucha-demo").status_code == 303
    token = csrf_from(agent.get("/agent").text)
    hx = {"HX-Request": "true"}
    agent.post("/agent/state", data={"state": "available", "csrf_token": token}, headers=hx)
    desk = agent.post(
        f"/agent/contacts/{contact.id}/answer", data={"csrf_token": token}, headers=hx
    ).text
    assert 'data-voice-record="no"' in desk
    leg = agent.post(
        f"/agent/voice/recording/{contact.id}",
        json={"type": "audio/webm"},
        headers={"X-CSRF-Token": token},
    )
    assert leg.status_code == 409
    assert "refused the recording" in leg.text


def test_a_web_caller_who_presses_nothing_is_recorded(
    web_recorded: TestClient, notice: dict[str, int], session: Session
) -> None:
    page = Page(web_recorded)
    at_notice, seq = _at_notice(page, "en")
    assert "This call is recorded to improve our service." in at_notice
    assert "If you do not want this call recorded, press 9." in at_notice  # generated
    page.form("/phone/key", digits="", n=seq)
    contact = session.scalar(select(Contact).order_by(Contact.id.desc()).limit(1))
    assert contact is not None
    session.refresh(contact)
    assert contact.state == "queued"
    assert not telephony.recording_refused(session, contact)


@pytest.fixture
def app_agent(settings: Settings, clock: FrozenClock) -> Iterator[TestClient]:
    with TestClient(create_app(_recorded(settings), clock=clock)) as c:
        yield c


def _model(**notice: object) -> ivr.IvrModel:
    spec = {
        "languages": ["es", "en"],
        "nodes": {"main": {"type": "queue", "queue": "general"}},
        **({"recording_notice": notice} if notice else {}),
    }
    return IvrSpec.model_validate(spec).to_model()


def test_lint_warns_when_calls_are_recorded_without_a_notice_in_each_language() -> None:
    bare = _model()
    assert not [f for f in lint.lint(bare) if f.rule == "recording-notice"]
    (missing,) = [f for f in lint.lint(bare, recording=True) if f.rule == "recording-notice"]
    assert missing.severity == "warning"
    assert "es, en" in say(missing.message, "en")
    half = _model(text={"es": "Esta llamada se graba."})
    (only_en,) = [f for f in lint.lint(half, recording=True) if f.rule == "recording-notice"]
    assert only_en.args["missing"] == "en"
    full = _model(**RECORDING_NOTICE)
    assert not [f for f in lint.lint(full, recording=True) if f.rule == "recording-notice"]


def test_the_runtime_gives_the_notice_in_the_callers_language_and_reads_the_refusal() -> None:
    model = _model(**RECORDING_NOTICE)
    es = [u.text for u in ivr.recording_notice(model, "es")]
    assert es == [
        "Esta llamada se graba para mejorar nuestro servicio.",
        "Pulse 9 si no desea que se grabe.",
    ]
    assert ivr.refuses_recording(model, "9")
    assert not ivr.refuses_recording(model, "1")
    assert not ivr.refuses_recording(model, None)
    plain = _model(text={"es": "Se graba.", "en": "Recorded."})
    assert [u.text for u in ivr.recording_notice(plain, "en")] == ["Recorded."]
    assert not ivr.refuses_recording(plain, "9")  # no refusal where the law does not give one
