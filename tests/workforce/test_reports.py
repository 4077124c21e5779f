"""Agent and team reports (C4, C6): handle time beside FCR and repeat contacts, QA by week
and criterion, breaks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from escucha.org import models as org
from escucha.qa import reviews as qa
from escucha.workforce.models import AgentStateChange
from escucha.workforce.reports import agent_report, contact_figures
from tests.conftest import START
from tests.factories import make_customer, make_ended_contact, make_person, make_queues

DAY = timedelta(days=1)


def test_fcr_and_repeat_contacts_follow_the_7_day_definitions(session: Session) -> None:
    ana = make_person(session, "ana")
    luis = make_person(session, "luis")
    again = make_customer(session)
    once = make_customer(session)
    # again: ana resolves on day 0, luis gets the same customer on day 3 (a repeat), and the
    # customer calls a third time on day 12 (more than 7 days later: not a repeat)
    first = make_ended_contact(session, agent_id=ana.id, customer=again, arrived=START)
    make_ended_contact(session, agent_id=luis.id, customer=again, arrived=START + 3 * DAY)
    make_ended_contact(session, agent_id=luis.id, customer=again, arrived=START + 12 * DAY)
    make_ended_contact(session, agent_id=ana.id, customer=once, arrived=START + DAY, resolved=True)
    make_ended_contact(session, agent_id=ana.id, customer=None, arrived=START + DAY, talk_s=60)
    make_ended_contact(session, agent_id=ana.id, customer=make_customer(session), resolved=False)
    figures = contact_figures(
        session, since=START - DAY, until=START + 20 * DAY, agent_ids=[ana.id, luis.id]
    )
    a, b = figures[ana.id], figures[luis.id]
    assert a.contacts == 4
    assert a.eligible == 3
    assert a.first_contact_resolved == 1  # `once`; `first` came back; one not resolved
    assert a.fcr == pytest.approx(1 / 3)
    assert a.repeats == 0
    assert a.aht_s == pytest.approx((270 * 3 + 90) / 4)
    assert b.contacts == 2
    assert b.repeats == 1
    assert b.repeat_rate == pytest.approx(0.5)
    assert b.fcr == pytest.approx(1.0)  # neither of his contacts was followed within 7 days
    assert first.id  # the repeat is counted on luis's contact, never on ana's


def test_the_report_puts_qa_handle_time_and_breaks_per_agent_and_team(session: Session) -> None:
    make_queues(session)
    care = session.query(org.Team).filter_by(name="atencion").one()
    ana = make_person(session, "ana", name="Ana López")
    luis = make_person(session, "luis", name="Luis García")
    sofia = make_person(session, "sofia", role="supervisor")
    for user in (ana, luis):
        session.add(org.AgentProfile(user_id=user.id, team_id=care.id, skills={}, languages=[]))
    session.add_all(
        [
            AgentStateChange(user_id=ana.id, state="available", at=START),
            AgentStateChange(user_id=ana.id, state="break", at=START + timedelta(hours=2)),
            AgentStateChange(
                user_id=ana.id, state="available", at=START + timedelta(hours=2, minutes=15)
            ),
        ]
    )
    now = START + 3 * DAY
    for week, recap in ((0, "no"), (1, "yes")):
        contact = make_ended_contact(
            session, agent_id=ana.id, arrived=START - timedelta(days=7 * week)
        )
        review = qa.start_review(session, contact.id, sofia.id, now=now)
        card = qa.review_scorecard(session, review)
        answers = {
            c.id: max(card.scales[c.scale], key=lambda o: o.points).value for c in card.criteria()
        }
        answers["recap"] = recap
        qa.submit_review(
            session, review.id, sofia.id, answers, now=START - timedelta(days=7 * week)
        )
    session.flush()
    report = agent_report(session, since=START - 14 * DAY, until=now, now=now)
    rows = {r.name: r for r in report.agents}
    assert set(rows) == {"Ana López", "Luis García"}
    a = rows["Ana López"]
    assert a.team == "Atención"
    assert a.figures.contacts == 2
    assert a.qa is not None
    assert a.qa.reviews == 2
    assert list(a.qa.weekly) == ["2026-11-16", "2026-11-23"]
    assert a.weaknesses[0].criterion_id == "recap"
    assert a.weaknesses[0].mean == pytest.approx(0.5)
    assert "recap" not in [s.criterion_id for s in a.strengths]
    assert a.time.breaks == 1
    assert a.time.break_s == pytest.approx(900)
    assert rows["Luis García"].qa is None
    assert rows["Luis García"].figures.aht_s is None
    (team,) = report.teams
    assert (team.team, team.agents, team.reviews, team.breaks) == ("Atención", 2, 2, 1)
    assert team.qa_mean == pytest.approx(a.qa.mean_score)
    assert team.weekly_mean("2026-11-23") == pytest.approx(a.qa.weekly["2026-11-23"][1])
    assert report.weeks[0] == "2026-11-09"
    assert report.weeks[-1] == "2026-11-23"
    only = agent_report(session, since=START - 14 * DAY, until=now, now=now, team="reclamaciones")
    assert only.agents == []
