"""Idempotency keys belong to their caller and to what was sent with them (P5)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from escucha.auth import service as auth_service
from escucha.tickets import idempotency, opening
from escucha.tickets.models import Ticket
from tests.conftest import START, csrf_from
from tests.factories import make_org, make_user

_NUMBER = re.compile(r'id="ticket-number">([0-9-]+)<')
_FORM_KEY = re.compile(r'name="form_key" value="([^"]*)"')


@pytest.fixture
def token(session: Session) -> str:
    make_org(session)
    user = make_user(session, username="crm", role="supervisor")
    raw = auth_service.create_token(session, user, "crm", now=START)
    session.commit()
    return raw


@pytest.fixture
def stranger(app: FastAPI) -> Iterator[TestClient]:
    """A second browser: its own cookies, the same server."""
    with TestClient(app) as c:
        yield c


def _tickets(session: Session) -> list[Ticket]:
    session.expire_all()
    return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def _browser_post(client: TestClient, body: dict[str, object], key: str) -> dict[str, object]:
    csrf = csrf_from(client.get("/complaints/new").text)
    r = client.post(
        "/api/v1/complaints",
        json=body,
        headers={"X-CSRF-Token": csrf, "Idempotency-Key": key},
    )
    assert r.status_code == 201, r.text
    out: dict[str, object] = r.json()
    return out


def test_a_browser_reusing_an_integrations_key_gets_its_own_case_not_the_integrations(
    client: TestClient, stranger: TestClient, session: Session, token: str
) -> None:
    """Finding 1 (a): the key alone used to give the stranger the complaint's number and code."""
    crm = client.post(
        "/api/v1/complaints",
        json={"description": "Factura duplicada", "email": "ana@example.es"},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "order-1001"},
    )
    assert crm.status_code == 201
    theirs = _browser_post(stranger, {"description": "Factura duplicada"}, "order-1001")
    assert theirs["created"] is True
    assert theirs["number"] != crm.json()["number"]
    assert theirs["verification_code"] != crm.json()["verification_code"]
    # The stranger's status lookup with what they were given opens only their own case.
    page = stranger.get("/status")
    r = stranger.post(
        "/status",
        data={
            "number": crm.json()["number"],
            "code": theirs["verification_code"],
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert r.status_code == 404
    assert len(_tickets(session)) == 2


def test_an_integration_is_never_answered_with_a_visitors_case_for_the_same_key(
    client: TestClient, stranger: TestClient, session: Session, token: str
) -> None:
    """Finding 1 (b): the visitor's earlier key used to swallow the real complaint."""
    visitor = _browser_post(stranger, {"description": "spam"}, "order-1001")
    crm = client.post(
        "/api/v1/complaints",
        json={"description": "Me cortaron el agua", "email": "ana@example.es"},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "order-1001"},
    )
    assert crm.status_code == 201
    assert crm.json()["created"] is True
    assert crm.json()["number"] != visitor["number"]
    stored = session.scalar(select(Ticket).where(Ticket.number == crm.json()["number"]))
    assert stored is not None
    assert stored.description == "Me cortaron el agua"
    # Each caller's retry still finds its own case.
    again = client.post(
        "/api/v1/complaints",
        json={"email": "ana@example.es", "description": "Me cortaron el agua", "channel": "web"},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "order-1001"},
    )
    assert again.status_code == 201
    assert again.json()["created"] is False
    assert again.json()["number"] == crm.json()["number"]
    assert again.json()["acknowledged_by"] == crm.json()["acknowledged_by"] == "email"
    assert (
        _browser_post(stranger, {"description": "spam"}, "order-1001")["number"]
        == (visitor["number"])
    )
    assert len(_tickets(session)) == 2


def test_the_same_key_with_another_body_is_a_409_that_says_why_and_writes_nothing(
    client: TestClient, session: Session, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "order-1002"}
    first = client.post("/api/v1/complaints", json={"description": "uno"}, headers=headers)
    assert first.status_code == 201
    other = client.post("/api/v1/complaints", json={"description": "dos"}, headers=headers)
    assert other.status_code == 409
    assert other.json()["error"] == "idempotency_key_reused"
    assert "NOT registered" in other.json()["detail"]
    assert "new key" in other.json()["detail"]
    assert [t.description for t in _tickets(session)] == ["uno"]
    # Sent again with a new key, as the error says: registered.
    fresh = client.post(
        "/api/v1/complaints",
        json={"description": "dos"},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "order-1002-b"},
    )
    assert fresh.status_code == 201
    assert fresh.json()["created"] is True
    assert [t.description for t in _tickets(session)] == ["uno", "dos"]


def test_two_tokens_of_one_integration_have_separate_keys(
    client: TestClient, session: Session, token: str
) -> None:
    user = make_user(session, username="crm2", role="supervisor")
    other = auth_service.create_token(session, user, "crm2", now=START)
    session.commit()
    numbers = {
        client.post(
            "/api/v1/complaints",
            json={"description": "igual"},
            headers={"Authorization": f"Bearer {raw}", "Idempotency-Key": "k-1"},
        ).json()["number"]
        for raw in (token, other)
    }
    assert len(numbers) == 2


def test_an_agents_ticket_key_is_scoped_and_hashed_too(
    client: TestClient, session: Session, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "t-1"}
    body = {"kind": "query", "description": "¿Horario?"}
    first = client.post("/api/v1/tickets", json=body, headers=headers)
    same = client.post("/api/v1/tickets", json=body, headers=headers)
    assert first.status_code == same.status_code == 201
    assert same.json()["number"] == first.json()["number"]
    changed = client.post("/api/v1/tickets", json={**body, "kind": "fault"}, headers=headers)
    assert changed.status_code == 409
    assert changed.json()["error"] == "idempotency_key_reused"


def _form(client: TestClient) -> tuple[str, str]:
    page = client.get("/complaints/new")
    key = _FORM_KEY.search(page.text)
    assert key
    return csrf_from(page.text), key.group(1)


def _submit(client: TestClient, csrf: str, key: str, text: str) -> httpx.Response:
    return client.post(
        "/complaints/new",
        data={"csrf_token": csrf, "form_key": key, "description": text},
        follow_redirects=False,
    )


def test_a_form_key_copied_by_another_browser_opens_a_new_case(
    client: TestClient, stranger: TestClient, session: Session
) -> None:
    make_org(session)
    session.commit()
    csrf, key = _form(client)
    r = _submit(client, csrf, key, "El contador marca de más")
    assert r.status_code == 303
    mine = _NUMBER.search(client.get("/complaints/done").text)
    their_csrf, _ = _form(stranger)
    r = _submit(stranger, their_csrf, key, "El contador marca de más")
    assert r.status_code == 303
    theirs = _NUMBER.search(stranger.get("/complaints/done").text)
    assert mine
    assert theirs
    assert mine.group(1) != theirs.group(1)
    assert len(_tickets(session)) == 2


def test_the_same_form_sent_again_with_other_text_keeps_the_text_and_loses_nothing(
    client: TestClient, session: Session
) -> None:
    make_org(session)
    session.commit()
    csrf, key = _form(client)
    assert _submit(client, csrf, key, "Primera versión").status_code == 303
    assert _submit(client, csrf, key, "Primera versión").status_code == 303
    assert len(_tickets(session)) == 1
    r = _submit(client, csrf, key, "Segunda versión, distinta")
    assert r.status_code == 409
    html = r.text
    assert "Segunda versión, distinta" in html
    assert "ya se envió" in html
    new_key = _FORM_KEY.search(html)
    assert new_key
    assert new_key.group(1) not in ("", key)
    again = _submit(client, csrf_from(html), new_key.group(1), "Segunda versión, distinta")
    assert again.status_code == 303
    assert [t.description for t in _tickets(session)] == [
        "Primera versión",
        "Segunda versión, distinta",
    ]


def test_the_stored_key_is_not_the_clients_key(
    client: TestClient, session: Session, token: str
) -> None:
    client.post(
        "/api/v1/complaints",
        json={"description": "x"},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "order-1003"},
    )
    stored = session.scalar(select(Ticket.request_key))
    assert stored is not None
    assert "order-1003" not in stored
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert session.scalar(select(func.count(Ticket.id))) == 1


def test_two_requests_racing_with_one_key_get_one_case(
    session: Session,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both look the key up before either writes: the second's insert meets the unique key
    and answers with the first's case, never a 500 and never a second case."""
    make_org(session)
    session.commit()
    both_looked = threading.Barrier(2, timeout=30)
    allocate = opening.allocate_number

    def after_both_looked(s: Session, year: int) -> tuple[int, str]:
        both_looked.wait()
        return allocate(s, year)

    monkeypatch.setattr(opening, "allocate_number", after_both_looked)
    intake = opening.Intake(
        channel="web",
        description="Corte sin aviso",
        request_key=idempotency.scoped_key("api", "token:x", "k-race"),
        request_hash=idempotency.request_hash({"description": "Corte sin aviso"}),
    )
    results: list[tuple[str, bool]] = []
    errors: list[BaseException] = []

    def file() -> None:
        with session_factory() as s:
            try:
                opened = opening.file_complaint(s, intake, now=START, base_url="x")
                results.append((opened.ticket.number, opened.created))
                s.commit()
            except BaseException as exc:  # reported below
                errors.append(exc)

    threads = [threading.Thread(target=file) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(created for _, created in results) == [False, True]
    assert len({number for number, _ in results}) == 1
    assert len(_tickets(session)) == 1
