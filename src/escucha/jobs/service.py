"""Enqueue, claim and run jobs. ``FOR UPDATE SKIP LOCKED`` on PostgreSQL."""

from __future__ import annotations

import logging
import socket
import traceback
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from escucha.clock import Clock
from escucha.config import Settings
from escucha.db.session import transaction
from escucha.errors import InvalidInput, NotFound
from escucha.jobs import models as m
from escucha.jobs.registry import JOBS, PERIODIC, JobContext, backoff_s, load_jobs

log = logging.getLogger(__name__)

LOCK_S = 30.0


def enqueue(
    session: Session,
    name: str,
    payload: dict[str, Any] | None = None,
    *,
    now: datetime,
    run_at: datetime | None = None,
    idempotency_key: str | None = None,
    max_attempts: int | None = None,
) -> m.Job:
    """Add a job in the caller's transaction; a repeated idempotency key returns the first job."""
    if name not in JOBS:
        load_jobs()
    if name not in JOBS:
        raise InvalidInput(f"unknown job {name!r}")
    if idempotency_key is not None:
        existing = session.scalar(select(m.Job).where(m.Job.idempotency_key == idempotency_key))
        if existing is not None:
            return existing
    job = m.Job(
        name=name,
        payload=payload or {},
        status=m.QUEUED,
        run_at=run_at or now,
        attempts=0,
        max_attempts=max_attempts or JOBS[name].max_attempts,
        idempotency_key=idempotency_key,
        created_at=now,
    )
    if idempotency_key is None:
        session.add(job)
        session.flush()
        return job
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:
        found = session.scalar(select(m.Job).where(m.Job.idempotency_key == idempotency_key))
        if found is None:  # pragma: no cover - the conflicting row vanished
            raise
        return found
    return job


def _claim(
    factory: sessionmaker[Session], worker: str, now: datetime, lock_s: float = LOCK_S
) -> tuple[int, int] | None:
    """Mark one due job running; returns (id, attempt) or None. Its own short transaction.

    A job whose worker died while running it is claimed again once ``lock_s`` has passed
    (``ESCUCHA_JOB_LOCK_S``); a live worker keeps extending the lock of what it runs
    (:func:`renew_locks`), so a long job is never taken twice.
    """
    with transaction(factory) as session:
        due = or_(
            (m.Job.status == m.QUEUED) & (m.Job.run_at <= now),
            (m.Job.status == m.RUNNING) & (m.Job.locked_until < now),
        )
        stmt = select(m.Job).where(due).order_by(m.Job.run_at, m.Job.id).limit(1)
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        job = session.scalar(stmt)
        if job is None:
            return None
        claimed = session.execute(
            update(m.Job)
            .where(m.Job.id == job.id, m.Job.status == job.status, m.Job.attempts == job.attempts)
            .values(
                status=m.RUNNING,
                attempts=job.attempts + 1,
                locked_by=worker,
                locked_until=now + timedelta(seconds=lock_s),
            )
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return job.id, job.attempts + 1


def renew_locks(
    factory: sessionmaker[Session], worker: str, now: datetime, lock_s: float = LOCK_S
) -> int:
    """Extend the lock of every job ``worker`` is running to ``now + lock_s``; how many."""
    with transaction(factory) as session:
        renewed = session.execute(
            update(m.Job)
            .where(m.Job.status == m.RUNNING, m.Job.locked_by == worker)
            .values(locked_until=now + timedelta(seconds=lock_s))
            .execution_options(synchronize_session=False)
        )
        return int(renewed.rowcount)  # type: ignore[attr-defined]


def run_one(
    factory: sessionmaker[Session], settings: Settings, clock: Clock, worker: str = ""
) -> bool:
    """Run the next due job, if any. True when a job was run (successfully or not)."""
    worker = worker or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
    claimed = _claim(factory, worker, clock.now(), settings.job_lock_s)
    if claimed is None:
        return False
    job_id, attempt = claimed
    error: str | None = None
    try:
        with transaction(factory) as session:
            job = session.get(m.Job, job_id)
            if job is None:  # pragma: no cover - deleted under our feet
                return True
            spec = JOBS.get(job.name)
            if spec is None:
                load_jobs()
                spec = JOBS.get(job.name)
            if spec is None:
                raise LookupError(f"no handler registered for job {job.name!r}")
            now = clock.now()
            spec.handler(session, dict(job.payload), JobContext(now, settings, job_id, attempt))
            job.status = m.DONE
            job.finished_at = clock.now()
            job.locked_by = None
            job.locked_until = None
            job.last_error = None
    except Exception as exc:
        error = "".join(traceback.format_exception_only(exc)).strip()
        log.warning("job failed", extra={"job_id": job_id, "attempt": attempt, "error": error})
    if error is not None:
        with transaction(factory) as session:
            job = session.get(m.Job, job_id)
            if job is not None:
                spec = JOBS.get(job.name)
                job.last_error = error[:4000]
                job.locked_by = None
                job.locked_until = None
                if spec is None or attempt >= job.max_attempts:
                    job.status = m.FAILED
                    job.finished_at = clock.now()
                else:
                    job.status = m.QUEUED
                    job.run_at = clock.now() + timedelta(seconds=backoff_s(spec, attempt))
    return True


def enqueue_periodic(factory: sessionmaker[Session], clock: Clock) -> int:
    """Enqueue each periodic job once per period (the idempotency key names the period)."""
    load_jobs()
    now = clock.now()
    count = 0
    with transaction(factory) as session:
        for spec in PERIODIC.values():
            bucket = int(now.timestamp() // spec.every_s)
            key = f"periodic:{spec.name}:{bucket}"
            before = session.scalar(select(func.count()).where(m.Job.idempotency_key == key))
            enqueue(session, spec.name, {}, now=now, idempotency_key=key)
            count += 0 if before else 1
    return count


def run_due(
    factory: sessionmaker[Session], settings: Settings, clock: Clock, *, limit: int = 10_000
) -> int:
    """Run every job that is due now (tests run jobs inline this way). Returns how many ran."""
    ran = 0
    while ran < limit and run_one(factory, settings, clock, worker="inline"):
        ran += 1
    return ran


def prune_finished(
    session: Session, *, now: datetime, keep_days: float, batch: int = 10_000
) -> int:
    """Delete up to ``batch`` jobs that finished (done or cancelled) more than ``keep_days``
    ago; how many. Failed jobs are kept for admins to see and run again."""
    cutoff = now - timedelta(days=keep_days)
    old = (
        select(m.Job.id)
        .where(m.Job.status.in_((m.DONE, m.CANCELLED)), m.Job.finished_at < cutoff)
        .order_by(m.Job.id)
        .limit(batch)
    )
    ids = list(session.scalars(old))
    if not ids:
        return 0
    session.execute(
        delete(m.Job).where(m.Job.id.in_(ids)).execution_options(synchronize_session=False)
    )
    return len(ids)


@dataclass(frozen=True)
class JobView:
    id: int
    name: str
    status: str
    attempts: int
    max_attempts: int
    run_at: datetime
    last_error: str | None


def list_jobs(
    session: Session,
    *,
    status: str | None = None,
    limit: int = 200,
    routine: bool = True,
) -> list[JobView]:
    """The newest jobs; ``routine=False`` leaves out periodic jobs that ran as they should
    (a routing pass every few seconds would hide everything else)."""
    stmt = select(m.Job).order_by(m.Job.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(m.Job.status == status)
    if not routine:
        load_jobs()
        stmt = stmt.where(~(m.Job.name.in_(sorted(PERIODIC)) & (m.Job.status == m.DONE)))
    return [
        JobView(j.id, j.name, j.status, j.attempts, j.max_attempts, j.run_at, j.last_error)
        for j in session.scalars(stmt)
    ]


def retry_job(session: Session, job_id: int, *, now: datetime) -> m.Job:
    """Put a failed job back in the queue (an admin action)."""
    job = session.get(m.Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    if job.status != m.FAILED:
        raise InvalidInput(f"job {job_id} is {job.status}, only failed jobs can be retried")
    job.status = m.QUEUED
    job.run_at = now
    job.max_attempts = job.attempts + 1
    session.flush()
    return job
