"""A caller's journey through the ACD, on the database (W1, W2, W5, P1)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha.contacts import service as contacts
from escucha.contacts.models import ContactEvent, Estimate
from escucha.routing import service as routing
from escucha.routing.models import AgentStatus, RoutingDecision
from tests.conftest import START
from tests.factories import caller, demo


def test_a_waiting_caller_hears_position_and_a_conservative_bound(session: Session) -> None:
    demo(session)
    first = caller(session, START, "600111001")
    second = caller(session, START + timedelta(seconds=5), "600111002")
    told = routing.tell_estimate(session, second, now=START + timedelta(seconds=6))
    assert told.estimate.position == 2
    assert told.estimate.bound_s >= told.estimate.estimate_s
    assert "1 persona delante" in told.text or "Hay 1 persona" in told.text
    assert re.search(r"menos de \d+ (minutos?|horas?)", told.text)
    # nobody is on duty: 2 x the default 120 s, well past the queue's 90 s callback threshold
    assert told.estimate.estimate_s >= 240
    assert told.callback_offered
    events = [e.event for e in contacts.events_of(session, second.id)]
    assert events[-2:] == ["estimate_given", "callback_offered"]
    assert first.state == "queued"


def test_an_available_agent_gets_the_longest_waiting_caller(session: Session) -> None:
    users = demo(session)
    a = caller(session, START, "600111001")
    b = caller(session, START + timedelta(seconds=3), "600111002")
    routing.set_agent_state(session, users["ana"], "available", now=START + timedelta(seconds=10))
    session.refresh(a)
    session.refresh(b)
    assert (a.state, a.agent_id) == ("offered", users["ana"])
    assert b.state == "queued"
    status = session.get(AgentStatus, users["ana"])
    assert status is not None
    assert (status.state, status.contact_id) == ("busy", a.id)
    assert session.scalar(select(func.count()).select_from(RoutingDecision)) == 1
    # routing again changes nothing: no agent gets two contacts, no contact two agents
    assert routing.dispatch(session, now=START + timedelta(seconds=11)) == []


def test_an_agent_without_the_skill_is_not_offered_the_call(session: Session) -> None:
    users = demo(session)
    c = caller(session, START, "600111001", queue="reclamaciones")
    c.skills = {"reclamaciones": 2}
    routing.set_agent_state(session, users["luis"], "available", now=START)
    session.refresh(c)
    assert c.state == "queued"
    routing.set_agent_state(session, users["marta"], "available", now=START)
    session.refresh(c)
    assert c.agent_id == users["marta"]


def test_the_conversation_is_recorded_hold_announced_and_exported(session: Session) -> None:
    users = demo(session)
    c = caller(session, START, "600111001")
    routing.tell_estimate(session, c, now=START + timedelta(seconds=1))
    routing.set_agent_state(session, users["ana"], "available", now=START + timedelta(seconds=20))
    routing.answer(session, users["ana"], c.id, now=START + timedelta(seconds=25))
    routing.hold(session, users["ana"], c.id, now=START + timedelta(seconds=60), announced=True)
    routing.resume(session, users["ana"], c.id, now=START + timedelta(seconds=90))
    routing.wrap_up(
        session,
        users["ana"],
        c.id,
        now=START + timedelta(seconds=200),
        outcome="solved",
        resolved=True,
        recap="Factura corregida; recibirá el abono el lunes.",
    )
    events = [e.event for e in contacts.events_of(session, c.id)]
    assert events == [
        "arrived",
        "ivr_choice",
        "queued",
        "estimate_given",
        "callback_offered",
        "offered",
        "answered",
        "hold_started",
        "hold_ended",
        "ended",
        "wrapped_up",
    ]
    hold_end = session.scalar(
        select(ContactEvent).where(
            ContactEvent.contact_id == c.id, ContactEvent.event == "hold_ended"
        )
    )
    assert hold_end is not None
    assert hold_end.data["hold_s"] == 30
    est = session.scalar(select(Estimate).where(Estimate.contact_id == c.id))
    assert est is not None
    assert (est.outcome, est.actual_wait_s) == ("answered", 24.0)
    assert session.get(AgentStatus, users["ana"]).state == "available"  # type: ignore[union-attr]

    rows = list(contacts.iter_events(session))
    csv_text = "".join(contacts.export_csv(rows))
    assert csv_text.splitlines()[0] == "contact_id,event,at,queue,agent,customer_id,channel,data"
    assert '"{""announced"": true}"' in csv_text
    log = "".join(contacts.export_queue_log(rows)).splitlines()
    kinds = [line.split("|")[4] for line in log]
    assert kinds == ["ENTERQUEUE", "CONNECT", "PAUSE", "UNPAUSE", "COMPLETEAGENT"]
    connect = log[1].split("|")
    assert connect[5] == "25"  # seconds waited before the answer
    assert "600111001" not in "\n".join(log)


def test_a_hung_up_caller_settles_the_estimate_and_frees_nothing_twice(session: Session) -> None:
    demo(session)
    c = caller(session, START, "600111001")
    routing.tell_estimate(session, c, now=START)
    routing.abandon(session, c, now=START + timedelta(seconds=45))
    routing.abandon(session, c, now=START + timedelta(seconds=50))
    events = [e.event for e in contacts.events_of(session, c.id)]
    assert events.count("abandoned") == 1
    est = session.scalar(select(Estimate).where(Estimate.contact_id == c.id))
    assert est is not None
    assert (est.outcome, est.actual_wait_s) == ("abandoned", 45.0)


def test_transfer_keeps_the_context_for_the_next_agent(session: Session) -> None:
    users = demo(session)
    c = caller(session, START, "600111001")
    routing.set_agent_state(session, users["ana"], "available", now=START)
    routing.answer(session, users["ana"], c.id, now=START + timedelta(seconds=5))
    routing.transfer(
        session,
        users["ana"],
        c.id,
        "reclamaciones",
        now=START + timedelta(seconds=60),
        note="Quiere reclamar la factura de octubre",
    )
    c.skills = {"reclamaciones": 2}
    routing.set_agent_state(session, users["marta"], "available", now=START + timedelta(seconds=61))
    session.refresh(c)
    assert (c.queue, c.agent_id, c.state) == ("reclamaciones", users["marta"], "offered")
    assert c.ivr_path == [{"node": "main", "key": "1"}]
    assert "octubre" in (c.notes or "")
