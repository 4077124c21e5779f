"""Engines and sessions, made from settings (no import-time side effects)."""

from __future__ import annotations

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
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})
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
