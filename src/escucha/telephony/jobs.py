"""Telephony jobs: place the Twilio call of a callback attempt; wake a waiting line."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from escucha.jobs.registry import JobContext, job
from escucha.telephony import dialer


@job("telephony.dial", max_attempts=3, backoff_base_s=5.0)
def dial(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    dialer.dial_now(
        session,
        int(payload["callback_id"]),
        int(payload["attempt"]),
        now=ctx.now,
        settings=ctx.settings,
    )


@job("telephony.wake", max_attempts=1)
def wake(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    """Best effort, once: a line not woken connects by itself (``rules.connect_now``)."""
    dialer.wake_line(session, int(payload["contact_id"]), settings=ctx.settings, now=ctx.now)


@job("telephony.hold", max_attempts=1)
def hold(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    """A Twilio caller put on hold or resumed from the desk: the line follows (TwiML)."""
    dialer.hold_line(session, int(payload["contact_id"]), settings=ctx.settings)
