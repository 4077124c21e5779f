"""A process's SQLite writers take turns in the process (ADR 31): a second writer waits for the
first one's commit instead of meeting SQLite's lock, and readers never wait."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, text

from escucha.db.engine import writers


@pytest.fixture
def sqlite(engine: Engine) -> Engine:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's writers only")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE turns (n INTEGER)"))
    return engine


def _write(engine: Engine, n: int, errors: list[BaseException]) -> None:
    try:
        with engine.connect() as conn:
            # SQLite's own wait off: a writer that met SQLite's lock would fail at once
            conn.exec_driver_sql("PRAGMA busy_timeout=0")
            conn.execute(text("INSERT INTO turns (n) VALUES (:n)"), {"n": n})
            conn.commit()
    except BaseException as exc:  # reported to the test's thread
        errors.append(exc)


def test_a_second_writer_waits_for_the_first_ones_commit(sqlite: Engine) -> None:
    errors: list[BaseException] = []
    with sqlite.connect() as first:
        first.execute(text("INSERT INTO turns (n) VALUES (1)"))  # holds the write lock
        others = [threading.Thread(target=_write, args=(sqlite, n, errors)) for n in (2, 3)]
        for thread in others:
            thread.start()
        for thread in others:
            thread.join(0.3)
            assert thread.is_alive()  # waiting for its turn, not failed on SQLite's lock
        # a reader does not wait: it sees what was committed
        with sqlite.connect() as reader:
            assert reader.execute(text("SELECT count(*) FROM turns")).scalar() == 0
        first.commit()
    for thread in others:
        thread.join(10)
        assert not thread.is_alive()
    assert errors == []
    with sqlite.connect() as conn:
        assert sorted(conn.execute(text("SELECT n FROM turns")).scalars()) == [1, 2, 3]


def test_a_rolled_back_or_failed_writer_gives_its_turn_back(sqlite: Engine) -> None:
    errors: list[BaseException] = []
    with sqlite.connect() as first:
        first.execute(text("INSERT INTO turns (n) VALUES (1)"))
        assert writers(str(sqlite.url.database)).locked()  # its turn, until it ends
        first.rollback()
        with pytest.raises(Exception, match="no such table"):
            first.execute(text("INSERT INTO missing (n) VALUES (1)"))
        first.rollback()
        assert not writers(str(sqlite.url.database)).locked()
        _write(sqlite, 2, errors)
    assert not writers(str(sqlite.url.database)).locked()
    assert errors == []
    with sqlite.connect() as conn:
        assert list(conn.execute(text("SELECT n FROM turns")).scalars()) == [2]
