from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from escucha.org import service as org_service
from tests.conftest import START
from tests.system.conftest import LiveServer, screenshot

DEMO = Path(org_service.__file__).parent / "demo.yaml"

pytestmark = [pytest.mark.browser, pytest.mark.system]


def test_a_demo_supervisor_logs_in_with_a_real_browser(
    live_server: LiveServer, browser: Any, session: Session
) -> None:
    org_service.apply_file(session, DEMO, now=START)
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
