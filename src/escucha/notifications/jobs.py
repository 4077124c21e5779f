"""Send queued notifications: at least once, never twice for the same key once sent."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from escucha.jobs.registry import JobContext, job
from escucha.notifications import rules
from escucha.notifications.models import Notification
from escucha.notifications.senders import Outgoing, sender_for

MAX_ATTEMPTS = 8


@job("notifications.send", max_attempts=MAX_ATTEMPTS, backoff_base_s=30)
def send(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    note = session.get(Notification, int(payload["notification_id"]))
    if note is None or note.status == "sent":
        return
    note.attempts = ctx.attempt
    sender = sender_for(note.channel, ctx.settings)
    try:
        ref = sender.send(
            Outgoing(
                channel=note.channel,
                to=note.to_address,
                subject=note.subject,
                body=note.body,
                idempotency_key=note.idempotency_key,
                message_id=rules.message_id_for(note.id, ctx.settings.secret_key),
            )
        )
    except Exception as exc:
        if ctx.attempt < MAX_ATTEMPTS:
            raise  # rolled back; the job is retried with backoff
        note.status = "failed"  # shown on the ticket and to admins
        note.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        return
    note.status = "sent"
    note.sent_at = ctx.now
    note.provider_ref = ref[:200]
    note.last_error = None
