"""No complaint is refused for its length: a 20,000-character complaint filed on a real server,
over HTTP and in a real browser, is registered with its number and kept whole, with the form's
counter and the server counting alike; and an agent works a customer's record (ADR 27)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.tickets import service
from escucha.tickets.models import Ticket, TicketAttachment
from escucha.tickets.rules import clean_text, visible_length
from tests.conftest import csrf_from
from tests.factories import demo, make_org, make_ticket
from tests.system.conftest import LiveServer, screenshot

pytestmark = pytest.mark.system

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
_NUMBER = re.compile(r'id="ticket-number">([0-9-]+)<')


def _text(chars: int) -> str:
    """A complaint of ``chars`` characters as a person counts them: accents (one of them
    written as a letter and a combining mark), an emoji, and line breaks."""
    line = "Me cobraron dos veces la factura de octubre, café y ñandú 🙃.\n"
    text = (line * (chars // len(line) + 1))[: chars - 1] + "!"
    return text.replace("é", "e\u0301", 1)


def _files(session: Session, number: str) -> tuple[Ticket, dict[str, bytes]]:
    session.expire_all()
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    assert ticket is not None
    files = session.scalars(
        select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id)
    ).all()
    return ticket, {f.filename: f.data for f in files}


def test_a_20000_character_complaint_over_http_is_registered_whole(
    live_server: LiveServer, session: Session
) -> None:
    make_org(session)
    session.commit()
    text = _text(20_000).replace("\n", "\r\n")  # as a browser sends a textarea
    assert visible_length(text) == 20_000
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        page = http.get("/complaints/new")
        r = http.post(
            "/complaints/new",
            data={"csrf_token": csrf_from(page.text), "description": text},
            files=[("attachments", ("foto.png", PNG, "image/png"))],
        )
        assert r.status_code == 303, r.text[:500]
        done = http.get(r.headers["location"])
    number = _NUMBER.search(done.text)
    assert number, done.text[:500]
    ticket, files = _files(session, number.group(1))
    assert ticket.kind == "complaint"
    assert len(ticket.description) <= service.MAX_DESCRIPTION
    assert files[service.FULL_TEXT_FILE].decode("utf-8") == clean_text(text)
    assert files["foto.png"] == PNG


@pytest.mark.browser
def test_a_20000_character_complaint_in_a_browser(
    live_server: LiveServer, browser: Any, session: Session, tmp_path: Path
) -> None:
    make_org(session)
    session.commit()
    errors: list[str] = []
    photo = tmp_path / "foto.png"
    photo.write_bytes(PNG)
    page = browser.new_context(locale="es-ES").new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/complaints/new")
    text = _text(20_000)
    page.fill("#description", text)
    value = page.input_value("#description")
    counted = page.locator('[data-counter-for="description"]').get_attribute("data-count")
    assert counted is not None
    assert int(counted) == visible_length(value) == visible_length(text) == 20_000
    page.set_input_files("#attachments", str(photo))
    screenshot(page, "complaint-long-form")
    page.click("#complaint-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/complaints/done")
    number = page.locator("#ticket-number").inner_text()
    assert re.fullmatch(r"\d{4}-\d{7}-\d", number)
    screenshot(page, "complaint-long-filed")
    _ticket, files = _files(session, number)
    assert files[service.FULL_TEXT_FILE].decode("utf-8") == clean_text(text)
    assert files["foto.png"] == PNG
    assert errors == []

    # A wrong last digit on the status page is told as a typo (answered 422).
    typo = number[:-1] + str((int(number[-1]) + 1) % 10)
    page.goto(f"{live_server.url}/status")
    page.fill("#number", typo)
    page.fill("#code", "ABCDEF")
    page.click("button[type=submit]")
    assert "último dígito no corresponde" in page.locator("#lookup-typo").inner_text()
    assert page.locator("#lookup-error").count() == 0
    screenshot(page, "status-typo")


@pytest.mark.browser
def test_an_agent_finds_a_customer_by_name_edits_and_merges_the_record(
    live_server: LiveServer, browser: Any, session: Session
) -> None:
    demo(session)
    first = make_ticket(session, kind="complaint", email="rosa@example.es", name="Rosa Díaz")
    second = make_ticket(session, kind="complaint", email="rosa.d@trabajo.es", name="Rosa Díaz")
    session.commit()
    errors: list[str] = []
    page = browser.new_context(locale="es-ES").new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/login?next=/customers")
    page.fill("#username", "marta")
    page.fill("#password", "escucha-demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/customers")
    page.fill("#customer-q", "rosa d")
    page.click("form[role=search] button[type=submit]")
    rows = page.locator("#customer-results tbody tr")
    assert rows.count() == 2
    page.click(f'#customer-results a[href="/customers/{first.customer_id}"] >> nth=1')
    page.wait_for_url(re.compile(rf".*/customers/{first.customer_id}$"))
    assert first.number in page.locator("#customer-cases").inner_text()
    page.fill("#c-notes", "Prefiere correo electrónico")
    page.click("#customer-form button[type=submit]")
    page.wait_for_url(re.compile(rf".*/customers/{first.customer_id}$"))
    assert page.locator("#c-notes").input_value() == "Prefiere correo electrónico"
    page.fill("#merge-other", str(second.customer_id))
    page.click("#merge-form button[type=submit]")
    page.wait_for_url(re.compile(rf".*/customers/{first.customer_id}$"))
    cases = page.locator("#customer-cases").inner_text()
    assert first.number in cases
    assert second.number in cases
    assert "rosa.d@trabajo.es" in page.locator("#points").inner_text()
    screenshot(page, "customer-record")
    assert errors == []
