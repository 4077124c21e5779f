"""Agents' state history: changes are recorded once, and breaks and time per state are
measured inside a period (C6)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.errors import InvalidInput
from escucha.workforce import service
from escucha.workforce.models import AgentStateChange
from tests.conftest import START
from tests.factories import make_person


def _at(minutes: float) -> object:
    return START + timedelta(minutes=minutes)


def test_a_repeated_state_is_not_recorded_twice(session: Session) -> None:
    ana = make_person(session, "ana")
    assert service.record_state_change(session, ana.id, "available", now=START) is not None
    assert service.record_state_change(session, ana.id, "available", now=_at(1)) is None
    assert service.record_state_change(session, ana.id, "break", now=_at(2)) is not None
    assert service.last_state(session, ana.id) == "break"
    assert service.last_state(session, ana.id, before=_at(1)) == "available"
    assert len(session.scalars(select(AgentStateChange)).all()) == 2
    with pytest.raises(InvalidInput):
        service.record_state_change(session, ana.id, "napping", now=_at(3))


def test_breaks_and_time_in_each_state(session: Session) -> None:
    ana = make_person(session, "ana")
    luis = make_person(session, "luis")
    marta = make_person(session, "marta")
    for minutes, state in (
        (-60, "available"),  # before the period: the state at its start
        (0, "busy"),
        (10, "wrap_up"),
        (12, "break"),
        (27, "available"),
        (40, "break"),
        (45, "break"),  # the same break
        (50, "available"),
        (100, "break"),  # runs past the end of the period
    ):
        session.add(
            AgentStateChange(user_id=ana.id, state=state, at=START + timedelta(minutes=minutes))
        )
    session.add(AgentStateChange(user_id=luis.id, state="offline", at=_at(-5)))
    session.flush()
    times = service.breaks_taken(
        session, since=START, until=_at(110), user_ids=[ana.id, luis.id, marta.id]
    )
    a = times[ana.id]
    assert a.breaks == 3
    assert a.break_s == pytest.approx((15 + 10 + 10) * 60)
    assert a.longest_break_s == pytest.approx(15 * 60)
    assert a.seconds["busy"] == pytest.approx(600)
    assert a.seconds["wrap_up"] == pytest.approx(120)
    assert a.seconds["available"] == pytest.approx((13 + 50) * 60)
    assert a.logged_in_s == pytest.approx(110 * 60)
    assert times[luis.id].breaks == 0
    assert times[luis.id].logged_in_s == 0
    assert times[luis.id].seconds == {"offline": pytest.approx(110 * 60)}
    assert times[marta.id].seconds == {}
    with pytest.raises(InvalidInput):
        service.state_times(session, since=START, until=START)
