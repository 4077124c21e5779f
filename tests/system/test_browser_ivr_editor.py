"""The IVR editor in a real browser (requirement C1, item 5): edit a prompt, watch the lint
change as you type, save, and walk a customer task with the keypad of a simulated call."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.factories import demo
from tests.system.conftest import LiveServer, screenshot

KEY_FIRST = (
    "Pulse 1 para una fuga. Para facturas, pulse 2. Para la lectura, pulse 3. "
    "Para contratos, pulse 4. Para reclamaciones, pulse 5. Para repetir, pulse 9. "
    "Para hablar con una persona, pulse 0."
)

pytestmark = [pytest.mark.browser, pytest.mark.system]


def test_edit_a_prompt_see_the_lint_and_walk_a_task_with_the_keypad(
    live_server: LiveServer, browser: Any, session: Session
) -> None:
    from playwright.sync_api import expect

    demo(session)
    session.commit()
    page = browser.new_page(locale="es-ES")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_server.url}/ivr")
    page.fill("#username", "admin")
    page.fill("#password", "escucha-admin")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/ivr")
    expect(page.locator("h1")).to_have_text("Editor del IVR")
    findings = page.locator("#findings")
    expect(findings).to_have_attribute("data-warnings", "0")
    expect(page.locator("#node-main")).to_contain_text("1 → emergencies")
    if shutil.which("espeak-ng"):
        src = page.locator("#audio-f-nodes-main-prompt-es audio").get_attribute("src")
        wav = page.request.get(f"{live_server.url}{src}")
        assert wav.status == 200
        assert wav.body()[:4] == b"RIFF"
    screenshot(page, "ivr-editor-1-clean")

    # Type a prompt that says the key before the action: the lint says so within a second.
    prompt = page.locator("#f-nodes-main-prompt-es")
    prompt.click()
    prompt.press_sequentially(KEY_FIRST)
    finding = page.locator('#findings tr.finding[data-rule="action-before-key"]')
    expect(finding).to_have_count(1, timeout=10_000)
    expect(finding).to_contain_text("Pulse 1 para una fuga")
    expect(page.locator("#marks-main")).to_contain_text("action-before-key")
    expect(page.locator("#dur-f-nodes-main-prompt-es")).to_contain_text("sin guardar")
    screenshot(page, "ivr-editor-2-lint-live")

    # Empty it again: the generated prompt comes back and so does the clean lint.
    prompt.fill("")
    prompt.press("Backspace")
    expect(finding).to_have_count(0, timeout=10_000)
    expect(findings).to_have_attribute("data-warnings", "0")

    # Save a new greeting; the call will greet with it.
    greeting = page.locator("#f-greeting-es")
    greeting.fill("Aguas del Manzanares, le atendemos.")
    page.click(".savebar button[type=submit]")
    page.wait_for_url(f"{live_server.url}/ivr?saved=1")
    expect(page.locator(".notice.good")).to_contain_text("Guardado")
    expect(page.locator("#f-greeting-es")).to_have_value("Aguas del Manzanares, le atendemos.")
    screenshot(page, "ivr-editor-3-saved")

    # Call it: open hours, Spanish; hear the greeting and the main menu.
    page.click("text=Llamar al IVR (simulado)")
    page.wait_for_url(f"{live_server.url}/ivr/call")
    page.select_option("#call-hours", "open")
    page.click(".call-setup button[type=submit]")
    heard = page.locator("#heard")
    expect(heard).to_contain_text("Aguas del Manzanares, le atendemos.")
    expect(heard).to_contain_text("Para facturas, pulse 2.")
    expect(page.locator("#call-status")).to_contain_text("main")
    screenshot(page, "ivr-call-1-menu")

    # Task: give the meter reading, then pay a bill. Key 3 says how, and back to the menu.
    page.click('#keypad button[data-key="3"]')
    expect(page.locator("#call-keys")).to_have_text("3")
    expect(heard).to_contain_text("Puede darnos la lectura")
    expect(page.locator("#call-path")).to_have_text("start>main>3>meter>main")
    screenshot(page, "ivr-call-2-meter-info")

    page.click('#keypad button[data-key="2"]')
    status = page.locator("#call-status")
    expect(status).to_contain_text("facturas (Facturas y pagos)")
    expect(page.locator("#call-path")).to_have_text("start>main>3>meter>main>2>billing")
    expect(page.locator("#call")).to_have_attribute("data-status", "queue")
    expect(heard).not_to_contain_text("Puede darnos la lectura")
    seconds = float(page.locator("#call-seconds").inner_text().split()[0])
    assert seconds > 10
    expect(page.locator('#keypad button[data-key="5"]')).to_be_disabled()
    screenshot(page, "ivr-call-3-queue")

    # Hang up and call again: back at the start.
    page.click("#hangup")
    expect(page.locator("#call")).to_have_attribute("data-status", "menu")
    expect(page.locator("#call-keys")).to_have_text("—")
    screenshot(page, "ivr-call-4-again")
    assert errors == []
