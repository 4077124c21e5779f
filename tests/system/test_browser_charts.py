"""The Planning and Reports pages draw their charts in Chromium under the Content Security
Policy, with Plotly served by escucha itself (W3, W4, C6; ADR 0008)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from escucha.routing import service as routing
from escucha.staffing.samples import sample_history_csv
from tests.factories import caller, demo
from tests.system.conftest import LiveServer, screenshot

TIMEOUT_MS = 20_000
CSP_DETAILS = """
document.addEventListener("securitypolicyviolation", (e) => console.error(
  "CSP", e.violatedDirective, e.sourceFile, e.lineNumber, e.sample));
"""

pytestmark = [pytest.mark.browser, pytest.mark.system]


def _some_calls(session: Session) -> None:
    """A few real contacts in the last hour: answered, hung up, answered after a wait."""
    users = demo(session)
    ana = users["ana"]
    t0 = datetime.now(UTC) - timedelta(minutes=50)

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    first = caller(session, at(0), "600444001")
    second = caller(session, at(20), "600444002")
    third = caller(session, at(30), "600444003")
    routing.set_agent_state(session, ana, "available", now=at(8))
    session.refresh(first)
    routing.answer(session, ana, first.id, now=at(12))
    routing.abandon(session, second, now=at(65))
    routing.wrap_up(session, ana, first.id, now=at(200), outcome="ok", resolved=True, recap="-")
    session.refresh(third)
    routing.answer(session, ana, third.id, now=at(210))
    routing.wrap_up(session, ana, third.id, now=at(380), outcome="ok", resolved=False, recap="-")
    routing.set_agent_state(session, ana, "offline", now=at(400))
    session.commit()


def _charts_drawn(page: Any, scope: str, count: int) -> None:
    from playwright.sync_api import expect

    expect(page.locator(f"{scope} .plot-container")).to_have_count(count, timeout=TIMEOUT_MS)
    expect(page.locator(f"{scope} svg.main-svg").first).to_be_visible(timeout=TIMEOUT_MS)


def test_planning_and_reports_draw_their_charts_without_csp_errors(
    live_server: LiveServer, browser: Any, session: Session, tmp_path: Path
) -> None:
    _some_calls(session)
    url = live_server.url
    context = browser.new_context(locale="es-ES", viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.add_init_script(CSP_DETAILS)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/login?next=/planning")
    page.fill("#username", "sofia")
    page.fill("#password", "escucha-demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/planning")

    # Staffing for 80/20 with the defaults: the result and both charts arrive by HTMX
    page.click("#staffing button[type=submit]")
    page.locator("#staff-answer").wait_for(timeout=TIMEOUT_MS)
    _charts_drawn(page, "#staff-result", 2)
    screenshot(page, "charts-01-planning-staffing")

    # A day plan from the sample history: forecast, shifts with breaks, coverage chart
    history = tmp_path / "history.csv"
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday(), weeks=5)
    history.write_text(sample_history_csv(monday), encoding="utf-8")  # plans a Monday
    page.set_input_files("#d-file", str(history))
    page.click("#day-plan button[type=submit]")
    page.locator("#day-shifts").wait_for(timeout=TIMEOUT_MS)
    _charts_drawn(page, "#day-result", 1)
    assert "min)" in page.locator("#day-shifts").inner_text()
    page.locator("#day-result").scroll_into_view_if_needed()
    screenshot(page, "charts-02-planning-day")

    # The patience page answers even with few callers
    page.goto(f"{url}/planning/patience")
    page.locator("#patience-all").wait_for(timeout=TIMEOUT_MS)
    screenshot(page, "charts-03-patience")

    # The Reports page reads the live log: charts for volume, service level, patience, Erlang A
    page.goto(f"{url}/reports")
    page.locator("#report-kpis").wait_for(timeout=TIMEOUT_MS)
    assert page.locator("#kpi-offered .tile-value").inner_text() == "3"
    assert page.locator("#kpi-abandoned .tile-value").inner_text() == "1"
    _charts_drawn(page, "#report-intervals", 2)
    _charts_drawn(page, "#report-patience", 2)
    _charts_drawn(page, "#report-erlang", 1)
    screenshot(page, "charts-04-reports")
    context.close()
    assert errors == []
