"""The routing engine kept in memory per process, in step with the database.

Every transaction that changes what routing sees (a contact queued or leaving the line, an
agent's state or skills, a queue) bumps ``routing_state.version`` before it commits, holding the
row lock until then, and applies its changes to this process's engine. A process whose engine
reflects another version (another node wrote, or a transaction rolled back) rebuilds it from the
database. Correctness never depends on the engine being fresh: assignments are written with
compare-and-set updates (:func:`escucha.routing.service.dispatch`); a stale engine only costs a
rebuild.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, select, text, update
from sqlalchemy.orm import Session

from escucha.callbacks.models import Callback
from escucha.contacts.models import Contact
from escucha.errors import EscuchaError, NotFound
from escucha.org import models as org
from escucha.routing.engine import RoutingEngine
from escucha.routing.floor import agent_value, load_engine, waiting_value
from escucha.routing.models import AgentStatus, RoutingState

DIRTY = "routing_dirty"
BUMPED = "routing_bumped"
TOKEN = "routing_owner"  # noqa: S105 - a session.info key, not a secret


@dataclass
class _Cache:
    engine: RoutingEngine | None = None
    instance: str = ""
    version: int = -1
    token: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


_CACHES: dict[str, _Cache] = {}
_CACHES_LOCK = threading.Lock()
_INSTALLED = False


def _cache_for(session: Session) -> _Cache:
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    with _CACHES_LOCK:
        return _CACHES.setdefault(url, _Cache())


def _dirty(session: Session) -> dict[str, set[int]]:
    d: dict[str, set[int]] = session.info.setdefault(
        DIRTY, {"contacts": set(), "agents": set(), "profiles": set(), "queues": set()}
    )
    return d


def _after_flush(session: Session, _ctx: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Contact):
            _dirty(session)["contacts"].add(obj.id)
        elif isinstance(obj, AgentStatus):
            _dirty(session)["agents"].add(obj.user_id)
        elif isinstance(obj, org.AgentProfile):
            _dirty(session)["agents"].add(obj.user_id)
            _dirty(session)["profiles"].add(obj.user_id)
        elif isinstance(obj, org.Queue):
            _dirty(session)["queues"].add(obj.id or 0)


def _before_commit(session: Session) -> None:
    session.flush()
    d = session.info.get(DIRTY)
    if d and any(d.values()):
        sync(session)


def _after_commit(session: Session) -> None:
    session.info.pop(LOCKED, None)
    session.info.pop(DIRTY, None)
    session.info.pop(BUMPED, None)
    session.info.pop(TOKEN, None)


def _after_rollback(session: Session) -> None:
    token = session.info.pop(TOKEN, None)
    session.info.pop(LOCKED, None)
    session.info.pop(DIRTY, None)
    session.info.pop(BUMPED, None)
    if token is None:
        return
    cache = _cache_for(session)
    with cache.lock:
        if cache.token == token:  # what this transaction applied never happened
            cache.engine = None
            cache.version = -1


LOCK_KEY = 1702060917
LOCKED = "routing_locked"
_ROUTED = (Contact, AgentStatus, org.AgentProfile, org.Queue, Callback)
"""What a routing pass reads or writes: a transaction takes the routing lock before its first
write of any of these, so it never holds their row locks while waiting for the lock."""


def _lock(session: Session) -> None:
    """Take the routing lock once per transaction (PostgreSQL; SQLite serialises writers)."""
    if session.info.get(LOCKED):
        return
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    session.info[LOCKED] = True


def _before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    # Lock before the first write of what routing sees, not at commit: a transaction that
    # already holds row locks on contacts or agents and then waits for the routing lock would
    # deadlock with the routing pass that holds the lock and wants those rows.
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _ROUTED):
            _lock(session)
            return


def install() -> None:
    """Listen to every session's flushes and commits (once per process)."""
    global _INSTALLED
    if _INSTALLED:
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_rollback", _after_rollback)
    _INSTALLED = True


def _bump(session: Session) -> tuple[str, int]:
    """Take the routing lock (held until commit) and move the version on by one.

    Returns the database's instance mark (new when the row is created, so a recreated
    database is never mistaken for the one an engine was built from) and the new version.
    """
    _lock(session)
    row = session.execute(
        update(RoutingState)
        .where(RoutingState.id == 1)
        .values(version=RoutingState.version + 1)
        .returning(RoutingState.instance, RoutingState.version)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        mark = uuid.uuid4().hex
        session.add(RoutingState(id=1, instance=mark, version=1))
        session.flush()
        return mark, 1
    return str(row[0]), int(row[1])


def sync(session: Session) -> RoutingEngine:
    """The engine as this transaction sees the floor, with the routing lock held."""
    install()
    cache = _cache_for(session)
    already = session.info.get(BUMPED)
    mark, version = _bump(session)
    d = _dirty(session)
    with cache.lock:
        expected = already if already is not None else version - 1
        engine = cache.engine
        fresh = engine is not None and cache.instance == mark and cache.version == expected
        if engine is not None and fresh and not d["queues"]:
            try:
                _apply(session, engine, d)
            except EscuchaError:
                fresh = False
        if engine is None or not fresh or d["queues"]:
            engine = load_engine(session)
        for ids in d.values():
            ids.clear()
        cache.engine = engine
        cache.instance = mark
        cache.version = version
        cache.token = session.info.setdefault(TOKEN, uuid.uuid4().hex)
        session.info[BUMPED] = version
    return engine


def invalidate(session: Session) -> None:
    """Forget this process's engine (the next routing pass rebuilds it)."""
    cache = _cache_for(session)
    with cache.lock:
        cache.engine = None
        cache.version = -1


def _apply(session: Session, engine: RoutingEngine, d: dict[str, set[int]]) -> None:
    known = {q.queue_id for q in engine.queues()}
    if d["contacts"]:
        rows = {
            c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(d["contacts"])))
        }
        for cid in sorted(d["contacts"]):
            key = str(cid)
            if engine.is_waiting(key):
                engine.remove_contact(key)
            row = rows.get(cid)
            if row is not None and row.state == "queued" and row.queue in known:
                engine.add_contact(waiting_value(row))
    if d["agents"]:
        skills: dict[int, Mapping[str, int]] = {}
        for uid in d["agents"] - d["profiles"]:  # skills unchanged: the engine has them
            with contextlib.suppress(NotFound):
                skills[uid] = engine.agent(str(uid)).skills
        unknown = d["agents"] - skills.keys()
        if unknown:
            skills.update(
                (p.user_id, p.skills)
                for p in session.scalars(
                    select(org.AgentProfile).where(org.AgentProfile.user_id.in_(unknown))
                )
            )
        statuses = {
            a.user_id: a
            for a in session.scalars(
                select(AgentStatus).where(AgentStatus.user_id.in_(d["agents"]))
            )
        }
        for uid in sorted(d["agents"]):
            status = statuses.get(uid)
            if status is not None:
                engine.put_agent(agent_value(status, skills.get(uid, {})))
            else:
                with contextlib.suppress(NotFound):
                    engine.remove_agent(str(uid))
