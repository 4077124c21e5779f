"""Open desks are kept alive by their live streams, not by a beat each (ADR 16, #17): the
process marks all the desks whose stream it holds in one statement per interval, whatever
their number, and a desk whose stream closed is no longer marked."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from escucha.auth import service as auth_service
from escucha.auth.models import User
from escucha.clock import FrozenClock
from escucha.voice import service as voice
from escucha.voice.desks import OpenDesks
from escucha.voice.models import AgentDesk
from tests.conftest import login
from tests.factories import PASSWORD, START, demo, make_login_user

DESKS = 30


class SignalStream:
    """One desk's softphone stream (``/agent/voice/events``), read in a thread of its own."""

    def __init__(self, client: TestClient, cookie: str) -> None:
        self.opened = threading.Event()
        self.ended = threading.Event()
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._read, args=(client, cookie), daemon=True)
        self._thread.start()

    def _read(self, client: TestClient, cookie: str) -> None:
        headers = {"accept": "text/event-stream", "cookie": f"escucha_session={cookie}"}
        # closed from the test's side while reading: the read ends with an error
        with (
            contextlib.suppress(Exception),
            client.stream("GET", "/agent/voice/events", headers=headers) as r,
        ):
            self._response = r
            for chunk in r.iter_bytes():
                if chunk.startswith(b"retry:"):
                    self.opened.set()
        self.ended.set()

    def close(self) -> None:
        """The browser goes away: the client drops its end of the stream."""
        assert self._response is not None
        self._response.close()
        self.ended.wait(10)


def _until(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def desks(
    app: FastAPI, session: Session
) -> Iterator[tuple[OpenDesks, list[int], list[SignalStream]]]:
    demo(session, users=[])
    agents = [make_login_user(session, f"alive{n}") for n in range(DESKS)]
    session.commit()
    ids = [a.id for a in agents]
    for uid in ids:  # each page beats once when it opens (its microphone's test)
        voice.desk_beat(session, uid, now=START, mic_ok=True)
    session.commit()
    open_desks: OpenDesks = app.state.desks
    open_desks.every_s = 3600.0  # the test marks by hand; the process's own thread waits
    with TestClient(app) as client:
        cookies = []
        for agent in agents:
            assert login(client, agent.username, PASSWORD).status_code == 303
            cookies.append(client.cookies["escucha_session"])
            client.cookies.clear()
        streams = [SignalStream(client, c) for c in cookies]
        try:
            yield open_desks, ids, streams
        finally:
            for user in session.query(User).filter(User.id.in_(ids)):
                auth_service.end_sessions(session, user, now=START, reason="logout")
            session.commit()  # signed out: every stream ends
            for stream in streams:
                stream.ended.wait(20)


def _seen(session: Session, ids: list[int]) -> dict[int, datetime]:
    session.expire_all()
    rows = session.execute(select(AgentDesk.user_id, AgentDesk.last_seen_at)).all()
    return {int(uid): at.replace(tzinfo=UTC) for uid, at in rows if uid in ids}


def test_open_desks_are_marked_in_one_statement_and_a_closed_one_no_more(
    app: FastAPI,
    session: Session,
    clock: FrozenClock,
    desks: tuple[OpenDesks, list[int], list[SignalStream]],
) -> None:
    open_desks, ids, streams = desks
    assert all(s.opened.wait(20) for s in streams), "every stream opens"
    assert _until(lambda: open_desks.users() == sorted(ids), 10)
    statements: list[str] = []
    marker = threading.get_ident()  # the open streams read their signals meanwhile

    def count(_c: object, _cur: object, statement: str, *_a: object) -> None:
        if threading.get_ident() == marker:
            statements.append(statement)

    engine = app.state.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        first = clock.advance(timedelta(seconds=5))
        assert open_desks.mark() == DESKS
        marked_all = list(statements)
        streams[3].close()  # that agent's browser is closed
        assert _until(lambda: ids[3] not in open_desks.users(), 10)
        statements.clear()
        second = clock.advance(timedelta(seconds=5))
        assert open_desks.mark() == DESKS - 1
        marked_rest = list(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # one statement marks every open desk, however many there are
    assert [s.split()[0] for s in marked_all] == ["UPDATE"], marked_all
    assert [s.split()[0] for s in marked_rest] == ["UPDATE"], marked_rest
    seen = _seen(session, ids)
    assert seen[ids[3]] == first  # closed: left at its last mark, for the sweep to notice
    assert {seen[uid] for n, uid in enumerate(ids) if n != 3} == {second}


def test_the_process_marks_its_open_desks_by_itself_and_stops_when_none_is_open(
    session_factory: sessionmaker[Session], session: Session, clock: FrozenClock
) -> None:
    users = demo(session)
    ana = users["ana"]
    voice.desk_beat(session, ana, now=START, mic_ok=True)
    session.commit()
    open_desks = OpenDesks(session_factory, clock, every_s=0.05)
    try:
        with open_desks.holding(ana):
            later = clock.advance(timedelta(seconds=5))
            assert _until(lambda: _seen(session, [ana]) == {ana: later}, 10)
        assert _until(lambda: open_desks._thread is None, 10), "no desk open: no thread"
        clock.advance(timedelta(seconds=5))
        time.sleep(0.3)
        assert _seen(session, [ana]) == {ana: later}  # closed: never marked again
    finally:
        open_desks.stop()
