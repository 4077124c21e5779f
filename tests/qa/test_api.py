"""The QA API: store a transcript, list reviews, read a calibration's agreement."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.qa import reviews as qa
from tests.conftest import START
from tests.factories import make_ended_contact, make_person
from tests.qa.helpers import GOOD_ES


def test_transcripts_reviews_and_agreement_over_the_api(
    client: TestClient, session: Session
) -> None:
    sup = make_person(session, "sup", "supervisor")
    agent = make_person(session, "ana")
    token = auth_service.create_token(session, sup, "qa", now=START)
    contact = make_ended_contact(session, agent_id=agent.id)
    session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    r = client.put(
        f"/api/v1/qa/contacts/{contact.id}/transcript",
        json={"text": GOOD_ES, "language": "es"},
        headers=auth,
    )
    assert r.status_code == 200
    body = r.json()
    assert (body["format"], body["language"]) == ("text", "es")
    assert body["auto_qa"]["criteria"]["greeting"]["met"] is True
    bad = client.put(
        f"/api/v1/qa/contacts/{contact.id}/transcript", json={"text": "X: y"}, headers=auth
    )
    assert bad.status_code == 422
    missing = client.put(
        "/api/v1/qa/contacts/999999/transcript", json={"text": GOOD_ES}, headers=auth
    )
    assert missing.status_code == 404

    review = qa.start_review(session, contact.id, sup.id, now=START)
    session.commit()
    listed = client.get("/api/v1/qa/reviews", params={"status": "draft"}, headers=auth).json()
    assert [x["id"] for x in listed] == [review.id]
    assert listed[0]["suggested"]["greeting"] == "yes"
    one = client.get(f"/api/v1/qa/reviews/{review.id}", headers=auth).json()
    assert one["status"] == "draft"
    agreement = client.get(f"/api/v1/qa/calibration/{contact.id}", headers=auth).json()
    assert agreement["alpha"] is None
    assert agreement["review_ids"] == []
