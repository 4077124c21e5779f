"""Quality screens (C4, C5): review a contact with its transcript, timeline and suggestions;
calibrate blind and see the agreement; dispute and decide; edit the scorecard; sample."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.qa import reviews as qa
from escucha.qa.models import Dispute, Review, ScorecardVersion
from tests.conftest import START, csrf_from, login
from tests.factories import make_ended_contact, make_login_user, make_person
from tests.qa.helpers import GOOD_ES

PASSWORD = "correct-horse-battery"


@pytest.fixture
def other(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def _answers(session: Session, review_id: int, **changes: str) -> dict[str, str]:
    card = qa.review_scorecard(session, session.get(Review, review_id))  # type: ignore[arg-type]
    out = {
        f"c_{c.id}": max(card.scales[c.scale], key=lambda o: o.points).value
        for c in card.criteria()
    }
    out.update({f"c_{k}": v for k, v in changes.items()})
    return out


def _setup(session: Session) -> tuple[int, int]:
    make_login_user(session, "sup", "supervisor")
    make_login_user(session, "rev2", "supervisor")
    agent = make_login_user(session, "ana", "agent", "Ana López")
    contact = make_ended_contact(
        session,
        agent_id=agent.id,
        arrived=START - timedelta(hours=3),
        holds=[(35, 87, True), (150, 40, False)],
    )
    qa.store_transcript(session, contact.id, GOOD_ES, now=START)
    session.commit()
    return contact.id, agent.id


def _start(client: TestClient, contact_id: int) -> int:
    page = client.get("/qa")
    assert page.status_code == 200
    r = client.post(
        "/qa/start",
        data={"contact_id": str(contact_id), "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    match = re.fullmatch(r"/qa/reviews/(\d+)", r.headers["location"])
    assert match
    return int(match.group(1))


def test_a_supervisor_reviews_a_contact(client: TestClient, session: Session) -> None:
    contact_id, _ = _setup(session)
    assert login(client, "sup", PASSWORD).status_code == 303
    review_id = _start(client, contact_id)
    page = client.get(f"/qa/reviews/{review_id}")
    assert page.status_code == 200
    html = page.text
    assert "lamento mucho el cargo duplicado" in html  # the transcript
    assert 'id="turn-8"' in html  # the hold marker is a turn, numbered as evidence counts
    assert "Esperas: 2," in html
    assert "1 sin anunciar" in html  # the second hold was not announced
    assert "Sugerencias de la evaluación automática" in html
    assert 'name="c_whole_situation"' in html

    token = csrf_from(html)
    r = client.post(
        f"/qa/reviews/{review_id}",
        data={"action": "suggest", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    session.expire_all()
    review = session.get(Review, review_id)
    assert review is not None
    assert review.answers["greeting"] == review.suggested["greeting"] == "yes"
    assert "whole_situation" not in review.answers

    missing = _answers(session, review_id)
    del missing["c_honest_answers"]
    r = client.post(
        f"/qa/reviews/{review_id}",
        data={**missing, "action": "submit", "csrf_token": token},
    )
    assert r.status_code == 422
    assert "honest_answers" in r.text
    session.expire_all()
    review = session.get(Review, review_id)
    assert review is not None
    assert review.status == "draft"
    assert review.answers["recap"] == "yes"  # the valid answers are kept

    r = client.post(
        f"/qa/reviews/{review_id}",
        data={
            **_answers(session, review_id, whole_situation="partly"),
            "notes": "Muy bien la espera anunciada.",
            "action": "submit",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "Evaluación enviada." in page.text
    session.expire_all()
    review = session.get(Review, review_id)
    assert review is not None
    assert review.status == "submitted"
    assert review.score is not None
    assert f'<span id="review-score">{review.score:.1f}</span>' in page.text
    assert 'id="review-form"' not in page.text  # read-only once submitted
    listing = client.get("/qa?show=submitted").text
    assert f'href="/qa/reviews/{review_id}"' in listing
    contact_page = client.get(f"/qa/contacts/{contact_id}").text
    assert f'href="/qa/reviews/{review_id}"' in contact_page
    assert "Ana López" in listing


def test_calibration_is_blind_until_submitted_and_shows_agreement(
    client: TestClient, other: TestClient, session: Session
) -> None:
    contact_id, _ = _setup(session)
    login(client, "sup", PASSWORD)
    first = _start(client, contact_id)
    token = csrf_from(client.get(f"/qa/reviews/{first}").text)
    client.post(
        f"/qa/reviews/{first}",
        data={**_answers(session, first), "action": "submit", "csrf_token": token},
    )

    login(other, "rev2", PASSWORD)
    page = other.get(f"/qa/calibration/{contact_id}")
    assert page.status_code == 200
    assert 'id="join-calibration"' in page.text
    r = other.post(
        f"/qa/calibration/{contact_id}/join",
        data={"csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    second = int(r.headers["location"].rsplit("/", 1)[1])
    assert second != first
    # blind: the first reviewer's answers stay hidden while rev2 scores
    assert other.get(f"/qa/reviews/{first}").status_code == 403
    blind = other.get(f"/qa/calibration/{contact_id}").text
    assert 'id="agreement-alpha"' not in blind
    token = csrf_from(other.get(f"/qa/reviews/{second}").text)
    r = other.post(
        f"/qa/reviews/{second}",
        data={
            **_answers(session, second, recap="no", whole_situation="partly"),
            "action": "submit",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == f"/qa/calibration/{contact_id}"
    page = other.get(r.headers["location"]).text
    report = qa.calibration_report(session, contact_id)
    assert report.alpha is not None
    assert f'<strong id="agreement-alpha">{report.alpha:.2f}</strong>' in page
    assert "difieren" in page
    assert other.get(f"/qa/reviews/{first}").status_code == 200
    listing = client.get("/qa/calibration").text
    assert f'href="/qa/calibration/{contact_id}"' in listing
    assert (
        client.get(
            "/qa/calibration/go", params={"contact_id": contact_id}, follow_redirects=False
        ).headers["location"]
        == f"/qa/calibration/{contact_id}"
    )


def test_an_agent_disputes_and_a_supervisor_decides(
    client: TestClient, other: TestClient, session: Session
) -> None:
    contact_id, _ = _setup(session)
    login(client, "sup", PASSWORD)
    review_id = _start(client, contact_id)
    token = csrf_from(client.get(f"/qa/reviews/{review_id}").text)
    client.post(
        f"/qa/reviews/{review_id}",
        data={**_answers(session, review_id, recap="no"), "action": "submit", "csrf_token": token},
    )
    login(other, "ana", PASSWORD)
    mine = other.get("/qa/mine")
    assert mine.status_code == 200
    assert f'href="/qa/mine/{review_id}"' in mine.text
    page = other.get(f"/qa/mine/{review_id}")
    assert "Presentar alegaciones a esta evaluación" in page.text
    r = other.post(
        f"/qa/mine/{review_id}/dispute",
        data={
            "criteria": ["recap"],
            "reason": "Resumí lo acordado en el minuto 2:33.",
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert other.get("/qa/disputes").status_code == 403  # agents do not decide

    board = client.get("/qa/disputes")
    assert "Resumí lo acordado" in board.text
    dispute_id = session.scalar(select(Dispute.id))
    r = client.post(
        f"/qa/disputes/{dispute_id}/decide",
        data={"decision": "accept", "note": "", "csrf_token": csrf_from(board.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    session.expire_all()
    review = session.get(Review, review_id)
    assert review is not None
    assert review.answers["recap"] == "yes"
    assert review.score == pytest.approx(100)
    assert "Aceptada" in other.get(f"/qa/mine/{review_id}").text


def test_the_scorecard_editor_shows_mistakes_with_their_line(
    client: TestClient, session: Session
) -> None:
    make_login_user(session, "sup", "supervisor")
    session.commit()
    login(client, "sup", PASSWORD)
    page = client.get("/qa/scorecards")
    assert page.status_code == 200
    assert "pass_mark: 80" in page.text
    text = qa.current_scorecard(session, now=START).yaml_text
    broken = text.replace("    weight: 2\n    criteria:", "    weight: -2\n    criteria:", 1)
    line = broken.splitlines().index("    weight: -2") + 1
    r = client.post("/qa/scorecards", data={"yaml": broken, "csrf_token": csrf_from(page.text)})
    assert r.status_code == 422
    assert f"línea {line}" in r.text
    assert "weight: -2" in r.text  # the text is kept
    r = client.post(
        "/qa/scorecards",
        data={
            "yaml": text.replace("pass_mark: 80", "pass_mark: 70"),
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/qa/scorecards?saved=2"
    assert "versión 2" in client.get(r.headers["location"]).text
    session.expire_all()
    assert (
        session.scalar(select(ScorecardVersion.version).order_by(ScorecardVersion.id.desc())) == 2
    )


def test_sampling_and_transcript_upload_from_the_screens(
    client: TestClient, session: Session
) -> None:
    make_login_user(session, "sup", "supervisor")
    agent = make_person(session, "luis")
    contacts = [
        make_ended_contact(session, agent_id=agent.id, arrived=START - timedelta(days=1))
        for _ in range(4)
    ]
    session.commit()
    login(client, "sup", PASSWORD)
    page = client.get("/qa")
    r = client.post(
        "/qa/sample",
        data={
            "strategy": "random",
            "n": "3",
            "days": "7",
            "seed": "4",
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/qa?show=mine&sampled=3"
    listing = client.get(r.headers["location"]).text
    assert "3 contactos elegidos para evaluar." in listing
    assert listing.count('href="/qa/reviews/') == 3
    contact_page = client.get(f"/qa/contacts/{contacts[0].id}")
    assert "aún no tiene transcripción" in contact_page.text
    r = client.post(
        f"/qa/contacts/{contacts[0].id}/transcript",
        data={
            "text": GOOD_ES,
            "format": "auto",
            "language": "",
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "lamento mucho" in client.get(f"/qa/contacts/{contacts[0].id}").text
    bad = client.post(
        f"/qa/contacts/{contacts[0].id}/transcript",
        data={"text": "NARRADOR: hola", "csrf_token": csrf_from(page.text)},
    )
    assert bad.status_code == 422
    assert "line 1" in bad.text


def test_agents_cannot_open_the_review_screens(client: TestClient, session: Session) -> None:
    contact_id, _ = _setup(session)
    login(client, "ana", PASSWORD)
    assert client.get("/qa").status_code == 403
    assert client.get(f"/qa/contacts/{contact_id}").status_code == 403
    assert client.get(f"/qa/calibration/{contact_id}").status_code == 403
