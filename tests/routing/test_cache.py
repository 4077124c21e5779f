"""Each process's routing engine follows what other processes write."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from escucha.auth.models import User
from escucha.db.session import transaction
from escucha.routing import cache
from escucha.routing import service as routing
from tests.conftest import START
from tests.factories import caller, demo


def test_a_server_started_on_an_empty_database_routes_after_the_org_is_applied(
    session_factory: sessionmaker[Session],
) -> None:
    # a routing pass on the empty database builds an engine with no queues
    with transaction(session_factory) as s:
        assert routing.dispatch(s, now=START) == []
    # another process applies the organisation: the version moves on
    with transaction(session_factory) as s:
        demo(s)
    with transaction(session_factory) as s:
        c = caller(s, START, "600111001")
        cid = c.id
    with transaction(session_factory) as s:
        ana = s.scalar(select(User.id).where(User.username == "ana"))
        assert ana is not None
        routing.set_agent_state(s, ana, "available", now=START + timedelta(seconds=5))
    with transaction(session_factory) as s:
        assert routing.contacts.get_contact(s, cid).state == "offered"


def test_a_rolled_back_change_is_forgotten(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        demo(s)
    s = session_factory()
    c = caller(s, START, "600111002")
    routing.dispatch(s, now=START)  # the engine now holds this caller
    s.rollback()  # ... who never existed
    s.close()
    with transaction(session_factory) as s:
        engine = cache.sync(s)
        assert engine.waiting_count == 0
        assert c.id is not None
