"""Calls driven through the ARI stand-in end to end, as the Twilio webhooks' tests drive theirs:
call in, the IVR, keys, queue announcements, an agent reached by originate and a bridge, hold,
transfer, a callback keeping the place, after hours, the recording attached (W1, W2, W6, C1)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha import yamlio
from escucha.asterisk.consumer import AriConsumer
from escucha.asterisk.models import AriChannel
from escucha.callbacks import service as callbacks
from escucha.callbacks.models import Callback
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.contacts.models import Contact, ContactEvent
from escucha.ivr.orgcheck import storable_ivr
from escucha.org.models import Organisation
from escucha.routing import service as routing
from escucha.speech.models import SpeechTranscript
from escucha.telephony import dialer
from escucha.voice import service as voice
from escucha.voice.models import VoiceRecording
from tests.asterisk.conftest import (
    Said,
    call_contact,
    call_for_ana,
    call_state,
    queued_call,
    talking_with_ana,
    wait_until,
)
from tests.asterisk.standin import AriStandIn
from tests.factories import START

BANCO = Path(__file__).resolve().parents[2] / "src/escucha/ivr/examples/banco.yaml"


def _state_of(session: Session, contact_id: int) -> str | None:
    session.expire_all()
    contact = session.get(Contact, contact_id)
    return contact.state if contact is not None else None


def _events(session: Session, contact_id: int, event: str) -> int:
    session.expire_all()
    return int(
        session.scalar(
            select(func.count()).where(
                ContactEvent.contact_id == contact_id, ContactEvent.event == event
            )
        )
        or 0
    )


def test_a_call_walks_the_ivr_and_hears_its_place_every_30_s(
    node: AriConsumer, standin: AriStandIn, session: Session, said: Said, clock: FrozenClock
) -> None:
    cid = standin.call_in()
    wait_until(lambda: said.heard(standin, cid), what="the greeting")
    assert standin.calls("POST", f"/channels/{cid}/answer")
    assert said.heard(standin, cid)[0].startswith("Aguas del Manzanares")
    standin.dtmf(cid, "2", repeat=True)  # the same event twice: one choice
    wait_until(lambda: call_state(session, cid) == "queued", what="the caller in line")
    contact = call_contact(session, cid)
    assert contact is not None
    assert contact.queue == "facturas"
    wait_until(lambda: node.driver.counters.repeats >= 1, what="the repeated key to arrive")
    assert _events(session, contact.id, "ivr_choice") == 1
    wait_until(lambda: standin.moh_on(cid), what="music on hold")
    heard = said.heard(standin, cid)
    assert any("El tiempo de espera estimado es de menos de" in t for t in heard)
    assert _events(session, contact.id, "estimate_given") == 1
    clock.advance(timedelta(seconds=31))
    wait_until(
        lambda: _events(session, contact.id, "estimate_given") == 2, what="the next announcement"
    )
    wait_until(lambda: standin.moh_on(cid), what="the music again after the announcement")
    standin.hangup(cid)
    wait_until(lambda: call_state(session, cid) == "abandoned", what="the abandonment")
    assert _events(session, contact.id, "abandoned") == 1


def test_an_agent_is_reached_by_originate_and_a_bridge_and_the_call_is_recorded(
    make_node: object,
    ari_settings: Settings,
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
    users: dict[str, int],
) -> None:
    settings = ari_settings.model_copy(update={"record_calls": True})
    node = make_node("recording", settings=settings)  # type: ignore[operator]
    wait_until(node.connected.is_set)
    standin.auto_answer["PJSIP/ana"] = 0.05
    cid = call_for_ana(standin, session, said, clock, users["ana"])
    wait_until(lambda: call_state(session, cid) == "connected", what="the agent to answer")
    contact = call_contact(session, cid)
    assert contact is not None
    assert contact.agent_id == users["ana"]
    originated = standin.originated()
    assert originated[-1]["endpoint"] == "PJSIP/ana"
    assert originated[-1]["app"] == "escucha"
    assert originated[-1]["appArgs"] == f"agent,{cid}"
    leg = originated[-1]["channelId"]
    wait_until(lambda: any(len(b["channels"]) == 2 for b in standin.bridges.values()))
    bridge = next(iter(standin.bridges.values()))
    assert set(bridge["channels"]) == {cid, leg}
    assert bridge["bridge_type"] == "mixing"
    wait_until(lambda: standin.calls("POST", "/record"), what="the bridge recorded")
    assert standin.calls("POST", "/record")[0]["name"] == f"escucha-call-{contact.id}"
    assert not standin.moh_on(cid)
    # the desk puts the customer on hold (told), then resumes
    routing.hold(session, users["ana"], contact.id, now=clock.now(), announced=True)
    session.commit()
    wait_until(lambda: standin.moh_on(cid), what="music on hold for the held customer")
    assert cid not in bridge["channels"]
    wait_until(lambda: standin.muted(leg), what="the agent's aside kept out of the recording")
    routing.resume(session, users["ana"], contact.id, now=clock.now())
    session.commit()
    wait_until(lambda: cid in bridge["channels"] and not standin.moh_on(cid), what="resume")
    assert not standin.muted(leg)
    held = session.scalar(
        select(ContactEvent).where(
            ContactEvent.contact_id == contact.id, ContactEvent.event == "hold_started"
        )
    )
    assert held is not None
    assert held.data["announced"] is True
    clock.advance(timedelta(seconds=90))
    standin.hangup(leg)  # the agent hangs up
    wait_until(lambda: call_state(session, cid) == "wrap_up", what="the end of the conversation")
    wait_until(lambda: cid not in standin.legs, what="the caller's channel hung up")
    ended = session.scalar(
        select(ContactEvent).where(
            ContactEvent.contact_id == contact.id, ContactEvent.event == "ended"
        )
    )
    assert ended is not None
    assert ended.data["ended_by"] == "agent"
    wait_until(
        lambda: session.scalar(select(func.count()).select_from(VoiceRecording)) == 1,
        what="the recording attached",
    )
    rec = session.scalar(select(VoiceRecording))
    assert rec is not None
    assert (rec.contact_id, rec.user_id, rec.content_type) == (
        contact.id,
        users["ana"],
        "audio/wav",
    )
    assert rec.bytes > 44
    # and sent to transcription like a web call's leg
    asked = session.scalar(
        select(SpeechTranscript).where(SpeechTranscript.contact_id == contact.id)
    )
    assert asked is not None
    assert (asked.source, asked.recording_uri) == (
        "voice",
        str(voice.recording_pieces(rec, settings)[0]),
    )


def test_an_agent_who_does_not_answer_sends_the_caller_back_to_the_line(
    node: AriConsumer,
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
    users: dict[str, int],
) -> None:
    cid = call_for_ana(standin, session, said, clock, users["ana"])
    wait_until(lambda: standin.leg_of(f"{cid}-a"), what="the agent's phone to ring")
    assert call_state(session, cid) == "offered"
    assert standin.moh_on(cid)
    standin.reject_leg(standin.leg_of(f"{cid}-a")[0], cause=19)
    wait_until(lambda: call_state(session, cid) == "queued", what="back in line")
    wait_until(lambda: standin.moh_on(cid))
    contact = call_contact(session, cid)
    assert contact is not None
    assert _events(session, contact.id, "declined") == 1


def test_the_callback_key_keeps_the_place_and_the_callback_is_dialled_through_the_trunk(
    node: AriConsumer,
    ari_settings: Settings,
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
    users: dict[str, int],
) -> None:
    cid = queued_call(standin, session, said)
    clock.advance(timedelta(seconds=40))
    standin.dtmf(cid, "1")
    wait_until(lambda: call_state(session, cid) == "callback", what="the callback")
    wait_until(lambda: cid not in standin.legs, what="the line to hang up after the promise")
    assert any("Le llamaremos hoy antes de las" in t for t in said.heard(standin, cid))
    cb = session.scalar(select(Callback))
    assert cb is not None
    assert cb.joined_at == START
    # the organisation's trunk; an agent takes the callback and dials it through the PBX
    organisation = session.scalar(select(Organisation))
    assert organisation is not None
    organisation.pbx_trunk = "PJSIP/{number}@carrier"
    callbacks.release(session, cb, now=clock.now())
    routing.set_agent_state(session, users["ana"], "available", now=clock.now())
    session.commit()
    contact = session.get(Contact, cb.contact_id)
    assert contact is not None
    assert contact.state == "offered"
    standin.auto_answer["PJSIP/34600111222@carrier"] = 0.05
    standin.auto_answer["PJSIP/ana"] = 0.05
    dialer.dial_callback(session, users["ana"], contact.id, now=clock.now(), settings=ari_settings)
    session.commit()
    wait_until(lambda: standin.originated(), what="the customer dialled")
    dialled = standin.originated()[0]
    assert dialled["endpoint"] == "PJSIP/34600111222@carrier"
    assert dialled["appArgs"] == "callback"
    wait_until(
        lambda: _state_of(session, cb.contact_id) == "connected", what="the customer put through"
    )
    customer_leg = dialled["channelId"]
    assert any("como nos pidió" in t for t in said.heard(standin, customer_leg))
    wait_until(lambda: any(len(b["channels"]) == 2 for b in standin.bridges.values()))
    session.expire_all()
    assert session.get(Callback, cb.id).state == "completed"  # type: ignore[union-attr]


def test_after_hours_the_caller_leaves_a_message_with_the_concrete_promise(
    node: AriConsumer, standin: AriStandIn, session: Session, said: Said, clock: FrozenClock
) -> None:
    clock.set(START.replace(month=12, day=8))  # a holiday in Madrid, 10:00
    cid = standin.call_in()
    wait_until(lambda: said.heard(standin, cid))
    standin.dtmf(cid, "2")
    wait_until(lambda: any("mañana antes de las" in t for t in said.heard(standin, cid)))
    standin.dtmf(cid, "2")
    wait_until(lambda: standin.calls("POST", f"/channels/{cid}/record"), what="recording")
    record = standin.calls("POST", f"/channels/{cid}/record")[0]
    assert (record["format"], record["terminateOn"], record["beep"]) == ("wav", "#", "true")
    wait_until(lambda: standin.live_recordings, what="the recording to start")
    standin.dtmf(cid, "#")
    wait_until(lambda: call_state(session, cid) == "ended", what="the message kept")
    wait_until(lambda: cid not in standin.legs, what="the goodbye and hang-up")
    contact = call_contact(session, cid)
    assert contact is not None
    assert contact.outcome == "voicemail"
    assert f"/recordings/stored/escucha-vm-{contact.id}/file" in (contact.notes or "")
    assert any("Hemos recibido su mensaje." in t for t in said.heard(standin, cid))


def test_a_transfer_on_the_desk_puts_the_caller_back_in_line_for_the_other_queue(
    node: AriConsumer,
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
    users: dict[str, int],
) -> None:
    cid, leg, contact_id = talking_with_ana(standin, session, said, clock, users["ana"])
    routing.transfer(session, users["ana"], contact_id, "averias", now=clock.now(), note="fuga")
    session.commit()
    wait_until(lambda: leg not in standin.legs, what="the agent's leg hung up")
    wait_until(lambda: standin.moh_on(cid), what="the caller waiting again")
    session.expire_all()
    contact = call_contact(session, cid)
    assert contact is not None
    assert (contact.state, contact.queue) in {
        ("queued", "averias"),
        ("offered", "averias"),
    }
    assert not standin.bridges


def test_a_caller_who_hangs_up_during_a_prompt_is_abandoned_and_404s_are_normal(
    node: AriConsumer, standin: AriStandIn, session: Session, said: Said
) -> None:
    standin.play_s = 0.5
    cid = standin.call_in()
    wait_until(lambda: said.heard(standin, cid))
    standin.hangup(cid)
    wait_until(lambda: call_state(session, cid) == "abandoned", what="the abandonment")
    session.expire_all()
    row = session.scalar(select(AriChannel).where(AriChannel.channel_id == cid))
    assert row is not None
    assert row.ended_at is not None
    # escucha still stops the playback that ended with the call: 404, and nothing breaks
    second = standin.call_in()
    wait_until(lambda: call_state(session, second) == "ivr")
    assert node.connected.is_set()


def test_ending_the_call_on_the_desk_hangs_up_both_sides(
    node: AriConsumer,
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
    users: dict[str, int],
) -> None:
    cid, leg, contact_id = talking_with_ana(standin, session, said, clock, users["ana"])
    routing.end_call(session, users["ana"], contact_id, now=clock.now(), ended_by="agent")
    session.commit()
    wait_until(lambda: cid not in standin.legs and leg not in standin.legs, what="both hung up")
    assert call_state(session, cid) == "wrap_up"
    ended = [e for e in standin.events if e["type"] == "ChannelDestroyed"]
    assert {e["channel"]["id"] for e in ended} == {cid, leg}


def test_the_ivr_transfers_to_a_number_through_the_trunk(
    node: AriConsumer, standin: AriStandIn, session: Session, said: Said, clock: FrozenClock
) -> None:
    organisation = session.scalar(select(Organisation))
    assert organisation is not None
    organisation.ivr = storable_ivr(yamlio.load(BANCO)["ivr"])
    organisation.pbx_trunk = "PJSIP/{number}@carrier"
    session.commit()
    clock.set(START.replace(hour=22))  # 23:00 in Madrid: the bank's night menu
    cid = standin.call_in()
    wait_until(lambda: said.heard(standin, cid), what="the night menu")
    standin.dtmf(cid, "1")
    wait_until(lambda: standin.calls("POST", f"/channels/{cid}/redirect"), what="the redirect")
    assert standin.calls("POST", f"/channels/{cid}/redirect")[0]["endpoint"] == (
        "PJSIP/34910000000@carrier"
    )
    assert any("bloqueo de tarjetas" in t for t in said.heard(standin, cid))
    contact = call_contact(session, cid)
    assert contact is not None
    assert (contact.state, contact.outcome) == ("ended", "transfer")
