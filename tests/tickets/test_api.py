"""The tickets API: complaints are registered at once; tickets are worked through it (P3, P5)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.notifications.models import Notification
from escucha.tickets.models import Ticket
from escucha.tickets.rules import parse_ticket_number
from tests.conftest import START, csrf_from
from tests.factories import make_org, make_user


@pytest.fixture
def token(session: Session) -> str:
    user = make_user(session, username="crm", role="supervisor")
    raw = auth_service.create_token(session, user, "crm", now=START)
    session.commit()
    return raw


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _tickets(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count(Ticket.id))) or 0)


def test_an_integration_files_a_complaint_and_gets_number_code_and_dates(
    client: TestClient, session: Session, token: str
) -> None:
    make_org(session)
    session.commit()
    r = client.post(
        "/api/v1/complaints",
        json={"description": "Me cortaron el agua sin aviso", "email": "ana@example.es"},
        headers=_auth(token),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert str(parse_ticket_number(body["number"])) == body["number"]
    assert len(body["verification_code"]) == 6
    assert body["kind"] == "complaint"
    assert body["status_url"].endswith(f"/status?number={body['number']}")
    kinds = {p["kind"]: p["state"] for p in body["promises"]}
    assert kinds["acknowledgment"] == "kept"
    assert kinds["resolution"] == "pending"
    assert body["acknowledged_by"] == "email"
    assert body["next_due"] is not None
    ticket = session.scalar(select(Ticket).where(Ticket.number == body["number"]))
    assert ticket is not None
    assert ticket.description == "Me cortaron el agua sin aviso"


def test_a_browser_page_can_file_with_its_session_csrf_but_not_without(
    client: TestClient, session: Session
) -> None:
    r = client.post("/api/v1/complaints", json={"description": "x"})
    assert r.status_code == 403
    assert _tickets(session) == 0
    csrf = csrf_from(client.get("/complaints/new").text)
    r = client.post("/api/v1/complaints", json={"description": "x"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    assert _tickets(session) == 1


def test_an_empty_complaint_gets_a_number_and_the_description_is_asked_for(
    client: TestClient, session: Session, token: str
) -> None:
    r = client.post("/api/v1/complaints", json={}, headers=_auth(token))
    assert r.status_code == 201
    assert [p["code"] for p in r.json()["problems"]] == ["empty_description"]
    parse_ticket_number(r.json()["number"])


def test_a_retry_with_the_same_idempotency_key_gives_the_same_complaint(
    client: TestClient, session: Session, token: str
) -> None:
    headers = {**_auth(token), "Idempotency-Key": "form-123"}
    first = client.post("/api/v1/complaints", json={"description": "a"}, headers=headers)
    again = client.post("/api/v1/complaints", json={"description": "a"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["number"] == again.json()["number"]
    assert again.json()["created"] is False
    assert _tickets(session) == 1


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"description": ["not", "text"]}, "invalid_input"),
        ({"channel": "pigeon"}, "invalid_input"),
    ],
)
def test_refusals_are_clear_4xx_with_nothing_written(
    client: TestClient, session: Session, token: str, payload: dict[str, object], code: str
) -> None:
    r = client.post("/api/v1/complaints", json=payload, headers=_auth(token))
    assert r.status_code == 422
    assert r.json()["error"] == code
    assert r.json()["detail"]
    assert _tickets(session) == 0


def test_tickets_are_opened_listed_answered_and_resolved(
    client: TestClient, session: Session, token: str
) -> None:
    o = make_org(session)
    session.commit()
    opened = client.post(
        "/api/v1/tickets",
        json={"kind": "query", "channel": "voice", "description": "Horario", "phone": "600123456"},
        headers=_auth(token),
    ).json()
    fault = client.post(
        "/api/v1/tickets",
        json={"description": "No funciona el contador", "channel": "web", "email": "f@e.es"},
        headers=_auth(token),
    ).json()
    assert fault["kind"] == "fault"
    assert fault["team_id"] == o.faults.id
    listed = client.get("/api/v1/tickets", headers=_auth(token)).json()
    dues = [row["next_due"] for row in listed]
    assert dues == sorted(dues)
    assert {row["number"] for row in listed} == {
        opened["number"],
        fault["number"],
    }
    only_faults = client.get("/api/v1/tickets?kind=fault", headers=_auth(token)).json()
    assert [row["number"] for row in only_faults] == [fault["number"]]
    ref = opened["number"]
    note = client.post(
        f"/api/v1/tickets/{ref}/messages",
        json={"body": "Llamar por la tarde", "visibility": "internal"},
        headers=_auth(token),
    )
    assert note.status_code == 201
    assert note.json()["visibility"] == "internal"
    sms = client.post(
        f"/api/v1/tickets/{ref}/messages",
        json={"body": "Abrimos de 8:00 a 20:00.", "channel": "sms"},
        headers=_auth(token),
    )
    assert sms.status_code == 201
    assert sms.json()["delivery"] == "pending"
    no_email = client.post(
        f"/api/v1/tickets/{ref}/messages", json={"body": "Hola"}, headers=_auth(token)
    )
    assert no_email.status_code == 422
    assert "no email" in no_email.json()["detail"]
    bad = client.post(
        f"/api/v1/tickets/{ref}/status", json={"status": "closed"}, headers=_auth(token)
    )
    assert bad.status_code == 422
    done = client.post(
        f"/api/v1/tickets/{ref}/resolve",
        json={"resolution": "Horario enviado.", "channel": "sms"},
        headers=_auth(token),
    )
    assert done.status_code == 200
    assert done.json()["status"] == "resolved"
    detail = client.get(f"/api/v1/tickets/{opened['id']}", headers=_auth(token)).json()
    assert detail["notified_at"] is not None
    assert [m["visibility"] for m in detail["messages"]].count("internal") >= 1
    states = {p["kind"]: p["state"] for p in detail["promises"]}
    assert states["resolution"] == "kept"
    sent = session.scalars(select(Notification).where(Notification.ticket_id == opened["id"])).all()
    assert {n.channel for n in sent} == {"sms"}


def test_a_promised_time_is_changed_with_a_reason_and_a_zone(
    client: TestClient, session: Session, token: str
) -> None:
    make_org(session)
    session.commit()
    t = client.post(
        "/api/v1/complaints",
        json={"description": "Factura", "email": "z@e.es"},
        headers=_auth(token),
    ).json()
    pid = next(p["id"] for p in t["promises"] if p["kind"] == "resolution")
    url = f"/api/v1/tickets/{t['number']}/promises/{pid}/reschedule"
    naive = client.post(
        url, json={"due_at": "2026-12-20T12:00:00", "reason": "x"}, headers=_auth(token)
    )
    assert naive.status_code == 422
    assert "time zone" in naive.json()["detail"]
    due = (START + timedelta(days=30)).isoformat()
    ok = client.post(url, json={"due_at": due, "reason": "falta un informe"}, headers=_auth(token))
    assert ok.status_code == 200
    assert ok.json()["state"] == "pending"
    assert ok.json()["due_at"].startswith(due[:16])


def test_supervisors_see_promises_by_team_and_agents_do_not(
    client: TestClient, session: Session, token: str
) -> None:
    agent = make_user(session, username="agente", role="agent")
    agent_token = auth_service.create_token(session, agent, "a", now=START)
    session.commit()
    client.post("/api/v1/complaints", json={"description": "q"}, headers=_auth(token))
    r = client.get("/api/v1/tickets/promises", headers=_auth(token))
    assert r.status_code == 200
    rates = r.json()["rates"]
    assert rates
    assert rates[0]["subject_kind"] == "complaint"
    assert rates[0]["kept"] == 1
    assert client.get("/api/v1/tickets/promises", headers=_auth(agent_token)).status_code == 403
