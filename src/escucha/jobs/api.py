"""Jobs for admins: see what failed and put it back in the queue."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from escucha.auth.api import DB, AdminCaller, ClockDep
from escucha.jobs import service

router = APIRouter(prefix="/jobs", tags=["jobs"])


class JobOut(BaseModel):
    id: int
    name: str
    status: str
    attempts: int
    max_attempts: int
    run_at: datetime
    last_error: str | None


@router.get("", response_model=list[JobOut])
def list_jobs(_caller: AdminCaller, db: DB, status: str | None = None) -> list[JobOut]:
    """Jobs, newest first; ``status=failed`` shows those that gave up."""
    return [JobOut(**vars(v)) for v in service.list_jobs(db, status=status)]


@router.post("/{job_id}/retry", response_model=JobOut)
def retry(job_id: int, _caller: AdminCaller, db: DB, clock: ClockDep) -> JobOut:
    """Run a failed job again."""
    job = service.retry_job(db, job_id, now=clock.now())
    return JobOut(
        id=job.id,
        name=job.name,
        status=job.status,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        run_at=job.run_at,
        last_error=job.last_error,
    )
