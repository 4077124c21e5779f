"""Calls through the internal telephony interface, on the database (W1, W2, W6, C1)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from escucha.callbacks.models import Callback
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact, ContactEvent, Estimate
from escucha.errors import Conflict
from escucha.jobs.service import run_due
from escucha.org.models import Organisation
from escucha.routing import service as routing
from escucha.telephony import calls as tel
from escucha.telephony import dialer as tel_dialer
from escucha.telephony import rules as R
from escucha.telephony import turns
from tests.conftest import PG_URL, START
from tests.factories import demo

PHONE = "600111222"
MADRID = ZoneInfo("Europe/Madrid")
# Tuesday 8 December 2026, 10:00 in Madrid: a public holiday. The IVR's weekly hours say open,
# the queues' calendar (with Madrid's holidays) says closed.
HOLIDAY = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
# Monday 23 November 2026, 21:00 in Madrid: after hours.
NIGHT = START + timedelta(hours=11)


def _said(turn: R.Turn) -> str:
    return " ".join(s.text for s in turn.texts())


def _call(
    session: Session, ref: str = "c1", *, now: datetime = START, phone: str | None = PHONE
) -> R.Turn:
    return tel.incoming_call(
        session, provider="browser", call_ref=ref, from_number=phone, now=now, language="es"
    )


def _contact(session: Session, ref: str = "c1") -> Contact:
    contact = tel.find_call(session, "browser", ref)
    assert contact is not None
    return contact


def _events(session: Session, contact: Contact, name: str) -> list[ContactEvent]:
    return [e for e in contacts.events_of(session, contact.id) if e.event == name]


def test_a_call_is_greeted_and_hears_the_menu(session: Session) -> None:
    demo(session)
    turn = _call(session)
    assert turn.phase == "ivr"
    assert turn.listening
    said = _said(turn)
    assert said.startswith("Aguas del Manzanares")
    assert "Para facturas, pulse 2." in said
    assert "Para hablar con una persona, pulse 0." in said
    contact = _contact(session)
    assert (contact.state, contact.ivr_node, contact.provider) == ("ivr", "main", "browser")
    assert contact.customer_id is not None


def test_keys_walk_the_ivr_to_a_queue_and_the_caller_hears_an_estimate(session: Session) -> None:
    demo(session)
    first = _call(session)
    turn = tel.caller_input(session, "browser", "c1", now=START, digits="2", seq=first.seq)
    contact = _contact(session)
    assert turn.phase == "queue"
    assert (contact.state, contact.queue) == ("queued", "facturas")
    assert contact.ivr_path == [{"node": "main", "key": "2"}]
    said = _said(turn)
    assert "Usted es la próxima persona en ser atendida." in said
    assert "El tiempo de espera estimado es de menos de" in said
    assert session.scalar(select(func.count()).select_from(Estimate)) == 1
    assert isinstance(turn.actions[-1], R.Poll)


def test_spoken_keywords_walk_the_ivr(session: Session) -> None:
    demo(session)
    first = _call(session)
    turn = tel.caller_input(
        session, "browser", "c1", now=START, speech="Quiero poner una RECLAMACION", seq=first.seq
    )
    contact = _contact(session)
    assert turn.phase == "queue"
    assert contact.queue == "reclamaciones"
    assert contact.ivr_path == [{"node": "main", "key": "5"}]


def test_the_person_key_works_from_the_menu(session: Session) -> None:
    demo(session)
    _call(session)
    tel.caller_input(session, "browser", "c1", now=START, speech="con una persona")
    contact = _contact(session)
    assert contact.state == "queued"
    assert contact.ivr_path == [{"node": "main", "key": "0"}]


def test_wrong_keys_are_retried_then_lead_to_a_person(session: Session) -> None:
    demo(session)
    _call(session)
    wrong = tel.caller_input(session, "browser", "c1", now=START, digits="7")
    assert wrong.phase == "ivr"
    assert _said(wrong).startswith("Esa opción no es válida.")
    silent = tel.caller_input(session, "browser", "c1", now=START)
    assert _said(silent).startswith("No le he oído.")
    contact = _contact(session)
    assert contact.ivr_path == []
    tried = _events(session, contact, "ivr_choice")
    assert [(e.data["key"], e.data["valid"]) for e in tried] == [("7", False), ("timeout", False)]
    third = tel.caller_input(session, "browser", "c1", now=START, digits="8")
    assert third.phase == "queue"
    assert contact.queue == "facturas"  # the IVR's way to a person


def test_the_repeat_key_says_the_menu_again_and_resets_the_tries(session: Session) -> None:
    demo(session)
    _call(session)
    tel.caller_input(session, "browser", "c1", now=START, digits="7")
    again = tel.caller_input(session, "browser", "c1", now=START, digits="9")
    assert again.phase == "ivr"
    assert "Para facturas, pulse 2." in _said(again)
    tel.caller_input(session, "browser", "c1", now=START, digits="7")
    still = tel.caller_input(session, "browser", "c1", now=START, digits="7")
    assert still.phase == "ivr"  # two tries since the repeat, not three


def test_a_repeated_input_changes_nothing_twice(session: Session) -> None:
    demo(session)
    first = _call(session)
    again = _call(session)  # the incoming webhook retried
    assert again.contact_id == first.contact_id
    a = tel.caller_input(session, "browser", "c1", now=START, digits="2", seq=first.seq)
    b = tel.caller_input(session, "browser", "c1", now=START, digits="2", seq=first.seq)
    assert (a.phase, b.phase) == ("queue", "queue")
    contact = _contact(session)
    assert len(_events(session, contact, "ivr_choice")) == 1
    assert len(_events(session, contact, "queued")) == 1
    assert len(_events(session, contact, "arrived")) == 1
    assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_the_wait_loop_announces_every_interval_and_connects_when_an_agent_frees(
    session: Session,
) -> None:
    users = demo(session)
    first = _call(session)
    tel.caller_input(session, "browser", "c1", now=START, digits="2", seq=first.seq)
    quiet = tel.wait_turn(session, "browser", "c1", now=START + timedelta(seconds=10))
    gather = quiet.actions[0]
    assert isinstance(gather, R.Gather)
    assert gather.prompts == ()
    again = tel.wait_turn(session, "browser", "c1", now=START + timedelta(seconds=31))
    assert "tiempo de espera estimado" in _said(again)
    assert session.scalar(select(func.count()).select_from(Estimate)) == 2
    routing.set_agent_state(session, users["ana"], "available", now=START + timedelta(seconds=40))
    turn = tel.wait_turn(session, "browser", "c1", now=START + timedelta(seconds=41))
    assert turn.phase == "offered"
    assert any(isinstance(a, R.Connect) and a.agent_id == users["ana"] for a in turn.actions)


def test_a_caller_is_put_through_at_once_when_an_agent_is_free(session: Session) -> None:
    users = demo(session)
    routing.set_agent_state(session, users["luis"], "available", now=START)
    _call(session)
    turn = tel.caller_input(session, "browser", "c1", now=START, digits="1")
    assert turn.phase == "offered"
    assert turn.agent_id == users["luis"]
    assert "Le pasamos con una persona." in _said(turn)


def test_the_callback_key_keeps_the_callers_place(session: Session) -> None:
    demo(session)
    _call(session, "early")
    tel.caller_input(session, "browser", "early", now=START, digits="2")
    _call(session, "late", now=START + timedelta(seconds=20), phone="600111333")
    tel.caller_input(session, "browser", "late", now=START + timedelta(seconds=20), digits="2")
    waited = START + timedelta(seconds=60)
    told = tel.wait_turn(session, "browser", "early", now=waited)
    assert "pulse 1" in _said(told)  # nobody on duty: the wait is over the threshold
    turn = tel.wait_turn(session, "browser", "early", now=waited, digits="1")
    assert turn.phase == "callback"
    assert isinstance(turn.actions[-1], R.Hangup)
    early = _contact(session, "early")
    assert early.state == "callback"
    cb = session.scalar(select(Callback).where(Callback.origin_contact_id == early.id))
    assert cb is not None
    assert cb.joined_at == START
    waiting = session.get(Contact, cb.contact_id)
    assert waiting is not None
    assert (waiting.state, waiting.joined_at) == ("queued", START)
    local = cb.due_at.astimezone(MADRID)
    assert f"hoy antes de las {local:%H:%M}" in _said(turn)
    # the place is kept: the callback is ahead of the caller who joined later
    place = routing.tell_estimate(session, _contact(session, "late"), now=waited)
    assert place.estimate.position == 2


def test_a_caller_without_a_number_cannot_take_a_callback(session: Session) -> None:
    demo(session)
    _call(session, phone=None)
    tel.caller_input(session, "browser", "c1", now=START, digits="2")
    turn = tel.wait_turn(session, "browser", "c1", now=START + timedelta(seconds=5), digits="1")
    assert turn.phase == "queue"
    assert "No vemos su número" in _said(turn)
    assert "pulse 1" not in _said(turn)


def test_after_hours_the_ivr_callback_has_a_concrete_time(session: Session) -> None:
    demo(session)
    first = _call(session, now=NIGHT)
    assert "Ahora la oficina está cerrada." in _said(first)
    turn = tel.caller_input(session, "browser", "c1", now=NIGHT, digits="0")
    assert turn.phase == "callback"
    said = _said(turn)
    assert "mañana antes de las" in said
    assert "antes posible" not in said
    cb = session.scalar(select(Callback))
    assert cb is not None
    assert cb.due_at > NIGHT
    assert f"{cb.due_at.astimezone(MADRID):%H:%M}" in said


def test_a_closed_queue_offers_a_callback_at_a_stated_time(session: Session) -> None:
    demo(session)
    _call(session, now=HOLIDAY)
    turn = tel.caller_input(session, "browser", "c1", now=HOLIDAY, digits="2")
    assert turn.phase == "closed"
    said = _said(turn)
    # why it is closed, and when it opens again (Wednesday 9 December at 08:00 in Madrid)
    assert "Hoy estamos cerrados por Inmaculada Concepción." in said
    assert "Volvemos a atender mañana a las 08:00." in said
    assert "mañana antes de las" in said
    assert "pulse 1" in said
    assert "pulse 2" in said
    contact = _contact(session)
    assert contact.state == "ivr"  # never queued in a closed queue
    taken = tel.caller_input(session, "browser", "c1", now=HOLIDAY, digits="1")
    assert taken.phase == "callback"
    cb = session.scalar(select(Callback))
    assert cb is not None
    assert cb.mode == "slot"
    assert cb.not_before > HOLIDAY
    assert "mañana antes de las" in _said(taken)
    assert contact.ivr_path[-1] == {"node": turns.AFTER_HOURS, "key": "1"}


def test_a_closed_queue_takes_a_message(session: Session) -> None:
    demo(session)
    _call(session, now=HOLIDAY)
    tel.caller_input(session, "browser", "c1", now=HOLIDAY, digits="2")
    turn = tel.caller_input(session, "browser", "c1", now=HOLIDAY, speech="dejar un mensaje")
    assert turn.phase == "voicemail"
    assert isinstance(turn.actions[-1], R.Record)
    done = tel.leave_voicemail(
        session, "browser", "c1", now=HOLIDAY, text="Tengo una duda con la factura de octubre."
    )
    assert done.phase == "ended"
    contact = _contact(session)
    assert (contact.state, contact.outcome) == ("ended", "voicemail")
    assert "factura de octubre" in (contact.notes or "")
    ended = _events(session, contact, "ended")
    assert ended[-1].data["reason"] == "voicemail"
    assert ended[-1].data["box"] == "facturas"


def test_hanging_up_while_waiting_abandons_once(session: Session) -> None:
    demo(session)
    _call(session)
    tel.caller_input(session, "browser", "c1", now=START, digits="2")
    later = START + timedelta(seconds=45)
    tel.call_ended(session, "browser", "c1", "completed", now=later)
    tel.call_ended(session, "browser", "c1", "completed", now=later + timedelta(seconds=1))
    contact = _contact(session)
    assert contact.state == "abandoned"
    abandoned = _events(session, contact, "abandoned")
    assert len(abandoned) == 1
    assert abandoned[0].data["wait_s"] == 45.0


def test_hanging_up_in_the_ivr_is_not_an_abandon_from_the_queue(session: Session) -> None:
    demo(session)
    _call(session)
    tel.call_ended(session, "browser", "c1", "completed", now=START + timedelta(seconds=3))
    contact = _contact(session)
    assert contact.state == "abandoned"
    assert _events(session, contact, "abandoned") == []
    assert _events(session, contact, "ended")[-1].data["reason"] == "caller_hung_up"


def test_the_agent_leg_answers_declines_and_ends(session: Session) -> None:
    users = demo(session)
    routing.set_agent_state(session, users["ana"], "available", now=START)
    _call(session)
    tel.caller_input(session, "browser", "c1", now=START, digits="2")
    contact = _contact(session)
    assert contact.state == "offered"
    back = tel.agent_leg(session, "browser", "c1", event="ended", status="no-answer", now=START)
    assert back.phase == "queue"
    assert contact.state == "queued"
    assert "tiempo de espera estimado" in _said(back)
    routing.set_agent_state(session, users["ana"], "available", now=START + timedelta(seconds=5))
    session.refresh(contact)
    assert contact.state == "offered"
    tel.agent_leg(session, "browser", "c1", event="answered", now=START + timedelta(seconds=8))
    assert contact.state == "connected"
    end = START + timedelta(seconds=200)
    tel.agent_leg(session, "browser", "c1", event="ended", status="completed", now=end)
    assert contact.state == "wrap_up"
    assert _events(session, contact, "ended")[-1].data["ended_by"] == "customer"


def test_a_talking_caller_hanging_up_sends_the_agent_to_wrap_up(session: Session) -> None:
    users = demo(session)
    routing.set_agent_state(session, users["ana"], "available", now=START)
    _call(session)
    tel.caller_input(session, "browser", "c1", now=START, digits="2")
    routing.answer(session, users["ana"], _contact(session).id, now=START + timedelta(seconds=2))
    tel.call_ended(session, "browser", "c1", "completed", now=START + timedelta(seconds=90))
    contact = _contact(session)
    assert contact.state == "wrap_up"
    status = routing.agent_status(session, users["ana"], now=START)
    assert status.state == "wrap_up"


def test_without_an_organisation_ivr_the_example_is_used_and_said_in_the_log(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    demo(session)
    org = session.scalar(select(Organisation))
    assert org is not None
    org.ivr = {}
    session.flush()
    with caplog.at_level(logging.WARNING, logger="escucha.telephony"):
        turn = _call(session)
        tel.caller_input(session, "browser", "c1", now=START, digits="2")
    assert _said(turn).startswith("Aguas del Valle")
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "agua.yaml" in messages
    assert "'billing'" in messages  # the example's queue is not the organisation's
    assert _contact(session).state == "queued"


# --- callbacks dialled by an agent ---------------------------------------------------------


def _offered_callback(session: Session, users: dict[str, int], ref: str = "c1") -> Contact:
    _call(session, ref)
    tel.caller_input(session, "browser", ref, now=START, digits="2")
    tel.wait_turn(session, "browser", ref, now=START + timedelta(seconds=5), digits="1")
    routing.set_agent_state(session, users["ana"], "available", now=START + timedelta(seconds=9))
    cb = session.scalar(select(Callback))
    assert cb is not None
    contact = session.get(Contact, cb.contact_id)
    assert contact is not None
    assert (contact.state, contact.agent_id) == ("offered", users["ana"])
    return contact


def test_an_agent_calls_a_browser_phone_customer_back(session: Session, settings: Settings) -> None:
    users = demo(session)
    contact = _offered_callback(session, users)
    now = START + timedelta(seconds=12)
    tel_dialer.dial_callback(session, users["ana"], contact.id, now=now, settings=settings)
    assert contact.provider == "browser"
    assert contact.provider_ref is not None
    assert contact.customer_id is not None
    assert tel_dialer.ringing_callback(session, contact.customer_id) is contact
    ref = contact.provider_ref.split(":", 1)[1]
    turn = tel.callback_answered(session, "browser", ref, now=now + timedelta(seconds=4))
    assert turn.phase == "connected"
    assert "como nos pidió" in _said(turn)
    assert contact.state == "connected"
    cb = session.scalar(select(Callback))
    assert cb is not None
    assert (cb.state, cb.attempts) == ("completed", 1)
    tel.call_ended(session, "browser", ref, "completed", now=now + timedelta(seconds=60))
    assert contact.state == "wrap_up"


def test_an_unanswered_browser_callback_is_tried_again(
    session: Session, settings: Settings
) -> None:
    users = demo(session)
    contact = _offered_callback(session, users)
    tel_dialer.dial_callback(session, users["ana"], contact.id, now=START, settings=settings)
    assert contact.provider_ref is not None
    ref = contact.provider_ref.split(":", 1)[1]
    tel.call_ended(session, "browser", ref, "no-answer", now=START + timedelta(seconds=30))
    cb = session.scalar(select(Callback))
    assert cb is not None
    assert (cb.state, cb.attempts) == ("pending", 1)
    assert cb.next_attempt_at is not None


class FakeCalls:
    def __init__(self) -> None:
        self.made: list[dict[str, Any]] = []

    def create(self, **kwargs: Any) -> Any:
        self.made.append(kwargs)
        return type("Call", (), {"sid": f"CA{len(self.made):032d}"})()


def test_a_twilio_callback_is_dialled_by_a_job_through_the_rest_client(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    users = demo(session)
    twilio_settings = settings.model_copy(
        update={
            "twilio_account_sid": "AC" + "1" * 32,
            "twilio_auth_token": "secret",
            "twilio_from_number": "+34910000000",
            "base_url": "https://escucha.example.org",
        }
    )
    tel.incoming_call(
        session, provider="twilio", call_ref="CA1", from_number="+34600111222", now=START
    )
    tel.caller_input(session, "twilio", "CA1", now=START, digits="2")
    tel.wait_turn(session, "twilio", "CA1", now=START + timedelta(seconds=5), digits="1")
    routing.set_agent_state(session, users["ana"], "available", now=START + timedelta(seconds=9))
    cb = session.scalar(select(Callback))
    assert cb is not None
    tel_dialer.dial_callback(
        session, users["ana"], cb.contact_id, now=START, settings=twilio_settings
    )
    session.commit()
    calls = FakeCalls()
    dialer = tel_dialer.TwilioDialer(
        type("Client", (), {"calls": calls})(),
        from_number="+34910000000",
        base_url="https://escucha.example.org",
    )
    monkeypatch.setattr(tel_dialer, "twilio_dialer", lambda _settings: dialer)
    run_due(session_factory, twilio_settings, clock)
    assert len(calls.made) == 1
    made = calls.made[0]
    assert made["to"] == "+34600111222"
    assert made["from_"] == "+34910000000"
    assert made["url"] == "https://escucha.example.org/telephony/twilio/outbound"
    session.expire_all()
    contact = session.get(Contact, cb.contact_id)
    assert contact is not None
    assert contact.provider_ref == "twilio:CA" + "1".zfill(32)
    run_due(session_factory, twilio_settings, clock)  # a second run dials nothing
    assert len(calls.made) == 1


def test_dialling_someone_elses_callback_is_refused(session: Session, settings: Settings) -> None:
    users = demo(session)
    contact = _offered_callback(session, users)
    with pytest.raises(Conflict):
        tel_dialer.dial_callback(session, users["luis"], contact.id, now=START, settings=settings)


def test_the_agent_sees_the_path_with_labels(session: Session) -> None:
    demo(session)
    _call(session)
    tel.caller_input(session, "browser", "c1", now=START, digits="2")
    assert tel.path_for_agent(session, _contact(session), "es") == ["main: 2 · facturas"]


def test_a_call_declined_on_the_desktop_while_ringing_goes_back_to_the_line(
    session: Session,
) -> None:
    users = demo(session)
    routing.set_agent_state(session, users["ana"], "available", now=START)
    _call(session)
    tel.caller_input(session, "browser", "c1", now=START, digits="2")
    contact = _contact(session)
    routing.decline(session, users["ana"], contact.id, now=START + timedelta(seconds=3))
    turn = tel.agent_leg(
        session,
        "browser",
        "c1",
        event="ended",
        status="completed",
        now=START + timedelta(seconds=4),
    )
    assert turn.phase == "queue"
    assert contact.state == "queued"


@pytest.mark.skipif(not PG_URL, reason="row and advisory locks are PostgreSQL's")
def test_a_call_is_serialised_without_holding_its_row(
    session_factory: sessionmaker[Session],
) -> None:
    # A webhook of a call holds the call's lock, not the contact's row: a routing pass (which
    # holds the routing lock) can still update the row, so the two never wait for each other.
    with session_factory() as s:
        demo(s)
        _call(s)
        s.commit()
    first = session_factory()
    second = session_factory()
    try:
        contact = tel.find_call(first, "browser", "c1", lock=True)
        assert contact is not None
        row = second.execute(
            text("SELECT id FROM contacts WHERE id = :id FOR UPDATE NOWAIT"), {"id": contact.id}
        ).scalar_one()
        assert row == contact.id
        second.rollback()
        # ... while the next webhook of the same call waits for the first.
        second.execute(text("SET LOCAL lock_timeout = '200ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            tel.find_call(second, "browser", "c1", lock=True)
    finally:
        first.rollback()
        second.rollback()
        first.close()
        second.close()


def test_the_24_hour_line_answers_on_a_holiday(session: Session) -> None:
    demo(session)
    # The fault line says "day and night": it takes the call on a public holiday.
    _call(session, now=HOLIDAY)
    leak = tel.caller_input(session, "browser", "c1", now=HOLIDAY, digits="1")
    assert leak.phase == "queue"
    assert "cerrados" not in _said(leak)
