"""The public complaint form and the customer's status page (P5, P6)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha.app import create_app
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.tickets import handling, service
from escucha.tickets.models import Ticket
from escucha.tickets.rules import clean_text, format_ticket_number, visible_length
from tests.conftest import START, csrf_from
from tests.factories import make_agent, make_org

_NUMBER = re.compile(r'id="ticket-number">([0-9-]+)<')
_CODE = re.compile(r'id="verification-code">([A-Z0-9]+)<')


def _file(client: TestClient, **fields: str) -> tuple[str, str, str]:
    page = client.get("/complaints/new")
    assert page.status_code == 200
    data = {"csrf_token": csrf_from(page.text), "form_key": "", **fields}
    r = client.post("/complaints/new", data=data, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/complaints/done"
    done = client.get("/complaints/done")
    number, code = _NUMBER.search(done.text), _CODE.search(done.text)
    assert number
    assert code
    return number.group(1), code.group(1), done.text


def _count(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count(Ticket.id))) or 0)


def test_the_form_registers_a_complaint_without_login_and_shows_number_and_code(
    client: TestClient, session: Session
) -> None:
    make_org(session)
    session.commit()
    page = client.get("/complaints/new")
    assert "Presentar una reclamación" in page.text
    number, code, done = _file(
        client, description="El contador marca de más", email="rosa@example.es", name="Rosa"
    )
    assert "Su reclamación está registrada" in done
    assert "rosa@example.es" in done  # told where the copy went
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    assert ticket is not None
    assert ticket.kind == "complaint"
    assert ticket.verification_code == code
    assert ticket.channel == "web"
    assert ticket.language == "es"


def test_an_empty_form_still_gets_a_number_and_the_description_is_asked_for(
    client: TestClient, session: Session
) -> None:
    number, _code, done = _file(client)
    assert "Todavía no tenemos la descripción" in done
    view = client.get("/status/view")
    assert "Cuéntenos qué ha pasado" in view.text
    r = client.post(
        "/status/message",
        data={"csrf_token": csrf_from(view.text), "body": "Factura duplicada de octubre"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    session.expire_all()
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    assert ticket is not None
    assert not ticket.description_missing
    assert ticket.description == "Factura duplicada de octubre"


def test_a_double_submit_gives_one_complaint(client: TestClient, session: Session) -> None:
    page = client.get("/complaints/new")
    key = re.search(r'name="form_key" value="([^"]+)"', page.text)
    assert key
    data = {"csrf_token": csrf_from(page.text), "form_key": key.group(1), "description": "x"}
    client.post("/complaints/new", data=data, follow_redirects=False)
    client.post("/complaints/new", data=data, follow_redirects=False)
    assert _count(session) == 1


def test_a_text_over_the_limit_is_registered_and_kept_whole(
    client: TestClient, session: Session
) -> None:
    make_org(session)
    session.commit()
    # CRLF line breaks, as a browser sends a textarea: 6,500 characters as the form counts
    shown = ("ñandú reclamación\n" * 400)[:6499] + "!"
    long_text = shown.replace("\n", "\r\n")
    assert visible_length(long_text) == len(shown) == 6500
    number, _code, _page = _file(client, description=long_text, email="a@b.es")
    session.expire_all()
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    assert ticket is not None
    (whole,) = service.attachments_of(session, ticket.id)
    assert whole.data.decode("utf-8") == clean_text(long_text)
    assert len(ticket.description) <= service.MAX_DESCRIPTION


def test_a_long_message_on_the_status_page_is_kept_whole(
    client: TestClient, session: Session
) -> None:
    make_org(session)
    session.commit()
    _file(client, description="", email="l@e.es")
    text = "Detalle del problema número " * 400
    csrf = csrf_from(client.get("/status/view").text)
    r = client.post(
        "/status/message", data={"csrf_token": csrf, "body": text}, follow_redirects=False
    )
    assert r.status_code == 303
    session.expire_all()
    ticket = session.scalars(select(Ticket)).one()
    assert not ticket.description_missing
    assert len(ticket.description) <= service.MAX_DESCRIPTION
    (whole,) = service.attachments_of(session, ticket.id)
    assert whole.filename.startswith("message-")
    assert whole.data.decode("utf-8") == clean_text(text)


def test_a_mistyped_check_digit_is_told_as_a_typo(client: TestClient, session: Session) -> None:
    make_org(session)
    session.commit()
    number, code, _ = _file(client, description="Cobro indebido", email="l@e.es")
    typo = number[:-1] + str((int(number[-1]) + 1) % 10)
    csrf = csrf_from(client.get("/status").text)
    r = client.post("/status", data={"csrf_token": csrf, "number": typo, "code": code})
    assert r.status_code == 422
    assert "el último dígito no corresponde" in r.text.lower()
    assert 'id="lookup-error"' not in r.text
    r = client.post(
        "/status",
        data={"csrf_token": csrf, "number": typo, "code": code},
        headers={"Accept-Language": "en"},
    )
    assert "the last digit does not match" in r.text.lower()


def test_the_status_page_needs_the_code_and_answers_the_same_when_either_is_wrong(
    client: TestClient, session: Session
) -> None:
    make_org(session)
    session.commit()
    number, code, _ = _file(client, description="Cobro indebido", email="l@e.es")
    client.post("/status/leave", data={"csrf_token": csrf_from(client.get("/status").text)})
    assert client.get(f"/status?number={number}").text.count(number) == 1  # only in the field
    assert client.get("/status/view", follow_redirects=False).status_code == 303
    csrf = csrf_from(client.get("/status").text)
    unknown = "2026-0000999-" + next(d for d in "0123456789" if _valid(f"2026-0000999-{d}"))
    wrong_code = client.post(
        "/status", data={"csrf_token": csrf, "number": number, "code": "AAAAAA"}
    )
    no_such = client.post("/status", data={"csrf_token": csrf, "number": unknown, "code": code})
    assert wrong_code.status_code == no_such.status_code == 404
    assert wrong_code.text.replace(number, "N") == no_such.text.replace(unknown, "N")
    ok = client.post(
        "/status",
        data={"csrf_token": csrf, "number": number.replace("-", " "), "code": code.lower()},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert ok.headers["location"] == "/status/view"
    view = client.get("/status/view")
    assert number in view.text
    assert "Nuevo" in view.text
    assert 'id="next-promise"' in view.text
    assert "Resolución" in view.text
    assert "Cobro indebido" in view.text


def _valid(text: str) -> bool:
    from escucha.tickets.rules import InvalidTicketNumberError, parse_ticket_number

    try:
        parse_ticket_number(text)
    except InvalidTicketNumberError:
        return False
    return True


def test_the_customer_never_sees_internal_notes_and_can_appeal_the_answer(
    client: TestClient, session: Session
) -> None:
    make_org(session, profile="generic")
    session.commit()
    number, _code, _ = _file(client, description="Trato grosero", email="m@e.es")
    agent = make_agent(session)
    ticket = service.get_ticket(session, number)
    handling.add_note(session, ticket, "Cliente conflictivo, ojo", user=agent, now=START)
    handling.resolve(
        session, ticket, "Hemos hablado con el equipo.", user=agent, now=START, base_url="http://x"
    )
    session.commit()
    view = client.get("/status/view")
    assert "conflictivo" not in view.text
    assert agent.display_name not in view.text
    assert "Hemos hablado con el equipo." in view.text
    assert "Recurrir" in view.text
    r = client.post(
        "/status/appeal",
        data={"csrf_token": csrf_from(view.text), "body": "No estoy de acuerdo"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    session.expire_all()
    assert service.get_ticket(session, number).status == "appealed"
    assert "Recurso recibido" in client.get("/status/view").text


@pytest.fixture
def strict(settings: Settings) -> Iterator[tuple[TestClient, FrozenClock]]:
    clock = FrozenClock(START)
    app = create_app(settings.model_copy(update={"status_rate_per_min": 3}), clock=clock)
    with TestClient(app) as c:
        yield c, clock


def test_lookups_are_rate_limited_per_address(strict: tuple[TestClient, FrozenClock]) -> None:
    client, clock = strict
    csrf = csrf_from(client.get("/status").text)
    # a well-formed number (its check digit right) that no case has
    data = {"csrf_token": csrf, "number": format_ticket_number(2026, 1), "code": "QQQQ"}
    codes = [client.post("/status", data=data).status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]
    clock.advance(timedelta(seconds=61))
    assert client.post("/status", data=data).status_code == 404
