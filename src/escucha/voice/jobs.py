"""The liveness sweep: callers and desks that went silent are noticed within seconds."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from escucha.jobs.registry import JobContext, job, periodic
from escucha.voice import rules, service, sip


@periodic("voice.sweep", every_s=rules.SWEEP_EVERY_S)
def sweep(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    service.sweep(session, now=ctx.now, settings=ctx.settings)


@periodic("voice.prune_recordings", every_s=3600)
def prune_recordings(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    service.delete_old_recordings(session, now=ctx.now, settings=ctx.settings)


@job("voice.finish_leg", max_attempts=3, backoff_base_s=60)
def finish_leg(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    """A recorded leg, once complete, goes to the transcription job (else: looked at later)."""
    service.finish_leg(session, int(payload["recording_id"]), now=ctx.now, settings=ctx.settings)


@periodic("voice.sip_presence", every_s=rules.SWEEP_EVERY_S)
def sip_presence(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    sip.sweep(session, now=ctx.now, settings=ctx.settings)
