"""The surveys API: offer after a contact, IVR answers, the summary, and follow-ups (M4)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from tests.conftest import START
from tests.factories import make_customer, make_ended_contact, make_person


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


def test_follow_ups_over_the_api(client: TestClient, session: Session) -> None:
    sup = make_person(session, "sup", "supervisor", "Marta Ruiz")
    agent = make_person(session, "ana")
    sup_token = auth_service.create_token(session, sup, "crm", now=START)
    agent_token = auth_service.create_token(session, agent, "desk", now=START)
    customer = make_customer(session, name="Lucía")
    make_ended_contact(
        session,
        agent_id=agent.id,
        customer=customer,
        wait_s=900,
        arrived=START - timedelta(hours=2),
    )
    session.commit()
    as_sup = {"Authorization": f"Bearer {sup_token}"}
    as_agent = {"Authorization": f"Bearer {agent_token}"}
    url = f"/api/v1/surveys/customers/{customer.id}/follow-ups"

    listed = client.get("/api/v1/surveys/customers/at-risk", headers=as_sup)
    assert listed.status_code == 200
    [row] = listed.json()["to_follow_up"]
    assert (row["customer_id"], row["reasons"], row["attempts"]) == (customer.id, ["long_wait"], 0)
    assert row["latest_follow_up"] is None
    assert row["facts"]["longest_wait_s"] == 900

    refused = [
        (client.post(url, json={"outcome": "reached"}, headers=as_agent), 403),
        (client.post(url, json={"outcome": "called"}, headers=as_sup), 422),
        (client.post(url, json={"outcome": "reached", "note": "  "}, headers=as_sup), 422),
        (client.post(url, json={"outcome": "reached", "note": "x" * 1001}, headers=as_sup), 422),
        (client.post(url, json={"outcome": "reached", "days": 0}, headers=as_sup), 422),
        (
            client.post(
                f"/api/v1/surveys/customers/{customer.id + 99}/follow-ups",
                json={"outcome": "not_reached"},
                headers=as_sup,
            ),
            404,
        ),
        (client.get("/api/v1/surveys/customers/at-risk", headers=as_agent), 403),
        (client.get("/api/v1/surveys/customers/at-risk?days=400", headers=as_sup), 422),
    ]
    assert [(r.status_code, r.json()["error"] != "") for r, _ in refused] == [
        (status, True) for _, status in refused
    ]

    r = client.post(url, json={"outcome": "not_reached"}, headers=as_sup)
    assert r.status_code == 201
    r = client.post(
        url, json={"outcome": "reached", "note": "Le llamamos el jueves"}, headers=as_sup
    )
    assert r.status_code == 201
    made = r.json()
    assert made["reasons"] == ["long_wait"]
    assert (made["outcome"], made["recorded_by"], made["recorded_by_id"]) == (
        "reached",
        "Marta Ruiz",
        sup.id,
    )
    listed = client.get("/api/v1/surveys/customers/at-risk", params={"days": 7}, headers=as_sup)
    body = listed.json()
    assert body["to_follow_up"] == []
    [done] = body["followed_up"]
    assert done["latest_follow_up"]["note"] == "Le llamamos el jueves"
    assert done["latest_follow_up"]["id"] == made["id"]

    spec = client.get("/api/v1/openapi.json").json()
    assert "post" in spec["paths"]["/api/v1/surveys/customers/{customer_id}/follow-ups"]
    assert "FollowUpIn" in spec["components"]["schemas"]
    assert "AtRiskOut" in spec["components"]["schemas"]
