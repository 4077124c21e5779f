"""Engines and sessions, made from settings (no import-time side effects)."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from escucha.config import Settings
from escucha.db.registry import load_models


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


#: Seconds a writer waits for this process's turn before it leaves the wait to SQLite's own.
WRITER_WAIT_S = 15.0
_WRITERS: dict[str, threading.Lock] = {}
_WRITERS_LOCK = threading.Lock()
_READS = ("SELECT", "PRAGMA")


def writers(database: str) -> threading.Lock:
    """The one writer's turn of a SQLite file, shared by every connection of this process."""
    with _WRITERS_LOCK:
        return _WRITERS.setdefault(database, threading.Lock())


class _SerialCursor(sqlite3.Cursor):
    """A cursor whose first write of a transaction waits for the process's writer's turn."""

    def execute(self, sql: str, parameters: Any = (), /) -> _SerialCursor:
        connection: SerialConnection = self.connection  # type: ignore[assignment]
        connection.before_statement(sql)
        try:
            super().execute(sql, parameters)
        finally:
            connection.after_statement()
        return self

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _SerialCursor:
        connection: SerialConnection = self.connection  # type: ignore[assignment]
        connection.before_statement(sql)
        try:
            super().executemany(sql, seq_of_parameters)
        finally:
            connection.after_statement()
        return self


class SerialConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions take turns inside the process.

    SQLite lets one transaction write at a time; the others wait in its busy handler, which
    sleeps and retries (up to 100 ms between tries) and serves nobody in order, so under load
    a writer can wait seconds while the lock was free most of the time. Here a transaction's
    first write waits instead for the file's turn in this process (a lock handed over at
    once to the next waiting writer) and gives it back when it commits or rolls back: within
    one process SQLite's own lock is then free whenever a writer asks for it. Other processes
    still meet at SQLite's lock. Reads never wait.
    """

    def __init__(self, database: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._turn = writers(str(database)) if str(database) != ":memory:" else threading.Lock()
        self._holding = False

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _SerialCursor)

    def before_statement(self, sql: str) -> None:
        if not self._holding and not sql.lstrip()[:6].upper().startswith(_READS):
            self._holding = self._turn.acquire(timeout=WRITER_WAIT_S)

    def after_statement(self) -> None:
        if self._holding and not self.in_transaction:  # it wrote nothing, or wrote and ended
            self._give_back()

    def _give_back(self) -> None:
        if self._holding:
            self._holding = False
            self._turn.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._give_back()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._give_back()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._give_back()


#: SQLite's primary result codes of a connection that cannot write: READONLY (opened while
#: the file could not be written), IOERR, CANTOPEN.
_SQLITE_CANNOT_WRITE = {8, 10, 14}
#: PostgreSQL's ``read_only_sql_transaction``: a session opened while the database was
#: read-only (``default_transaction_read_only``, a standby) stays so.
_PG_READ_ONLY = "25006"


def cannot_write(exc: BaseException | None) -> bool:
    """Whether a DBAPI error says the connection cannot write to the database."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_CANNOT_WRITE
    return getattr(exc, "sqlstate", None) == _PG_READ_ONLY


def _drop_unwritable(context: ExceptionContext) -> None:
    # A connection opened while the database could not be written keeps failing after it can
    # again: treat the error as a disconnect, so the pool replaces its connections and the
    # next transaction (a retried request, job or email) opens a fresh one.
    if cannot_write(context.original_exception):
        context.is_disconnect = True


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(settings: Settings | str) -> Engine:
    url = normalise_url(settings if isinstance(settings, str) else settings.database_url)
    if url.startswith("sqlite"):
        args = {"check_same_thread": False, "timeout": 15, "factory": SerialConnection}
        engine = create_engine(url, connect_args=args)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    event.listen(engine, "handle_error", _drop_unwritable)
    return engine


def make_probe_engine(settings: Settings | str) -> Engine:
    """An engine without a pool, for readiness probes: each check opens a fresh connection,
    as the next request or a new process would, and waits briefly."""
    url = normalise_url(settings if isinstance(settings, str) else settings.database_url)
    if url.startswith("sqlite"):
        args: dict[str, object] = {"check_same_thread": False, "timeout": 1}
    else:
        args = {"connect_timeout": 3}
    return create_engine(url, poolclass=NullPool, connect_args=args)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    load_models()
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
