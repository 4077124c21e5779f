"""The voice of the customer (M1-M4): survey measures, themes of comments and complaints with
editable labels, weekly trend and drill-down to contacts, and customers to follow up with the
follow-ups supervisors record."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.contacts.models import Contact
from escucha.promises.models import Promise
from escucha.surveys import service, voc
from escucha.surveys.models import FollowUp, VocLabel
from escucha.tickets.models import Ticket
from tests.conftest import START, csrf_from, login
from tests.factories import make_customer, make_ended_contact, make_login_user

BILLING = [
    "Me cobraron la factura dos veces este mes",
    "La factura llegó duplicada y con un cargo que no reconozco",
    "I was charged twice on my bill this month",
    "Otra vez la factura con un cargo duplicado, Ana me ayudó",
    "Billing error: the bill shows a duplicate charge",
]
WAITING = [
    "Esperé cuarenta minutos al teléfono antes de que me atendieran",
    "Demasiada espera al teléfono, cuarenta minutos",
    "I waited forty minutes on the phone before anyone answered",
    "La espera al teléfono fue larguísima",
]
_seq = count(1)


def _complaint(
    session: Session, customer_id: int, contact_id: int, text: str, status: str
) -> Ticket:
    n = next(_seq)
    ticket = Ticket(
        number=f"2026-{n:07d}-0",
        year=2026,
        sequence=n,
        kind="complaint",
        status=status,
        channel="voice",
        subject="Reclamación",
        description=text,
        customer_id=customer_id,
        origin_contact_id=contact_id,
        verification_code="ABC123",
        regulatory_profile="es-ley-10-2025",
        created_at=START - timedelta(days=2),
        updated_at=START - timedelta(days=2),
    )
    session.add(ticket)
    session.flush()
    return ticket


def _data(session: Session) -> dict[str, int]:
    agent = make_login_user(session, "ana", "agent", "Ana López")
    make_login_user(session, "sup", "supervisor")
    ids: dict[str, int] = {}
    for i, text in enumerate(BILLING[:4] + WAITING):
        customer = make_customer(session, name=f"Cliente {i}")
        arrived = START - timedelta(days=3 + 7 * (i % 2))
        contact = make_ended_contact(session, agent_id=agent.id, customer=customer, arrived=arrived)
        service.offer_survey(session, contact, now=arrived + timedelta(minutes=10))
        service.record_ivr_answers(
            session, contact.id, now=arrived + timedelta(minutes=20), csat=4 if i else 1
        )
        survey = service.survey_of(session, contact.id)
        assert survey is not None
        survey.comment = text
        ids[text] = contact.id
    # a complaint from a customer with an open case, and one closed
    angry = make_customer(session, name="Reclamante")
    contact = make_ended_contact(
        session, agent_id=agent.id, customer=angry, wait_s=900, arrived=START - timedelta(days=2)
    )
    ticket = _complaint(session, angry.id, contact.id, BILLING[4], "open")
    ids["ticket"] = ticket.id
    ids["angry"] = angry.id
    closed = make_customer(session, name="Satisfecho")
    _complaint(
        session,
        closed.id,
        make_ended_contact(
            session, agent_id=agent.id, customer=closed, arrived=START - timedelta(days=2)
        ).id,
        "billing duplicate charge again",
        "closed",
    )
    # a broken promise for another customer
    promised = make_customer(session, name="Prometido")
    make_ended_contact(
        session, agent_id=agent.id, customer=promised, arrived=START - timedelta(days=1)
    )
    session.add(
        Promise(
            kind="callback",
            state="broken",
            customer_id=promised.id,
            channel="voice",
            subject_kind="callback",
            created_at=START - timedelta(days=1),
            due_at=START - timedelta(hours=20),
            told="",
        )
    )
    ids["promised"] = promised.id
    session.commit()
    return ids


def test_customers_at_risk_are_flagged_with_their_reasons(session: Session) -> None:
    ids = _data(session)
    risk = voc.customers_at_risk(session, since=START - timedelta(days=28), now=START)
    assert risk.followed_up == []
    rows = risk.to_follow_up
    reasons = {r.customer_id: r.reasons for r in rows}
    assert reasons[ids["angry"]] == ("long_wait", "open_complaint")
    assert reasons[ids["promised"]] == ("broken_promise",)
    lowest = [r for r in rows if r.reasons == ("low_score",)]
    assert len(lowest) == 1
    assert lowest[0].facts.lowest_csat == 1
    satisfied = {r.name for r in rows}
    assert "Satisfecho" not in satisfied  # a closed complaint is not a reason
    assert rows[0].customer_id == ids["angry"]  # most reasons first
    assert rows[0].last_contact_id is not None


def test_repeat_contacts_count_towards_risk(session: Session) -> None:
    customer = make_customer(session)
    for day in (0, 2, 4, 6):
        make_ended_contact(
            session, agent_id=None, customer=customer, arrived=START + timedelta(days=day)
        )
    facts = voc.customer_facts(session, since=START, now=START + timedelta(days=7))
    assert facts[customer.id].repeat_contacts == 3
    rows = voc.customers_at_risk(session, since=START, now=START + timedelta(days=7)).to_follow_up
    assert rows[0].reasons == ("repeat_contacts",)


def test_labels_are_stored_and_cleared(session: Session) -> None:
    assert voc.set_theme_label(
        session, "factura-cargo", "  Cobros   duplicados ", user_id=None, now=START
    )
    assert voc.labels(session) == {"factura-cargo": "Cobros duplicados"}
    voc.set_theme_label(session, "factura-cargo", "Facturación", user_id=None, now=START)
    assert voc.labels(session) == {"factura-cargo": "Facturación"}
    assert voc.set_theme_label(session, "factura-cargo", "", user_id=None, now=START) is None
    assert voc.labels(session) == {}
    with pytest.raises(Exception, match="200"):
        voc.set_theme_label(session, "x", "y" * 201, user_id=None, now=START)


def test_the_voc_page_themes_rename_and_drill_down(client: TestClient, session: Session) -> None:
    ids = _data(session)
    report = voc.voc_report(session, since=START - timedelta(days=28), until=START, k=2)
    assert report.themes.n_texts == 10  # 8 comments and 2 complaints
    terms = {t for theme in report.themes.themes for t in theme.top_terms}
    assert "Ana" not in terms
    assert "ana" not in terms
    billing = next(t for t in report.themes.themes if f"t{ids['ticket']}" in t.member_ids)
    assert {report.texts[i].text for i in billing.member_ids} >= set(BILLING[:2])

    login(client, "sup", "correct-horse-battery")
    page = client.get("/voc", params={"days": 28, "k": 2})
    assert page.status_code == 200
    assert "Voz del cliente" in page.text
    assert billing.label in page.text
    assert "Tasa de respuesta" in page.text
    assert "Tiene una reclamación sin resolver" in page.text
    assert "Le incumplimos una promesa" in page.text
    r = client.post(
        "/voc/labels",
        data={
            "theme_key": billing.key,
            "label": "Cobros duplicados",
            "next": "/voc?days=28&k=2",
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/voc?days=28&k=2"
    assert "Cobros duplicados" in client.get(r.headers["location"]).text
    session.expire_all()
    assert session.query(VocLabel).one().label == "Cobros duplicados"
    detail = client.get(f"/voc/themes/{billing.key}", params={"days": 28, "k": 2})
    assert detail.status_code == 200
    assert "Cobros duplicados" in detail.text
    assert f'href="/qa/contacts/{ids[BILLING[0]]}"' in detail.text
    ticket = session.get(Ticket, ids["ticket"])
    assert ticket is not None
    assert ticket.number in detail.text
    assert client.get("/voc/themes/nothing-like-this", params={"days": 28}).status_code == 404
    assert client.get("/voc", params={"days": 0}).status_code == 422


def test_the_weekly_trend_counts_texts_per_week(session: Session) -> None:
    _data(session)
    report = voc.voc_report(session, since=START - timedelta(days=28), until=START, k=2)
    total: dict[str, int] = {}
    for theme in report.themes.themes:
        for week, n in theme.weekly.items():
            total[week] = total.get(week, 0) + n
    # comments were answered 3 or 10 days before Monday 23 November; complaints 2 days before
    assert total == {"2026-11-09": 4, "2026-11-16": 6}
    contacts = voc.contacts_for(session, list(report.texts.values()))
    assert all(isinstance(c, Contact) for c in contacts.values())


def _follow_up_page(client: TestClient, session: Session) -> tuple[dict[str, int], str]:
    ids = _data(session)
    login(client, "sup", "correct-horse-battery")
    page = client.get("/voc", params={"days": 28, "k": 2})
    assert page.status_code == 200
    return ids, page.text


def _followed_up_section(html: str) -> str:
    return html[html.index('id="followed-up"') :]


def test_recording_a_follow_up_from_the_voc_page(client: TestClient, session: Session) -> None:
    ids, html = _follow_up_page(client, session)
    angry = ids["angry"]
    action = f'action="/voc/customers/{angry}/follow-ups"'
    assert action in html
    assert "Registrar seguimiento" in html
    assert "Nadie con seguimiento hecho en este periodo." in html
    assert "<script>" not in html
    assert " style=" not in html
    url = f"/voc/customers/{angry}/follow-ups"
    form = {"days": "28", "k": "2", "by": "queue", "outcome": "reached"}

    # Without the CSRF token: refused, nothing written.
    r = client.post(url, data={**form, "note": "Hablado"}, follow_redirects=False)
    assert r.status_code == 403
    # Reached needs a note: the page again, with the message and the choices kept.
    r = client.post(url, data={**form, "note": " ", "csrf_token": csrf_from(html)})
    assert r.status_code == 422
    assert "nota: diga qué le contó el cliente y qué se acordó" in r.text
    assert '<option value="reached" selected>' in r.text
    session.expire_all()
    assert session.query(FollowUp).count() == 0

    r = client.post(
        url,
        data={
            **form,
            "note": "Le pedí disculpas; le llamamos el jueves",
            "csrf_token": csrf_from(html),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/voc?days=28&k=2&by=queue&recorded={angry}#at-risk"
    page = client.get(r.headers["location"])
    assert "Seguimiento registrado." in page.text
    assert action not in page.text  # no longer to follow up
    done = _followed_up_section(page.text)
    assert "Reclamante" in done
    assert "Le pedí disculpas; le llamamos el jueves" in done
    assert "Se habló con el cliente" in done
    assert "Tiene una reclamación sin resolver" in done
    session.expire_all()
    row = session.query(FollowUp).one()
    assert (row.customer_id, row.outcome, row.reasons) == (
        angry,
        "reached",
        ["long_wait", "open_complaint"],
    )


def test_a_customer_not_reached_stays_with_the_attempts(
    client: TestClient, session: Session
) -> None:
    ids, html = _follow_up_page(client, session)
    promised = ids["promised"]
    r = client.post(
        f"/voc/customers/{promised}/follow-ups",
        data={
            "days": "28",
            "k": "2",
            "by": "queue",
            "outcome": "not_reached",
            "note": "",
            "csrf_token": csrf_from(html),
        },
    )
    assert r.status_code == 200
    assert f'action="/voc/customers/{promised}/follow-ups"' in r.text
    assert "Intentos sin localizarle: 1" in r.text
    assert "Prometido" not in _followed_up_section(r.text)


def test_agents_cannot_record_follow_ups(client: TestClient, session: Session) -> None:
    ids = _data(session)
    login(client, "ana", "correct-horse-battery")
    page = client.get("/agent")
    r = client.post(
        f"/voc/customers/{ids['angry']}/follow-ups",
        data={"outcome": "message_left", "note": "", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert client.get("/voc", follow_redirects=False).status_code == 403
    session.expire_all()
    assert session.query(FollowUp).count() == 0


def test_following_up_an_unknown_customer_is_not_found(
    client: TestClient, session: Session
) -> None:
    _, html = _follow_up_page(client, session)
    r = client.post(
        "/voc/customers/999999/follow-ups",
        data={"outcome": "message_left", "note": "", "csrf_token": csrf_from(html)},
    )
    assert r.status_code == 404
