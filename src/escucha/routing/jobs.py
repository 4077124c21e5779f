"""Time-driven routing: overflow after a wait, and a safety pass if an event was missed."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from escucha.jobs.registry import JobContext, periodic
from escucha.routing import service


@periodic("routing.dispatch", every_s=5)
def dispatch(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    service.dispatch(session, now=ctx.now)
