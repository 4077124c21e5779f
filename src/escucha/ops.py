"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import threading

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from escucha.auth.api import Public
from escucha.db.engine import cannot_write, make_probe_engine
from escucha.db.migrate import current_revision, head_revision

_SQLITE_BUSY = 5
_probe_lock = threading.Lock()


def _probe_engine(request: Request) -> Engine:
    state = request.app.state
    with _probe_lock:
        probe: Engine | None = getattr(state, "probe_engine", None)
        if probe is None:
            probe = state.probe_engine = make_probe_engine(state.settings)
        return probe


def write_problem(probe: Engine) -> tuple[str, str] | None:
    """Why the database cannot take a write now, as ``(state, reason)``, or None.

    On a fresh connection (not one kept in the pool): a standby in recovery (PostgreSQL), then
    an update of no row in a transaction that is rolled back, which a read-only database or
    file refuses. A database busy with another writer (SQLite) can write.
    """
    try:
        with probe.connect() as conn:
            try:
                if conn.dialect.name == "postgresql":
                    if conn.execute(text("SELECT pg_is_in_recovery()")).scalar():
                        return "read_only", "the database is a standby in recovery"
                    conn.execute(text("SET LOCAL statement_timeout = 2000"))
                conn.execute(
                    text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0")
                )
            finally:
                conn.rollback()
    except DBAPIError as exc:
        first_line = (str(exc.orig).strip().splitlines() or [""])[0]
        if cannot_write(exc.orig):
            return "read_only", f"the database cannot write: {first_line}"
        if getattr(exc.orig, "sqlite_errorcode", None) == _SQLITE_BUSY:
            return None  # another transaction is writing
        return "error", f"the database refused a write: {type(exc.orig).__name__}"
    return None


router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz(_caller: Public) -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, _caller: Public) -> JSONResponse:
    """The database answers, can write, and its schema is at the newest migration."""
    engine = request.app.state.engine
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = current_revision(engine)
    except Exception as exc:
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable", "detail": type(exc).__name__},
            status_code=503,
        )
    head = head_revision()
    # the write probe needs the schema; a database behind its migrations is not ready anyway
    problem = write_problem(_probe_engine(request)) if current == head else None
    ready = current == head and problem is None
    body: dict[str, str | None] = {
        "status": "ok" if ready else "unavailable",
        "database": "ok" if problem is None else problem[0],
        "migration": current,
        "head": head,
    }
    if problem is not None:
        body["detail"] = problem[1]
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request, _caller: Public) -> Response:
    """Prometheus metrics of this process."""
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
