"""The demo's history is made by escucha's own engines, and every page has a past (day one)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from escucha.config import Settings
from escucha.contacts.models import Contact, ContactEvent
from escucha.flows.demo_history import has_history, make_history
from escucha.promises.models import Promise
from escucha.qa.models import Review
from escucha.surveys.models import Survey
from escucha.tickets.models import Ticket
from escucha.workforce.models import AgentStateChange
from tests.conftest import START
from tests.factories import demo


def _count(session: Session, *where: object, model: object = Contact) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def test_a_week_of_history_goes_through_the_real_services(
    session: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    demo(session)
    session.commit()
    assert not has_history(session)
    done = make_history(session_factory, settings, now=START, weeks=1, calls_per_hour=8.0)
    session.expire_all()
    assert has_history(session)
    assert done.days == 6  # Monday to Saturday
    assert done.calls == _count(session, Contact.channel == "voice")
    assert done.answered >= 0.6 * done.calls
    assert _count(session, Contact.state == "ended", Contact.resolved.is_not(None)) > 0
    # Every call left its trail in the event log, at its own time in the past week.
    first, last = session.execute(
        select(func.min(Contact.arrived_at), func.max(Contact.arrived_at))
    ).one()
    assert START - timedelta(days=8) <= first
    assert last < START
    holds = _count(session, ContactEvent.event == "hold_started", model=ContactEvent)
    assert holds > 0
    assert _count(session, ContactEvent.event == "estimate_given", model=ContactEvent) >= done.calls
    # Cases with promises, some answered in time and some late; surveys with comments; reviews.
    assert _count(session, model=Ticket) == done.cases > 0
    assert _count(session, Promise.state == "kept", model=Promise) > 0
    assert _count(session, Promise.state == "broken", model=Promise) > 0
    assert _count(session, Survey.responded_at.is_not(None), model=Survey) == done.surveys > 0
    assert _count(session, Survey.comment.is_not(None), model=Survey) > 0
    assert _count(session, Review.status == "submitted", model=Review) == done.reviews > 0
    assert _count(session, model=AgentStateChange) > 0
    # Nothing was left for the live demo to pick up: no contact still waiting or talking.
    assert _count(session, Contact.state.in_(("queued", "offered", "connected", "on_hold"))) == 0
