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
from typing import Any, TypeVar

from sqlalchemy import event, inspect, select, text, update
from sqlalchemy.orm import Session

from escucha.callbacks.models import Callback
from escucha.contacts.models import Contact, Estimate
from escucha.errors import EscuchaError, NotFound
from escucha.org import models as org
from escucha.routing import estimate as est
from escucha.routing import floor
from escucha.routing import meters as m
from escucha.routing.engine import RoutingEngine
from escucha.routing.floor import agent_value, load_engine, waiting_value
from escucha.routing.models import AgentStatus, RoutingState

DIRTY = "routing_dirty"
BUMPED = "routing_bumped"
TOKEN = "routing_owner"  # noqa: S105 - a session.info key, not a secret
SETTLED = "routing_settled"
FLUSHED = "routing_flushed"


@dataclass(frozen=True)
class _Rates:
    """A queue's rates and the windows (at their versions) they were replayed from."""

    exits: tuple[m.Latest[m.Exit], int]
    pairs: tuple[m.Latest[m.Pair], int]
    meter: est.QueueMeter
    margin: float | None


@dataclass
class _Cache:
    engine: RoutingEngine | None = None
    instance: str = ""
    version: int = -1
    token: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Per queue, read on first use and kept by every change after it (ADR 25).
    exits: dict[str, m.Latest[m.Exit]] = field(default_factory=dict)
    pairs: dict[str, m.Latest[m.Pair]] = field(default_factory=dict)
    rates: dict[str, _Rates] = field(default_factory=dict)

    def forget_rates(self) -> None:
        self.exits.clear()
        self.pairs.clear()
        self.rates.clear()


_Row = TypeVar("_Row", Contact, AgentStatus)
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


def _flushed(session: Session) -> dict[tuple[type, int], Contact | AgentStatus]:
    """The contacts and agents' states this transaction wrote, as it wrote them (held here:
    the session keeps no object alive by itself)."""
    f: dict[tuple[type, int], Contact | AgentStatus] = session.info.setdefault(FLUSHED, {})
    return f


def _after_flush(session: Session, _ctx: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Contact):
            _dirty(session)["contacts"].add(obj.id)
            _keep(session, obj, obj.id)
        elif isinstance(obj, AgentStatus):
            _dirty(session)["agents"].add(obj.user_id)
            _keep(session, obj, obj.user_id)
        elif isinstance(obj, org.AgentProfile):
            _dirty(session)["agents"].add(obj.user_id)
            _dirty(session)["profiles"].add(obj.user_id)
        elif isinstance(obj, org.Queue):
            _dirty(session)["queues"].add(obj.id or 0)
        elif isinstance(obj, Estimate):
            gone = obj in session.deleted
            pair = None if gone else m.pair_of(obj.outcome, obj.estimate_s, obj.actual_wait_s)
            if pair is not None or gone or obj not in session.new:
                _settled(session)[obj.id] = (obj.queue, pair)


def _keep(session: Session, obj: Contact | AgentStatus, key: int) -> None:
    if obj in session.deleted:
        _flushed(session).pop((type(obj), key), None)
    else:
        _flushed(session)[(type(obj), key)] = obj


def _settled(session: Session) -> dict[int, tuple[str, m.Pair | None]]:
    """Estimates written by this transaction, as the margin reads them."""
    s: dict[int, tuple[str, m.Pair | None]] = session.info.setdefault(SETTLED, {})
    return s


def _before_commit(session: Session) -> None:
    session.flush()
    d = session.info.get(DIRTY)
    if (d and any(d.values())) or session.info.get(SETTLED):
        sync(session)


def _after_commit(session: Session) -> None:
    session.info.pop(FLUSHED, None)
    session.info.pop(SETTLED, None)
    session.info.pop(LOCKED, None)
    session.info.pop(DIRTY, None)
    session.info.pop(BUMPED, None)
    session.info.pop(TOKEN, None)


def _after_rollback(session: Session) -> None:
    token = session.info.pop(TOKEN, None)
    session.info.pop(FLUSHED, None)
    session.info.pop(SETTLED, None)
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
            cache.forget_rates()


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
    session.flush()  # what this transaction changed, seen by the hooks before it is applied
    cache = _cache_for(session)
    rows: dict[int, Contact] = {}
    bumped: tuple[str, int] | None = session.info.get(BUMPED)
    if bumped is None:
        mark, version = _bump(session)
        expected = version - 1
    else:  # this transaction moved the version already and holds the lock until it ends
        mark, version = bumped
        expected = version
    d = _dirty(session)
    with cache.lock:
        engine = cache.engine
        fresh = engine is not None and cache.instance == mark and cache.version == expected
        if engine is not None and fresh and not d["queues"]:
            try:
                rows = _as_written(session, Contact, Contact.id, d["contacts"])
                _apply(session, engine, d, rows)
            except EscuchaError:
                fresh = False
        if engine is None or not fresh or d["queues"]:
            engine = load_engine(session)
            cache.forget_rates()
        else:
            _apply_rates(session, cache, d, rows)
        for ids in d.values():
            ids.clear()
        session.info.pop(SETTLED, None)
        cache.engine = engine
        cache.instance = mark
        cache.version = version
        cache.token = session.info.setdefault(TOKEN, uuid.uuid4().hex)
        session.info[BUMPED] = (mark, version)
    return engine


def invalidate(session: Session) -> None:
    """Forget this process's engine (the next routing pass rebuilds it)."""
    cache = _cache_for(session)
    with cache.lock:
        cache.engine = None
        cache.version = -1
        cache.forget_rates()


def _as_written(session: Session, entity: type[_Row], key: Any, ids: set[int]) -> dict[int, _Row]:
    """The rows ``ids`` as this transaction sees them: the objects it flushed, while they
    are loaded and still in the session, else read (one query for the rest)."""
    kept = _flushed(session)
    rows: dict[int, _Row] = {}
    for i in ids:
        obj = kept.get((entity, i))
        if isinstance(obj, entity) and obj in session:
            state = inspect(obj)
            if not state.expired_attributes and not state.deleted and not state.detached:
                rows[i] = obj
    missing = ids - rows.keys()
    if missing:
        found = session.scalars(select(entity).where(key.in_(missing)))
        rows.update((int(getattr(r, key.key)), r) for r in found)
    return rows


def _apply(
    session: Session, engine: RoutingEngine, d: dict[str, set[int]], rows: dict[int, Contact]
) -> None:
    known = {q.queue_id for q in engine.queues()}
    if d["contacts"]:
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
        statuses = _as_written(session, AgentStatus, AgentStatus.user_id, d["agents"])
        for uid in sorted(d["agents"]):
            status = statuses.get(uid)
            if status is not None:
                engine.put_agent(agent_value(status, skills.get(uid, {})))
            else:
                with contextlib.suppress(NotFound):
                    engine.remove_agent(str(uid))


def _apply_rates(
    session: Session, cache: _Cache, d: dict[str, set[int]], rows: dict[int, Contact]
) -> None:
    """Tell the kept windows of every queue of the contacts and estimates this transaction
    changed (a contact may leave one queue's window for another's)."""
    if cache.exits and d["contacts"]:
        for cid in sorted(d["contacts"]):
            row = rows.get(cid)
            sample = (
                m.exit_of(row.state, row.queued_at, row.answered_at, row.ended_at)
                if row is not None
                else None
            )
            for queue, exits in cache.exits.items():
                exits.put(cid, sample if row is not None and row.queue == queue else None)
    settled = session.info.get(SETTLED)
    if cache.pairs and settled:
        for eid, (estimate_queue, pair) in sorted(settled.items()):
            for queue, pairs in cache.pairs.items():
                pairs.put(eid, pair if estimate_queue == queue else None)


def rates(session: Session, queue: str) -> tuple[est.QueueMeter, float | None]:
    """The queue's meter and safety margin as :func:`floor.exits` and :func:`floor.pairs`
    would measure them now, from windows kept in step (call after :func:`sync`, in the same
    transaction): no read unless a window is new to this process or lost a row it needs."""
    cache = _cache_for(session)
    with cache.lock:
        exits = cache.exits.get(queue)
        if exits is None or exits.stale:
            exits = cache.exits[queue] = m.Latest(floor.exits(session, queue))
        pairs = cache.pairs.get(queue)
        if pairs is None or pairs.stale:
            pairs = cache.pairs[queue] = m.Latest(floor.pairs(session, queue))
        kept = cache.rates.get(queue)
        now_at = ((exits, exits.version), (pairs, pairs.version))
        if kept is None or (kept.exits, kept.pairs) != now_at:
            kept = _Rates(
                (exits, exits.version),
                (pairs, pairs.version),
                m.meter_of(exits.samples()),
                m.margin_of(pairs.samples()),
            )
            cache.rates[queue] = kept
        return kept.meter, kept.margin
