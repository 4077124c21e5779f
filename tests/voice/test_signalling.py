"""Signalling of web calls: each side reaches only its own calls (ADR 16; #14 finding 10)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.contacts.models import Contact
from tests.conftest import csrf_from, login
from tests.factories import demo

HX = {"HX-Request": "true"}
OFFER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"


@pytest.fixture
def users(session: Session, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    found = demo(session)
    session.commit()
    return found


@pytest.fixture
def other(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def agent(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


class Page:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.token = csrf_from(client.get("/phone").text)

    def form(self, path: str, **data: str) -> str:
        r = self.client.post(path, data=data, headers={**HX, "X-CSRF-Token": self.token})
        assert r.status_code == 200, r.text
        return r.text

    def signal(self, contact_id: int, kind: str, **body: str) -> int:
        r = self.client.post(
            "/phone/voice/signal",
            json={"contact_id": contact_id, "kind": kind, "body": body},
            headers={"X-CSRF-Token": self.token},
        )
        return r.status_code

    def queued(self) -> None:
        html = self.form("/phone/dial", number="600111222", language="es")
        seq = re.search(r'name="n" value="(\d+)"', html)
        assert seq
        self.form("/phone/key", digits="2", n=seq.group(1))


def events(client: TestClient, path: str, after: int = 0) -> list[dict[str, object]]:
    """The signals a stream sends (one look, from ``after``)."""
    r = client.get(path, headers={"Last-Event-ID": str(after)})
    assert r.status_code == 200
    return [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]


def _desk(client: TestClient, path: str, **data: str) -> str:
    token = csrf_from(client.get("/agent").text)
    r = client.post(path, data={**data, "csrf_token": token}, headers=HX)
    assert r.status_code == 200, r.text
    return r.text


def test_an_offer_and_its_answer_reach_only_the_two_ends_of_the_call(
    client: TestClient,
    other: TestClient,
    agent: TestClient,
    users: dict[str, int],
    session: Session,
) -> None:
    caller, stranger = Page(client), Page(other)
    caller.queued()
    stranger.queued()
    contact = session.scalar(select(Contact).order_by(Contact.id).limit(1))
    assert contact is not None
    assert login(agent, "ana", "escucha-demo").status_code == 303
    _desk(agent, "/agent/state", state="available")
    _desk(agent, f"/agent/contacts/{contact.id}/answer")
    token = csrf_from(agent.get("/agent").text)
    sent = agent.post(
        "/agent/voice/signal",
        json={"contact_id": contact.id, "kind": "offer", "body": {"sdp": OFFER}},
        headers={"X-CSRF-Token": token},
    )
    assert sent.status_code == 200, sent.text
    (offer,) = events(client, "/phone/voice/events")
    assert (offer["kind"], offer["contact_id"], offer["sdp"]) == ("offer", contact.id, OFFER)
    assert events(other, "/phone/voice/events") == []  # another page hears nothing of it
    # the other page may not answer (nor hang up) a call that is not its own
    assert stranger.signal(contact.id, "answer", sdp=OFFER) == 403
    assert stranger.signal(contact.id, "bye") == 403
    assert caller.signal(contact.id, "answer", sdp=OFFER) == 200
    (answer,) = events(agent, "/agent/voice/events")
    assert (answer["kind"], answer["contact_id"]) == ("answer", contact.id)
    # a caller may not send what only an agent sends, nor an unbounded body
    assert caller.signal(contact.id, "offer", sdp=OFFER) == 422
    assert caller.signal(contact.id, "answer", sdp="x" * 30_000) == 422


def test_an_agent_signals_only_a_call_offered_or_assigned_to_them(
    client: TestClient, agent: TestClient, users: dict[str, int], session: Session
) -> None:
    Page(client).queued()
    contact = session.scalar(select(Contact))
    assert contact is not None
    assert login(agent, "luis", "escucha-demo").status_code == 303
    token = csrf_from(agent.get("/agent").text)
    r = agent.post(
        "/agent/voice/signal",
        json={"contact_id": contact.id, "kind": "offer", "body": {"sdp": OFFER}},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 403
    assert events(client, "/phone/voice/events") == []


def test_the_web_call_can_be_framed_only_by_the_sites_named(
    settings: object, users: dict[str, int]
) -> None:
    from escucha.app import create_app
    from escucha.config import Settings

    assert isinstance(settings, Settings)
    named = settings.model_copy(update={"phone_embed_origins": "https://www.example.org"})
    with TestClient(create_app(named)) as c:
        framed = c.get("/phone/embed")
        assert framed.status_code == 200
        assert (
            "frame-ancestors 'self' https://www.example.org;"
            in framed.headers["content-security-policy"]
        )
        assert "x-frame-options" not in framed.headers
        assert 'action="/phone/dial"' in framed.text
        page = c.get("/phone")  # the full page is never framed
        assert page.headers["x-frame-options"] == "DENY"
    with TestClient(create_app(settings)) as c:
        closed = c.get("/phone/embed")
        assert "frame-ancestors 'none'" in closed.headers["content-security-policy"]
        assert closed.headers["x-frame-options"] == "DENY"
    with pytest.raises(ValueError, match="not an origin"):
        Settings(phone_embed_origins="https://x.org; script-src *")
