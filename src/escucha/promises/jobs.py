"""The promise sweeper: broken promises are marked, risky ones flagged to supervisors."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from escucha.jobs.registry import JobContext, periodic
from escucha.promises import service


@periodic("promises.sweep", every_s=60)
def sweep(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    service.sweep(session, now=ctx.now)
