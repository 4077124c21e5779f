"""An agent works cases in a real browser: finds a customer by name with the search box, opens
the case, answers with a canned reply whose placeholders are filled, and merges a duplicate."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.tickets import merge, service
from escucha.tickets.models import Ticket
from tests.factories import demo, make_canned_reply, make_ticket
from tests.system.conftest import ARTIFACTS, LiveServer, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.system]


def test_an_agent_finds_a_customer_replies_with_a_canned_reply_and_merges_a_duplicate(
    live_server: LiveServer, browser: Any, session: Session
) -> None:
    demo(session)
    now = datetime.now(UTC)
    case = make_ticket(
        session,
        now=now,
        kind="complaint",
        name="Rosa Díaz Ortega",
        email="rosa@example.es",
        subject="Cobro duplicado",
        description="Me han cobrado dos veces la factura de octubre.",
    )
    dup = make_ticket(
        session,
        now=now,
        kind="complaint",
        email="r.d.o@example.org",
        description="Reclamo otra vez el doble cobro de octubre; nadie me contesta.",
    )
    make_ticket(
        session,
        now=now,
        kind="complaint",
        email="pablo@example.es",
        description="El contador no marca.",
    )
    make_canned_reply(
        session,
        title="Abono en curso",
        body="Hola {customer_name}: en el caso {case_number} le devolvemos el cargo; "
        "le contestaremos {promised_time}. Un saludo, {agent_name}.",
    )
    session.commit()
    number, dup_number = case.number, dup.number
    errors: list[str] = []
    page = browser.new_context(locale="es-ES", viewport={"width": 1280, "height": 900}).new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda d: d.accept())

    page.goto(f"{live_server.url}/login?next=/tickets")
    page.fill("#username", "marta")
    page.fill("#password", "escucha-demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/tickets")

    # She types the customer's surname, without its accent: the case of that customer comes up.
    page.fill("#search-q", "diaz")
    page.press("#search-q", "Enter")
    page.wait_for_url(re.compile(r".*/tickets\?q=diaz"))
    rows = page.locator("#inbox tbody tr[data-case]")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-case") == number
    assert "Encontrado en el cliente" in rows.first.inner_text()
    screenshot(page, "casework-search")

    # She opens it and answers with the canned reply, filled for this case.
    page.click(f"#inbox a:text('{number}')")
    page.wait_for_url(re.compile(r".*/tickets/\d+$"))
    page.select_option("#canned-reply", label="Abono en curso (es)")
    text = page.input_value("#reply-body")
    assert text.startswith(f"Hola Rosa Díaz Ortega: en el caso {number} le devolvemos el cargo")
    assert text.endswith("Un saludo, Marta Ruiz.")
    assert "{" not in text
    page.click("#reply-form button[type=submit]")
    page.wait_for_load_state()
    assert "en el caso" in page.locator("#thread").inner_text()

    # And merges the customer's second complaint into this one.
    page.fill("#merge-other", dup_number)
    page.click("#merge-form button[type=submit]")
    page.wait_for_load_state()
    assert dup_number in page.locator("#feed").inner_text()
    assert "nadie me contesta" in page.locator("#thread").inner_text()
    assert "Respuesta enviada" in page.locator("#feed").inner_text()
    screenshot(page, "casework-case")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("section:has(#feed)").screenshot(path=str(ARTIFACTS / "casework-case-feed.png"))

    session.expire_all()
    absorbed = session.scalar(select(Ticket).where(Ticket.number == dup_number))
    assert absorbed is not None
    assert merge.surviving(session, absorbed).number == number
    replies = [m for m in service.thread(session, case.id) if m.author_kind == "agent"]
    assert any(m.direction == "out" and "Marta Ruiz" in m.body for m in replies)
    assert errors == []
