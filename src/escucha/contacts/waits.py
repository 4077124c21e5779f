"""The waits of queued voice callers, as observations of their patience."""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from escucha.contacts.models import Contact, ContactEvent

__all__ = ["live_waits"]


def live_waits(
    session: Session, *, since: datetime, until: datetime, now: datetime
) -> list[tuple[str, float, bool]]:
    """``(queue, wait_s, abandoned)`` of each queued voice caller who arrived in
    ``[since, until)``.

    A caller answered or who took a callback is a censored observation of patience (they would
    have waited at least that long); one still waiting is censored at ``now``.
    """
    stmt = (
        select(
            Contact.id,
            Contact.queue,
            Contact.state,
            Contact.queued_at,
            ContactEvent.event,
            ContactEvent.at,
            ContactEvent.queue,
            ContactEvent.data,
        )
        .join(
            ContactEvent,
            and_(
                ContactEvent.contact_id == Contact.id,
                ContactEvent.event.in_(("answered", "abandoned", "callback_requested")),
            ),
            isouter=True,
        )
        .where(
            Contact.channel == "voice",
            Contact.queued_at.is_not(None),
            Contact.arrived_at >= since,
            Contact.arrived_at < until,
        )
        .order_by(Contact.id, ContactEvent.at, ContactEvent.id)
    )
    first: dict[int, tuple[str, float, bool]] = {}
    waiting: dict[int, tuple[str, float]] = {}
    for cid, cqueue, state, queued_at, event, at, equeue, data in session.execute(stmt):
        if cid in first:
            continue
        queue = str(equeue or cqueue or "—")
        if event is None:
            if state in ("queued", "offered") and queued_at is not None:
                waiting[cid] = (queue, max(0.0, (now - queued_at).total_seconds()))
            continue
        recorded = (data or {}).get("wait_s")
        if isinstance(recorded, int | float) and math.isfinite(recorded) and recorded >= 0:
            wait = float(recorded)
        else:
            wait = max(0.0, (at - queued_at).total_seconds())
        first[cid] = (queue, wait, event == "abandoned")
    for cid, (queue, wait) in waiting.items():
        if cid not in first:
            first[cid] = (queue, wait, False)
    return list(first.values())
