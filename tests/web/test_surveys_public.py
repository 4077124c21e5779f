"""The public survey page (M2): the customer's language, one submission, expiry respected."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.clock import FrozenClock
from escucha.notifications.models import Notification
from escucha.surveys import service
from escucha.surveys.models import Survey
from tests.conftest import START, csrf_from
from tests.factories import make_customer, make_ended_contact


def _survey(session: Session, language: str = "es", **kwargs: object) -> tuple[int, str]:
    customer = make_customer(session, language=language)
    contact = make_ended_contact(session, agent_id=None, customer=customer)
    survey = service.offer_survey(session, contact, now=START, base_url="http://x", **kwargs)  # type: ignore[arg-type]
    assert survey is not None
    note = session.get(Notification, survey.notification_id)
    assert note is not None
    token = note.body.split("/s/", 1)[1].split()[0]
    session.commit()
    return survey.id, token


def test_the_customer_answers_once_in_their_language(client: TestClient, session: Session) -> None:
    survey_id, token = _survey(session)
    page = client.get(f"/s/{token}")
    assert page.status_code == 200
    assert "¿Qué tal le atendimos?" in page.text
    assert "Puede responder hasta el lunes 30 de noviembre a las 10:00" in page.text
    assert 'name="csat" value="5"' in page.text
    assert 'name="nps" value="0"' in page.text
    assert "La empresa me lo puso fácil para resolver mi gestión." in page.text
    r = client.post(
        f"/s/{token}",
        data={
            "csat": "2",
            "ces": "3",
            "nps": "6",
            "comment": "Tuve que llamar tres veces por la misma factura.",
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    thanks = client.get(r.headers["location"])
    assert 'id="survey-thanks"' in thanks.text
    session.expire_all()
    survey = session.get(Survey, survey_id)
    assert survey is not None
    assert (survey.csat, survey.ces, survey.nps) == (2, 3, 6)
    assert survey.comment == "Tuve que llamar tres veces por la misma factura."
    again = client.post(f"/s/{token}", data={"csat": "5", "csrf_token": csrf_from(page.text)})
    assert again.status_code == 409
    assert 'id="survey-thanks"' in again.text
    session.expire_all()
    assert session.get(Survey, survey_id).csat == 2  # type: ignore[union-attr]


def test_english_and_a_bad_answer_keeps_the_form(client: TestClient, session: Session) -> None:
    _, token = _survey(session, language="en", kinds=["csat", "nps"])
    page = client.get(f"/s/{token}")
    assert "How did we do?" in page.text
    assert "You can answer until Monday 30 November at 10:00" in page.text
    assert 'name="ces"' not in page.text  # only the questions asked
    r = client.post(
        f"/s/{token}",
        data={"csat": "9", "comment": "kept", "csrf_token": csrf_from(page.text)},
    )
    assert r.status_code == 422
    assert "Please answer at least one question" in r.text
    assert ">kept</textarea>" in r.text
    empty = client.post(f"/s/{token}", data={"csrf_token": csrf_from(page.text)})
    assert empty.status_code == 422


def test_an_expired_survey_says_so(
    client: TestClient, session: Session, clock: FrozenClock
) -> None:
    survey_id, token = _survey(session)
    page = client.get(f"/s/{token}")
    clock.advance(timedelta(days=8))
    closed = client.get(f"/s/{token}")
    assert 'id="survey-closed"' in closed.text
    assert "Esta encuesta se cerró el lunes 30 de noviembre a las 10:00" in closed.text
    r = client.post(f"/s/{token}", data={"csat": "5", "csrf_token": csrf_from(page.text)})
    assert r.status_code == 409
    session.expire_all()
    assert session.get(Survey, survey_id).responded_at is None  # type: ignore[union-attr]


def test_an_unknown_token_is_not_found(client: TestClient) -> None:
    assert client.get("/s/nothing-here").status_code == 404
