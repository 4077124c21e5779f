"""The transaction boundary: one request, job or CLI command is one transaction.

Services flush, never commit; the boundary (this module) commits or rolls back.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

LockSpace = Literal["call", "contact"]
_SPACES: dict[LockSpace, int] = {"call": 1, "contact": 2}


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session, commit when the block ends normally, roll back otherwise."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def xact_lock(session: Session, space: LockSpace, name: str) -> None:
    """Serialise the transactions that work on one thing (a call, a contact) until they end.

    A transaction-scoped advisory lock on PostgreSQL (``(space, crc32(name))``, apart from the
    routing lock's key space), taken instead of a row lock: routing takes its own lock before
    any row lock on what it sees, and a row lock held while waiting for it would deadlock. On
    SQLite writers are serialised already.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    key = zlib.crc32(name.encode()) - 2**31  # into int4
    session.connection().execute(
        text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": _SPACES[space], "key": key}
    )
