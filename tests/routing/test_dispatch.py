"""A routing pass writes all its assignments set-based, and undoes a pair that lost a side."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from escucha.auth.models import User
from escucha.contacts.models import Contact, ContactEvent
from escucha.db.session import transaction
from escucha.routing import service as routing
from escucha.routing.models import AgentStatus, RoutingDecision
from escucha.workforce.models import AgentStateChange
from escucha.workforce.service import record_state_change
from tests.conftest import START
from tests.factories import caller, demo

AGENTS = ("ana", "luis", "marta")  # all three take "facturas"


def _available(s: Session, uid: int) -> None:
    status = routing.agent_status(s, uid, now=START)
    status.state = "available"
    status.since = status.idle_since = START
    record_state_change(s, uid, "available", now=START)


def _floor(
    factory: sessionmaker[Session], callers: int, *, available: bool = True
) -> tuple[dict[str, int], list[int]]:
    """The demo with ``callers`` waiting in "facturas" and, with ``available``, its three
    agents available at once (committed together, as requests that land while a pass runs:
    nobody routed yet)."""
    with transaction(factory) as s:
        demo(s)
    with transaction(factory) as s:
        ids = {u.username: u.id for u in s.scalars(select(User)) if u.username in AGENTS}
        waiting = [caller(s, START, f"60011{n:04d}").id for n in range(callers)]
        for uid in ids.values():
            if available:
                _available(s, uid)
    return ids, waiting


def test_one_pass_writes_every_assignment_it_makes(
    session_factory: sessionmaker[Session],
) -> None:
    ids, waiting = _floor(session_factory, callers=5)
    now = START + timedelta(seconds=10)
    with transaction(session_factory) as s:
        offers = routing.dispatch(s, now=now)
    assert len(offers) == 3
    assert {o.agent_id for o in offers} == set(ids.values())
    assert {o.contact_id for o in offers} == set(waiting[:3])  # first come, first served
    with transaction(session_factory) as s:
        for o in offers:
            contact = s.get(Contact, o.contact_id)
            status = s.get(AgentStatus, o.agent_id)
            assert contact is not None
            assert status is not None
            assert (contact.state, contact.agent_id, contact.offered_at) == (
                "offered",
                o.agent_id,
                now,
            )
            assert (status.state, status.contact_id) == ("busy", o.contact_id)
        decided = s.execute(select(RoutingDecision.contact_id, RoutingDecision.agent_id)).all()
        assert sorted(decided) == sorted((o.contact_id, o.agent_id) for o in offers)
        offered = s.scalars(
            select(ContactEvent.contact_id).where(ContactEvent.event == "offered")
        ).all()
        assert sorted(offered) == sorted(o.contact_id for o in offers)
        busy = s.scalars(
            select(AgentStateChange.user_id).where(AgentStateChange.state == "busy")
        ).all()
        assert sorted(busy) == sorted(ids.values())
        for cid in waiting[3:]:
            assert s.get(Contact, cid).state == "queued"  # type: ignore[union-attr]


def test_a_pair_whose_contact_went_elsewhere_is_undone(
    session_factory: sessionmaker[Session],
) -> None:
    ids, waiting = _floor(session_factory, callers=1, available=False)
    with transaction(session_factory) as s:
        # The caller hangs up in a write the routing engine is not told of.
        s.execute(
            update(Contact)
            .where(Contact.id == waiting[0])
            .values(state="abandoned")
            .execution_options(synchronize_session=False)
        )
        # ... and a later pass, in the same transaction, still believes the caller waits.
        for uid in ids.values():
            _available(s, uid)
        offers = routing.dispatch(s, now=START + timedelta(seconds=5))
        assert offers == []
    with transaction(session_factory) as s:
        states = {s.get(AgentStatus, uid).state for uid in ids.values()}  # type: ignore[union-attr]
        assert states == {"available"}
        assert s.scalar(select(func.count()).select_from(RoutingDecision)) == 0
        assert s.get(Contact, waiting[0]).state == "abandoned"  # type: ignore[union-attr]
    # The engine was rebuilt: a new caller is served by one of them at once.
    with transaction(session_factory) as s:
        cid = caller(s, START, "600999000").id
    with transaction(session_factory) as s:
        offers = routing.dispatch(s, now=START + timedelta(seconds=9))
        assert [o.contact_id for o in offers] == [cid]


def test_a_pair_whose_agent_left_is_undone(session_factory: sessionmaker[Session]) -> None:
    ids, waiting = _floor(session_factory, callers=1)
    ana = ids["ana"]
    with transaction(session_factory) as s:
        # Every agent goes on a break in a write the routing engine is not told of.
        s.execute(
            update(AgentStatus).values(state="break").execution_options(synchronize_session=False)
        )
        offers = routing.dispatch(s, now=START + timedelta(seconds=5))
        assert offers == []
    with transaction(session_factory) as s:
        assert s.get(Contact, waiting[0]).state == "queued"  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(RoutingDecision)) == 0
        routing.set_agent_state(s, ana, "available", now=START + timedelta(seconds=8))
    with transaction(session_factory) as s:
        contact = s.get(Contact, waiting[0])
        assert contact is not None
        assert (contact.state, contact.agent_id) == ("offered", ana)
