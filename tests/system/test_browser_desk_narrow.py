"""The agent desk on narrower screens: the customer's last contacts stay inside their card
(C2), in Chromium against a real server.

A returning customer with several earlier contacts is offered to Ana, and her desk is looked
at 1280, 1150, 1024 and 800 px wide. From 1100 px the desk has two columns and the customer's
situation gets the narrower one, where the five columns of ordinary words were wider than the
card; in one column, a long word that cannot be broken (the address of a page in a recap) did
the same. Whatever the width, neither the table (nor the box that scrolls it) nor the page may
spill over the card's edge.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from escucha.contacts import service as contacts
from tests.factories import demo_users
from tests.system.conftest import LiveServer, screenshot

pytestmark = [pytest.mark.system, pytest.mark.browser]

TIMEOUT_MS = 15_000
WIDTHS = (1280, 1150, 1024, 800)
URL = "https://oficina.aguasdelmanzanares.example/facturas/rectificativas/2026-octubre-0042"
EARLIER = (  # channel, outcome, solved, recap: newest first
    (
        "voice",
        "informed",
        True,
        "Explicada la factura de octubre, con el consumo estimado por "
        "la lectura que no se pudo tomar y el abono que llegará en la próxima factura",
    ),
    (
        "callback",
        "needs_follow_up",
        False,
        "Sigue sin agua caliente en el segundo piso; se "
        "abre una avería y el técnico irá el jueves por la mañana",
    ),
    ("email", "complaint", None, f"Factura rectificativa enviada: {URL}"),
    ("voice", "solved", True, "Cambio de la cuenta de domiciliación bancaria"),
)
#: The box the table is seen in: its own, or that of the ancestor in the card that scrolls it.
SEEN_BOX = """table => {
  let seen = table;
  for (let e = table.parentElement; e && e.tagName !== "SECTION"; e = e.parentElement) {
    if (getComputedStyle(e).overflowX !== "visible") { seen = e; break; }
  }
  const r = seen.getBoundingClientRect();
  return {x: r.x, y: r.y, width: r.width, height: r.height};
}"""


@pytest.fixture
def returning_caller(session: Session) -> int:
    """The demo organisation, and a customer with four earlier contacts now waiting in line
    (written before the server starts, dated by the real clock the server runs on)."""
    demo_users(session)
    now = datetime.now(UTC)
    customer = contacts.find_or_create_customer(
        session, now=now - timedelta(days=30), phone="600333001", name="Pilar Gómez Aranda"
    )
    for weeks, (channel, outcome, resolved, recap) in enumerate(EARLIER, start=1):
        earlier = contacts.start_contact(
            session, channel=channel, now=now - timedelta(weeks=weeks), customer=customer
        )
        earlier.queue = "facturas"
        earlier.state, earlier.outcome, earlier.resolved = "ended", outcome, resolved
        earlier.recap = recap
    waiting = contacts.start_contact(session, channel="voice", now=now, customer=customer)
    contacts.ivr_choice(session, waiting, node="main", key="2", now=now)
    contacts.enqueue(session, waiting, "facturas", now=now, skills={"facturas": 1})
    session.commit()
    return waiting.id


def test_the_last_contacts_stay_inside_their_card_on_narrower_screens(
    returning_caller: int, live_server: LiveServer, browser: Any
) -> None:
    from playwright.sync_api import expect

    url = live_server.url
    context = browser.new_context(locale="es-ES", viewport={"width": WIDTHS[0], "height": 900})
    desk = context.new_page()
    errors: list[str] = []
    desk.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    desk.goto(f"{url}/login?next=/agent")
    desk.fill("#username", "ana")
    desk.fill("#password", "escucha-demo")
    desk.click("button[type=submit]")
    desk.wait_for_url(f"{url}/agent")
    expect(desk.locator("[data-conn]")).to_have_text("En directo", timeout=TIMEOUT_MS)
    desk.get_by_role("button", name="Disponible").click()
    expect(desk.locator(f'section.contact[data-contact="{returning_caller}"]')).to_contain_text(
        "Llamada entrante", timeout=TIMEOUT_MS
    )
    card = desk.locator("section.situation")
    table = card.locator("table")
    expect(table.locator("tbody tr")).to_have_count(len(EARLIER))
    expect(table).to_contain_text(URL)

    for width in WIDTHS:
        desk.set_viewport_size({"width": width, "height": 900})
        table.scroll_into_view_if_needed()
        screenshot(desk, f"desk-narrow-{width}")
        box, seen = card.bounding_box(), table.evaluate(SEEN_BOX)
        assert box is not None
        where = f"at {width} px: card {box}, table seen in {seen}"
        assert box["x"] <= seen["x"], where
        assert seen["x"] + seen["width"] <= box["x"] + box["width"], where
        spill = desk.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert spill <= 0, f"the page scrolls sideways by {spill} px at {width} px"
    assert not errors, "\n".join(errors)
    context.close()
