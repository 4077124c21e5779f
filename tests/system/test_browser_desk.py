"""A caller walks the IVR on the browser phone, asks for a callback that keeps her place, and
Ana calls her back and sends the recap, while the wallboard follows every step (W1, W2, W5,
C1, C2, C3, C6, P1), in Chromium against a real server.

The first caller uses the public browser phone (``/phone``) in her own browser context: she
types her number, dials, presses 2 for bills, reads her place and the wait bound, and presses
"Que me llamen". A second caller joins the same queue after her through the API (a bearer
token), before any agent is available; Ana (the agent desk) and Sofía (the wallboard) use the
screens in two more contexts. Messages to the customer are written by the server's worker as
JSON files into the outbox folder (the development SMS sink).
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
from ruamel.yaml import YAML
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.auth.models import User
from escucha.config import Settings
from escucha.org import service as org_service
from tests.conftest import START
from tests.factories import DEMO
from tests.system.conftest import LiveServer, screenshot

TIMEOUT_MS = 15_000
#: The caller's phone is narrow; the desk and the wallboard get the default 1280 x 720.
PHONE_VIEWPORT = {"width": 1100, "height": 800}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOCK_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")
# Say where a Content Security Policy violation comes from, should one happen.
CSP_DETAILS = """
document.addEventListener("securitypolicyviolation", (e) => console.error(
  "CSP", e.violatedDirective, e.sourceFile, e.lineNumber, e.columnNumber, e.sample,
  e.target && e.target.outerHTML ? e.target.outerHTML.slice(0, 300) : String(e.target)));
"""

pytestmark = [pytest.mark.browser, pytest.mark.system]


def _demo_open_around_the_clock(folder: Path) -> Path:
    """The demo organisation with its office and its IVR open at every hour of every day.

    The server runs on the real clock: with the demo's office hours, a caller at night or on a
    holiday would hear the closed menu, and this test must not depend on when it runs.
    """
    doc = YAML(typ="safe").load(DEMO.read_text(encoding="utf-8"))
    for calendar in doc["calendars"]:
        calendar["hours"] = {day: ["00:00-24:00"] for day in DAYS}
        calendar["closures"] = []
        calendar.pop("holidays", None)
    hours = doc["ivr"]["business_hours"]
    hours["weekly"] = {day: ["00:00-24:00"] for day in DAYS}
    hours["closed_dates"] = []
    path = folder / "demo-open-24h.yaml"
    path.write_text(json.dumps(doc, default=str), encoding="utf-8")  # JSON is YAML
    return path


def _wait_for_file(folder: Path, pattern: str, timeout_s: float = 20.0) -> Any:
    """The one message matching ``pattern`` in the outbox, once the worker has written it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = sorted(folder.glob(pattern))
        if found:
            assert len(found) == 1, found
            try:
                return json.loads(found[0].read_text(encoding="utf-8"))
            except json.JSONDecodeError:  # being written
                pass
        time.sleep(0.2)
    raise AssertionError(f"no message {pattern}; outbox has {sorted(folder.glob('*'))}")


def _new_page(browser: Any, **context: Any) -> Any:
    """A page in its own browser context (its own cookies), recording console errors."""
    page = browser.new_context(locale="es-ES", **context).new_page()
    page.add_init_script(CSP_DETAILS)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.errors = errors
    return page


def _log_in(browser: Any, url: str, username: str, page_path: str) -> Any:
    page = _new_page(browser)
    page.goto(f"{url}/login?next={page_path}")
    page.fill("#username", username)
    page.fill("#password", "escucha-demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}{page_path}")
    return page


@pytest.fixture
def caller_token(session: Session, tmp_path: Path) -> str:
    """The demo organisation, loaded before the server starts (as ``escucha demo`` does), and
    an API token for the second caller."""
    org_service.apply_file(session, _demo_open_around_the_clock(tmp_path), now=START)
    admin = session.scalar(select(User).where(User.username == "admin"))
    assert admin is not None
    token = auth_service.create_token(session, admin, "caller-side", now=datetime.now(UTC))
    session.commit()
    return token


def test_a_caller_on_the_browser_phone_keeps_her_place_ana_calls_back_the_wallboard_follows(
    caller_token: str, live_server: LiveServer, browser: Any, settings: Settings
) -> None:
    url = live_server.url
    with httpx.Client(
        base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {caller_token}"}, timeout=20
    ) as api:
        _journey(api, browser, url, settings)


def _journey(api: httpx.Client, browser: Any, url: str, settings: Settings) -> None:
    from playwright.sync_api import expect

    # The supervisor watches the wallboard from the start
    wall = _log_in(browser, url, "sofia", "/supervisor/wallboard")
    expect(wall.locator("[data-conn]")).to_have_text("En directo", timeout=TIMEOUT_MS)
    facturas = wall.locator('[data-queue="facturas"]')
    expect(facturas.locator('[data-tile="waiting"] .tile-value')).to_have_text("0")
    screenshot(wall, "desk-01-wallboard-quiet")

    # The first caller dials from the browser phone with her number and hears the menu
    caller = _new_page(browser, viewport=PHONE_VIEWPORT)
    caller.goto(f"{url}/phone")
    phone = caller.locator("#phone")
    expect(phone).to_have_class(re.compile(r"\bphase-idle\b"))
    phone.get_by_label("Su número de teléfono (para poder llamarle)").fill("600 555 001")
    phone.get_by_label("Idioma").select_option("es")
    caller.get_by_role("button", name=re.compile(r"^Llamar a Aguas del Manzanares")).click()
    expect(phone).to_have_class(re.compile(r"\bphase-ivr\b"), timeout=TIMEOUT_MS)
    heard = phone.locator(".heard")
    expect(heard).to_contain_text("Aguas del Manzanares")
    expect(heard).to_contain_text("Para facturas, pulse 2.")
    screenshot(caller, "desk-02-phone-menu")

    # Key 2 (bills): she is in line for facturas and reads her place and the wait bound
    phone.get_by_role("group", name="Teclado").get_by_role("button", name="2", exact=True).click()
    expect(phone).to_have_class(re.compile(r"\bphase-queue\b"), timeout=TIMEOUT_MS)
    expect(phone.locator(".phone-status")).to_contain_text("Está esperando su turno")
    expect(heard).to_contain_text("Usted es la próxima persona en ser atendida.")
    expect(heard).to_contain_text(
        re.compile(r"El tiempo de espera estimado es de menos de \d+ (minutos?|horas?)\.")
    )
    expect(phone.get_by_role("button", name="Que me llamen")).to_be_visible()
    expect(facturas.locator('[data-tile="waiting"] .tile-value')).to_have_text(
        "1", timeout=TIMEOUT_MS
    )
    screenshot(caller, "desk-03-phone-in-line-with-the-wait-bound")

    # A second caller joins the same queue after her, before any agent is available
    made = api.post("/contacts", json={"phone": "600555002", "language": "es"})
    assert made.status_code == 201, made.text
    second: int = made.json()["id"]
    assert api.post(f"/contacts/{second}/ivr", json={"node": "main", "key": "2"}).is_success
    told = api.post(f"/contacts/{second}/queue", json={"queue": "facturas"})
    assert told.status_code == 200, told.text
    assert told.json()["position"] == 2, told.json()
    assert "Hay 1 persona delante de usted." in told.json()["said"]
    expect(facturas.locator('[data-tile="waiting"] .tile-value')).to_have_text(
        "2", timeout=TIMEOUT_MS
    )

    # She presses "Que me llamen". The page asks the line what is new every 2 s; press right
    # after an answer so that the key is not crossed by the next one.
    with caller.expect_response(lambda r: r.url.endswith("/phone/poll"), timeout=TIMEOUT_MS):
        pass
    phone.get_by_role("button", name="Que me llamen").click()
    expect(phone).to_have_class(re.compile(r"\bphase-callback\b"), timeout=TIMEOUT_MS)
    expect(phone.locator(".phone-status")).to_contain_text("Le llamaremos.")
    expect(heard).to_contain_text("Le llamaremos")
    expect(heard).to_contain_text(CLOCK_TIME)
    expect(heard).not_to_contain_text("lo antes posible")
    screenshot(caller, "desk-04-phone-callback-taken")

    # The confirmation reaches the SMS sink, with a clock time
    confirmation = _wait_for_file(settings.outbox_dir, "sms-callback_*_confirmation.json")
    assert confirmation["to"] == "+34600555001"
    assert CLOCK_TIME.search(confirmation["body"]), confirmation["body"]
    assert "lo antes posible" not in confirmation["body"].lower()
    pending = api.get("/callbacks")
    assert pending.status_code == 200, pending.text
    (callback,) = pending.json()
    assert callback["queue"] == "facturas"
    # the callback keeps the place the first caller took before the second one
    assert callback["joined_at"] < api.get(f"/contacts/{second}").json()["joined_at"]

    expect(facturas.locator('[data-tile="callbacks"] .tile-value')).to_have_text(
        "1", timeout=TIMEOUT_MS
    )
    expect(facturas.locator('[data-tile="waiting"] .tile-value')).to_have_text("1")
    expect(facturas.locator('[data-tile="waiting"]')).to_contain_text(
        "llamadas de vuelta en la cola: 1"
    )
    screenshot(wall, "desk-05-wallboard-callback-pending")

    # Ana logs in and becomes available: the callback comes first, in its original place,
    # ahead of the second caller who is still on the line
    desk = _log_in(browser, url, "ana", "/agent")
    expect(desk.locator("[data-conn]")).to_have_text("En directo", timeout=TIMEOUT_MS)
    screenshot(desk, "desk-06-agent-offline")
    desk.get_by_role("button", name="Disponible").click()
    contact = desk.locator("section.contact")
    expect(contact).to_contain_text("Llamada de vuelta pendiente", timeout=TIMEOUT_MS)
    situation = desk.locator("section.situation")
    expect(situation).to_contain_text("Conserva su turno desde")
    expect(situation).to_contain_text("facturas (tecla 2)")  # the IVR path she took
    expect(situation.locator("[data-language]")).to_have_text("Español")
    expect(situation).to_contain_text("+34600•••001")
    expect(situation).to_contain_text("Llamada de vuelta")  # the promise and the last call
    assert api.get(f"/contacts/{second}").json()["state"] == "queued"
    screenshot(desk, "desk-07-agent-callback-offered")
    agents = wall.locator('[data-panel="agents"]')
    expect(agents.locator('[data-state="busy"] .figure')).to_have_text("1", timeout=TIMEOUT_MS)
    expect(facturas.locator('[data-tile="waiting"] .tile-value')).to_have_text("1")
    screenshot(wall, "desk-08-wallboard-callback-offered")

    # Her page is still open: Ana calls her from the desk, the page rings and she picks up
    expect(contact.get_by_role("button", name="No contesta")).to_have_count(0)
    desk.get_by_role("button", name="Llamar al cliente").click()
    expect(contact).to_contain_text("Llamando al cliente", timeout=TIMEOUT_MS)
    expect(phone).to_have_class(re.compile(r"\bphase-ringing\b"), timeout=TIMEOUT_MS)
    phone.get_by_role("button", name="Descolgar").click()
    expect(phone).to_have_class(re.compile(r"\bphase-connected\b"), timeout=TIMEOUT_MS)
    expect(contact).to_contain_text("En conversación", timeout=TIMEOUT_MS)
    expect(facturas.locator('[data-tile="callbacks"] .tile-value')).to_have_text(
        "0", timeout=TIMEOUT_MS
    )
    desk.get_by_label("Se lo he dicho al cliente", exact=True).check()
    desk.get_by_role("button", name="Poner en espera").click()
    expect(contact).to_contain_text("Cliente en espera", timeout=TIMEOUT_MS)
    screenshot(desk, "desk-09-agent-on-hold")
    holds = wall.locator('[data-panel="holds"]')
    expect(holds).to_contain_text("cliente avisado", timeout=TIMEOUT_MS)
    expect(holds).to_contain_text("Ana López")
    screenshot(wall, "desk-10-wallboard-hold-in-progress")

    # Back to the customer, end of the call, and the recap
    desk.get_by_role("button", name="Reanudar").click()
    expect(contact).to_contain_text("En conversación", timeout=TIMEOUT_MS)
    expect(holds).to_contain_text("Nadie está en espera", timeout=TIMEOUT_MS)
    desk.get_by_role("button", name="Terminar la llamada").click()
    expect(desk.locator("#wrap-recap")).to_be_visible(timeout=TIMEOUT_MS)
    expect(desk.locator(".handle")).to_contain_text("solo informativo")
    desk.get_by_label("Sí, resuelto", exact=True).check()
    recap = "Hemos corregido la factura de octubre\nEl abono llegará en la próxima factura"
    desk.fill("#wrap-recap", recap)
    desk.select_option("#wrap-next", "break")
    screenshot(desk, "desk-11-agent-wrap-up")
    desk.get_by_role("button", name="Terminar y enviar el resumen").click()
    expect(desk.locator(".state-now")).to_contain_text("En descanso", timeout=TIMEOUT_MS)
    expect(desk.locator("section.day")).to_contain_text("100\u00a0%")
    screenshot(desk, "desk-12-agent-done")

    sent = _wait_for_file(settings.outbox_dir, f"sms-contact_{callback['contact_id']}_recap.json")
    assert sent["to"] == "+34600555001"
    assert "Hemos corregido la factura de octubre; El abono llegará" in sent["body"]
    assert CLOCK_TIME.search(sent["body"])

    expect(agents.locator('[data-state="break"] .figure')).to_have_text("1", timeout=TIMEOUT_MS)
    expect(agents.locator('[data-state="busy"] .figure')).to_have_text("0")
    expect(facturas.locator('[data-tile="holds_today"] .tile-value')).to_have_text("1")
    expect(facturas.locator('[data-tile="holds_today"]')).to_contain_text("avisadas: 1")
    expect(facturas.locator('[data-tile="waiting"] .tile-value')).to_have_text("1")
    screenshot(wall, "desk-13-wallboard-after-the-call")

    for page in (caller, desk, wall):
        assert not page.errors, "\n".join(page.errors)
        page.context.close()
