"""The agent's day (C6): what the agent did today, shown as information only, never a target."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.contacts.models import Contact
from escucha.contacts.today import day_start, ratio
from escucha.org import home

REPEAT_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class AgentDay:
    """What the agent did today, shown as information only (C6): never a target."""

    handled: int
    resolved: int
    first_contact_resolved: int
    repeats: int
    talk_hold_mean_s: float | None

    @property
    def fcr_rate(self) -> float | None:
        """First-contact resolution: resolved with no contact from the customer within 7 days
        after, over the contacts the agent wrapped up today."""
        return ratio(self.first_contact_resolved, self.handled)


def agent_day(session: Session, user_id: int, *, now: datetime, tz: str | None = None) -> AgentDay:
    """The agent's contacts wrapped up today: first-contact resolution, repeat contacts (the
    customer had another contact in the 7 days before; the call a callback came from does not
    count) and mean talk-plus-hold time."""
    start = day_start(now, tz or home.zone_name(session))
    mine = list(
        session.scalars(
            select(Contact).where(
                Contact.agent_id == user_id,
                Contact.state == "ended",
                Contact.outcome.is_not(None),
                Contact.resolved.is_not(None),
                Contact.ended_at >= start,
            )
        )
    )
    customers = {c.customer_id for c in mine if c.customer_id is not None}
    others: dict[int, list[tuple[int, datetime, int | None]]] = defaultdict(list)
    if customers:
        earliest = min(c.arrived_at for c in mine) - REPEAT_WINDOW
        for cid, customer_id, arrived, parent in session.execute(
            select(Contact.id, Contact.customer_id, Contact.arrived_at, Contact.parent_id).where(
                Contact.customer_id.in_(customers), Contact.arrived_at >= earliest
            )
        ):
            if customer_id is not None:
                others[customer_id].append((cid, arrived, parent))
    fcr = repeats = 0
    talk: list[float] = []
    for c in mine:
        seen = others.get(c.customer_id, []) if c.customer_id is not None else []
        ended = c.ended_at or c.arrived_at
        came_back = any(
            oid != c.id and parent != c.id and ended < arrived <= ended + REPEAT_WINDOW
            for oid, arrived, parent in seen
        )
        before = any(
            oid not in (c.id, c.parent_id)
            and c.arrived_at - REPEAT_WINDOW <= arrived < c.arrived_at
            for oid, arrived, _parent in seen
        )
        fcr += bool(c.resolved) and not came_back
        repeats += before
        if c.answered_at is not None and c.ended_at is not None:
            talk.append(max(0.0, (c.ended_at - c.answered_at).total_seconds()))
    return AgentDay(
        handled=len(mine),
        resolved=sum(1 for c in mine if c.resolved),
        first_contact_resolved=fcr,
        repeats=repeats,
        talk_hold_mean_s=sum(talk) / len(talk) if talk else None,
    )
