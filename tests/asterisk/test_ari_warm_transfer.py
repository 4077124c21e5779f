"""A warm transfer on a call escucha drives through ARI, end to end with the stand-in: the
agent puts the customer on hold, rings a colleague, talks to them in a bridge of their own,
then hands the customer over or goes back; the colleague's phone not answering and the
customer hanging up meanwhile end the consult (ADR 24, ADR 30)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.asterisk.consumer import AriConsumer
from escucha.asterisk.models import AriChannel
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.contacts.models import Contact, ContactEvent
from escucha.routing import service as routing
from escucha.routing.models import AgentStatus
from escucha.speech.models import SpeechTranscript
from escucha.voice import service as voice
from escucha.voice.models import VoiceConsult, VoiceRecording
from tests.asterisk.conftest import NodeFactory, Said, talking_with_ana, wait_until
from tests.asterisk.standin import AriStandIn
from tests.conftest import login
from tests.voice.test_warm_transfer import beat, post


@dataclass
class Consult:
    caller: str
    ana_leg: str
    contact_id: int
    consult_id: int


def _events(session: Session, contact_id: int) -> list[ContactEvent]:
    session.expire_all()
    return list(
        session.scalars(
            select(ContactEvent)
            .where(ContactEvent.contact_id == contact_id)
            .order_by(ContactEvent.id)
        )
    )


def _consult(session: Session, consult_id: int) -> VoiceConsult:
    session.expire_all()
    found = session.get(VoiceConsult, consult_id)
    assert found is not None
    return found


def _contact(session: Session, contact_id: int) -> Contact:
    session.expire_all()
    found = session.get(Contact, contact_id)
    assert found is not None
    return found


def _agent_state(session: Session, user_id: int) -> str:
    session.expire_all()
    status = session.get(AgentStatus, user_id)
    return status.state if status is not None else "offline"


def _bridge_of(standin: AriStandIn, channel: str) -> set[str] | None:
    with standin.lock:
        for bridge in standin.bridges.values():
            if channel in bridge["channels"]:
                return set(bridge["channels"])
    return None


def _consulting(
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
    users: dict[str, int],
) -> Consult:
    """Ana talks with a caller, puts them on hold (told) and asks Luis to talk first."""
    caller, ana_leg, contact_id = talking_with_ana(standin, session, said, clock, users["ana"])
    wait_until(lambda: _bridge_of(standin, caller) == {caller, ana_leg}, what="the bridge")
    routing.hold(session, users["ana"], contact_id, now=clock.now(), announced=True)
    routing.set_agent_state(session, users["luis"], "available", now=clock.now())
    voice.desk_beat(session, users["luis"], now=clock.now(), mic_ok=True)
    consult = voice.start_consult(
        session, users["ana"], contact_id, users["luis"], now=clock.now(), note="baja de tarifa"
    )
    session.commit()
    return Consult(caller, ana_leg, contact_id, consult.id)


def _recording_node(make_node: NodeFactory, settings: Settings, name: str) -> AriConsumer:
    """A node that records calls, connected to the PBX."""
    node = make_node(name, settings=settings.model_copy(update={"record_calls": True}))
    wait_until(node.connected.is_set)
    return node


def _colleague_leg(standin: AriStandIn, c: Consult) -> str:
    wait_until(lambda: standin.leg_of(f"{c.caller}-c"), what="the colleague's phone to ring")
    return standin.leg_of(f"{c.caller}-c")[0]


def test_the_agent_talks_to_a_colleague_then_hands_the_customer_over(
    make_node: NodeFactory,
    ari_settings: Settings,
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
    users: dict[str, int],
) -> None:
    _recording_node(make_node, ari_settings, "warm")
    standin.auto_answer["PJSIP/luis"] = 0.02
    c = _consulting(standin, session, said, clock, users)
    luis_leg = _colleague_leg(standin, c)
    ring = standin.originated()[-1]
    assert (ring["endpoint"], ring["appArgs"]) == ("PJSIP/luis", f"consult,{c.caller}")
    wait_until(
        lambda: _bridge_of(standin, luis_leg) == {c.ana_leg, luis_leg},
        what="the two agents in a bridge of their own",
    )
    wait_until(lambda: _consult(session, c.consult_id).answered_at, what="the consult answered")
    assert standin.moh_on(c.caller)  # the customer hears the music, not the agents
    assert not standin.muted(c.ana_leg)  # muted alone on hold, heard by the colleague
    assert _bridge_of(standin, c.caller) is None
    assert _agent_state(session, users["luis"]) == "busy"

    voice.hand_over(session, users["ana"], c.consult_id, now=clock.now())
    session.commit()
    wait_until(lambda: c.ana_leg not in standin.legs, what="the first agent's leg hung up")
    wait_until(
        lambda: _bridge_of(standin, c.caller) == {c.caller, luis_leg},
        what="the customer in the colleague's bridge",
    )
    assert not standin.moh_on(c.caller)
    contact = _contact(session, c.contact_id)
    assert (contact.state, contact.agent_id) == ("connected", users["luis"])
    events = _events(session, c.contact_id)
    names = [e.event for e in events]
    assert names[-5:] == [
        "hold_started",
        "consult_started",
        "consult_ended",
        "hold_ended",
        "transferred",
    ]
    assert events[-5].data["announced"] is True
    assert events[-3].data["outcome"] == "handed_over"
    assert events[-1].data["warm"] is True
    assert events[-1].data["to_agent"] == users["luis"]
    assert _agent_state(session, users["ana"]) == "wrap_up"

    def first_leg_cause() -> str:
        session.expire_all()
        row = session.scalar(select(AriChannel).where(AriChannel.channel_id == c.ana_leg))
        return row.end_cause if row is not None else ""

    wait_until(lambda: first_leg_cause() == "handed_over", what="the first leg's end written")
    # the first agent's part of the recording is theirs
    wait_until(
        lambda: session.scalar(select(VoiceRecording)) is not None, what="the recording attached"
    )
    rec = session.scalar(select(VoiceRecording))
    assert rec is not None
    assert rec.user_id == users["ana"]
    # the colleague's bridge is recorded from the hand-over: the second leg
    records = standin.calls("POST", "/record")
    assert [r["name"] for r in records] == [
        f"escucha-call-{c.contact_id}",
        f"escucha-call-{c.contact_id}-leg2",
    ]
    assert records[1]["format"] == "wav"
    # the colleague ends the call: both legs go and the colleague wraps up
    standin.hangup(luis_leg)
    wait_until(lambda: _contact(session, c.contact_id).state == "wrap_up", what="the end")
    wait_until(lambda: c.caller not in standin.legs, what="the caller hung up")
    assert _agent_state(session, users["luis"]) == "wrap_up"
    _assert_two_legs_transcribed(session, c.contact_id, users)


def _assert_two_legs_transcribed(session: Session, contact_id: int, users: dict[str, int]) -> None:
    """The call's recording is the first agent's leg then the colleague's, each attached once
    and queued for transcription."""

    def legs() -> list[tuple[int, int | None]]:
        session.expire_all()
        rows = session.scalars(
            select(VoiceRecording)
            .where(VoiceRecording.contact_id == contact_id)
            .order_by(VoiceRecording.leg)
        )
        return [(r.leg, r.user_id) for r in rows]

    wait_until(lambda: len(legs()) == 2, what="the colleague's leg attached")
    assert legs() == [(1, users["ana"]), (2, users["luis"])]
    transcripts = session.scalars(
        select(SpeechTranscript)
        .where(SpeechTranscript.contact_id == contact_id)
        .order_by(SpeechTranscript.id)
    ).all()
    assert [(Path(t.recording_uri).name, t.status) for t in transcripts] == [
        ("000000.part", "queued"),
        ("leg2-000000.part", "queued"),
    ]


def test_the_agent_goes_back_to_the_customer(
    node: AriConsumer,
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
    users: dict[str, int],
) -> None:
    standin.auto_answer["PJSIP/luis"] = 0.02
    c = _consulting(standin, session, said, clock, users)
    luis_leg = _colleague_leg(standin, c)
    wait_until(lambda: _bridge_of(standin, luis_leg) == {c.ana_leg, luis_leg})
    assert voice.end_consult(session, users["ana"], c.consult_id, now=clock.now()) == "cancelled"
    session.commit()
    wait_until(lambda: luis_leg not in standin.legs, what="the colleague's leg hung up")
    wait_until(
        lambda: _bridge_of(standin, c.caller) == {c.caller, c.ana_leg},
        what="the agent and the customer together again",
    )
    assert not standin.moh_on(c.caller)
    assert _contact(session, c.contact_id).state == "connected"
    assert _agent_state(session, users["luis"]) == "available"
    with standin.lock:
        assert len(standin.bridges) == 1  # the agents' bridge is gone


def test_a_colleague_who_does_not_answer_cancels_the_consult(
    node: AriConsumer,
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
    users: dict[str, int],
) -> None:
    c = _consulting(standin, session, said, clock, users)
    luis_leg = _colleague_leg(standin, c)
    assert standin.moh_on(c.caller)
    standin.reject_leg(luis_leg, cause=19)  # the phone rang out
    wait_until(lambda: _consult(session, c.consult_id).ended_at is not None, what="the end")
    assert _consult(session, c.consult_id).outcome == "unanswered"
    wait_until(
        lambda: _bridge_of(standin, c.caller) == {c.caller, c.ana_leg},
        what="the customer back with the agent",
    )
    assert not standin.moh_on(c.caller)
    contact = _contact(session, c.contact_id)
    assert (contact.state, contact.agent_id) == ("connected", users["ana"])
    ended = [e for e in _events(session, c.contact_id) if e.event == "consult_ended"]
    assert [e.data["outcome"] for e in ended] == ["unanswered"]
    assert _agent_state(session, users["luis"]) == "available"


def test_a_customer_who_hangs_up_during_the_consult_ends_it(
    node: AriConsumer,
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
    users: dict[str, int],
) -> None:
    standin.auto_answer["PJSIP/luis"] = 0.02
    c = _consulting(standin, session, said, clock, users)
    luis_leg = _colleague_leg(standin, c)
    wait_until(lambda: _bridge_of(standin, luis_leg) == {c.ana_leg, luis_leg})
    standin.hangup(c.caller)
    wait_until(lambda: _contact(session, c.contact_id).state == "wrap_up", what="the end")
    wait_until(
        lambda: luis_leg not in standin.legs and c.ana_leg not in standin.legs,
        what="both agents' legs hung up",
    )
    consult = _consult(session, c.consult_id)
    assert consult.outcome == "customer_left"
    names = [e.event for e in _events(session, c.contact_id)]
    assert names[-3:] == ["consult_started", "consult_ended", "ended"]
    assert _events(session, c.contact_id)[-1].data["ended_by"] == "customer"
    assert _agent_state(session, users["luis"]) == "available"
    assert _agent_state(session, users["ana"]) == "wrap_up"
    wait_until(lambda: not standin.bridges, what="every bridge destroyed")


def test_an_agent_who_hangs_up_after_the_colleague_answered_hands_over(
    node: AriConsumer,
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
    users: dict[str, int],
) -> None:
    standin.auto_answer["PJSIP/luis"] = 0.02
    c = _consulting(standin, session, said, clock, users)
    luis_leg = _colleague_leg(standin, c)
    wait_until(lambda: _bridge_of(standin, luis_leg) == {c.ana_leg, luis_leg})
    standin.hangup(c.ana_leg)  # as on a PBX's attended transfer
    wait_until(
        lambda: _bridge_of(standin, c.caller) == {c.caller, luis_leg},
        what="the customer in the colleague's bridge",
    )
    wait_until(
        lambda: _contact(session, c.contact_id).agent_id == users["luis"], what="handed over"
    )
    assert _contact(session, c.contact_id).state == "connected"
    assert _consult(session, c.consult_id).outcome == "handed_over"


def test_a_colleague_who_hangs_up_after_talking_declines_and_the_customer_stays_on_hold(
    node: AriConsumer,
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
    users: dict[str, int],
) -> None:
    standin.auto_answer["PJSIP/luis"] = 0.02
    c = _consulting(standin, session, said, clock, users)
    luis_leg = _colleague_leg(standin, c)
    wait_until(lambda: _bridge_of(standin, luis_leg) == {c.ana_leg, luis_leg})
    standin.hangup(luis_leg)
    wait_until(lambda: _consult(session, c.consult_id).outcome == "declined", what="declined")
    wait_until(lambda: _bridge_of(standin, c.ana_leg) == {c.ana_leg}, what="the agent back alone")
    wait_until(lambda: standin.muted(c.ana_leg), what="muted again while the customer waits")
    assert standin.moh_on(c.caller)
    assert _contact(session, c.contact_id).state == "on_hold"
    routing.resume(session, users["ana"], c.contact_id, now=clock.now())
    session.commit()
    wait_until(lambda: _bridge_of(standin, c.caller) == {c.caller, c.ana_leg}, what="resumed")
    assert not standin.muted(c.ana_leg)


def test_the_desks_drive_a_warm_transfer_on_the_pbx(
    node: AriConsumer,
    app: FastAPI,
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
    users: dict[str, int],
) -> None:
    """The same buttons as for a web call: hold (told), consult, hand over. The colleague's
    desk says their phone rings (the phone answers, not a button) and marks the consult as the
    PBX's, so the desks open no sound connection of their own (``voice-consult.js``)."""
    caller, ana_leg, contact_id = talking_with_ana(standin, session, said, clock, users["ana"])
    with TestClient(app) as ana, TestClient(app) as luis:
        for client, name in ((ana, "ana"), (luis, "luis")):
            assert login(client, name, "escucha-demo").status_code == 303
            beat(client)
        post(luis, "/agent/state", state="available")
        post(ana, f"/agent/contacts/{contact_id}/hold", announced="yes")
        post(ana, f"/agent/contacts/{contact_id}/consult", to_user=str(users["luis"]))
        luis_leg = _colleague_leg(standin, Consult(caller, ana_leg, contact_id, 0))
        desk = luis.get("/agent/desk").text
        assert 'data-consult-line="pbx"' in desk
        assert "Su teléfono está sonando" in desk
        assert "/answer" not in desk
        standin.answer_leg(luis_leg)
        wait_until(lambda: _bridge_of(standin, luis_leg) == {ana_leg, luis_leg}, what="talking")
        consult = session.scalar(select(VoiceConsult).where(VoiceConsult.contact_id == contact_id))
        assert consult is not None
        wait_until(lambda: _consult(session, consult.id).answered_at, what="answered")
        post(ana, f"/agent/consults/{consult.id}/hand-over")
        wait_until(lambda: _bridge_of(standin, caller) == {caller, luis_leg}, what="handed over")
    wait_until(lambda: _contact(session, contact_id).agent_id == users["luis"], what="Luis's")


def test_a_node_that_restarts_during_a_consult_takes_it_up_and_hands_over(
    make_node: NodeFactory,
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
    users: dict[str, int],
) -> None:
    first = make_node("before")
    wait_until(first.connected.is_set)
    standin.auto_answer["PJSIP/luis"] = 0.02
    c = _consulting(standin, session, said, clock, users)
    luis_leg = _colleague_leg(standin, c)
    wait_until(lambda: _bridge_of(standin, luis_leg) == {c.ana_leg, luis_leg})
    wait_until(lambda: _consult(session, c.consult_id).answered_at, what="answered")
    first.stop()  # escucha restarts: the PBX keeps the three legs up
    second = make_node("after")
    wait_until(lambda: second.driver.counters.reconciled == 1, what="the call taken up")
    line = second.driver.lines[c.caller]
    assert (line.consult_id, line.consult_leg) == (c.consult_id, luis_leg)
    assert len([o for o in standin.originated() if o["endpoint"] == "PJSIP/luis"]) == 1
    voice.hand_over(session, users["ana"], c.consult_id, now=clock.now())
    session.commit()
    wait_until(
        lambda: _bridge_of(standin, c.caller) == {c.caller, luis_leg},
        what="the customer in the colleague's bridge, by the new node",
    )
    wait_until(lambda: c.ana_leg not in standin.legs, what="the first agent's leg hung up")


def test_a_restart_during_the_colleagues_leg_records_it_once(
    make_node: NodeFactory,
    ari_settings: Settings,
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
    users: dict[str, int],
) -> None:
    first = _recording_node(make_node, ari_settings, "before")
    standin.auto_answer["PJSIP/luis"] = 0.02
    c = _consulting(standin, session, said, clock, users)
    luis_leg = _colleague_leg(standin, c)
    wait_until(lambda: _consult(session, c.consult_id).answered_at, what="answered")
    voice.hand_over(session, users["ana"], c.consult_id, now=clock.now())
    session.commit()
    wait_until(
        lambda: len(standin.calls("POST", "/record")) == 2, what="the colleague's bridge recorded"
    )
    wait_until(
        lambda: session.scalar(select(VoiceRecording.leg)) == 1, what="the first leg attached"
    )
    session.rollback()
    first.stop()  # escucha restarts: the PBX keeps the call and its recording going
    second = _recording_node(make_node, ari_settings, "after")
    wait_until(lambda: second.driver.counters.reconciled == 1, what="the call taken up")
    standin.hangup(luis_leg)
    wait_until(lambda: _contact(session, c.contact_id).state == "wrap_up", what="the end")
    _assert_two_legs_transcribed(session, c.contact_id, users)
    assert len(standin.calls("POST", "/record")) == 2  # not recorded again by the new node


def test_a_call_transferred_to_a_queue_reaches_the_next_agent_whose_bridge_is_the_next_leg(
    make_node: NodeFactory,
    ari_settings: Settings,
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
    users: dict[str, int],
) -> None:
    _recording_node(make_node, ari_settings, "blind")
    caller, ana_leg, contact_id = talking_with_ana(standin, session, said, clock, users["ana"])
    routing.transfer(session, users["ana"], contact_id, "averias", now=clock.now(), note="fuga")
    session.commit()
    wait_until(lambda: ana_leg not in standin.legs, what="the agent's leg hung up")
    # a colleague becomes free while the caller waits: the line connects them
    standin.auto_answer["PJSIP/luis"] = 0.02
    routing.set_agent_state(session, users["luis"], "available", now=clock.now())
    session.commit()
    wait_until(lambda: _contact(session, contact_id).state == "connected", what="Luis answers")
    wait_until(lambda: len(standin.calls("POST", "/record")) == 2, what="Luis's bridge recorded")
    assert standin.calls("POST", "/record")[1]["name"] == f"escucha-call-{contact_id}-leg2"
    luis_leg = standin.leg_of(f"{caller}-a")[-1]
    assert _bridge_of(standin, caller) == {caller, luis_leg}
    standin.hangup(luis_leg)
    _assert_two_legs_transcribed(session, contact_id, users)


def test_a_call_transferred_to_a_queue_with_a_free_agent_reaches_them_at_once(
    make_node: NodeFactory,
    ari_settings: Settings,
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
    users: dict[str, int],
) -> None:
    _recording_node(make_node, ari_settings, "blind-free")
    caller, ana_leg, contact_id = talking_with_ana(standin, session, said, clock, users["ana"])
    # Luis is already free in the other queue: the transfer offers the call to him at once
    standin.auto_answer["PJSIP/luis"] = 0.02
    routing.set_agent_state(session, users["luis"], "available", now=clock.now())
    session.commit()
    routing.transfer(session, users["ana"], contact_id, "averias", now=clock.now(), note="fuga")
    session.commit()
    wait_until(lambda: ana_leg not in standin.legs, what="the first agent's leg hung up")
    wait_until(lambda: _contact(session, contact_id).state == "connected", what="Luis answers")
    luis_leg = standin.leg_of(f"{caller}-a")[-1]
    assert luis_leg != ana_leg
    wait_until(lambda: _bridge_of(standin, caller) == {caller, luis_leg}, what="one bridge")
    assert _contact(session, contact_id).agent_id == users["luis"]
