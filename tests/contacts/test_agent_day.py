"""The agent's day (C6)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from escucha.contacts import agent_day
from escucha.routing import service as routing
from tests.conftest import START
from tests.factories import caller, demo

S = timedelta(seconds=1)


def test_the_agents_day_shows_first_contact_resolution_and_repeats(session: Session) -> None:
    users = demo(session)
    ana = users["ana"]
    # the first customer called three days ago too: today's call is a repeat contact
    earlier = caller(session, START - timedelta(days=3), "600000011")
    routing.abandon(session, earlier, now=START - timedelta(days=3) + 40 * S)
    first = caller(session, START, "600000011")
    second = caller(session, START + 1 * S, "600000012")
    third = caller(session, START + 2 * S, "600000013")
    t = START + 10 * S
    for c, resolved in ((first, True), (second, True), (third, False)):
        routing.set_agent_state(session, ana, "available", now=t)
        session.refresh(c)
        assert c.agent_id == ana
        routing.answer(session, ana, c.id, now=t)
        routing.wrap_up(
            session,
            ana,
            c.id,
            now=t + 60 * S,
            outcome="solved" if resolved else "needs_follow_up",
            resolved=resolved,
            recap="",
            next_state="break",
        )
        t += 120 * S
    # the second customer calls again after being told it was solved: not resolved first time
    caller(session, t + 60 * S, "600000012")
    day = agent_day.agent_day(session, ana, now=t + 120 * S)
    assert (day.handled, day.resolved) == (3, 2)
    assert day.first_contact_resolved == 1
    assert day.fcr_rate == pytest.approx(1 / 3)
    assert day.repeats == 1
    assert day.talk_hold_mean_s == pytest.approx(60.0)
    assert agent_day.agent_day(session, users["luis"], now=t).handled == 0
