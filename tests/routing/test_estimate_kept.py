"""The wait estimate reads kept state, not the floor (ADR 25): the same inputs as a full read
of the floor and the queue's history, in a number of statements that does not grow with it."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from escucha.contacts.models import Contact
from escucha.routing import cache, floor, meters
from escucha.routing import service as routing
from escucha.routing.models import AgentStatus
from tests.factories import START, demo, make_floor

S = timedelta(seconds=1)


def _full(session: Session, contact: Contact) -> tuple[object, float | None]:
    """What the estimate read before (the whole floor, the queue's latest rows)."""
    engine = floor.load_engine(session)
    queue = contact.queue or ""
    meter = meters.meter_of(s for _, s in reversed(floor.exits(session, queue)))
    margin = meters.margin_of(p for _, p in reversed(floor.pairs(session, queue)))
    return routing.wait_inputs(engine, meter, contact, now=START + 60 * S), margin


def _kept(session: Session, contact: Contact) -> tuple[object, float | None]:
    engine = cache.sync(session)
    meter, margin = cache.rates(session, contact.queue or "")
    return routing.wait_inputs(engine, meter, contact, now=START + 60 * S), margin


@pytest.mark.parametrize("seed", range(4))
def test_the_kept_inputs_are_those_of_a_full_read_on_random_floors(
    session: Session, seed: int
) -> None:
    rng = random.Random(seed)
    demo(session)
    waiting = make_floor(
        session,
        agents=rng.randrange(0, 40),
        waiting=rng.randrange(1, 60),
        history=rng.choice((0, 15, 200, 620)),
        seed=seed,
    )
    session.commit()
    agents = list(session.scalars(select(AgentStatus.user_id)))
    at = START + 30 * S
    for step in range(12):
        for cid in rng.sample(waiting, min(3, len(waiting))):
            contact = session.get(Contact, cid)
            assert contact is not None
            if contact.state == "queued":
                assert _kept(session, contact) == _full(session, contact)
        # the floor moves as requests move it: estimates told and settled, callers leaving,
        # agents changing state, new callers; each its own transaction
        at += 5 * S
        cid = rng.choice(waiting)
        contact = session.get(Contact, cid)
        assert contact is not None
        if contact.state == "queued":
            routing.tell_estimate(session, contact, now=at)
            if step % 2:
                routing.abandon(session, contact, now=at + S)
        if agents:
            uid = rng.choice(agents)
            status = session.get(AgentStatus, uid)
            assert status is not None
            if status.contact_id is None and status.state in ("break", "offline", "wrap_up"):
                routing.set_agent_state(session, uid, rng.choice(("break", "offline")), now=at)
        session.commit()


def _statements(engine: Engine, session: Session, contact_id: int) -> list[str]:
    seen: list[str] = []

    def count(_c: object, _cur: object, statement: str, *_a: object) -> None:
        seen.append(statement)

    contact = session.get(Contact, contact_id)
    assert contact is not None
    event.listen(engine, "before_cursor_execute", count)
    try:
        routing.tell_estimate(session, contact, now=START + 2 * 3600 * S)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    session.commit()
    return seen


def test_the_estimate_runs_the_same_statements_on_a_small_and_a_large_floor(
    engine: Engine, session: Session
) -> None:
    demo(session)
    small = make_floor(session, agents=10, waiting=20, history=600)
    session.commit()
    _statements(engine, session, small[0])  # this process reads the floor once
    on_small = _statements(engine, session, small[10])
    large = make_floor(session, agents=990, waiting=9_980, seed=1)
    session.commit()
    assert len(large) == 10_000  # 1,000 agents and 10,000 callers waiting
    _statements(engine, session, large[0])
    on_large = _statements(engine, session, large[5_000])
    assert on_large == on_small
    reads = [s for s in on_large if s.lstrip().upper().startswith("SELECT")]
    assert not any("agent_status" in s or "agent_profiles" in s for s in reads)
    assert not any("FROM contacts" in s and "LIMIT" not in s for s in reads)


def test_a_kept_window_holds_the_latest_rows_whatever_the_order_of_changes() -> None:
    rng = random.Random(7)
    rows: dict[int, int] = {}  # what the table holds: id -> sample
    window = meters.Latest[int]([], size=8)
    for _ in range(3000):
        row_id = rng.randrange(60)
        sample = rng.choice((None, rng.randrange(5)))
        if sample is None:
            rows.pop(row_id, None)
        else:
            rows[row_id] = sample
        window.put(row_id, sample)
        if window.stale:  # its owner reads the latest rows again
            latest = sorted(rows)[-8:]
            window = meters.Latest[int]([(i, rows[i]) for i in latest], size=8)
        assert window.samples() == [rows[i] for i in sorted(rows)[-8:]]
