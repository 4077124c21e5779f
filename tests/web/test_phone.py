"""The browser phone: a caller page and the agent's softphone (W1, W2, W6, C1)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.callbacks.models import Callback
from escucha.clock import FrozenClock
from escucha.contacts.models import Contact
from escucha.web import phone as phone_web
from tests.conftest import csrf_from, login

HX = {"HX-Request": "true"}


class Caller:
    """A person on the browser phone."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.token = csrf_from(client.get("/phone").text)

    def post(self, path: str, **data: str) -> str:
        r = self.client.post(path, data=data, headers={**HX, "X-CSRF-Token": self.token})
        assert r.status_code == 200, r.text
        return r.text

    def dial(self, number: str = "600111222", language: str = "es") -> str:
        return self.post("/phone/dial", number=number, language=language)

    def key(self, html: str, digits: str) -> str:
        seq = re.search(r'name="n" value="(\d+)"', html)
        assert seq, html
        return self.post("/phone/key", digits=digits, n=seq.group(1))


@pytest.fixture(autouse=True)
def _no_audio(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "audio" not in request.node.name:
        monkeypatch.setattr(phone_web, "espeak_available", lambda: False)


@pytest.fixture
def agent_client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def _contact(session: Session) -> Contact:
    session.expire_all()
    contact = session.scalar(select(Contact).where(Contact.channel == "voice"))
    assert contact is not None
    return contact


def _agent_act(client: TestClient, action: str, contact_id: int | None = None) -> str:
    token = csrf_from(client.get("/phone/agent").text)
    data = {"action": action, "csrf_token": token}
    if contact_id is not None:
        data["contact_id"] = str(contact_id)
    r = client.post("/phone/agent/act", data=data, headers=HX)
    assert r.status_code == 200, r.text
    return r.text


def test_anyone_can_open_the_caller_page(client: TestClient, users: dict[str, int]) -> None:
    r = client.get("/phone")
    assert r.status_code == 200
    assert "Teléfono del navegador" in r.text
    assert 'action="/phone/dial"' in r.text
    assert "Llamar a Aguas del Manzanares (demo)" in r.text


def test_a_caller_walks_the_ivr_and_hears_the_queue(
    client: TestClient, users: dict[str, int], session: Session
) -> None:
    caller = Caller(client)
    html = caller.dial()
    assert "Aguas del Manzanares, buenos días." in html
    assert "Para facturas, pulse 2." in html
    assert html.count('class="key"') == 12
    assert 'hx-post="/phone/poll"' not in html  # a menu waits for the caller, it does not poll
    queued = caller.key(html, "2")
    assert "El tiempo de espera estimado es de menos de" in queued
    assert 'hx-post="/phone/poll"' in queued
    assert "Que me llamen" in queued
    contact = _contact(session)
    assert (contact.state, contact.queue, contact.provider) == ("queued", "facturas", "browser")
    assert contact.ivr_path == [{"node": "main", "key": "2"}]
    again = caller.post("/phone/poll")
    assert "El tiempo de espera estimado" in again  # what was said stays on the screen


def test_words_can_be_written_instead_of_keys(
    client: TestClient, users: dict[str, int], session: Session
) -> None:
    caller = Caller(client)
    html = caller.dial(language="en")
    assert "Aguas del Manzanares, hello." in html
    seq = re.search(r'name="n" value="(\d+)"', html)
    assert seq
    caller.post("/phone/say", speech="I have a leak", n=seq.group(1))
    assert _contact(session).queue == "averias"


def test_the_call_me_back_key_keeps_the_place_and_states_a_time(
    client: TestClient, users: dict[str, int], session: Session
) -> None:
    caller = Caller(client)
    caller.key(caller.dial(), "2")
    html = caller.post("/phone/callback")
    assert "Le llamaremos hoy antes de las" in html
    assert "Le llamaremos. Mantenga esta página abierta" in html
    assert _contact(session).state == "callback"
    cb = session.scalar(select(Callback))
    assert cb is not None
    assert cb.phone == "+34600111222"


def test_hanging_up_while_waiting_is_an_abandon(
    client: TestClient, users: dict[str, int], session: Session
) -> None:
    caller = Caller(client)
    caller.key(caller.dial(), "2")
    html = caller.post("/phone/hangup")
    assert 'action="/phone/dial"' in html
    assert _contact(session).state == "abandoned"


def test_the_agent_softphone_shows_the_call_and_its_path_and_answers_it(
    client: TestClient,
    agent_client: TestClient,
    users: dict[str, int],
    session: Session,
    clock: FrozenClock,
) -> None:
    caller = Caller(client)
    caller.key(caller.dial(), "2")
    assert login(agent_client, "ana", "escucha-demo").status_code == 303
    panel = _agent_act(agent_client, "available")
    assert "Llamada entrante" in panel
    assert "+34600111222" in panel
    assert "main: 2 · facturas" in panel
    contact = _contact(session)
    assert contact.agent_id == users["ana"]
    assert "Le pasamos con Ana López" in caller.post("/phone/poll")
    clock.advance(timedelta(seconds=5))
    answered = _agent_act(agent_client, "answer", contact.id)
    assert "Colgar" in answered
    assert "Está hablando con Ana López." in caller.post("/phone/poll")
    clock.advance(timedelta(seconds=60))
    wrap = _agent_act(agent_client, "hangup", contact.id)
    assert 'name="recap"' in wrap
    assert 'hx-trigger="every 2s"' not in wrap  # the recap being typed is not wiped by polling
    assert "La llamada ha terminado." in caller.post("/phone/poll")
    _agent_act(agent_client, "wrap_up", contact.id)
    assert _contact(session).state == "ended"


def test_a_callback_rings_the_callers_page(
    client: TestClient,
    agent_client: TestClient,
    users: dict[str, int],
    session: Session,
    clock: FrozenClock,
) -> None:
    caller = Caller(client)
    caller.key(caller.dial(), "2")
    caller.post("/phone/callback")
    assert login(agent_client, "ana", "escucha-demo").status_code == 303
    panel = _agent_act(agent_client, "available")
    assert "Llamada de vuelta" in panel
    assert "Llamar al cliente" in panel
    cb = session.scalar(select(Callback))
    assert cb is not None
    clock.advance(timedelta(seconds=30))
    dialing = _agent_act(agent_client, "dial", cb.contact_id)
    assert "No contesta" in dialing
    ringing = caller.post("/phone/poll")
    assert "Le estamos llamando" in ringing
    assert 'action="/phone/answer"' in ringing
    connected = caller.post("/phone/answer")
    assert "como nos pidió" in connected
    assert "Está hablando con Ana López." in connected
    session.expire_all()
    cb = session.scalar(select(Callback))
    assert cb is not None
    assert cb.state == "completed"


def test_an_agent_sees_only_their_own_calls(
    client: TestClient, agent_client: TestClient, users: dict[str, int]
) -> None:
    caller = Caller(client)
    caller.key(caller.dial(), "5")
    assert login(agent_client, "luis", "escucha-demo").status_code == 303
    panel = _agent_act(agent_client, "available")
    assert "Llamada entrante" not in panel  # luis does not handle complaints
    token = csrf_from(agent_client.get("/phone/agent").text)
    r = agent_client.post(
        "/phone/agent/act", data={"action": "answer", "contact_id": "1", "csrf_token": token}
    )
    assert r.status_code == 409


def test_the_caller_page_refuses_a_post_without_its_csrf_token(
    client: TestClient, users: dict[str, int]
) -> None:
    client.get("/phone")
    r = client.post("/phone/dial", data={"number": "600111222"})
    assert r.status_code == 403


def test_calls_are_rate_limited_per_address(
    settings: object, clock: FrozenClock, users: dict[str, int]
) -> None:
    from escucha.app import create_app
    from escucha.config import Settings

    assert isinstance(settings, Settings)
    strict = settings.model_copy(update={"status_rate_per_min": 2})
    with TestClient(create_app(strict, clock=clock)) as c:
        caller = Caller(c)
        caller.dial()
        caller.dial()
        r = c.post(
            "/phone/dial",
            data={"number": "600111222"},
            headers={**HX, "X-CSRF-Token": caller.token},
        )
        assert r.status_code == 429


@pytest.mark.skipif(not phone_web.espeak_available(), reason="espeak-ng is not installed")
def test_prompts_are_played_as_audio(client: TestClient, users: dict[str, int]) -> None:
    caller = Caller(client)
    html = caller.dial()
    found = re.search(r'class="prompt-audio" src="(/phone/audio/[0-9a-f]{32}\.wav)"', html)
    assert found, html
    assert " autoplay" in html
    queued = caller.key(html, "2")
    playing = re.search(r'<audio id="(prompt-[0-9a-f]{32})"[^>]*hx-preserve autoplay', queued)
    assert playing, queued
    # a quiet pass of the wait loop keeps the same element (still playing), without replaying
    quiet = caller.post("/phone/poll")
    assert f'<audio id="{playing.group(1)}"' in quiet
    assert " autoplay" not in quiet
    wav = client.get(found.group(1))
    assert wav.status_code == 200
    assert wav.headers["content-type"] == "audio/wav"
    assert wav.content[:4] == b"RIFF"
    assert client.get("/phone/audio/..%2F..%2Fescucha.db").status_code == 404
