"""A database that cannot be written for a while, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event, text

from escucha.db.engine import make_engine


@contextmanager
def read_only_window(engine: Engine) -> Iterator[None]:
    """The database cannot be written while the block runs: every connection opened meanwhile
    is a read-only one, as when the file or the database was made read-only.

    SQLite: connections opened in the window are opened ``mode=ro`` (a chmod does not stop
    root, who runs these tests in containers). PostgreSQL: the database's own
    ``default_transaction_read_only`` (new sessions only, as in production).
    The pool is emptied when the window opens, as when the database restarts.
    """
    url = engine.url
    if url.get_backend_name() == "sqlite":
        window = {"open": True}

        def connect(_dialect: Any, _record: Any, _cargs: Any, _cparams: Any) -> Any:
            if window["open"]:
                return sqlite3.connect(
                    f"file:{url.database}?mode=ro", uri=True, check_same_thread=False
                )
            return None

        event.listen(engine, "do_connect", connect)
        engine.dispose()
        try:
            yield
        finally:
            window["open"] = False
        return
    admin = make_engine(str(url.set(database="postgres")))
    name = url.database
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
        engine.dispose()
        yield
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only'))
        admin.dispose()
