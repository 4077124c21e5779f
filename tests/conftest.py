"""Shared fixtures: settings built directly, a fresh database per test, a frozen clock.

SQLite: each test gets a copy of a database file migrated once per run (per worker).
PostgreSQL (``ESCUCHA_TEST_DATABASE_URL``): migrated once per run; every table is emptied
after each test. Run in parallel (``pytest -n 2``), each worker has a database of its own,
named after the given one and the worker (``escucha_test_gw0``), created when the worker
starts and dropped when it ends.

Every test hashes passwords with cheap argon2 settings unless it is marked ``real_passwords``.
Test data is made by :mod:`tests.factories`.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from escucha.app import create_app
from escucha.auth import service as auth_service
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.db import migrate
from escucha.db.engine import make_engine, make_sessionmaker, normalise_url
from escucha.db.registry import load_models
from tests.factories import START, demo_users

PG_URL = os.environ.get("ESCUCHA_TEST_DATABASE_URL", "")
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1"… under pytest -n N

# Argon2 at its cheapest: the same algorithm and code path, a thousandth of the work.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


def worker_database_url(url: str, worker: str) -> str:
    """The PostgreSQL database of one xdist worker: ``<database>_<worker>`` on the same server."""
    if not worker:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


def pytest_report_header() -> str:
    return f"escucha database: {'PostgreSQL' if PG_URL else 'SQLite'}"


def _on_server(url: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE), connected to ``url``."""
    engine = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def _migrated(url: str) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()


def _sqlite_template(folder: Path) -> Iterator[str]:
    path = folder / "template.db"
    _migrated(f"sqlite:///{path}")
    yield str(path)


def _pg_template(url: str) -> Iterator[str]:
    """The one given database, its schema emptied and migrated."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    _migrated(url)
    yield url
    _cleaning_engine(url).dispose()


def _pg_worker_database(url: str) -> Iterator[str]:
    """A database of the worker's own, created on the given one's server and dropped after."""
    name = make_url(url).database
    _on_server(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _on_server(PG_URL, f'CREATE DATABASE "{name}"')
    try:
        _migrated(url)
        yield url
    finally:
        _cleaning_engine(url).dispose()
        _on_server(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The migrated database of this process: a SQLite file to copy, or a PostgreSQL URL."""
    if not PG_URL:
        yield from _sqlite_template(tmp_path_factory.mktemp("template"))
    elif WORKER:
        yield from _pg_worker_database(worker_database_url(PG_URL, WORKER))
    else:
        yield from _pg_template(PG_URL)


@cache
def _cleaning_engine(url: str) -> Engine:
    """One engine per database for emptying it between tests (disposed at the end)."""
    return make_engine(url)


def _empty_pg(url: str) -> None:
    """Empty every table and restart the used sequences, as ``TRUNCATE … RESTART IDENTITY``
    would, in one round trip: deleting the few rows a test wrote is about fifty times quicker
    than truncating every table. Tables whose foreign keys form a cycle fall back to TRUNCATE."""
    tables = [t.name for t in reversed(load_models().sorted_tables)]
    engine = _cleaning_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("; ".join(f"DELETE FROM {name}" for name in tables))
            used = conn.execute(
                text(
                    "SELECT schemaname, sequencename FROM pg_sequences WHERE last_value IS NOT NULL"
                )
            ).all()
            for schema, sequence in used:
                conn.exec_driver_sql(f'ALTER SEQUENCE "{schema}"."{sequence}" RESTART')
    except IntegrityError:
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def database_url(_template_db: str, tmp_path: Path) -> Iterator[str]:
    if PG_URL:
        yield _template_db
        _empty_pg(_template_db)
        return
    target = tmp_path / "escucha.db"
    shutil.copyfile(_template_db, target)
    yield f"sqlite:///{target}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        run_worker=False,
        log_json=False,
        outbox_dir=tmp_path / "outbox",
        login_rate_per_min=1000,
    )


@pytest.fixture(autouse=True)
def _cheap_passwords(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap password hashes, except in tests marked ``real_passwords``."""
    if request.node.get_closest_marker("real_passwords") is None:
        monkeypatch.setattr(auth_service, "_hasher", CHEAP_HASHER)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for arranging and checking; commit what the app must see."""
    s = session_factory()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> FastAPI:
    return create_app(settings, clock=clock)


@pytest.fixture
def users(session: Session) -> dict[str, int]:
    """The demo organisation, committed: its users' ids by username."""
    return demo_users(session)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: TestClient, username: str, password: str) -> Any:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
