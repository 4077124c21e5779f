"""``/readyz`` tells a database that cannot write (503 with the reason), and ready again once
it can; the web server needs no restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import make_url

from escucha.app import create_app
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.db.engine import make_probe_engine
from tests.conftest import PG_URL
from tests.readonly import read_only_window


def test_readiness_reports_a_database_that_cannot_write_until_it_can(
    settings: Settings, clock: FrozenClock
) -> None:
    app = create_app(settings, clock=clock)
    probe = app.state.probe_engine = make_probe_engine(settings)
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        with read_only_window(probe):
            r = client.get("/readyz")
            assert r.status_code == 503
            body = r.json()
            assert body["status"] == "unavailable"
            assert body["database"] == "read_only"
            assert body["detail"].startswith("the database cannot write: ")
            assert client.get("/healthz").status_code == 200  # alive, not ready
        r = client.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["database"] == "ok"


@pytest.mark.skipif(bool(PG_URL), reason="a SQLite file opened read-only")
def test_readiness_reports_a_sqlite_file_opened_read_only(
    settings: Settings, clock: FrozenClock
) -> None:
    path = Path(str(make_url(settings.database_url).database))
    read_only = settings.model_copy(
        update={"database_url": f"sqlite:///file:{path}?mode=ro&uri=true"}
    )
    with TestClient(create_app(read_only, clock=clock)) as client:
        r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["database"] == "read_only"
    assert "attempt to write a readonly database" in r.json()["detail"]
