"""Nothing is a ghost: a silent caller page or agent desk is noticed, at its true time (#16)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.callbacks import service as callbacks
from escucha.callbacks.models import Callback
from escucha.config import Settings
from escucha.contacts.models import Contact, ContactEvent
from escucha.routing import service as routing
from escucha.routing.models import AgentStatus
from escucha.telephony import calls as telephony
from escucha.telephony import dialer
from escucha.voice import rules as R
from escucha.voice import service as voice
from escucha.voice.models import VoiceSignal, WebCaller
from tests.conftest import START
from tests.factories import demo

S = timedelta(seconds=1)


@pytest.fixture
def users(session: Session, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    return demo(session)


def web_call(
    session: Session,
    token: str,
    *,
    now: datetime,
    number: str = "+34600111222",
    language: str = "es",
) -> tuple[Contact, WebCaller]:
    """A page dials and presses 2: it waits in line for facturas."""
    turn = telephony.incoming_call(
        session, provider="browser", call_ref=token, from_number=number, now=now, language=language
    )
    telephony.caller_input(session, "browser", token, now=now + S, digits="2", seq=turn.seq)
    contact = telephony.find_call(session, "browser", token)
    assert contact is not None
    assert contact.state == "queued"
    caller = voice.start_caller(session, token, typed_number=number, now=now)
    voice.join(session, contact, caller=caller, now=now)
    return contact, caller


def events(session: Session, contact: Contact) -> list[str]:
    return [
        e.event
        for e in session.scalars(select(ContactEvent).where(ContactEvent.contact_id == contact.id))
    ]


def test_a_silent_page_abandons_at_the_time_it_was_last_seen_and_is_never_offered(
    session: Session, users: dict[str, int], settings: Settings
) -> None:
    contact, caller = web_call(session, "page-a", now=START)
    voice.caller_beat(session, caller, now=START + 4 * S, media="none")
    assert voice.sweep(session, now=START + 9 * S, settings=settings).callers_gone == 0
    swept = voice.sweep(session, now=START + 11 * S, settings=settings)
    assert (swept.callers_gone, swept.calls_ended) == (1, 1)
    assert contact.state == "abandoned"
    assert contact.ended_at == START + 4 * S  # when the page was last seen, not when noticed
    routing.set_agent_state(session, users["ana"], "available", now=START + 12 * S)
    assert "offered" not in events(session, contact)
    assert "abandoned" in events(session, contact)


def test_a_page_closed_is_gone_at_once_but_a_reload_that_beats_again_is_not(
    session: Session, users: dict[str, int], settings: Settings
) -> None:
    contact, caller = web_call(session, "page-b", now=START)
    voice.caller_leaving(session, caller, now=START + 2 * S)
    voice.caller_beat(session, caller, now=START + 3 * S, media="none")  # reloaded
    voice.sweep(session, now=START + 5 * S, settings=settings)
    assert contact.state == "queued"
    voice.caller_leaving(session, caller, now=START + 6 * S)  # closed for good
    voice.sweep(session, now=START + 6 * S + R.LEAVING_GRACE_S * S + S, settings=settings)
    assert contact.state == "abandoned"
    assert contact.ended_at == START + 6 * S


def test_an_agent_desk_lost_mid_call_puts_the_caller_first_in_line_again(
    session: Session, users: dict[str, int], settings: Settings
) -> None:
    ana, luis = users["ana"], users["luis"]
    contact, caller = web_call(session, "page-c", now=START)
    voice.desk_beat(session, ana, now=START, mic_ok=True)
    routing.set_agent_state(session, ana, "available", now=START + 2 * S)
    routing.answer(session, ana, contact.id, now=START + 3 * S)
    voice.caller_beat(session, caller, now=START + 12 * S, media="connected")
    later, _ = web_call(session, "page-d", now=START + 5 * S)
    swept = voice.sweep(session, now=START + 12 * S, settings=settings)
    assert swept.agents_lost == 1
    assert (contact.state, contact.agent_id) == ("queued", None)
    status = session.get(AgentStatus, ana)
    assert status is not None
    assert status.state == "offline"
    bye = session.scalar(
        select(VoiceSignal).where(VoiceSignal.contact_id == contact.id, VoiceSignal.kind == "bye")
    )
    assert bye is not None
    assert bye.body["reason"] == "agent_lost"
    assert "primero de la cola" in bye.body["text"]
    # first in line: ahead of a caller who joined before the agent was lost
    assert contact.priority > later.priority
    voice.desk_beat(session, luis, now=START + 13 * S, mic_ok=True)
    routing.set_agent_state(session, users["ana"], "offline", now=START + 13 * S)


def test_an_available_agent_whose_desk_is_gone_goes_offline_after_the_grace(
    session: Session, users: dict[str, int], settings: Settings
) -> None:
    ana = users["ana"]
    voice.desk_beat(session, ana, now=START, mic_ok=True)
    routing.set_agent_state(session, ana, "available", now=START)
    voice.sweep(session, now=START + (R.AGENT_IDLE_GRACE_S - 1) * S, settings=settings)
    status = session.get(AgentStatus, ana)
    assert status is not None
    assert status.state == "available"
    voice.sweep(session, now=START + (R.AGENT_IDLE_GRACE_S + 1) * S, settings=settings)
    assert status.state == "offline"


def test_an_agent_without_a_desk_open_is_left_alone(
    session: Session, users: dict[str, int], settings: Settings
) -> None:
    """Agents on the API or Twilio never opened the desk: the sweep does not touch them."""
    routing.set_agent_state(session, users["ana"], "available", now=START)
    voice.sweep(session, now=START + 3600 * S, settings=settings)
    status = session.get(AgentStatus, users["ana"])
    assert status is not None
    assert status.state == "available"


def test_a_callback_rings_only_the_page_that_asked_for_it(
    session: Session, users: dict[str, int], settings: Settings
) -> None:
    """#14 finding 10: another page typing the same number is not rung."""
    contact, asker = web_call(session, "page-e", now=START)
    _other, stranger = web_call(session, "page-f", now=START + S)  # same number typed
    telephony.take_callback(session, "browser", "page-e", now=START + 2 * S)
    cb = session.scalar(select(Callback).where(Callback.origin_contact_id == contact.id))
    assert cb is not None
    ana = users["ana"]
    voice.caller_beat(session, asker, now=START + 3 * S, media="none")
    routing.set_agent_state(session, ana, "available", now=START + 3 * S)
    session.refresh(cb)
    offered = session.get(Contact, cb.contact_id)
    assert offered is not None
    assert offered.agent_id == ana
    dialer.dial_callback(session, ana, offered.id, now=START + 4 * S, settings=settings)
    assert voice.ringing_for(session, asker) == offered
    assert voice.ringing_for(session, stranger) is None
    # the page closes while it rings: a real attempt, not answered
    voice.caller_left(session, asker, at=START + 5 * S, reason="page_closed")
    session.refresh(cb)
    assert (cb.state, cb.attempts) == ("pending", 1)
    assert callbacks.for_contact(session, offered.id) == cb


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("{", "not JSON"),
        ('{"urls": "stun:x"}', "a JSON list"),
        ('[{"urls": "http://x"}]', "not a stun: or turn: URL"),
        ('[{"urls": "turn:x:3478"}]', "needs username"),
        ('[{"urls": ["stun:x"], "ttl": 3}]', "unknown ttl"),
    ],
)
def test_ice_servers_refused_say_where_and_why(raw: str, error: str) -> None:
    with pytest.raises(R.IceServersError, match=error):
        R.parse_ice_servers(raw)


def test_ice_servers_accepted() -> None:
    assert R.parse_ice_servers("") == []
    turn = '[{"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}]'
    assert R.parse_ice_servers(turn) == [
        {"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}
    ]
    with pytest.raises(ValueError, match="ESCUCHA_ICE_SERVERS"):
        Settings(ice_servers="[1]")


def test_a_callback_promise_is_kept_only_by_an_answered_call(
    session: Session, users: dict[str, int], settings: Settings
) -> None:
    from escucha.promises.models import Promise

    contact, asker = web_call(session, "page-g", now=START)
    telephony.take_callback(session, "browser", "page-g", now=START + S)
    cb = session.scalar(select(Callback).where(Callback.origin_contact_id == contact.id))
    assert cb is not None
    assert cb.promise_id is not None
    ana = users["ana"]
    voice.caller_beat(session, asker, now=START + 2 * S, media="none")
    routing.set_agent_state(session, ana, "available", now=START + 2 * S)
    dialer.dial_callback(session, ana, cb.contact_id, now=START + 3 * S, settings=settings)
    promise = session.get(Promise, cb.promise_id)
    assert promise is not None
    assert promise.state == "pending"
    ref = (session.get(Contact, cb.contact_id).provider_ref or "").split(":", 1)[1]  # type: ignore[union-attr]
    telephony.callback_answered(session, "browser", ref, now=START + 9 * S)
    session.refresh(promise)
    assert promise.state == "kept"
