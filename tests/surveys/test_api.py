"""The surveys API: offer after a contact, IVR answers, and the summary."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from tests.conftest import START
from tests.qa.helpers import make_customer, make_ended_contact, make_person


def test_offer_answer_in_the_ivr_and_summarise(client: TestClient, session: Session) -> None:
    sup = make_person(session, "sup", "supervisor")
    agent = make_person(session, "ana")
    agent_token = auth_service.create_token(session, agent, "ivr", now=START)
    sup_token = auth_service.create_token(session, sup, "reports", now=START)
    contact = make_ended_contact(
        session, agent_id=agent.id, customer=make_customer(session), arrived=START
    )
    session.commit()
    as_agent = {"Authorization": f"Bearer {agent_token}"}
    r = client.post(f"/api/v1/surveys/contacts/{contact.id}/offer", json={}, headers=as_agent)
    assert r.status_code == 200
    offered = r.json()["survey"]
    assert (offered["channel"], offered["queue"], offered["agent_id"]) == (
        "sms",
        "facturas",
        agent.id,
    )
    again = client.post(f"/api/v1/surveys/contacts/{contact.id}/offer", json={}, headers=as_agent)
    assert again.json()["survey"]["id"] == offered["id"]
    bad = client.post(
        f"/api/v1/surveys/contacts/{contact.id}/ivr-answers", json={"csat": 9}, headers=as_agent
    )
    assert bad.status_code == 422
    r = client.post(
        f"/api/v1/surveys/contacts/{contact.id}/ivr-answers",
        json={"csat": 5, "ces": 6, "nps": 9},
        headers=as_agent,
    )
    assert r.json()["answered_via"] == "ivr"
    denied = client.get("/api/v1/surveys/summary", headers=as_agent)
    assert denied.status_code == 403
    summary = client.get(
        "/api/v1/surveys/summary",
        params={"by": "agent", "since": "2026-11-01T00:00:00Z", "until": "2026-11-24T00:00:00Z"},
        headers={"Authorization": f"Bearer {sup_token}"},
    ).json()
    assert summary["total"]["sent"] == 1
    assert summary["total"]["response_rate"] == 1.0
    assert summary["total"]["nps"] == 100.0
    assert [g["label"] for g in summary["groups"]] == ["Ana"]
