"""Callback jobs: a slot comes, a retry is due."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from escucha.callbacks import service
from escucha.jobs.registry import JobContext, job


@job("callbacks.release")
def release(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    service.release(session, service.get(session, int(payload["callback_id"])), now=ctx.now)


@job("callbacks.retry")
def retry(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    service.retry(session, service.get(session, int(payload["callback_id"])), now=ctx.now)
