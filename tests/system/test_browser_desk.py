"""A callback from the caller's request to the agent's recap, watched on the wallboard
(W1, W2, W5, C2, C3, C6, P1), in Chromium against a real server.

The caller side goes through the API with a bearer token; the agent (Ana) and the supervisor
(Sofía) use the screens in two browser contexts. Messages to the customer are written by the
server's worker as JSON files into the outbox folder (the development SMS sink).
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.auth.models import User
from escucha.config import Settings
from escucha.org import service as org_service
from tests.conftest import START
from tests.system.conftest import LiveServer, screenshot

DEMO = Path(org_service.__file__).parent / "demo.yaml"
TIMEOUT_MS = 15_000
# Say where a Content Security Policy violation comes from, should one happen.
CSP_DETAILS = """
document.addEventListener("securitypolicyviolation", (e) => console.error(
  "CSP", e.violatedDirective, e.sourceFile, e.lineNumber, e.columnNumber, e.sample,
  e.target && e.target.outerHTML ? e.target.outerHTML.slice(0, 300) : String(e.target)));
"""

pytestmark = [pytest.mark.browser, pytest.mark.system]


@pytest.fixture(autouse=True)
def _quick_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap password hashes for the demo's users: this test is not about passwords."""
    monkeypatch.setattr(
        auth_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def _wait_for_file(path: Path, timeout_s: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            try:
                data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:  # being written
                pass
            else:
                return data
        time.sleep(0.2)
    raise AssertionError(f"no message at {path}; outbox has {sorted(path.parent.glob('*'))}")


def _log_in(context: Any, url: str, username: str, page_path: str) -> Any:
    page = context.new_page()
    page.add_init_script(CSP_DETAILS)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{url}/login?next={page_path}")
    page.fill("#username", username)
    page.fill("#password", "escucha-demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}{page_path}")
    page.errors = errors
    return page


@pytest.fixture
def caller_token(session: Session) -> str:
    """The demo organisation, loaded before the server starts (as ``escucha demo`` does), and
    an API token for the caller side."""
    org_service.apply_file(session, DEMO, now=START)
    admin = session.scalar(select(User).where(User.username == "admin"))
    assert admin is not None
    token = auth_service.create_token(session, admin, "caller-side", now=datetime.now(UTC))
    session.commit()
    return token


def test_a_callback_keeps_its_place_reaches_ana_and_the_wallboard_follows(
    caller_token: str, live_server: LiveServer, browser: Any, settings: Settings
) -> None:
    token = caller_token
    url = live_server.url
    with httpx.Client(
        base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=20
    ) as api:
        _journey(api, browser, url, settings)


def _journey(api: httpx.Client, browser: Any, url: str, settings: Settings) -> None:
    from playwright.sync_api import expect

    # The supervisor watches the wallboard from the start
    wall = _log_in(browser.new_context(locale="es-ES"), url, "sofia", "/supervisor/wallboard")
    expect(wall.locator("[data-conn]")).to_have_text("En directo", timeout=TIMEOUT_MS)
    facturas = wall.locator('[data-queue="facturas"]')
    screenshot(wall, "desk-01-wallboard-quiet")

    # Two callers queue for bills; the first one asks for a callback that keeps her place
    def call(phone: str) -> int:
        made = api.post("/contacts", json={"phone": phone, "language": "es"})
        assert made.status_code == 201, made.text
        cid: int = made.json()["id"]
        assert api.post(f"/contacts/{cid}/ivr", json={"node": "main", "key": "2"}).is_success
        told = api.post(f"/contacts/{cid}/queue", json={"queue": "facturas"})
        assert told.status_code == 200, told.text
        assert told.json()["position"] >= 1
        assert re.search(r"menos de \d+", told.json()["said"])
        return cid

    first = call("600555001")
    second = call("600555002")
    taken = api.post(f"/contacts/{first}/callback", json={})
    assert taken.status_code == 201, taken.text
    callback = taken.json()
    assert callback["joined_at"] < api.get(f"/contacts/{second}").json()["joined_at"]

    confirmation = _wait_for_file(
        settings.outbox_dir / f"sms-callback_{callback['id']}_confirmation.json"
    )
    assert confirmation["to"] == "+34600555001"
    assert re.search(r"\b\d{1,2}:\d{2}\b", confirmation["body"]), confirmation["body"]
    assert "lo antes posible" not in confirmation["body"].lower()

    expect(facturas.locator('[data-tile="callbacks"] .tile-value')).to_have_text(
        "1", timeout=TIMEOUT_MS
    )
    expect(facturas.locator('[data-tile="waiting"] .tile-value')).to_have_text("1")
    expect(facturas.locator('[data-tile="waiting"]')).to_contain_text(
        "llamadas de vuelta en la cola: 1"
    )
    screenshot(wall, "desk-02-wallboard-callback-pending")

    # Ana logs in and becomes available: the callback comes first, in its original place
    desk = _log_in(browser.new_context(locale="es-ES"), url, "ana", "/agent")
    expect(desk.locator("[data-conn]")).to_have_text("En directo", timeout=TIMEOUT_MS)
    screenshot(desk, "desk-03-agent-offline")
    desk.get_by_role("button", name="Disponible").click()
    contact = desk.locator("section.contact")
    expect(contact).to_contain_text("Llamada de vuelta pendiente", timeout=TIMEOUT_MS)
    situation = desk.locator("section.situation")
    expect(situation).to_contain_text("Conserva su turno desde")
    expect(situation).to_contain_text("tecla 2 — facturas")  # the IVR path
    expect(situation.locator("[data-language]")).to_have_text("Español")
    expect(situation).to_contain_text("+34600•••001")
    expect(situation).to_contain_text("Llamada de vuelta")  # the promise and the last call
    screenshot(desk, "desk-04-agent-callback-offered")
    agents = wall.locator('[data-panel="agents"]')
    expect(agents.locator('[data-state="busy"] .figure')).to_have_text("1", timeout=TIMEOUT_MS)
    expect(facturas.locator('[data-tile="waiting"] .tile-value')).to_have_text("1")
    screenshot(wall, "desk-05-wallboard-callback-offered")

    # The customer answers; Ana puts her on hold after telling her
    desk.get_by_role("button", name="El cliente ha contestado").click()
    expect(contact).to_contain_text("En conversación", timeout=TIMEOUT_MS)
    expect(facturas.locator('[data-tile="callbacks"] .tile-value')).to_have_text(
        "0", timeout=TIMEOUT_MS
    )
    desk.get_by_label("Se lo he dicho al cliente", exact=True).check()
    desk.get_by_role("button", name="Poner en espera").click()
    expect(contact).to_contain_text("Cliente en espera", timeout=TIMEOUT_MS)
    screenshot(desk, "desk-06-agent-on-hold")
    holds = wall.locator('[data-panel="holds"]')
    expect(holds).to_contain_text("cliente avisado", timeout=TIMEOUT_MS)
    expect(holds).to_contain_text("Ana López")
    screenshot(wall, "desk-07-wallboard-hold-in-progress")

    # Back to the customer, end of the call, and the recap
    desk.get_by_role("button", name="Reanudar").click()
    expect(contact).to_contain_text("En conversación", timeout=TIMEOUT_MS)
    expect(holds).to_contain_text("Nadie está en espera", timeout=TIMEOUT_MS)
    desk.get_by_role("button", name="Terminar la llamada").click()
    expect(desk.locator("#wrap-recap")).to_be_visible(timeout=TIMEOUT_MS)
    expect(desk.locator(".handle")).to_contain_text("solo informativo")
    desk.select_option("#wrap-outcome", "solved")
    desk.get_by_label("Sí, resuelto", exact=True).check()
    recap = "Hemos corregido la factura de octubre\nEl abono llegará en la próxima factura"
    desk.fill("#wrap-recap", recap)
    desk.select_option("#wrap-next", "break")
    screenshot(desk, "desk-08-agent-wrap-up")
    desk.get_by_role("button", name="Terminar y enviar el resumen").click()
    expect(desk.locator(".state-now")).to_contain_text("En descanso", timeout=TIMEOUT_MS)
    expect(desk.locator("section.day")).to_contain_text("100 %")
    screenshot(desk, "desk-09-agent-done")

    sent = _wait_for_file(settings.outbox_dir / f"sms-contact_{callback['contact_id']}_recap.json")
    assert sent["to"] == "+34600555001"
    assert "Hemos corregido la factura de octubre; El abono llegará" in sent["body"]
    assert re.search(r"\b\d{1,2}:\d{2}\b", sent["body"])

    expect(agents.locator('[data-state="break"] .figure')).to_have_text("1", timeout=TIMEOUT_MS)
    expect(agents.locator('[data-state="busy"] .figure')).to_have_text("0")
    expect(facturas.locator('[data-tile="holds_today"] .tile-value')).to_have_text("1")
    expect(facturas.locator('[data-tile="holds_today"]')).to_contain_text("avisadas: 1")
    expect(facturas.locator('[data-tile="waiting"] .tile-value')).to_have_text("1")
    screenshot(wall, "desk-10-wallboard-after-the-call")

    assert not wall.errors, "\n".join(wall.errors)
    assert not desk.errors, "\n".join(desk.errors)
    for page in (desk, wall):
        page.context.close()
