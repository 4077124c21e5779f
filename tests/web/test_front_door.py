"""The front door at ``/``: what a customer can do, the staff login apart (day one)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import login
from tests.factories import demo_users


def test_a_visitor_sees_what_a_customer_can_do(app: FastAPI, session: Session) -> None:
    demo_users(session)
    with TestClient(app) as c:
        page = c.get("/", headers={"accept-language": "es"})
        assert page.status_code == 200
        assert "Aguas del Manzanares (demo)" in page.text
        for href in ("/phone", "/requests/new", "/complaints/new", "/status", "/login"):
            assert f'href="{href}"' in page.text
        assert "Presentar una reclamación" in page.text
        english = c.get("/", headers={"accept-language": "en"})
        assert "File a complaint" in english.text
        # Every door opens.
        for href in ("/requests/new", "/complaints/new", "/status", "/login"):
            assert c.get(href).status_code == 200, href


def test_staff_go_to_their_home(app: FastAPI, session: Session) -> None:
    demo_users(session)
    with TestClient(app) as c:
        assert login(c, "ana", "escucha-demo").status_code == 303
        r = c.get("/", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/agent"


def test_the_door_answers_before_any_organisation_exists(client: TestClient) -> None:
    page = client.get("/", headers={"accept-language": "en"})
    assert page.status_code == 200
    assert "Customer service" in page.text
