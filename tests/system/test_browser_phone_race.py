"""A key pressed on the browser phone is not undone by a poll crossing it (W1, C1), in Chromium
against a real server.

The caller's phone (``#phone``) asks the server every 2 s what is new and replaces itself with
the answer; its buttons replace it too. (The agent's side is the desk, pushed by the server.)
Here a poll is answered by the server before the key is pressed and reaches the page only
after it, while the key's own answer is still on its way: the page must end up showing what
the key did, not what the line was like before it.
"""

from __future__ import annotations

import re
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from escucha.org import service as org_service
from tests.conftest import START
from tests.system.conftest import LiveServer, screenshot
from tests.system.test_browser_desk import _demo_open_around_the_clock

pytestmark = [pytest.mark.system, pytest.mark.browser]

TIMEOUT_MS = 15_000
#: htmx reports a request it aborted (here: the poll a key press replaced) on the console.
ABORTED = re.compile(r"^htmx:(afterRequest|sendAbort), ")


@pytest.fixture
def demo_open(session: Session, tmp_path: Path) -> None:
    """The demo organisation, open at every hour (the server runs on the real clock)."""
    org_service.apply_file(session, _demo_open_around_the_clock(tmp_path), now=START)
    session.commit()


class Held:
    """Requests to one path: each goes to the server at once, and its answer is kept back."""

    def __init__(self, page: Any, path: str) -> None:
        self.page = page
        self.answers: list[tuple[Any, Any]] = []
        page.route(f"**{path}", self._keep)

    def _keep(self, route: Any) -> None:
        self.answers.append((route, route.fetch()))

    def first(self) -> tuple[Any, Any]:
        """The first request, once the server has answered it."""
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while not self.answers:
            assert time.monotonic() < deadline, "no request came"
            self.page.wait_for_timeout(50)
        return self.answers[0]


def deliver(held: tuple[Any, Any]) -> None:
    """Let a kept answer reach the page (unless the page gave up the request meanwhile)."""
    from playwright.sync_api import Error

    route, response = held
    with suppress(Error):
        route.fulfill(response=response)


def _page(browser: Any) -> Any:
    page = browser.new_context(locale="es-ES", viewport={"width": 1100, "height": 800}).new_page()
    errors: list[str] = []

    def console(message: Any) -> None:
        if message.type == "error" and not ABORTED.match(message.text):
            errors.append(message.text)

    page.on("console", console)
    page.errors = errors
    return page


def _done(page: Any) -> None:
    page.unroute_all(behavior="ignoreErrors")
    assert not page.errors, "\n".join(page.errors)
    page.context.close()


def test_a_poll_crossing_a_key_does_not_bring_the_old_screen_back(
    demo_open: None, live_server: LiveServer, browser: Any
) -> None:
    from playwright.sync_api import expect

    caller = _page(browser)
    caller.goto(f"{live_server.url}/phone")
    phone = caller.locator("#phone")
    phone.get_by_label("Su número de teléfono (para poder llamarle)").fill("600 555 001")
    caller.get_by_role("button", name=re.compile(r"^Llamar a ")).click()
    expect(phone).to_have_class(re.compile(r"\bphase-ivr\b"), timeout=TIMEOUT_MS)
    keypad = phone.get_by_role("group", name="Teclado")
    keypad.get_by_role("button", name="2", exact=True).click()  # bills: in line, polling
    expect(phone).to_have_class(re.compile(r"\bphase-queue\b"), timeout=TIMEOUT_MS)

    # A poll is answered while she waits in line, and that answer is kept back
    polls = Held(caller, "/phone/poll")
    stale = polls.first()
    assert "phase-queue" in stale[1].text()
    # She presses 1 (call me back); the server answers, and that answer is kept back too
    keys = Held(caller, "/phone/key")
    keypad.get_by_role("button", name="1", exact=True).click()
    pressed = keys.first()
    assert "phase-callback" in pressed[1].text()

    # The old poll arrives first, then the key's answer. (In the other order htmx drops the old
    # answer by itself: the element it was meant for is gone. In this one, without hx-sync,
    # the old screen replaced the phone and the key's answer was then meant for a gone one.)
    deliver(stale)
    caller.wait_for_timeout(300)
    deliver(pressed)
    expect(phone).to_have_class(re.compile(r"\bphase-callback\b"), timeout=TIMEOUT_MS)
    expect(phone.locator(".phone-status")).to_contain_text("Le llamaremos.")
    caller.wait_for_timeout(1000)
    expect(phone).to_have_class(re.compile(r"\bphase-callback\b"))
    expect(keypad).to_have_count(0)
    screenshot(caller, "phone-race-callback-kept")
    _done(caller)
