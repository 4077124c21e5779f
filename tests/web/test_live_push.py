"""Desks are pushed on change, not polled (ADR 25): many open desk streams cost the shared look
at other processes' changes and nothing more while nothing changes, and a change to one agent
wakes that agent's desk alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.auth.models import User
from escucha.clock import FrozenClock
from escucha.db import changes
from escucha.routing import service as routing
from tests.conftest import login
from tests.factories import PASSWORD, START, demo, make_login_user

DESKS = 50


class Desk:
    """One agent's open desk stream, read in a thread of its own."""

    def __init__(self, client: TestClient, cookie: str) -> None:
        self.events: list[str] = []
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(client, cookie), daemon=True)
        self._thread.start()

    def _read(self, client: TestClient, cookie: str) -> None:
        headers = {"accept": "text/event-stream", "cookie": f"escucha_session={cookie}"}
        buffer = b""
        try:
            with client.stream("GET", "/agent/events", headers=headers) as r:
                for chunk in r.iter_bytes():
                    buffer += chunk
                    while b"\n\n" in buffer:
                        one, buffer = buffer.split(b"\n\n", 1)
                        if one.startswith(b"event: desk"):
                            self.events.append(one.decode())
        finally:
            self.ended.set()

    def join(self) -> None:
        self._thread.join(20)


def _until(check: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def desks(app: FastAPI, session: Session) -> Iterator[tuple[TestClient, list[int], list[Desk]]]:
    demo(session, users=[])
    agents = [make_login_user(session, f"desk{n}") for n in range(DESKS)]
    session.commit()
    ids = [a.id for a in agents]
    with TestClient(app) as client:
        cookies = []
        for agent in agents:
            assert login(client, agent.username, PASSWORD).status_code == 303
            cookies.append(client.cookies["escucha_session"])
            client.cookies.clear()
        open_desks = [Desk(client, c) for c in cookies]
        try:
            yield client, ids, open_desks
        finally:
            for user in session.query(User).filter(User.id.in_(ids)):
                auth_service.end_sessions(session, user, now=START, reason="logout")
            session.commit()  # signed out: every stream ends
            for desk in open_desks:
                desk.join()


def test_open_desks_cost_nothing_while_nothing_changes_and_one_change_wakes_one_desk(
    app: FastAPI,
    session: Session,
    clock: FrozenClock,
    desks: tuple[TestClient, list[int], list[Desk]],
) -> None:
    _, ids, open_desks = desks
    assert _until(lambda: all(d.events for d in open_desks), 30), "every desk is drawn first"
    statements: list[str] = []

    def count(_c: object, _cur: object, statement: str, *_a: object) -> None:
        statements.append(statement)

    engine = app.state.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        time.sleep(3.0)
        quiet = list(statements)
        # an open stream holds no pooled connection while it waits (at most the process's
        # look at other processes' changes has one, for an instant)
        assert engine.pool.checkedout() <= 1
        # one agent goes on a break: their desk, and theirs alone, is drawn again
        routing.set_agent_state(session, ids[7], "break", now=clock.now())
        session.commit()
        assert _until(lambda: len(open_desks[7].events) == 2, 1.0)
        time.sleep(1.0)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # 50 desks polling each second would have made hundreds of statements in 3 s; pushed,
    # only the process's look at other processes' changes remains (SQLite: one a second)
    assert len(quiet) <= 5, quiet
    assert "break" in open_desks[7].events[1] or "Descanso" in open_desks[7].events[1]
    assert [len(d.events) for n, d in enumerate(open_desks) if n != 7] == [1] * (DESKS - 1)
    assert len(statements) - len(quiet) < 40  # one desk looked, not fifty
    hub = changes.hub_for(engine)
    assert hub.waiting() >= DESKS  # every stream still open and waiting
