"""The job table's own housekeeping: finished jobs are kept ``ESCUCHA_JOB_RETENTION_DAYS``.

Periodic jobs alone add a row per period (routing's every 5 s: over 17,000 a day), so without
this the table would only grow.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from escucha.jobs import service
from escucha.jobs.registry import JobContext, periodic


@periodic("jobs.prune", every_s=3600)
def prune(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    service.prune_finished(session, now=ctx.now, keep_days=ctx.settings.job_retention_days)
