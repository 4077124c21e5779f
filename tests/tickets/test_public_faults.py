"""A fault of the database on a public page, and complaints whose contact is unusable (P5)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.tickets.models import Ticket
from tests.conftest import PG_URL, START, csrf_from
from tests.factories import make_org, make_user


def _read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    if PG_URL:
        cursor.execute("SET default_transaction_read_only = on")
    else:
        cursor.execute("PRAGMA query_only = ON")
    cursor.close()
    if PG_URL:
        dbapi_connection.commit()


def _count(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count(Ticket.id))) or 0)


def test_a_database_fault_gives_the_form_back_in_spanish_with_the_customers_text(
    client: TestClient, session: Session, app: FastAPI
) -> None:
    make_org(session)
    session.commit()
    page = client.get("/complaints/new", headers={"Accept-Language": "es"})
    csrf = csrf_from(page.text)
    engine: Engine = app.state.engine
    engine.dispose()
    event.listen(engine, "connect", _read_only)
    try:
        r = client.post(
            "/complaints/new",
            data={
                "csrf_token": csrf,
                "form_key": "k-1",
                "description": "Llevo tres días sin agua caliente",
                "email": "rosa@example.es",
            },
            headers={"Accept-Language": "es"},
            follow_redirects=False,
        )
    finally:
        event.remove(engine, "connect", _read_only)
        engine.dispose()
    assert r.status_code == 503
    assert r.headers["retry-after"] == "60"
    assert '<html lang="es">' in r.text
    assert "Llevo tres días sin agua caliente" in r.text
    assert "rosa@example.es" in r.text
    assert "puede volver a enviarlo sin riesgo" in r.text
    assert 'name="form_key" value="k-1"' in r.text
    assert _count(session) == 0
    # Sent again once the database is back, with the same form key: registered once.
    for _ in range(2):
        again = client.post(
            "/complaints/new",
            data={
                "csrf_token": csrf,
                "form_key": "k-1",
                "description": "Llevo tres días sin agua caliente",
                "email": "rosa@example.es",
            },
            follow_redirects=False,
        )
        assert again.status_code == 303
    assert _count(session) == 1


@pytest.fixture
def token(session: Session) -> str:
    make_org(session)
    user = make_user(session, username="crm", role="supervisor")
    raw = auth_service.create_token(session, user, "crm", now=START)
    session.commit()
    return raw


@pytest.mark.parametrize(
    ("contact", "reason"),
    [
        ({"email": "ana(at)example"}, "email_unusable"),
        ({"email": "not an address", "phone": "hello"}, "email_unusable"),
        ({"phone": "12"}, "phone_unusable"),
        ({}, "no_contact"),
    ],
)
def test_a_complaint_with_an_unusable_address_is_registered_and_the_caller_is_told_why(
    client: TestClient, session: Session, token: str, contact: dict[str, str], reason: str
) -> None:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"k-{reason}"}
    body = {"description": "No me han devuelto la fianza", **contact}
    r = client.post("/api/v1/complaints", json=body, headers=headers)
    assert r.status_code == 201, r.text
    ack = r.json()["acknowledgment"]
    assert ack["sent"] is False
    assert ack["channel"] is None
    assert ack["reason"] == reason
    assert ack["detail"]
    assert r.json()["number"]
    assert _count(session) == 1
    # A retry gives the same account of the acknowledgment.
    again = client.post("/api/v1/complaints", json=body, headers=headers)
    assert again.json()["acknowledgment"] == ack


def test_a_usable_address_says_the_acknowledgment_was_sent(client: TestClient, token: str) -> None:
    r = client.post(
        "/api/v1/complaints",
        json={"description": "x", "email": "ana@example.es"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.json()["acknowledgment"] == {
        "sent": True,
        "channel": "email",
        "reason": None,
        "detail": "",
    }


def test_any_database_fault_is_a_503_in_the_pages_language_and_in_the_apis_shape(
    client: TestClient, session: Session, app: FastAPI
) -> None:
    make_org(session)
    session.commit()
    page = client.get("/complaints/new", headers={"Accept-Language": "es"})
    csrf = csrf_from(page.text)
    filed = client.post(
        "/complaints/new",
        data={"csrf_token": csrf, "form_key": "k-2", "description": "Sin agua"},
        follow_redirects=False,
    )
    assert filed.status_code == 303
    assert client.get("/status/view").status_code == 200
    engine: Engine = app.state.engine
    engine.dispose()
    event.listen(engine, "connect", _read_only)
    try:
        added = client.post(
            "/status/message",
            data={"csrf_token": csrf, "body": "Ahora tampoco hay luz"},
            headers={"Accept-Language": "es"},
            follow_redirects=False,
        )
        api = client.post(
            "/api/v1/complaints", json={"description": "x"}, headers={"X-CSRF-Token": csrf}
        )
    finally:
        event.remove(engine, "connect", _read_only)
        engine.dispose()
    assert added.status_code == 503
    assert '<html lang="es">' in added.text
    assert "Ahora tampoco hay luz" in added.text  # their text, ready to send again
    assert "puede volver a enviarlo sin riesgo" in added.text
    assert 'action="/status/message"' in added.text
    assert api.status_code == 503
    assert api.json()["error"] == "database_unavailable"
    assert _count(session) == 1
    again = client.post(
        "/status/message",
        data={"csrf_token": csrf, "body": "Ahora tampoco hay luz"},
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert "Ahora tampoco hay luz" in client.get("/status/view").text


def test_a_database_fault_on_another_page_is_said_in_its_language(
    client: TestClient, session: Session, app: FastAPI
) -> None:
    make_org(session)
    session.commit()
    csrf = csrf_from(client.get("/status").text)
    engine: Engine = app.state.engine
    engine.dispose()
    event.listen(engine, "connect", _read_only)
    try:
        # A failed lookup writes its attempt for the rate limit: that write fails.
        r = client.post(
            "/status",
            data={"csrf_token": csrf, "number": "2026-0000001-2", "code": "AAAAAA"},
            headers={"Accept-Language": "es"},
            follow_redirects=False,
        )
    finally:
        event.remove(engine, "connect", _read_only)
        engine.dispose()
    assert r.status_code == 503
    assert '<html lang="es">' in r.text
    assert "No se ha guardado nada a medias" in r.text
