"""Every signed-in page on a phone (390 px) and the API reference, in Chromium against a real
server (day one).

Each role logs in and opens every page of its menu and the pages those lead to. On a 390 px
screen no page may be wider than the screen: the menu folds behind a button and wide tables
scroll inside their card. The menu button opens and closes the menu.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from escucha.org import service as org_service
from tests.conftest import START
from tests.system.conftest import LiveServer, screenshot

DEMO = Path(org_service.__file__).parent / "demo.yaml"
TIMEOUT_MS = 15_000

pytestmark = [pytest.mark.browser, pytest.mark.system]

AGENT_PAGES = ("/agent", "/tickets", "/customers", "/qa/mine", "/complaints/new")
SUPERVISOR_PAGES = (
    "/supervisor",
    "/supervisor/wallboard",
    "/promises",
    "/planning",
    "/reports",
    "/reports/agents",
    "/ivr",
    "/qa",
    "/qa/scorecards",
    "/qa/calibration",
    "/qa/disputes",
    "/voc",
    "/canned-replies",
)
ADMIN_PAGES = (
    "/admin",
    "/admin/jobs",
    "/admin/users",
    "/admin/tokens",
    "/admin/logins",
    "/admin/config/queues",
)
PAGES = {
    "ana": AGENT_PAGES,
    "sofia": AGENT_PAGES[1:] + SUPERVISOR_PAGES,
    "admin": ADMIN_PAGES,
}
WIDER_THAN_SCREEN = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    // Inside a box that scrolls sideways, being wide is fine.
    let scroller = false;
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden") { scroller = true; break; }
    }
    if (!scroller && r.right > width + 1) {
      wide.push(el.tagName + "." + el.className + " " + Math.round(r.right));
    }
  }
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 5)};
}"""


PASSWORDS = {"admin": "escucha-admin"}


def _log_in(page: Any, url: str, username: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORDS.get(username, "escucha-demo"))
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url


@pytest.mark.parametrize("username", sorted(PAGES))
def test_every_signed_in_page_fits_a_phone(
    live_server: LiveServer, browser: Any, session: Session, username: str
) -> None:
    org_service.apply_file(session, DEMO, now=START)
    session.commit()
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="es-ES")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    _log_in(page, live_server.url, username)
    too_wide = {}
    for path in PAGES[username]:
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None
        assert response.status == 200, path
        assert page.url == f"{live_server.url}{path}"
        page.wait_for_load_state("networkidle")
        seen = page.evaluate(WIDER_THAN_SCREEN)
        if seen["scroll"] > seen["width"] or seen["wide"]:
            too_wide[path] = seen
            screenshot(page, f"narrow-{username}-{path.strip('/').replace('/', '-')}")
    assert too_wide == {}
    # The menu is folded behind its button, which opens and closes it.
    page.goto(f"{live_server.url}{PAGES[username][0]}")
    toggle = page.locator(".menu-toggle")
    nav = page.locator("#main-nav")
    assert toggle.is_visible()
    assert not nav.is_visible()
    toggle.click()
    assert nav.is_visible()
    assert toggle.get_attribute("aria-expanded") == "true"
    toggle.click()
    assert not nav.is_visible()
    context.close()


def test_the_menu_stays_open_on_a_wide_screen(
    live_server: LiveServer, browser: Any, session: Session
) -> None:
    org_service.apply_file(session, DEMO, now=START)
    session.commit()
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    _log_in(page, live_server.url, "sofia")
    assert page.locator("#main-nav").is_visible()
    assert not page.locator(".menu-toggle").is_visible()


def test_the_api_reference_draws_every_operation(live_server: LiveServer, browser: Any) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector(".opblock", timeout=TIMEOUT_MS)
    drawn = page.locator(".opblock").count()
    spec = page.evaluate("fetch('/api/v1/openapi.json').then(r => r.json())")
    operations = sum(len(ops) for ops in spec["paths"].values())
    assert drawn == operations > 20
    assert errors == []


FITS = """() => {
  const doc = document.documentElement;
  const clipped = [];
  const inside = (el, box) => {
    const r = el.getBoundingClientRect(), b = box.getBoundingClientRect();
    return r.top >= b.top - 1 && r.bottom <= b.bottom + 1
      && r.left >= b.left - 1 && r.right <= b.right + 1;
  };
  for (const q of document.querySelectorAll(".queue")) {
    for (const t of q.querySelectorAll(".tile-label, .tile-value, .tile-status")) {
      if (!inside(t, q)) clipped.push(q.dataset.queue + ": " + t.className);
    }
  }
  for (const el of document.querySelectorAll(".queue, .panel, .alert, .agent-card")) {
    const r = el.getBoundingClientRect();
    if (r.bottom > doc.clientHeight + 1 || r.right > doc.clientWidth + 1) {
      clipped.push(el.className);
    }
  }
  return {scroll: doc.scrollHeight, height: doc.clientHeight, width: doc.scrollWidth,
          clipped, queues: document.querySelectorAll(".queue").length,
          agents: document.querySelectorAll(".agent-card").length};
}"""


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1366, 768)])
def test_the_wallboard_fits_a_wall_screen(
    live_server: LiveServer, browser: Any, session: Session, width: int, height: int
) -> None:
    org_service.apply_file(session, DEMO, now=START)
    session.commit()
    page = browser.new_page(viewport={"width": width, "height": height}, locale="es-ES")
    page.set_default_timeout(TIMEOUT_MS)
    _log_in(page, live_server.url, "sofia")
    for path in ("/supervisor/wallboard", "/supervisor/wallboard?tv=1"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_selector(".queue")
        seen = page.evaluate(FITS)
        assert (seen["queues"], seen["agents"]) == (3, 3), seen
        assert seen["scroll"] <= height, (path, seen)
        assert seen["width"] <= width, (path, seen)
        assert seen["clipped"] == [], (path, seen)
    screenshot(page, f"wallboard-tv-{width}x{height}")
    page.click(".tv-link")
    page.wait_for_url(f"{live_server.url}/supervisor/wallboard")
