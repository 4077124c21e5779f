from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.factories import demo
from tests.system.conftest import LiveServer, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.system]


def test_a_demo_supervisor_logs_in_with_a_real_browser(
    live_server: LiveServer, browser: Any, session: Session
) -> None:
    demo(session)
    session.commit()
    page = browser.new_page(locale="es-ES")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/supervisor")
    assert page.url.endswith("/login?next=/supervisor")
    assert page.locator("h1").inner_text() == "Iniciar sesión"
    page.fill("#username", "sofia")
    page.fill("#password", "escucha-demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/supervisor")
    assert "Facturas y pagos" in page.content()
    shot = screenshot(page, "foundation-supervisor-after-login")
    assert shot.stat().st_size > 5000
    page.select_option("#lang-select", "en")
    page.wait_for_load_state()
    page.wait_for_function("document.querySelector('h1').innerText === 'Supervisor'")
    assert "Bills and payments" in page.content()
    assert errors == []
