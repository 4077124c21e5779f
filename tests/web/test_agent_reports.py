"""The agent and team report screen (C4, C6)."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.org import models as org
from escucha.qa import reviews as qa
from escucha.workforce.models import AgentStateChange
from tests.conftest import START, login
from tests.factories import make_customer, make_ended_contact, make_login_user, make_queues


def _row(html: str, element_id: str) -> list[str]:
    match = re.search(rf'<tr id="{element_id}">(.*?)</tr>', html, re.S)
    assert match, element_id
    return [
        re.sub(r"<[^>]+>", "", c).strip()
        for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", match.group(1), re.S)
    ]


def test_handle_time_sits_beside_fcr_repeats_qa_and_breaks(
    client: TestClient, session: Session
) -> None:
    make_queues(session)
    care = session.query(org.Team).filter_by(name="atencion").one()
    sup = make_login_user(session, "sup", "supervisor")
    ana = make_login_user(session, "ana", "agent", "Ana López")
    session.add(org.AgentProfile(user_id=ana.id, team_id=care.id, skills={}, languages=[]))
    customer = make_customer(session)
    day = START - timedelta(days=2)
    first = make_ended_contact(
        session, agent_id=ana.id, customer=customer, arrived=day, talk_s=300, wrap_s=60
    )
    make_ended_contact(
        session,
        agent_id=ana.id,
        customer=customer,
        arrived=day + timedelta(hours=3),
        talk_s=120,
        wrap_s=0,
    )
    review = qa.start_review(session, first.id, sup.id, now=START)
    card = qa.review_scorecard(session, review)
    answers = {
        c.id: max(card.scales[c.scale], key=lambda o: o.points).value for c in card.criteria()
    }
    answers["early_empathy"] = "no"
    qa.submit_review(session, review.id, sup.id, answers, now=START - timedelta(days=1))
    session.add_all(
        [
            AgentStateChange(user_id=ana.id, state="available", at=day),
            AgentStateChange(user_id=ana.id, state="break", at=day + timedelta(hours=1)),
            AgentStateChange(
                user_id=ana.id, state="available", at=day + timedelta(hours=1, minutes=10)
            ),
        ]
    )
    session.commit()
    login(client, "sup", "correct-horse-battery")
    page = client.get("/reports/agents", params={"weeks": 2})
    assert page.status_code == 200
    cells = _row(page.text, f"agent-{ana.id}")
    # agent, team, contacts, handle time, FCR, repeats, QA, reviews, breaks, break time, logged in
    assert cells[:8] == [
        "Ana López",
        "Atención",
        "2",
        "4:00",
        "50\u00a0%",
        "50\u00a0%",
        f"{review.score:.1f}",
        "1",
    ]
    assert cells[8:10] == ["1", "10:00"]
    html = page.text
    assert "Resolución en el primer contacto" in html
    assert "No hay objetivo de tiempo de gestión" in html
    assert "Muestra empatía desde el principio" in html  # the weakness, by its label
    assert client.get("/reports/agents", params={"weeks": 0}).status_code == 422
    only = client.get("/reports/agents", params={"weeks": 2, "team": "reclamaciones"})
    assert f'id="agent-{ana.id}"' not in only.text


def test_agents_cannot_see_the_team_reports(client: TestClient, session: Session) -> None:
    make_login_user(session, "ana", "agent")
    session.commit()
    login(client, "ana", "correct-horse-battery")
    assert client.get("/reports/agents").status_code == 403
