"""Warm transfer from the desk: the agent talks to a colleague first, then hands over or goes
back to the customer (ADR 24). The customer is on hold meanwhile; the consult's signals reach
only the two agents; everything is recorded on the contact."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.contacts.models import Contact, ContactEvent
from escucha.routing.models import AgentStatus
from escucha.voice.models import VoiceConsult
from tests.conftest import csrf_from, login
from tests.factories import demo
from tests.voice.test_signalling import HX, OFFER, Page, events

Clients = dict[str, TestClient]


@pytest.fixture
def users(session: Session) -> dict[str, int]:
    found = demo(session)
    session.commit()
    return found


@pytest.fixture
def desks(app: FastAPI, users: dict[str, int]) -> Iterator[Clients]:
    """Ana, Luis and Marta, each signed in on their own desk (open: it beats)."""
    out: Clients = {}
    try:
        for name in ("ana", "luis", "marta"):
            c = TestClient(app)
            c.__enter__()
            assert login(c, name, "escucha-demo").status_code == 303
            out[name] = c
        yield out
    finally:
        for c in out.values():
            c.__exit__(None, None, None)


def post(client: TestClient, path: str, status: int = 200, **data: str) -> str:
    token = csrf_from(client.get("/agent").text)
    r = client.post(path, data={**data, "csrf_token": token}, headers=HX)
    assert r.status_code == status, r.text
    return r.text


def beat(client: TestClient) -> None:
    token = csrf_from(client.get("/agent").text)
    r = client.post("/agent/voice/beat", json={"mic_ok": True}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.text


def consult_signal(client: TestClient, consult_id: int, kind: str, **body: str) -> int:
    token = csrf_from(client.get("/agent").text)
    r = client.post(
        "/agent/voice/consult-signal",
        json={"consult_id": consult_id, "kind": kind, "body": body},
        headers={"X-CSRF-Token": token},
    )
    return r.status_code


def _on_hold(client: TestClient, desks: Clients, session: Session) -> Contact:
    """A web caller in line; Ana answers and puts them on hold (having told them); Luis and
    Marta are available with their desks open."""
    Page(client).queued()
    contact = session.scalar(select(Contact).order_by(Contact.id.desc()).limit(1))
    assert contact is not None
    beat(desks["ana"])
    post(desks["ana"], "/agent/state", state="available")
    post(desks["ana"], f"/agent/contacts/{contact.id}/answer")
    post(desks["ana"], f"/agent/contacts/{contact.id}/hold", announced="yes")
    for name in ("luis", "marta"):
        beat(desks[name])
        post(desks[name], "/agent/state", state="available")
    return contact


def _events(session: Session, contact_id: int) -> list[ContactEvent]:
    session.expire_all()
    return list(
        session.scalars(
            select(ContactEvent)
            .where(ContactEvent.contact_id == contact_id)
            .order_by(ContactEvent.id)
        )
    )


def _status(session: Session, user_id: int) -> AgentStatus:
    session.expire_all()
    status = session.get(AgentStatus, user_id)
    assert status is not None
    return status


def test_a_warm_transfer_talks_first_then_hands_the_customer_over(
    client: TestClient, desks: Clients, users: dict[str, int], session: Session
) -> None:
    contact = _on_hold(client, desks, session)
    ana, luis, marta = desks["ana"], desks["luis"], desks["marta"]
    page = ana.get("/agent").text
    # no colleague and no queue is chosen for the agent: they pick one
    select_html = re.search(r'<select id="consult-to".*?</select>', page, re.S)
    assert select_html is not None
    assert "Luis" in select_html.group(0)
    assert "Marta" in select_html.group(0)
    assert "Ana" not in select_html.group(0)
    assert re.search(r'<option value="\d+" selected', select_html.group(0)) is None
    queues = re.search(r'<select id="transfer-queue".*?</select>', page, re.S)
    assert queues is not None
    assert re.search(r'<option value="[a-z_]+" selected', queues.group(0)) is None
    refused = post(ana, f"/agent/contacts/{contact.id}/consult", 422, to_user="")
    assert "to_user" in refused

    post(ana, f"/agent/contacts/{contact.id}/consult", to_user=str(users["luis"]), note="Factura")
    consult = session.scalar(select(VoiceConsult))
    assert consult is not None
    assert consult.outcome == ""
    assert _status(session, users["luis"]).state == "busy"  # nothing else is offered to him
    assert "Factura" in luis.get("/agent").text
    # before Luis answers, no sound goes between them; Marta is not part of it
    assert consult_signal(ana, consult.id, "offer", sdp=OFFER) == 409
    post(marta, f"/agent/consults/{consult.id}/answer", 403)
    post(luis, f"/agent/consults/{consult.id}/answer")
    post(luis, f"/agent/consults/{consult.id}/hand-over", 403)  # only Ana hands over

    assert consult_signal(ana, consult.id, "offer", sdp=OFFER) == 200
    assert consult_signal(marta, consult.id, "answer", sdp=OFFER) == 403
    (offer,) = events(luis, "/agent/voice/events")
    assert (offer["kind"], offer["consult_id"], offer["sdp"]) == (
        "consult_offer",
        consult.id,
        OFFER,
    )
    assert consult_signal(luis, consult.id, "answer", sdp=OFFER) == 200
    (answer,) = events(ana, "/agent/voice/events")
    assert answer["kind"] == "consult_answer"
    assert events(client, "/phone/voice/events") == []  # the customer hears none of it
    assert events(marta, "/agent/voice/events") == []

    post(ana, f"/agent/consults/{consult.id}/hand-over")
    session.expire_all()
    moved = session.get(Contact, contact.id)
    assert moved is not None
    assert (moved.state, moved.agent_id) == ("connected", users["luis"])
    assert "Factura" in (moved.notes or "")
    assert _status(session, users["ana"]).state == "wrap_up"
    assert _status(session, users["luis"]).contact_id == contact.id
    rows = [(e.event, e.agent_id) for e in _events(session, contact.id)][-5:]
    assert rows == [
        ("hold_started", users["ana"]),
        ("consult_started", users["ana"]),
        ("consult_ended", users["ana"]),
        ("hold_ended", users["ana"]),
        ("transferred", users["ana"]),
    ]
    last = _events(session, contact.id)[-1]
    assert last.data["warm"] is True
    assert last.data["to_agent"] == users["luis"]
    ended = _events(session, contact.id)[-3]
    assert ended.data["outcome"] == "handed_over"

    # the customer's page now signals Luis, and Ana may no longer signal the call
    assert Page(client).signal(contact.id, "answer", sdp=OFFER) == 200
    assert events(luis, "/agent/voice/events", after=int(offer["id"]))[-1]["kind"] == "answer"
    token = csrf_from(ana.get("/agent").text)
    gone = ana.post(
        "/agent/voice/signal",
        json={"contact_id": contact.id, "kind": "bye", "body": {}},
        headers={"X-CSRF-Token": token},
    )
    assert gone.status_code == 403


def test_cancelling_goes_back_to_the_customer_and_frees_the_colleague(
    client: TestClient, desks: Clients, users: dict[str, int], session: Session
) -> None:
    contact = _on_hold(client, desks, session)
    ana, luis = desks["ana"], desks["luis"]
    post(ana, f"/agent/contacts/{contact.id}/consult", to_user=str(users["luis"]))
    consult = session.scalar(select(VoiceConsult))
    assert consult is not None
    post(ana, f"/agent/consults/{consult.id}/hand-over", 409)  # Luis has not answered
    post(luis, f"/agent/consults/{consult.id}/answer")
    post(ana, f"/agent/consults/{consult.id}/cancel")
    session.expire_all()
    back = session.get(Contact, contact.id)
    assert back is not None
    assert (back.state, back.agent_id) == ("connected", users["ana"])
    assert _status(session, users["luis"]).state == "available"
    (bye,) = [e for e in events(luis, "/agent/voice/events") if e["kind"] == "consult_bye"]
    assert bye["reason"] == "cancelled"
    assert consult_signal(ana, consult.id, "offer", sdp=OFFER) == 409  # it is over


def test_a_declined_consult_leaves_the_customer_on_hold_with_the_agent(
    client: TestClient, desks: Clients, users: dict[str, int], session: Session
) -> None:
    contact = _on_hold(client, desks, session)
    ana, luis = desks["ana"], desks["luis"]
    post(ana, f"/agent/contacts/{contact.id}/consult", 422, to_user=str(users["ana"]))
    post(ana, f"/agent/contacts/{contact.id}/consult", to_user=str(users["luis"]))
    consult = session.scalar(select(VoiceConsult))
    assert consult is not None
    # one consult at a time
    post(ana, f"/agent/contacts/{contact.id}/consult", 409, to_user=str(users["marta"]))
    post(luis, f"/agent/consults/{consult.id}/cancel")
    session.expire_all()
    held = session.get(Contact, contact.id)
    assert held is not None
    assert (held.state, held.agent_id) == ("on_hold", users["ana"])
    assert _events(session, contact.id)[-1].data["outcome"] == "declined"
    assert _status(session, users["luis"]).state == "available"


def test_a_consult_needs_the_customer_on_hold_first(
    client: TestClient, desks: Clients, users: dict[str, int], session: Session
) -> None:
    contact = _on_hold(client, desks, session)
    ana = desks["ana"]
    post(ana, f"/agent/contacts/{contact.id}/resume")
    page = ana.get("/agent").text
    assert "consult-hint" in page
    assert 'id="consult-to"' not in page
    refused = post(ana, f"/agent/contacts/{contact.id}/consult", 409, to_user=str(users["luis"]))
    assert "hold" in refused
