"""A customer files a complaint in a real browser and an agent answers it (P2, P5, P6).

The server runs as its own process with its job worker; its email goes to an aiosmtpd sink.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.config import Settings
from escucha.promises.models import Promise
from escucha.tickets.models import Ticket
from tests.factories import demo
from tests.system.conftest import (
    LiveServer,
    free_port,
    screenshot,
    server_env,
    start_server,
    wait_ready,
)
from tests.tickets.helpers import SinkHandler, smtp_sink, wait_for

OWN = "atencion@aguas.example"

pytestmark = [pytest.mark.browser, pytest.mark.system]


@pytest.fixture
def mailed_server(settings: Settings, tmp_path: Path) -> Iterator[tuple[LiveServer, SinkHandler]]:
    with smtp_sink() as (smtp_port, sink):
        port = free_port()
        env = server_env(settings, port, ESCUCHA_SMTP_PORT=str(smtp_port), ESCUCHA_SMTP_FROM=OWN)
        log = tmp_path / "server.log"
        process = start_server(env, log)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, process, log)
            yield LiveServer(url, process, env, log), sink
        finally:
            process.terminate()
            process.wait(10)


def _mail_with(sink: SinkHandler, text: str) -> Any:
    for msg in sink.messages:
        if text in str(msg["Subject"]) or text in msg.get_content():
            return msg
    return None


def test_a_customer_files_checks_and_an_agent_keeps_the_promise(
    mailed_server: tuple[LiveServer, SinkHandler], browser: Any, session: Session
) -> None:
    server, sink = mailed_server
    demo(session)
    session.commit()
    errors: list[str] = []

    # The customer files a complaint on the public form, without logging in.
    customer = browser.new_context(locale="es-ES").new_page()
    customer.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    customer.goto(f"{server.url}/complaints/new")
    assert customer.locator("h1").inner_text() == "Presentar una reclamación"
    customer.fill("#description", "Me han cobrado dos veces la factura de octubre.")
    customer.fill("#name", "Rosa Díaz")
    customer.fill("#email", "rosa@example.es")
    customer.click("button[type=submit]")
    customer.wait_for_url(f"{server.url}/complaints/done")
    number = customer.locator("#ticket-number").inner_text()
    code = customer.locator("#verification-code").inner_text()
    assert re.fullmatch(r"\d{4}-\d{7}-\d", number)
    assert re.fullmatch(r"[A-Z0-9]{6}", code)
    screenshot(customer, "complaint-filed")

    # The number and the code arrive by email (the server's worker sends the acknowledgment).
    wait_for(lambda: _mail_with(sink, number) is not None, timeout_s=20)
    ack = _mail_with(sink, number)
    assert ack["To"] == "rosa@example.es"
    assert code in ack.get_content()
    assert "/status?number=" in ack.get_content()

    # On another device the customer checks the status with number and code.
    other = browser.new_context(locale="es-ES").new_page()
    other.goto(f"{server.url}/status?number={number}")
    other.fill("#code", "WRONG9")
    other.click("button[type=submit]")
    assert other.locator("#lookup-error").is_visible()
    other.fill("#code", code)
    other.click("button[type=submit]")
    other.wait_for_url(f"{server.url}/status/view")
    assert other.locator("#ticket-number").inner_text() == number
    assert other.locator("#ticket-status").inner_text() == "Nuevo"
    assert "Primera respuesta" in other.locator("#next-promise").inner_text()
    screenshot(other, "complaint-status")

    # An agent of the complaints team answers from the ticket page.
    agent = browser.new_context(locale="es-ES").new_page()
    agent.goto(f"{server.url}/login?next=/tickets")
    agent.fill("#username", "marta")
    agent.fill("#password", "escucha-demo")
    agent.click("button[type=submit]")
    agent.wait_for_url(f"{server.url}/tickets")
    agent.click(f"text={number}")
    agent.wait_for_url(re.compile(r".*/tickets/\d+$"))
    agent.fill("#reply-body", "Hemos anulado el segundo cargo; lo verá en su cuenta el lunes.")
    agent.click("#reply-form button[type=submit]")
    agent.wait_for_load_state()
    row = agent.locator('#promises tr[data-promise-kind="first_response"] .promise-state')
    assert row.inner_text().startswith("Cumplida")
    screenshot(agent, "complaint-answered")

    # The promise is kept in the ledger and the answer reaches the customer.
    session.expire_all()
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    assert ticket is not None
    first = session.scalar(
        select(Promise).where(Promise.ticket_id == ticket.id, Promise.kind == "first_response")
    )
    assert first is not None
    assert first.state == "kept"
    wait_for(lambda: _mail_with(sink, "anulado el segundo cargo") is not None, timeout_s=20)
    other.reload()
    assert "Le respondimos" in other.content()
    assert errors == []
