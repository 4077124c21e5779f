"""The customer's situation before answering (C2, W5)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from escucha.contacts import service as contacts
from escucha.flows import briefing
from escucha.promises import service as promises
from escucha.routing import service as routing
from tests.conftest import START
from tests.factories import demo

S = timedelta(seconds=1)


def test_the_situation_shows_what_the_customer_already_told_us(session: Session) -> None:
    users = demo(session)
    customer = contacts.find_or_create_customer(
        session, now=START, phone="600000021", name="Pilar Gómez", language="en"
    )
    old = contacts.start_contact(
        session, channel="voice", now=START - timedelta(days=1), customer=customer
    )
    routing.abandon(session, old, now=START - timedelta(days=1) + 30 * S)
    promise = promises.create(
        session,
        kind="update",
        due_at=START + timedelta(hours=3),
        now=START - timedelta(days=1),
        channel="voice",
        subject_kind="query",
        told="before 13:00",
        customer_id=customer.id,
    )
    c = contacts.start_contact(session, channel="voice", now=START, customer=customer)
    contacts.ivr_choice(session, c, node="main", key="2", now=START)
    contacts.enqueue(session, c, "facturas", now=START, skills={"facturas": 1})
    routing.tell_estimate(session, c, now=START)
    routing.set_agent_state(session, users["ana"], "available", now=START + 30 * S)
    session.refresh(c)
    sit = briefing.situation(session, c, now=START + 35 * S, lang="en")
    assert sit.customer is not None
    assert sit.customer.name == "Pilar Gómez"
    assert sit.phone_masked == "+34600•••021"
    assert "600000021" not in sit.phone_masked
    assert [(st.node, st.key, st.label) for st in sit.ivr] == [("main", "2", "bills")]
    assert [r.id for r in sit.recent] == [old.id]
    assert [p.id for p in sit.promises] == [promise.id]
    assert sit.waited_s == 35.0
    assert sit.last_estimate is not None
    assert sit.callback is None
    assert briefing.situation(session, c, now=START, lang="es").ivr[0].label == "facturas"
    routing.answer(session, users["ana"], c.id, now=START + 40 * S)
    routing.hold(session, users["ana"], c.id, now=START + 50 * S, announced=True)
    routing.resume(session, users["ana"], c.id, now=START + 65 * S)
    routing.transfer(
        session, users["ana"], c.id, "reclamaciones", now=START + 70 * S, note="Quiere reclamar"
    )
    routing.set_agent_state(session, users["marta"], "available", now=START + 71 * S)
    session.refresh(c)
    assert c.agent_id == users["marta"]
    sit = briefing.situation(session, c, now=START + 72 * S, lang="es")
    (moved,) = sit.transfers
    assert (moved.from_queue, moved.to_queue, moved.note, moved.agent) == (
        "facturas",
        "reclamaciones",
        "Quiere reclamar",
        "Ana López",
    )
    assert sit.handle.holds == 0  # not answered yet by the second agent
    routing.answer(session, users["marta"], c.id, now=START + 80 * S)
    routing.hold(session, users["marta"], c.id, now=START + 90 * S, announced=False)
    sit = briefing.situation(session, c, now=START + 100 * S, lang="es")
    assert (sit.handle.holds, sit.handle.holds_announced, sit.handle.hold_s) == (1, 0, 10.0)
    assert sit.handle.talk_hold_s == 20.0
    assert sit.handle.on_hold_since == START + 90 * S
