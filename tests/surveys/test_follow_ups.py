"""Following up customers at risk (M4): a follow-up that reached them or left a message takes
them off the list until they contact us again; ``not_reached`` keeps them, counting attempts;
refused input writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from escucha.contacts.models import Customer
from escucha.errors import InvalidInput, NotFound
from escucha.promises.models import Promise
from escucha.surveys import rules, voc
from escucha.surveys.models import FollowUp
from escucha.tickets.models import Ticket
from tests.conftest import START
from tests.factories import make_customer, make_ended_contact, make_person

SINCE = START - timedelta(days=28)
HOUR = timedelta(hours=1)


def _angry(session: Session, name: str = "Lucía") -> Customer:
    """A customer who waited 15 minutes two days ago: flagged for a long wait."""
    customer = make_customer(session, name=name)
    make_ended_contact(
        session, agent_id=None, customer=customer, wait_s=900, arrived=START - timedelta(days=2)
    )
    return customer


def _ids(rows: list[voc.RiskRow]) -> list[int]:
    return [r.customer_id for r in rows]


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(FollowUp)) or 0


def test_a_reached_follow_up_moves_the_customer_out_until_they_contact_us_again(
    session: Session,
) -> None:
    sup = make_person(session, "marta", "supervisor", "Marta Ruiz")
    customer = _angry(session)
    other = _angry(session, "Pedro")
    before = voc.customers_at_risk(session, since=SINCE, now=START)
    assert set(_ids(before.to_follow_up)) == {customer.id, other.id}
    assert before.followed_up == []

    row = voc.record_follow_up(
        session,
        customer.id,
        outcome="reached",
        note="  Le pedí disculpas;\r\nle llamamos el jueves a las 10:00. ",
        user_id=sup.id,
        now=START,
    )
    assert row.id is not None  # flushed
    assert row.reasons == ["long_wait"]
    assert row.note == "Le pedí disculpas;\nle llamamos el jueves a las 10:00."
    assert (row.recorded_by_id, row.recorded_at) == (sup.id, START)

    after = voc.customers_at_risk(session, since=SINCE, now=START + HOUR)
    assert _ids(after.to_follow_up) == [other.id]
    [done] = after.followed_up
    assert done.customer_id == customer.id
    assert done.reasons == ("long_wait",)
    assert done.follow_up is not None
    assert (done.follow_up.outcome, done.follow_up.recorded_by) == ("reached", "Marta Ruiz")
    assert done.follow_up.recorded_at == START
    assert done.follow_up.note.startswith("Le pedí disculpas")
    assert not done.contacted_since

    # They call again: back in the list, with the earlier follow-up shown and no attempts.
    make_ended_contact(session, agent_id=None, customer=customer, arrived=START + 2 * HOUR)
    back = voc.customers_at_risk(session, since=SINCE, now=START + 3 * HOUR)
    assert set(_ids(back.to_follow_up)) == {customer.id, other.id}
    assert back.followed_up == []
    again = next(r for r in back.to_follow_up if r.customer_id == customer.id)
    assert again.contacted_since
    assert again.attempts == 0
    assert again.follow_up is not None
    assert again.follow_up.outcome == "reached"


def test_not_reached_keeps_the_customer_with_the_attempts(session: Session) -> None:
    sup = make_person(session, "marta", "supervisor")
    customer = _angry(session)
    for i in range(2):
        voc.record_follow_up(
            session,
            customer.id,
            outcome="not_reached",
            note="" if i == 0 else "Buzón lleno",
            user_id=sup.id,
            now=START + i * HOUR,
        )
    risk = voc.customers_at_risk(session, since=SINCE, now=START + 2 * HOUR)
    [row] = risk.to_follow_up
    assert row.customer_id == customer.id
    assert row.attempts == 2
    assert row.follow_up is not None
    assert (row.follow_up.outcome, row.follow_up.note) == ("not_reached", "Buzón lleno")
    assert risk.followed_up == []

    voc.record_follow_up(
        session, customer.id, outcome="message_left", note="", user_id=sup.id, now=START + 2 * HOUR
    )
    risk = voc.customers_at_risk(session, since=SINCE, now=START + 3 * HOUR)
    assert risk.to_follow_up == []
    assert _ids(risk.followed_up) == [customer.id]

    # The latest follow-up decides: a later attempt that did not reach them puts them back.
    voc.record_follow_up(
        session, customer.id, outcome="not_reached", note="", user_id=sup.id, now=START + 4 * HOUR
    )
    risk = voc.customers_at_risk(session, since=SINCE, now=START + 5 * HOUR)
    assert [(r.customer_id, r.attempts) for r in risk.to_follow_up] == [(customer.id, 1)]


def test_a_broken_promise_after_the_follow_up_brings_the_customer_back(
    session: Session,
) -> None:
    sup = make_person(session, "marta", "supervisor")
    customer = _angry(session)
    voc.record_follow_up(
        session,
        customer.id,
        outcome="reached",
        note="Le llamamos el jueves",
        user_id=sup.id,
        now=START,
    )
    session.add(
        Promise(
            kind="callback",
            state="broken",
            customer_id=customer.id,
            channel="voice",
            subject_kind="callback",
            created_at=START,
            due_at=START + 2 * HOUR,
            told="",
        )
    )
    session.flush()
    assert voc.customers_at_risk(session, since=SINCE, now=START + HOUR).to_follow_up == []
    risk = voc.customers_at_risk(session, since=SINCE, now=START + 3 * HOUR)
    [row] = risk.to_follow_up
    assert row.contacted_since
    assert row.reasons == ("long_wait", "broken_promise")


def test_follow_ups_before_the_period_do_not_count(session: Session) -> None:
    sup = make_person(session, "marta", "supervisor")
    customer = make_customer(session, name="Reclamante")
    session.add(  # an open complaint flags the customer in any period
        Ticket(
            number="2026-0000001-0",
            year=2026,
            sequence=1,
            kind="complaint",
            status="open",
            channel="web",
            subject="Reclamación",
            description="Me cobraron dos veces",
            customer_id=customer.id,
            verification_code="ABC123",
            regulatory_profile="es-ley-10-2025",
            created_at=START - timedelta(days=2),
            updated_at=START - timedelta(days=2),
        )
    )
    session.flush()
    voc.record_follow_up(
        session, customer.id, outcome="reached", note="Hablado", user_id=sup.id, now=START
    )
    later = START + timedelta(days=1)
    assert _ids(voc.customers_at_risk(session, since=SINCE, now=later).followed_up) == [customer.id]
    risk = voc.customers_at_risk(session, since=START + HOUR, now=later)
    assert risk.followed_up == []
    [row] = risk.to_follow_up
    assert (row.customer_id, row.reasons, row.follow_up) == (
        customer.id,
        ("open_complaint",),
        None,
    )


def test_a_customer_not_flagged_can_be_followed_up_and_keeps_no_reasons(
    session: Session,
) -> None:
    sup = make_person(session, "marta", "supervisor")
    calm = make_customer(session, name="Tranquila")
    make_ended_contact(session, agent_id=None, customer=calm, arrived=START - HOUR)
    row = voc.record_follow_up(
        session, calm.id, outcome="message_left", note="", user_id=sup.id, now=START
    )
    assert row.reasons == []
    risk = voc.customers_at_risk(session, since=SINCE, now=START + HOUR)
    [done] = risk.followed_up
    assert (done.customer_id, done.reasons, done.follow_up and done.follow_up.reasons) == (
        calm.id,
        (),
        (),
    )


@pytest.mark.parametrize(
    ("outcome", "note", "error", "match"),
    [
        ("called", "Hablado", InvalidInput, "outcome"),
        ("", "", InvalidInput, "outcome"),
        ("reached", "", InvalidInput, "note"),
        ("reached", " \n\t\x00 ", InvalidInput, "note"),
        ("not_reached", "x" * (rules.MAX_FOLLOW_UP_NOTE + 1), InvalidInput, "1000"),
    ],
)
def test_refused_follow_ups_write_nothing(
    session: Session, outcome: str, note: str, error: type[Exception], match: str
) -> None:
    sup = make_person(session, "marta", "supervisor")
    customer = _angry(session)
    with pytest.raises(error, match=match):
        voc.record_follow_up(
            session, customer.id, outcome=outcome, note=note, user_id=sup.id, now=START
        )
    assert _count(session) == 0


def test_an_unknown_customer_or_user_is_not_found(session: Session) -> None:
    sup = make_person(session, "marta", "supervisor")
    customer = _angry(session)
    with pytest.raises(NotFound, match="customer"):
        voc.record_follow_up(
            session, customer.id + 1000, outcome="reached", note="x", user_id=sup.id, now=START
        )
    with pytest.raises(NotFound, match="user"):
        voc.record_follow_up(
            session, customer.id, outcome="reached", note="x", user_id=sup.id + 1000, now=START
        )
    assert _count(session) == 0


def test_the_note_limit_counts_the_cleaned_text(session: Session) -> None:
    sup = make_person(session, "marta", "supervisor")
    customer = _angry(session)
    text = "a" * rules.MAX_FOLLOW_UP_NOTE
    row = voc.record_follow_up(
        session, customer.id, outcome="reached", note=f"  {text}\n\n", user_id=sup.id, now=START
    )
    assert row.note == text
    session.commit()
    session.expire_all()
    stored = session.get(FollowUp, row.id)
    assert stored is not None
    assert stored.note == text
    assert stored.recorded_at == START


def test_the_database_refuses_an_unknown_outcome(session: Session) -> None:
    sup = make_person(session, "marta", "supervisor")
    customer = _angry(session)
    session.add(
        FollowUp(
            customer_id=customer.id,
            reasons=[],
            outcome="maybe",
            note="",
            recorded_by_id=sup.id,
            recorded_at=START,
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()
