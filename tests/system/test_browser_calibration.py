"""A supervisor reviews a contact with the default scorecard, a second reviewer calibrates the
same contact, and the agreement is shown (C4), in a real browser against a real server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.qa import reviews as qa
from escucha.qa import service as qa_service
from escucha.qa.models import Review
from tests.conftest import START
from tests.factories import demo, make_customer, make_ended_contact, make_user
from tests.qa.helpers import GOOD_ES
from tests.system.conftest import LiveServer, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.system]


def _log_in(page: Any, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/supervisor")


def test_review_then_calibrate_then_agreement(
    live_server: LiveServer, browser: Any, session: Session
) -> None:
    demo(session)
    make_user(session, username="rev2", role="supervisor", display_name="Revisora Dos")
    ana = session.scalar(select(User).where(User.username == "ana"))
    assert ana is not None
    contact = make_ended_contact(
        session,
        agent_id=ana.id,
        customer=make_customer(session),
        arrived=START - timedelta(hours=2),
        holds=[(35, 87, True)],
    )
    qa.store_transcript(session, contact.id, GOOD_ES, now=START)
    session.commit()
    card = qa_service.default_scorecard()
    errors: list[str] = []

    # 1. Sofía reviews the contact with the default scorecard.
    sofia = browser.new_context(locale="es-ES").new_page()
    sofia.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _log_in(sofia, live_server.url, "sofia", "escucha-demo")
    sofia.goto(f"{live_server.url}/qa")
    sofia.fill("#contact_id", str(contact.id))
    sofia.click("text=Abrir la evaluación")
    sofia.wait_for_selector("#review-form")
    assert "lamento mucho el cargo duplicado" in sofia.content()
    sofia.click("text=Usar las sugerencias en los criterios sin responder")
    sofia.wait_for_selector("text=Las sugerencias rellenan los criterios sin responder")
    assert sofia.input_value("#c_greeting") == "yes"
    sofia.select_option("#c_whole_situation", "yes")
    sofia.select_option("#c_honest_answers", "yes")
    sofia.select_option("#c_complaint_registered", "na")
    sofia.fill("#notes", "Buena llamada: espera anunciada y resumen al final.")
    screenshot(sofia, "qa-review-form")
    sofia.click("#submit-review")
    sofia.wait_for_selector("text=Evaluación enviada.")
    score = sofia.inner_text("#review-score")
    assert float(score) > 80
    screenshot(sofia, "qa-review-submitted")

    # 2. A second reviewer calibrates the same contact, blind.
    rev2 = browser.new_context(locale="es-ES").new_page()
    rev2.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _log_in(rev2, live_server.url, "rev2", "correct-horse-battery")
    rev2.goto(f"{live_server.url}/qa/calibration/{contact.id}")
    rev2.click("#join-calibration")
    rev2.wait_for_selector("#review-form")
    for c in card.criteria():
        best = max(card.scales[c.scale], key=lambda o: o.points).value
        rev2.select_option(f"#c_{c.id}", best)
    rev2.select_option("#c_whole_situation", "partly")
    rev2.select_option("#c_recap", "no")
    rev2.select_option("#c_complaint_registered", "na")
    rev2.select_option("#c_holds_announced", "yes")
    rev2.click("#submit-review")

    # 3. The calibration page shows the agreement.
    rev2.wait_for_url(f"{live_server.url}/qa/calibration/{contact.id}")
    shown = rev2.inner_text("#agreement-alpha")
    screenshot(rev2, "qa-calibration-agreement")
    session.expire_all()
    report = qa.calibration_report(session, contact.id)
    assert len(report.review_ids) == 2
    kinds = {r.kind for r in session.scalars(select(Review).where(Review.contact_id == contact.id))}
    assert kinds == {"review", "calibration"}
    assert report.alpha is not None
    assert shown == f"{report.alpha:.2f}"
    assert -1 <= report.alpha < 1  # they differ on two criteria
    assert rev2.inner_text("#agreement-percent") == "83\u00a0%"  # 10 of 12 criteria
    assert "Sofía Martín" in rev2.content()
    assert "Revisora Dos" in rev2.content()
    sofia.goto(f"{live_server.url}/qa/calibration/{contact.id}")
    assert sofia.inner_text("#agreement-alpha") == shown
    assert errors == []
