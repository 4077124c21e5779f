"""Post-contact surveys (M1, M2): one per contact, by SMS, email or the IVR, expiring, linked to
the contact, agent and queue; answers once; response rates and the standard measures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.errors import Conflict, InvalidInput, NotFound
from escucha.jobs import service as jobs
from escucha.jobs.models import Job
from escucha.notifications.models import Notification
from escucha.surveys import rules, service
from escucha.surveys.models import Survey
from tests.conftest import START
from tests.factories import make_customer, make_ended_contact, make_person

NOW = START + timedelta(minutes=30)


def _token(note: Notification) -> str:
    marker = "/s/"
    start = note.body.index(marker) + len(marker)
    end = start
    while end < len(note.body) and (note.body[end].isalnum() or note.body[end] in "-_"):
        end += 1
    return note.body[start:end]


def _offer(session: Session, **kwargs: object) -> tuple[Survey, Notification]:
    agent = make_person(session, "ana")
    customer = make_customer(session)
    contact = make_ended_contact(session, agent_id=agent.id, customer=customer)
    survey = service.offer_survey(
        session, contact, now=NOW, base_url="https://escucha.example", **kwargs
    )
    assert survey is not None
    note = session.get(Notification, survey.notification_id)
    assert note is not None
    return survey, note


def test_an_sms_invitation_has_the_link_and_a_concrete_expiry_date(session: Session) -> None:
    survey, note = _offer(session)
    assert survey.channel == "sms"
    assert survey.queue == "facturas"
    assert survey.agent_id is not None
    assert survey.kinds == ["csat", "ces", "nps"]
    assert survey.expires_at == NOW + timedelta(days=service.VALID_DAYS)
    assert note.kind == "survey_invitation"
    assert note.channel == "sms"
    assert note.status == "pending"
    assert "https://escucha.example/s/" in note.body
    # Monday 23 November 09:30 UTC + 7 days = Monday 30 November, 10:30 in Madrid
    assert "hasta el lunes 30 de noviembre a las 10:30" in note.body
    token = _token(note)
    assert len(token) >= 30
    assert survey.token_hash == service.hash_token(token)
    assert session.scalar(select(Survey).where(Survey.token_hash == token)) is None
    assert service.survey_by_token(session, token).id == survey.id
    job = session.scalar(
        select(Job).where(Job.idempotency_key == f"send:survey:{survey.contact_id}")
    )
    assert job is not None
    assert job.name == "notifications.send"
    assert job.payload == {"notification_id": note.id}


def test_an_email_invitation_in_english(session: Session) -> None:
    customer = make_customer(session, phone=None, email="jo@example.com", language="en")
    contact = make_ended_contact(session, agent_id=None, customer=customer, channel="email")
    survey = service.offer_survey(session, contact, now=NOW, base_url="https://e.example")
    assert survey is not None
    note = session.get(Notification, survey.notification_id)
    assert note is not None
    assert (note.channel, note.to_address, note.language) == ("email", "jo@example.com", "en")
    assert note.subject.startswith("How did we do?")
    assert "until Monday 30 November at 10:30" in note.body
    assert "https://e.example/s/" in note.body


def test_one_survey_per_contact(session: Session) -> None:
    survey, note = _offer(session)
    contact_id = survey.contact_id
    from escucha.contacts.models import Contact

    contact = session.get(Contact, contact_id)
    assert contact is not None
    again = service.offer_survey(session, contact, now=NOW + timedelta(hours=1))
    assert again is not None
    assert again.id == survey.id
    assert session.scalars(select(Notification)).all() == [note]


def test_contacts_that_are_not_surveyed(session: Session) -> None:
    agent = make_person(session, "ana")
    nobody = make_ended_contact(session, agent_id=agent.id)
    assert service.offer_survey(session, nobody, now=NOW) is None
    unreachable = make_customer(session, phone=None)
    assert (
        service.offer_survey(
            session, make_ended_contact(session, agent_id=agent.id, customer=unreachable), now=NOW
        )
        is None
    )
    customer = make_customer(session)
    ongoing = make_ended_contact(session, agent_id=agent.id, customer=customer, state="wrap_up")
    assert service.offer_survey(session, ongoing, now=NOW) is None
    first = make_ended_contact(session, agent_id=agent.id, customer=customer)
    assert service.offer_survey(session, first, now=NOW) is not None
    # the same customer is not asked again within the quiet days
    second = make_ended_contact(session, agent_id=agent.id, customer=customer)
    assert service.offer_survey(session, second, now=NOW + timedelta(days=2)) is None
    third = make_ended_contact(session, agent_id=agent.id, customer=customer)
    later = NOW + timedelta(days=service.QUIET_DAYS, minutes=1)
    assert service.offer_survey(session, third, now=later) is not None
    with pytest.raises(InvalidInput):
        service.offer_survey(session, third, now=NOW, channel="fax")
    with pytest.raises(InvalidInput):
        service.offer_survey(session, ongoing, now=NOW, kinds=["stars"])
    # only the email channel when asked for email, and the customer has no email
    fourth = make_ended_contact(session, agent_id=agent.id, customer=make_customer(session))
    assert service.offer_survey(session, fourth, now=NOW, channel="email") is None


def test_answers_by_link_once_and_never_after_expiry(session: Session) -> None:
    survey, note = _offer(session)
    token = _token(note)
    with pytest.raises(InvalidInput, match="csat"):
        service.record_link_answers(session, token, now=NOW, csat=6)
    with pytest.raises(InvalidInput, match="nps"):
        service.record_link_answers(session, token, now=NOW, nps=-1)
    with pytest.raises(InvalidInput, match="at least one"):
        service.record_link_answers(session, token, now=NOW, comment="   ")
    with pytest.raises(InvalidInput, match="comment"):
        service.record_link_answers(session, token, now=NOW, csat=3, comment="x" * 2001)
    service.record_link_answers(
        session, token, now=NOW + timedelta(hours=1), csat=4, ces=6, nps=9, comment=" Rápido "
    )
    assert (survey.csat, survey.ces, survey.nps, survey.comment) == (4, 6, 9, "Rápido")
    assert survey.answered_via == "link"
    assert survey.responded_at == NOW + timedelta(hours=1)
    with pytest.raises(Conflict, match="already"):
        service.record_link_answers(session, token, now=NOW + timedelta(hours=2), csat=1)
    with pytest.raises(NotFound):
        service.record_link_answers(session, "not-a-token", now=NOW, csat=1)


def test_an_expired_survey_takes_no_answers(session: Session) -> None:
    survey, note = _offer(session)
    token = _token(note)
    with pytest.raises(Conflict, match="expired"):
        service.record_link_answers(session, token, now=survey.expires_at, csat=5)
    assert survey.responded_at is None
    assert not service.is_open(survey, survey.expires_at)
    assert service.is_open(survey, survey.expires_at - timedelta(seconds=1))


def test_ivr_answers(session: Session) -> None:
    agent = make_person(session, "ana")
    customer = make_customer(session)
    contact = make_ended_contact(session, agent_id=agent.id, customer=customer)
    survey = service.record_ivr_answers(session, contact.id, now=NOW, csat=5, nps=10)
    assert (survey.channel, survey.answered_via, survey.kinds) == ("ivr", "ivr", ["csat", "nps"])
    assert survey.token_hash is None
    assert survey.agent_id == agent.id
    with pytest.raises(Conflict):
        service.record_ivr_answers(session, contact.id, now=NOW, csat=1)
    # an SMS survey not yet answered is answered in the IVR instead
    other = make_ended_contact(session, agent_id=agent.id, customer=make_customer(session))
    sms = service.offer_survey(session, other, now=NOW)
    assert sms is not None
    answered = service.record_ivr_answers(session, other.id, now=NOW, csat=2, ces=3)
    assert answered.id == sms.id
    assert (answered.channel, answered.answered_via) == ("sms", "ivr")
    with pytest.raises(InvalidInput):
        service.record_ivr_answers(
            session,
            make_ended_contact(session, agent_id=agent.id).id,
            now=NOW,
            ces=8,
        )
    with pytest.raises(NotFound):
        service.record_ivr_answers(session, 999_999, now=NOW, csat=3)


def test_the_ivr_offers_a_survey_during_wrap_up(session: Session) -> None:
    agent = make_person(session, "ana")
    contact = make_ended_contact(session, agent_id=agent.id, state="wrap_up")
    survey = service.offer_survey(session, contact, now=NOW, channel="ivr", kinds=["csat"])
    assert survey is not None
    assert (survey.channel, survey.kinds, survey.notification_id) == ("ivr", ["csat"], None)
    with pytest.raises(InvalidInput, match="does not ask ces"):
        service.record_ivr_answers(session, contact.id, now=NOW, ces=5)
    assert service.record_ivr_answers(session, contact.id, now=NOW, csat=4).csat == 4


def test_summary_by_queue_agent_and_channel(session: Session) -> None:
    ana = make_person(session, "ana", name="Ana López")
    luis = make_person(session, "luis", name="Luis García")
    answers = [
        (ana, "facturas", (5, 7, 10)),
        (ana, "facturas", (4, 5, 9)),
        (ana, "facturas", None),
        (luis, "averias", (2, 2, 3)),
        (luis, "averias", (3, None, 8)),
        (luis, "averias", None),
        (luis, "averias", None),
    ]
    for agent, queue, scores in answers:
        contact = make_ended_contact(
            session, agent_id=agent.id, customer=make_customer(session), queue=queue
        )
        survey = service.offer_survey(session, contact, now=NOW)
        assert survey is not None
        if scores is not None:
            service.record_ivr_answers(
                session, contact.id, now=NOW, csat=scores[0], ces=scores[1], nps=scores[2]
            )
    total, by_queue = service.survey_summary(
        session, since=START, until=NOW + timedelta(minutes=1), by="queue"
    )
    assert (total.sent, total.answered) == (7, 4)
    assert total.response_rate == pytest.approx(4 / 7)
    assert total.csat == rules.csat([5, 4, 2, 3])
    assert total.ces == rules.ces([7, 5, 2])
    assert total.nps == rules.nps([10, 9, 3, 8])
    assert [(g.key, g.sent, g.answered) for g in by_queue] == [
        ("averias", 4, 2),
        ("facturas", 3, 2),
    ]
    assert by_queue[1].csat.satisfied_share == 1.0
    assert by_queue[0].nps.nps == pytest.approx(-50.0)
    _, by_agent = service.survey_summary(
        session, since=START, until=NOW + timedelta(minutes=1), by="agent"
    )
    assert sorted(g.label for g in by_agent) == ["Ana López", "Luis García"]
    _, by_channel = service.survey_summary(
        session, since=START, until=NOW + timedelta(minutes=1), by="channel"
    )
    assert [(g.key, g.sent) for g in by_channel] == [("sms", 7)]
    empty, groups = service.survey_summary(
        session, since=NOW + timedelta(days=1), until=NOW + timedelta(days=2)
    )
    assert (empty.sent, empty.response_rate, empty.nps.nps, groups) == (0, None, None, [])
    with pytest.raises(InvalidInput):
        service.survey_summary(session, since=START, until=NOW, by="weather")


def test_the_periodic_job_offers_surveys_once(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    agent = make_person(session, "ana")
    recent = make_ended_contact(
        session,
        agent_id=agent.id,
        customer=make_customer(session),
        arrived=START - timedelta(minutes=20),
    )
    old = make_ended_contact(
        session,
        agent_id=agent.id,
        customer=make_customer(session),
        arrived=START - timedelta(hours=5),
    )
    session.commit()
    for _ in range(2):
        jobs.enqueue(session, "surveys.offer_recent", {}, now=clock.now())
        session.commit()
        jobs.run_due(session_factory, settings, clock)
    session.expire_all()
    surveys = session.scalars(select(Survey)).all()
    assert [s.contact_id for s in surveys] == [recent.id]
    note = session.get(Notification, surveys[0].notification_id)
    assert note is not None
    assert note.status == "sent"
    assert settings.public_url + "/s/" in note.body
    assert old.id not in {s.contact_id for s in surveys}
