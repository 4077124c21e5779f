from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from tests.conftest import START
from tests.factories import demo


def _token(session: Session, username: str) -> dict[str, str]:
    user = auth_service.authenticate(
        session, username, "escucha-demo" if username != "admin" else "escucha-admin"
    )
    raw = auth_service.create_token(session, user, "test", now=START)
    session.commit()
    return {"Authorization": f"Bearer {raw}"}


def test_a_call_through_the_api(client: TestClient, session: Session) -> None:
    users = demo(session)
    session.commit()
    agent = _token(session, "ana")
    boss = _token(session, "sofia")
    c = client.post(
        "/api/v1/contacts", json={"phone": "+34 600 222 333", "provider_ref": "CA1"}, headers=agent
    )
    assert c.status_code == 201, c.text
    cid = c.json()["id"]
    again = client.post(
        "/api/v1/contacts", json={"phone": "600222333", "provider_ref": "CA1"}, headers=agent
    )
    assert again.json()["id"] == cid  # a retried webhook does not make a second contact
    assert (
        client.post(
            f"/api/v1/contacts/{cid}/ivr", json={"node": "main", "key": "1"}, headers=agent
        ).status_code
        == 200
    )
    told = client.post(f"/api/v1/contacts/{cid}/queue", json={"queue": "facturas"}, headers=agent)
    assert told.status_code == 200, told.text
    body = told.json()
    assert body["position"] == 1
    assert body["bound_s"] >= body["estimate_s"]
    assert "menos de" in body["said"]
    cb = client.post(f"/api/v1/contacts/{cid}/callback", json={}, headers=agent)
    assert cb.status_code == 201, cb.text
    assert cb.json()["joined_at"].startswith("2026-11-23T09:00")
    pending = client.get("/api/v1/callbacks", headers=boss).json()
    assert [p["id"] for p in pending] == [cb.json()["id"]]
    assert client.get("/api/v1/callbacks", headers=agent).status_code == 403

    r = client.put(
        f"/api/v1/agents/{users['ana']}/state", json={"state": "available"}, headers=agent
    )
    assert r.status_code == 200
    assert r.json()["contact_id"] == cb.json()["contact_id"]
    assert (
        client.put(
            f"/api/v1/agents/{users['luis']}/state", json={"state": "available"}, headers=agent
        ).status_code
        == 403
    )
    answered = client.post(
        f"/api/v1/agent/contacts/{cb.json()['contact_id']}",
        json={"action": "answer"},
        headers=agent,
    )
    assert answered.json()["state"] == "connected"
    done = client.post(
        f"/api/v1/agent/contacts/{cb.json()['contact_id']}",
        json={"action": "wrap_up", "recap": "Le hemos devuelto la llamada.", "outcome": "solved"},
        headers=agent,
    )
    assert done.json()["state"] == "ended"
    csv_text = client.get("/api/v1/events.csv", headers=boss).text
    assert "callback_requested" in csv_text
    log = client.get("/api/v1/events.queue_log", headers=boss).text
    assert "EXITWITHKEY" in log


def test_bad_input_is_named(client: TestClient, session: Session) -> None:
    demo(session)
    session.commit()
    agent = _token(session, "ana")
    r = client.post("/api/v1/contacts", json={"phone": "not a phone"}, headers=agent)
    assert r.status_code == 422
    assert r.json() == {
        "error": "invalid_input",
        "detail": "phone: 'not a phone' is not a phone number",
    }
    r = client.post("/api/v1/contacts/999/queue", json={"queue": "facturas"}, headers=agent)
    assert r.status_code == 404


def test_a_provider_reference_never_gives_back_another_callers_contact(
    client: TestClient, session: Session
) -> None:
    """Finding 1: an idempotency reference answers only a retry of the same request."""
    demo(session)
    session.commit()
    agent = _token(session, "ana")
    first = client.post(
        "/api/v1/contacts",
        json={"phone": "+34 600 222 333", "provider_ref": "REF-1"},
        headers=agent,
    )
    assert first.status_code == 201
    other = client.post(
        "/api/v1/contacts",
        json={"phone": "+34 600 999 888", "provider_ref": "REF-1"},
        headers=agent,
    )
    assert other.status_code == 409
    assert other.json()["error"] == "conflict"
    assert "provider_ref" in other.json()["detail"]
    email = client.post(
        "/api/v1/contacts",
        json={"channel": "email", "phone": "+34 600 222 333", "provider_ref": "REF-1"},
        headers=agent,
    )
    assert email.status_code == 409
    again = client.post(
        "/api/v1/contacts", json={"phone": "600222333", "provider_ref": "REF-1"}, headers=agent
    )
    assert again.json()["id"] == first.json()["id"]
