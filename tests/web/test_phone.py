"""The web call: the caller's page and the agent desk that takes its calls (W1, W2, W6, C1)."""

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

    def json(self, path: str, body: dict[str, object]) -> dict[str, object]:
        r = self.client.post(path, json=body, headers={"X-CSRF-Token": self.token})
        assert r.status_code == 200, r.text
        answer: dict[str, object] = r.json()
        return answer

    def beat(self) -> None:
        self.json("/phone/voice/beat", {"media": "none"})

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


def _desk(client: TestClient, path: str, **data: str) -> str:
    """An action on the agent desk (``/agent/state`` or ``/agent/contacts/<id>/<action>``)."""
    token = csrf_from(client.get("/agent").text)
    r = client.post(path, data={**data, "csrf_token": token}, headers=HX)
    assert r.status_code == 200, r.text
    return r.text


def test_anyone_can_open_the_caller_page(client: TestClient, users: dict[str, int]) -> None:
    r = client.get("/phone")
    assert r.status_code == 200
    assert "Llamar a Aguas del Manzanares (demo)" in r.text
    assert "data-voice-page" in r.text  # the sound panel
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
    assert "Aguas del Manzanares, good morning." in html  # 10:00 in Madrid
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
    panel = _desk(agent_client, "/agent/state", state="available")
    assert "Llamada entrante" in panel
    assert 'data-voice-transport="webrtc"' in panel  # the desk's softphone carries the sound
    assert "+34600•••222" in panel  # masked as everywhere on the desk, and marked unverified
    assert "número escrito por quien llama, sin verificar" in panel
    assert "+34600111222" not in panel
    assert "facturas (tecla 2)" in panel
    contact = _contact(session)
    assert contact.agent_id == users["ana"]
    waiting = caller.post("/phone/poll")
    assert "Le pasamos con Ana López" in waiting
    assert "persona" not in waiting  # the place in line is no longer true
    clock.advance(timedelta(seconds=5))
    answered = _desk(agent_client, f"/agent/contacts/{contact.id}/answer")
    assert "Terminar la llamada" in answered
    talking = caller.post("/phone/poll")
    assert "Está hablando con Ana López." in talking
    assert "tiempo de espera" not in talking
    clock.advance(timedelta(seconds=60))
    wrap = _desk(agent_client, f"/agent/contacts/{contact.id}/end")
    assert 'name="recap"' in wrap
    assert "La llamada ha terminado." in caller.post("/phone/poll")
    _desk(
        agent_client,
        f"/agent/contacts/{contact.id}/wrap-up",
        outcome="solved",
        resolved="yes",
        recap="Factura explicada",
    )
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
    caller.beat()  # the page is still open
    panel = _desk(agent_client, "/agent/state", state="available")
    assert "Llamada de vuelta" in panel
    assert "Llamar al cliente" in panel
    assert "No contesta" not in panel  # "no answer" only after a real attempt
    cb = session.scalar(select(Callback))
    assert cb is not None
    clock.advance(timedelta(seconds=3))
    caller.beat()
    dialing = _desk(agent_client, f"/agent/contacts/{cb.contact_id}/call")
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
    panel = _desk(agent_client, "/agent/state", state="available")
    assert "Llamada entrante" not in panel  # luis does not handle complaints
    token = csrf_from(agent_client.get("/agent").text)
    r = agent_client.post("/agent/contacts/1/answer", data={"csrf_token": token}, headers=HX)
    assert r.status_code == 409
    r = agent_client.post(
        "/agent/voice/signal",
        json={"contact_id": 1, "kind": "offer", "body": {"sdp": "v=0\r\n"}},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 403  # nor signal a call that is not offered to him


def test_the_old_softphone_address_leads_to_the_desk(
    agent_client: TestClient, users: dict[str, int]
) -> None:
    assert login(agent_client, "ana", "escucha-demo").status_code == 303
    r = agent_client.get("/phone/agent", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/agent")


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


def test_a_callback_to_a_closed_page_without_a_phone_line_is_not_an_attempt(
    client: TestClient,
    agent_client: TestClient,
    users: dict[str, int],
    session: Session,
    clock: FrozenClock,
) -> None:
    caller = Caller(client)
    caller.key(caller.dial(), "2")
    caller.post("/phone/callback")
    clock.advance(timedelta(seconds=30))  # the page stopped beating: it was closed
    assert login(agent_client, "ana", "escucha-demo").status_code == 303
    panel = _desk(agent_client, "/agent/state", state="available")
    assert "La página del cliente está cerrada" in panel
    cb = session.scalar(select(Callback))
    assert cb is not None
    token = csrf_from(agent_client.get("/agent").text)
    said = {}
    for action in ("call", "no-answer"):
        r = agent_client.post(
            f"/agent/contacts/{cb.contact_id}/{action}", data={"csrf_token": token}, headers=HX
        )
        assert r.status_code == 409, action
        said[action] = r.text
    assert "no phone line is set up" in said["call"]
    assert "no answer is recorded without a call" in said["no-answer"]
    session.expire_all()
    again = session.get(Callback, cb.id)
    assert again is not None
    assert (again.state, again.attempts) == ("offered", 0)  # nothing was recorded as tried


def test_a_typed_number_never_joins_another_customers_history(
    client: TestClient, users: dict[str, int], session: Session
) -> None:
    """Finding 10: the web caller types a number that belongs to a known customer; the call is
    not added to that customer's history, yet a callback still rings the number typed."""
    from escucha.contacts import service as contacts
    from escucha.contacts.models import Customer
    from tests.conftest import START

    known = contacts.find_or_create_customer(
        session, now=START, phone="600111222", name="Carmen Ruiz", language="es"
    )
    session.commit()
    caller = Caller(client)
    caller.key(caller.dial(number="600111222"), "2")
    contact = _contact(session)
    assert contact.customer_id != known.id
    stranger = session.get(Customer, contact.customer_id)
    assert stranger is not None
    assert (stranger.phone, stranger.name) == (None, "")
    assert contact.caller_number == "+34600111222"
    html = caller.post("/phone/callback")
    assert "Le llamaremos hoy antes de las" in html
    cb = session.scalar(select(Callback))
    assert cb is not None
    assert cb.phone == "+34600111222"  # the number typed is the one called back
    assert cb.customer_id == stranger.id
    # The known customer's history has no contact from the web page.
    session.expire_all()
    assert session.scalar(select(Contact).where(Contact.customer_id == known.id)) is None
