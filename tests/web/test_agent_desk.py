"""The agent desktop through the screens (W5, C2, C3, C6, P3)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact, ContactEvent
from escucha.flows import wrapup
from escucha.jobs.service import run_due
from escucha.notifications.models import Notification
from escucha.promises import service as promises
from escucha.promises.models import Promise
from escucha.routing.models import AgentStatus
from tests.conftest import START, csrf_from, login

HX = {"HX-Request": "true"}
S = timedelta(seconds=1)


def _agent(app: FastAPI, username: str) -> Iterator[tuple[TestClient, str]]:
    with TestClient(app) as c:
        assert login(c, username, "escucha-demo").status_code == 303
        page = c.get("/agent")
        assert page.status_code == 200
        yield c, csrf_from(page.text)


@pytest.fixture
def ana(app: FastAPI, users: dict[str, int]) -> Iterator[tuple[TestClient, str]]:
    yield from _agent(app, "ana")


@pytest.fixture
def luis(app: FastAPI, users: dict[str, int]) -> Iterator[tuple[TestClient, str]]:
    yield from _agent(app, "luis")


def _post(agent: tuple[TestClient, str], path: str, **data: str) -> Any:
    client, token = agent
    return client.post(path, data={"csrf_token": token, **data}, headers=HX)


def _caller(session: Session, phone: str = "600222001", **kw: Any) -> Contact:
    customer = contacts.find_or_create_customer(
        session, now=START, phone=phone, name=kw.get("name", ""), language=kw.get("lang", "es")
    )
    c = contacts.start_contact(session, channel="voice", now=START, customer=customer)
    contacts.ivr_choice(session, c, node="main", key="2", now=START)
    contacts.enqueue(session, c, "facturas", now=START, skills={"facturas": 1})
    session.commit()
    return c


def _offered_to_ana(
    session: Session, ana: tuple[TestClient, str], **kw: Any
) -> tuple[Contact, str]:
    c = _caller(session, **kw)
    r = _post(ana, "/agent/state", state="available")
    assert r.status_code == 200
    session.expire_all()
    contact = session.get(Contact, c.id)
    assert contact is not None
    assert contact.state == "offered"
    return contact, r.text


def _contact(session: Session, contact_id: int) -> Contact:
    session.expire_all()
    contact = session.get(Contact, contact_id)
    assert contact is not None
    return contact


def test_the_agent_changes_state_with_the_buttons(
    ana: tuple[TestClient, str], session: Session, users: dict[str, int]
) -> None:
    page = ana[0].get("/agent").text
    for label in ("Disponible", "Descanso", "Desconectado"):
        assert label in page
    r = _post(ana, "/agent/state", state="available")
    assert r.status_code == 200
    assert 'data-state="available"' in r.text
    assert "<html" not in r.text  # the desk alone, for HTMX
    status = session.get(AgentStatus, users["ana"])
    assert status is not None
    assert status.state == "available"
    assert _post(ana, "/agent/state", state="break").status_code == 200
    session.expire_all()
    assert session.get(AgentStatus, users["ana"]).state == "break"  # type: ignore[union-attr]
    refused = _post(ana, "/agent/state", state="busy")
    assert refused.status_code == 422
    assert 'role="alert"' in refused.text
    # without HTMX: a plain form post comes back to the desk
    client, token = ana
    plain = client.post(
        "/agent/state", data={"csrf_token": token, "state": "available"}, follow_redirects=False
    )
    assert (plain.status_code, plain.headers["location"]) == (303, "/agent")


def test_before_answering_the_agent_sees_the_whole_situation(
    ana: tuple[TestClient, str], session: Session
) -> None:
    customer = contacts.find_or_create_customer(
        session, now=START, phone="600222001", name="Pilar Gómez", language="en"
    )
    earlier = contacts.start_contact(
        session, channel="voice", now=START - timedelta(days=2), customer=customer
    )
    earlier.state, earlier.outcome, earlier.resolved = "ended", "informed", True
    earlier.recap = "Explained the October bill"
    promises.create(
        session,
        kind="update",
        due_at=START + timedelta(hours=5),
        now=START - timedelta(days=2),
        channel="voice",
        subject_kind="query",
        told="update before 15:00",
        customer_id=customer.id,
    )
    session.commit()
    contact, html = _offered_to_ana(session, ana, name="Pilar Gómez", lang="en")
    assert contact.state == "offered"
    assert "Llamada entrante" in html
    assert "Pilar Gómez" in html
    assert "+34600•••001" in html
    assert "600222001" not in html
    assert 'data-language="en"' in html
    assert "English" in html
    assert "facturas (tecla 2)" in html  # the IVR path, in the agent's language
    assert "Explained the October bill" in html  # last contacts
    assert "Actualización · vence 15:00" in html  # open promises (10:00 + 5 h, Madrid time)
    assert "Atender" in html
    assert "Rechazar" in html


def test_hold_needs_to_say_whether_the_customer_was_told(
    ana: tuple[TestClient, str], session: Session
) -> None:
    contact, _ = _offered_to_ana(session, ana)
    base = f"/agent/contacts/{contact.id}"
    assert _post(ana, f"{base}/answer").status_code == 200
    assert _contact(session, contact.id).state == "connected"
    refused = _post(ana, f"{base}/hold")
    assert refused.status_code == 422
    assert "hold" in refused.text
    assert _contact(session, contact.id).state == "connected"
    held = _post(ana, f"{base}/hold", announced="yes")
    assert held.status_code == 200
    assert _contact(session, contact.id).state == "on_hold"
    assert "Reanudar" in held.text
    started = session.scalar(
        select(ContactEvent).where(
            ContactEvent.contact_id == contact.id, ContactEvent.event == "hold_started"
        )
    )
    assert started is not None
    assert started.data == {"announced": True}
    assert _post(ana, f"{base}/resume").status_code == 200
    assert _contact(session, contact.id).state == "connected"
    ended = [e.data for e in contacts.events_of(session, contact.id) if e.event == "hold_ended"]
    assert len(ended) == 1


def test_a_transfer_carries_the_context_to_the_next_agent(
    app: FastAPI, ana: tuple[TestClient, str], session: Session, users: dict[str, int]
) -> None:
    contact, _ = _offered_to_ana(session, ana, name="Pilar Gómez")
    base = f"/agent/contacts/{contact.id}"
    _post(ana, f"{base}/answer")
    assert _post(ana, f"{base}/transfer").status_code == 422  # no queue chosen
    moved = _post(ana, f"{base}/transfer", queue="reclamaciones", note="Quiere reclamar octubre")
    assert moved.status_code == 200
    after = _contact(session, contact.id)
    assert (after.state, after.queue, after.agent_id) == ("queued", "reclamaciones", None)
    assert session.get(AgentStatus, users["ana"]).state == "wrap_up"  # type: ignore[union-attr]
    assert "Disponible" in moved.text  # Ana chooses when she is ready again
    after.skills = {"reclamaciones": 2}
    session.commit()
    for marta in _agent(app, "marta"):
        desk = _post(marta, "/agent/state", state="available").text
        assert "Quiere reclamar octubre" in desk
        assert "Ana López" in desk
        assert "Pilar Gómez" in desk
        assert "facturas (tecla 2)" in desk


def test_wrap_up_sends_the_recap_with_a_concrete_time(
    ana: tuple[TestClient, str],
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    contact, _ = _offered_to_ana(session, ana)
    base = f"/agent/contacts/{contact.id}"
    _post(ana, f"{base}/answer")
    clock.advance(95)
    ended = _post(ana, f"{base}/end")
    assert ended.status_code == 200
    assert _contact(session, contact.id).state == "wrap_up"
    assert "Terminar y enviar el resumen" in ended.text
    assert "1:35" in ended.text  # handle time, shown
    clock.advance(565)  # wrap-up is never timed: minutes later it is still open
    assert _contact(session, contact.id).state == "wrap_up"
    done = _post(
        ana,
        f"{base}/wrap-up",
        outcome="solved",
        resolved="yes",
        recap="Factura de octubre corregida\nAbono en la próxima factura",
        next_state="break",
    )
    assert done.status_code == 200
    closed = _contact(session, contact.id)
    assert (closed.state, closed.outcome, closed.resolved) == ("ended", "solved", True)
    assert session.get(AgentStatus, closed.agent_id).state == "break"  # type: ignore[union-attr]
    note = session.scalar(
        select(Notification).where(Notification.idempotency_key == f"contact:{contact.id}:recap")
    )
    assert note is not None
    assert (note.kind, note.channel) == ("wrapup_recap", "sms")
    assert "Factura de octubre corregida; Abono en la próxima factura" in note.body
    local = (clock.now() + timedelta(minutes=1, hours=1)).strftime("%H:%M")  # Madrid, UTC+1
    assert local in note.body
    # the day's figures: one contact, resolved at first contact
    assert "100\u00a0%" in done.text  # Spanish writes a space before %
    run_due(session_factory, settings, clock)
    (sent,) = settings.outbox_dir.glob("sms-contact_*_recap.json")
    assert json.loads(sent.read_text())["to"] == "+34600222001"


def test_not_solved_needs_a_promised_time_and_opens_a_case(
    ana: tuple[TestClient, str], session: Session
) -> None:
    contact, _ = _offered_to_ana(session, ana)
    base = f"/agent/contacts/{contact.id}"
    _post(ana, f"{base}/answer")
    _post(ana, f"{base}/end")
    form = {
        "outcome": "needs_follow_up",
        "resolved": "no",
        "recap": "Revisaremos la lectura del contador",
    }
    missing = _post(ana, f"{base}/wrap-up", **form)
    assert missing.status_code == 422
    assert "promised_at" in missing.text
    assert _contact(session, contact.id).state == "wrap_up"
    past = _post(ana, f"{base}/wrap-up", **form, promised_at="2026-11-23T09:00")
    assert past.status_code == 422
    vague = _post(
        ana,
        f"{base}/wrap-up",
        **{**form, "recap": "Le llamaremos lo antes posible"},
        promised_at="2026-11-24T12:00",
    )
    assert vague.status_code == 422
    assert _contact(session, contact.id).state == "wrap_up"
    ok = _post(ana, f"{base}/wrap-up", **form, promised_at="2026-11-24T12:00")
    assert ok.status_code == 200
    closed = _contact(session, contact.id)
    assert (closed.state, closed.resolved) == ("ended", False)
    from escucha.tickets.models import Ticket

    ticket = session.scalar(select(Ticket).where(Ticket.customer_id == closed.customer_id))
    assert ticket is not None
    due = START.replace(day=24, hour=11)  # 12:00 in Madrid
    promise = session.scalar(
        select(Promise).where(Promise.ticket_id == ticket.id, Promise.due_at == due)
    )
    assert promise is not None
    recap = session.scalar(
        select(Notification).where(Notification.idempotency_key == f"contact:{contact.id}:recap")
    )
    assert recap is not None
    assert ticket.number in recap.body
    assert "12:00" in recap.body
    assert "mañana" in recap.body


def test_without_tickets_the_promised_time_is_kept_as_a_promise(
    ana: tuple[TestClient, str], session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wrapup, "_ticket_opener", lambda: None)
    contact, _ = _offered_to_ana(session, ana)
    base = f"/agent/contacts/{contact.id}"
    _post(ana, f"{base}/answer")
    _post(ana, f"{base}/end")
    r = _post(
        ana,
        f"{base}/wrap-up",
        outcome="needs_follow_up",
        resolved="no",
        recap="Revisaremos la lectura",
        promised_at="2026-11-24T12:00",
    )
    assert r.status_code == 200
    session.expire_all()
    promise = session.scalar(
        select(Promise).where(Promise.customer_id == contact.customer_id, Promise.kind == "update")
    )
    assert promise is not None
    assert (promise.state, promise.due_at) == ("pending", START.replace(day=24, hour=11))


def test_agents_cannot_act_on_each_others_contacts(
    ana: tuple[TestClient, str], luis: tuple[TestClient, str], session: Session
) -> None:
    contact, _ = _offered_to_ana(session, ana)
    base = f"/agent/contacts/{contact.id}"
    for action, data in (
        ("answer", {}),
        ("decline", {}),
        ("hold", {"announced": "yes"}),
        ("wrap-up", {"outcome": "solved", "resolved": "yes", "recap": "x"}),
    ):
        r = _post(luis, f"{base}/{action}", **data)
        assert r.status_code == 409, action
        assert "not yours" in r.text
    assert _contact(session, contact.id).state == "offered"
    assert _post(ana, f"{base}/no-such-thing").status_code == 404


def test_handle_time_is_shown_and_never_enforced(
    ana: tuple[TestClient, str],
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    contact, _ = _offered_to_ana(session, ana)
    _post(ana, f"/agent/contacts/{contact.id}/answer")
    clock.advance(timedelta(hours=2, seconds=5))
    run_due(session_factory, settings, clock)  # no job cuts a long call
    assert _contact(session, contact.id).state == "connected"
    desk = ana[0].get("/agent/desk").text
    assert re.search(r'data-elapsed-s="7205"[^>]*>2:00:05<', desk)
    assert "level-" not in desk  # no colour judges the agent's time


def test_the_desk_stream_sends_the_desk_first(
    ana: tuple[TestClient, str], users: dict[str, int]
) -> None:
    client, _ = ana
    got = b""
    with client.stream("GET", "/agent/events", headers={"accept": "text/event-stream"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for chunk in r.iter_bytes():
            got += chunk
            if b"\n\n" in got or len(got) > 200_000:
                break
    first = got.split(b"\n\n", 1)[0].decode()
    assert first.startswith("event: desk\n")
    assert all(line.startswith("data: ") for line in first.splitlines()[1:])
    assert 'data-fp="' in first
    # a client that does not ask for a stream gets the first event, and the response ends
    once = client.get("/agent/events")
    assert once.text.startswith("event: desk\n")


def test_the_desk_needs_a_login(client: TestClient, users: dict[str, int]) -> None:
    r = client.get("/agent", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/login?next=/agent")
    page = client.get("/login")
    refused = client.post(
        "/agent/state", data={"state": "available", "csrf_token": csrf_from(page.text)}
    )
    assert refused.status_code in (401, 303, 200)
    assert "Iniciar sesión" in refused.text


def test_a_callback_shows_its_original_place_and_can_go_unanswered(
    ana: tuple[TestClient, str], session: Session, users: dict[str, int]
) -> None:
    from escucha.callbacks import service as callbacks
    from escucha.callbacks.models import Callback

    waiting = _caller(session, phone="600222009")
    customer = session.get(contacts.Customer, waiting.customer_id)
    assert customer is not None
    cb = callbacks.request_callback(
        session, now=START + 30 * S, queue="facturas", customer=customer, contact=waiting
    )
    session.commit()
    desk = _post(ana, "/agent/state", state="available").text
    assert "Llamada de vuelta pendiente" in desk
    assert "Conserva su turno desde 10:00" in desk  # when the caller first joined the line
    assert "intento 1/3" in desk
    assert "El cliente ha contestado" in desk
    r = _post(ana, f"/agent/contacts/{cb.contact_id}/no-answer")
    assert r.status_code == 200
    session.expire_all()
    again = session.get(Callback, cb.id)
    assert again is not None
    assert (again.state, again.attempts) == ("pending", 1)
    assert session.get(AgentStatus, users["ana"]).state == "available"  # type: ignore[union-attr]


def test_the_desk_stream_pushes_a_new_offer(
    ana: tuple[TestClient, str], session: Session, users: dict[str, int]
) -> None:
    from escucha.routing import service as routing

    client, _ = ana
    events: list[str] = []
    buffer = b""
    with client.stream("GET", "/agent/events", headers={"accept": "text/event-stream"}) as r:
        for chunk in r.iter_bytes():
            buffer += chunk
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                events.append(event.decode())
            if len(events) == 1 and "Llamada entrante" not in events[0]:
                c = _caller(session)  # something happens on the floor: the desk is pushed
                routing.set_agent_state(session, users["ana"], "available", now=START)
                session.commit()
                assert _contact(session, c.id).state == "offered"
            if len(events) >= 2 or len(buffer) > 500_000:
                break
    assert "Llamada entrante" not in events[0]
    assert events[1].startswith("event: desk\n")
    assert "Llamada entrante" in events[1]


def test_an_offered_call_shows_the_customers_record_and_the_desk_names_and_merges(
    ana: tuple[TestClient, str], session: Session
) -> None:
    known = contacts.find_or_create_customer(
        session, now=START, phone="600222001", name="", verified=True
    )
    known.notes = "Prefiere que la llamen por la tarde"
    duplicate = contacts.find_or_create_customer(
        session, now=START, email="pilar@example.es", name="Pilar"
    )
    contacts.start_contact(session, channel="email", now=START, customer=duplicate)
    session.commit()
    contact, html = _offered_to_ana(session, ana)
    assert contact.customer_id == known.id
    assert f'href="/customers/{known.id}"' in html
    assert "Prefiere que la llamen por la tarde" in html
    assert 'id="desk-name-form"' in html
    r = _post(ana, f"/customers/{known.id}", name="Pilar Gómez", back="/agent")
    assert r.status_code == 200  # followed back to the desk
    r = _post(ana, f"/customers/{known.id}/merge", other=str(duplicate.id), back="/agent")
    assert r.status_code == 200
    desk = ana[0].get("/agent").text
    assert "Pilar Gómez" in desk
    session.expire_all()
    assert contacts.find_by_point(session, "email", "pilar@example.es").id == known.id  # type: ignore[union-attr]
