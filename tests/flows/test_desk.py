"""The agent's desk and its one contact card (W5, C2)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from escucha.contacts import service as contacts
from escucha.flows import desk
from escucha.routing import service as routing
from escucha.voice import service as voice
from tests.conftest import START
from tests.factories import caller


def test_the_desk_shows_the_offered_callers_card(session: Session, users: dict[str, int]) -> None:
    contact = caller(session, START, "600222001")
    routing.set_agent_state(session, users["ana"], "available", now=START)
    now = START + timedelta(seconds=30)

    shown = desk.desk(session, users["ana"], now=now, lang="en")

    assert shown.status is not None
    assert shown.status.contact_id == contact.id
    card = shown.card
    assert card is not None
    assert card.contact.id == contact.id
    assert card.situation.phone_masked == "+34600•••001"
    assert [(step.node, step.key) for step in card.situation.ivr] == [("main", "1")]
    assert card.situation.waited_s == 30.0
    assert card.voice == voice.DeskVoice("", "", False, True)  # the phone line: no web caller
    assert not card.callback_dialing
    assert card.default_kind == "query"
    assert [q.name for q in shown.queues] == ["averias", "facturas", "reclamaciones"]
    assert shown.key == desk.desk_key(session, users["ana"])
    assert shown.consult is None
    assert shown.consult_targets == []


def test_an_idle_agent_has_no_card(session: Session, users: dict[str, int]) -> None:
    shown = desk.desk(session, users["ana"], now=START, lang="es")
    assert shown.status is None
    assert shown.card is None
    assert shown.key == "offline"


def test_a_caller_in_a_complaints_queue_is_wrapped_up_as_a_complaint_first(
    session: Session, users: dict[str, int]
) -> None:
    customer = contacts.find_or_create_customer(session, now=START, phone="600222002")
    contact = contacts.start_contact(session, channel="voice", now=START, customer=customer)
    contacts.enqueue(session, contact, "reclamaciones", now=START, skills={"reclamaciones": 2})

    card = desk.contact_card(session, contact, now=START, lang="es")

    assert card.default_kind == "complaint"
    assert card.situation.waited_s == 0.0
    assert card.situation.ivr == ()
