"""Agents act only on their own contacts and queues and on their team's tickets; supervisors
and admins on everything (ADR 17; issue 14, finding 13)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.auth.models import User
from escucha.tickets import opening
from escucha.tickets.models import Ticket
from tests.conftest import START, login
from tests.factories import caller, demo

BASE = "http://testserver"


def _headers(session: Session, username: str) -> dict[str, str]:
    user = session.query(User).filter(User.username == username).one()
    raw = auth_service.create_token(session, user, "desk", now=START)
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def people(session: Session) -> dict[str, dict[str, str]]:
    demo(session)
    tokens = {name: _headers(session, name) for name in ("ana", "luis", "marta", "sofia")}
    session.commit()
    return tokens


def test_an_agent_cannot_act_on_a_contact_in_another_team_s_queue(
    client: TestClient, session: Session, people: dict[str, dict[str, str]]
) -> None:
    waiting = caller(session, START, "600111222", queue="reclamaciones")
    waiting.skills = {"reclamaciones": 2}
    session.commit()
    cid = waiting.id
    ana = people["ana"]  # atención: facturas (and averías by skill), not reclamaciones
    refused = {
        "get": client.get(f"/api/v1/contacts/{cid}", headers=ana),
        "events": client.get(f"/api/v1/contacts/{cid}/events", headers=ana),
        "abandon": client.post(f"/api/v1/contacts/{cid}/abandon", headers=ana),
        "callback": client.post(f"/api/v1/contacts/{cid}/callback", json={}, headers=ana),
        "estimate": client.post(f"/api/v1/contacts/{cid}/estimate", headers=ana),
        "requeue": client.post(
            f"/api/v1/contacts/{cid}/queue", json={"queue": "facturas"}, headers=ana
        ),
        "survey": client.post(f"/api/v1/surveys/contacts/{cid}/offer", json={}, headers=ana),
    }
    assert {k: r.status_code for k, r in refused.items()} == dict.fromkeys(refused, 403)
    assert "another team" in refused["abandon"].json()["detail"]
    session.expire_all()
    assert session.get(type(waiting), cid).state == "queued"  # type: ignore[union-attr]
    # the team that serves the queue, and a supervisor, may
    assert client.get(f"/api/v1/contacts/{cid}", headers=people["marta"]).status_code == 200
    sofia = client.post(f"/api/v1/contacts/{cid}/estimate", headers=people["sofia"])
    assert sofia.status_code == 200
    gone = client.post(f"/api/v1/contacts/{cid}/abandon", headers=people["marta"])
    assert gone.status_code == 200
    assert gone.json()["state"] == "abandoned"


def test_an_agent_acts_on_a_contact_offered_to_them_and_on_one_in_the_ivr(
    client: TestClient, session: Session, people: dict[str, dict[str, str]]
) -> None:
    offered = caller(session, START, "600111333", queue="reclamaciones")
    offered.agent_id = session.query(User).filter(User.username == "ana").one().id
    session.commit()
    assert client.get(f"/api/v1/contacts/{offered.id}", headers=people["ana"]).status_code == 200
    assert client.get(f"/api/v1/contacts/{offered.id}", headers=people["luis"]).status_code == 403
    # a new call, still in the IVR, is nobody's yet: the caller's side routes it
    new = client.post("/api/v1/contacts", json={"phone": "600111444"}, headers=people["ana"])
    assert new.status_code == 201
    nid = new.json()["id"]
    ivr = client.post(
        f"/api/v1/contacts/{nid}/ivr", json={"node": "main", "key": "1"}, headers=people["luis"]
    )
    assert ivr.status_code == 200
    queued = client.post(
        f"/api/v1/contacts/{nid}/queue", json={"queue": "facturas"}, headers=people["ana"]
    )
    assert queued.status_code == 200
    # facturas is ana's team's queue, and luis holds its skill: both reach it; marta too
    for name in ("ana", "luis", "marta"):
        assert client.get(f"/api/v1/contacts/{nid}", headers=people[name]).status_code == 200


def _ticket(session: Session, kind: str, phone: str) -> Ticket:
    intake = opening.Intake(
        channel="web", description="No me llega el agua", phone=phone, kind=kind
    )
    return opening.open_ticket(session, intake, now=START, base_url=BASE).ticket


def test_an_agent_sees_and_changes_only_the_tickets_of_their_team(
    client: TestClient, session: Session, people: dict[str, dict[str, str]]
) -> None:
    complaint = _ticket(session, "complaint", "600222111")  # reclamaciones
    query = _ticket(session, "query", "600222333")  # atención
    session.commit()
    ana, marta = people["ana"], people["marta"]
    assert client.get(f"/api/v1/tickets/{complaint.number}", headers=ana).status_code == 403
    note = {"body": "Mirar la factura", "visibility": "internal"}
    r = client.post(f"/api/v1/tickets/{complaint.number}/messages", json=note, headers=ana)
    assert r.status_code == 403
    assert "another team" in r.json()["detail"]
    r = client.post(
        f"/api/v1/tickets/{complaint.number}/status", json={"status": "closed"}, headers=ana
    )
    assert r.status_code == 403
    assert client.get(f"/api/v1/tickets/{query.number}", headers=ana).status_code == 200
    listed = {t["number"] for t in client.get("/api/v1/tickets", headers=ana).json()}
    assert listed == {query.number}
    team_filter = client.get(f"/api/v1/tickets?team_id={complaint.team_id}", headers=ana).json()
    assert team_filter == []  # asking for another team's inbox shows nothing of it
    assert client.get(f"/api/v1/tickets/{complaint.number}", headers=marta).status_code == 200
    assert {t["number"] for t in client.get("/api/v1/tickets", headers=marta).json()} == {
        complaint.number
    }
    everything = client.get("/api/v1/tickets", headers=people["sofia"]).json()
    assert {t["number"] for t in everything} == {complaint.number, query.number}
    # a ticket assigned to ana is hers whatever its team
    complaint.assignee_id = session.query(User).filter(User.username == "ana").one().id
    session.commit()
    assert client.get(f"/api/v1/tickets/{complaint.number}", headers=ana).status_code == 200


def test_the_ticket_screens_follow_the_same_reach(
    client: TestClient, session: Session, people: dict[str, dict[str, str]]
) -> None:
    complaint = _ticket(session, "complaint", "600333111")
    query = _ticket(session, "query", "600333222")
    session.commit()
    assert login(client, "ana", "escucha-demo").status_code == 303
    assert client.get(f"/tickets/{complaint.id}").status_code == 403
    assert client.get(f"/tickets/find?number={complaint.number}").status_code == 403
    inbox = client.get("/tickets")
    assert query.number in inbox.text
    assert complaint.number not in inbox.text
    assert client.get(f"/tickets/{query.id}").status_code == 200
