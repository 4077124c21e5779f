"""Ticket jobs: escalations before a promise is due, consequences after, IMAP polling."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from escucha.jobs.registry import JobContext, job, periodic
from escucha.tickets import breaches
from escucha.tickets.imap import poll_mailbox


@job("tickets.escalate", max_attempts=5)
def escalate(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    """At a fraction of the allowance (75 % by default): flag the promise and tell the team."""
    breaches.escalate_promise(session, int(payload["promise_id"]), now=ctx.now)


@job("tickets.breach", max_attempts=5)
def breach(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    """Just after the due time: a promise not kept is broken, with the profile's consequence."""
    breaches.handle_breach(
        session,
        int(payload["promise_id"]),
        str(payload.get("on_breach", "escalate")),
        now=ctx.now,
        base_url=ctx.settings.public_url,
    )


@periodic("tickets.poll_imap", every_s=60)
def poll_imap(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    """Read the IMAP mailbox (when ``ESCUCHA_IMAP_HOST`` is set)."""
    poll_mailbox(session, ctx.settings, now=ctx.now)
