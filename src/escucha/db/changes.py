"""Changes pushed to the live streams: one place notices them, every open stream of the process
hears only its own topics (ADR 25).

A committed transaction moves the version of each topic its writes touched (``agent:<id>``,
``contact:<id>``, ``user:<id>``, ``floor``, ``signals:agent:<id>``, ``signals:callers``...): the
domains say which topics a row touches (:func:`register`, from their ``hooks.py``), and a writer
of set-based statements names them itself (:func:`touch`). After the commit the process's
:class:`Hub` wakes the streams waiting on those topics; nothing wakes a stream whose topics did
not move, so open desks cost nothing while nothing changes.

Other processes hear it too: on PostgreSQL the transaction sends a ``NOTIFY`` (delivered at its
commit) that one listening connection per process turns into the same wake-ups; on SQLite it
writes a :class:`~escucha.routing.models.LiveChange` row that one thread per process reads at
most once a second, and only while streams are open. A topic ``*`` wakes every stream (a process
that may have missed changes, e.g. after its listening connection was lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable
from typing import Any

import psycopg
from sqlalchemy import delete, event, func, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from escucha.routing.models import LiveChange

log = logging.getLogger(__name__)

ALL = "*"
CHANNEL = "escucha_changes"
PENDING = "live_topics"
NODE = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
"""This process, so it does not take its own changes for another's."""
POLL_S = 1.0
"""How often a SQLite process looks at the other processes' changes (while streams are open)."""
KEEP_ROWS = 1000
"""Rows of ``live_changes`` kept behind the newest; a reader further behind wakes everything."""
_MAX_PAYLOAD = 7000  # NOTIFY carries at most 8000 bytes

Topics = Callable[[Any], Iterable[str]]
_TOPICS: dict[type, Topics] = {}
_INSTALLED = False


def register(cls: type, topics: Topics) -> None:
    """Rows of ``cls`` written by a flush touch ``topics(row)``."""
    _TOPICS[cls] = topics


def touch(session: Session, *topics: str) -> None:
    """The transaction changed ``topics`` (for writes the session's flushes do not see)."""
    pending: set[str] = session.info.setdefault(PENDING, set())
    pending.update(topics)


class _Waiter:
    __slots__ = ("event", "loop")

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # its loop has closed: nobody waits any more
            self.loop.call_soon_threadsafe(self.event.set)


class Hub:
    """Versions per topic and the streams waiting on them, for one database in one process."""

    def __init__(self, engine: Engine | None = None) -> None:
        self._lock = threading.Lock()
        self._versions: dict[str, int] = {}
        self._waiting: dict[str, set[_Waiter]] = {}
        self._engine = engine
        self._watcher: threading.Thread | None = None

    def stamp(self, topics: Collection[str]) -> tuple[int, ...]:
        """The versions of ``topics`` now (compare with a later stamp to see a change)."""
        with self._lock:
            return (self._versions.get(ALL, 0), *(self._versions.get(t, 0) for t in topics))

    def publish(self, topics: Iterable[str]) -> None:
        """``topics`` changed: wake whoever waits on one of them (from any thread)."""
        woken: set[_Waiter] = set()
        with self._lock:
            for topic in set(topics):
                self._versions[topic] = self._versions.get(topic, 0) + 1
                if topic == ALL:
                    for waiters in self._waiting.values():
                        woken.update(waiters)
                else:
                    woken.update(self._waiting.get(topic, ()))
        for waiter in woken:
            waiter.wake()

    async def wait(self, topics: Collection[str], stamp: tuple[int, ...], timeout: float) -> bool:
        """Until a topic moves past ``stamp`` (True) or ``timeout`` seconds pass (False)."""
        self._watch()
        waiter = _Waiter()
        with self._lock:
            for topic in topics:
                self._waiting.setdefault(topic, set()).add(waiter)
        try:
            if self.stamp(topics) == stamp:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.event.wait(), timeout)
        finally:
            with self._lock:
                for topic in topics:
                    waiters = self._waiting.get(topic)
                    if waiters is not None:
                        waiters.discard(waiter)
                        if not waiters:
                            del self._waiting[topic]
        return self.stamp(topics) != stamp

    def waiting(self) -> int:
        """Streams waiting now (each counted once per topic it waits on)."""
        with self._lock:
            return sum(len(w) for w in self._waiting.values())

    # --- other processes ----------------------------------------------------------------------

    def _watch(self) -> None:
        """Start hearing other processes' changes (once, while streams wait)."""
        engine = self._engine
        if engine is None:
            return
        with self._lock:
            if self._watcher is not None and self._watcher.is_alive():
                return
            target = self._listen if engine.dialect.name == "postgresql" else self._poll
            self._watcher = threading.Thread(
                target=target, args=(engine,), name="live-changes", daemon=True
            )
            self._watcher.start()

    def _idle(self, since: float) -> bool:
        """Nobody has waited for a while: the watcher stops (the next stream starts it)."""
        if self.waiting():
            return False
        return time.monotonic() - since > 5 * POLL_S

    def _poll(self, engine: Engine) -> None:
        last: int | None = None
        idle_from = time.monotonic()
        while True:
            try:
                with engine.connect() as conn:
                    if last is None:
                        last = int(conn.scalar(select(func.max(LiveChange.id))) or 0)
                        rows = []
                    else:
                        rows = list(
                            conn.execute(
                                select(LiveChange.id, LiveChange.node, LiveChange.topics)
                                .where(LiveChange.id > last)
                                .order_by(LiveChange.id)
                            )
                        )
            except Exception:  # a database gone for a moment: look again later
                if not self.waiting():
                    return
                log.warning("live changes: cannot read the change log", exc_info=True)
                rows = []
            if rows:
                first = int(rows[0][0])
                heard = {t for _, node, topics in rows if node != NODE for t in topics.split()}
                if first > (last or 0) + 1:
                    heard.add(ALL)  # rows were deleted before this process read them
                last = int(rows[-1][0])
                if heard:
                    self.publish(heard)
            if self.waiting():
                idle_from = time.monotonic()
            elif self._idle(idle_from):
                return
            time.sleep(POLL_S)

    def _listen(self, engine: Engine) -> None:
        url = engine.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        idle_from = time.monotonic()
        while True:
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.publish([ALL])  # anything sent while nobody listened
                    while True:
                        for note in conn.notifies(timeout=POLL_S):
                            node, _, topics = note.payload.partition(" ")
                            if node != NODE:
                                self.publish(topics.split())
                        if self.waiting():
                            idle_from = time.monotonic()
                        elif self._idle(idle_from):
                            return
            except psycopg.Error:
                log.warning("live changes: listening connection lost", exc_info=True)
                time.sleep(POLL_S)


_HUBS: dict[str, Hub] = {}
_HUBS_LOCK = threading.Lock()


def _key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def hub_for(engine: Engine) -> Hub:
    """The hub of ``engine``'s database in this process."""
    key = _key(engine)
    with _HUBS_LOCK:
        hub = _HUBS.get(key)
        if hub is None or hub._engine is None:
            hub = _HUBS[key] = Hub(engine)
        else:
            hub._engine = engine  # the newest engine of that database (the old may be disposed)
        return hub


def _hub_of(session: Session) -> Hub | None:
    key = _key(session.get_bind().engine)
    with _HUBS_LOCK:
        return _HUBS.get(key)


# --- the session hooks ------------------------------------------------------------------------


def _after_flush(session: Session, _ctx: Any) -> None:
    found: set[str] = set()
    for group, dirty in ((session.new, False), (session.dirty, True), (session.deleted, False)):
        for obj in group:
            topics = _TOPICS.get(type(obj))
            if topics is not None and not (dirty and not session.is_modified(obj)):
                found.update(topics(obj))
    if found:
        touch(session, *found)


def _before_commit(session: Session) -> None:
    session.flush()
    pending: set[str] | None = session.info.get(PENDING)
    if not pending:
        return
    words = " ".join(sorted(pending))
    if len(words) > _MAX_PAYLOAD:
        words = ALL
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": f"{NODE} {words}"})
        return
    new_id = session.execute(
        insert(LiveChange).values(node=NODE, topics=words).returning(LiveChange.id)
    ).scalar_one()
    if new_id % 100 == 0:
        session.execute(delete(LiveChange).where(LiveChange.id <= new_id - KEEP_ROWS))


def _after_commit(session: Session) -> None:
    pending: set[str] | None = session.info.pop(PENDING, None)
    if pending:
        hub = _hub_of(session)
        if hub is not None:  # no stream was ever opened on this database in this process
            hub.publish(pending)


def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING, None)


def install() -> None:
    """Listen to every session's flushes and commits (once per process)."""
    global _INSTALLED
    if _INSTALLED:
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_rollback", _after_rollback)
    _INSTALLED = True
