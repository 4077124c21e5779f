"""What the agent's desk shows live (C2, W5): the customer's phone and email masked, talk and
hold so far, and a fingerprint that changes whenever the desk must be redrawn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, func, select
from sqlalchemy.orm import Session

from escucha.contacts.models import Contact, ContactEvent
from escucha.routing.models import AgentStatus

# --- the customer's phone and email, masked -----------------------------------------------------


def mask_phone(phone: str | None) -> str:
    """``+34600111001`` -> ``+34600•••001``: enough to recognise, not to copy."""
    if not phone:
        return ""
    if len(phone) <= 6:
        return "•" * (len(phone) - 2) + phone[-2:]
    head = max(3, len(phone) - 6)
    return phone[:head] + "•" * (len(phone) - head - 3) + phone[-3:]


def mask_email(email: str | None) -> str:
    if not email or "@" not in email:
        return ""
    user, domain = email.split("@", 1)
    return f"{user[:1]}•••@{domain}"


# --- talk and hold so far -----------------------------------------------------------------------


@dataclass(frozen=True)
class HandleTime:
    """Talk plus hold so far (information only: nothing is ever cut or timed)."""

    talk_hold_s: float
    hold_s: float
    holds: int
    holds_announced: int
    on_hold_since: datetime | None


def handle_time(events: Sequence[ContactEvent], contact: Contact, now: datetime) -> HandleTime:
    """Talk plus hold since the contact was last answered, and its holds (W5)."""
    answered = contact.answered_at
    if answered is None or contact.state in ("ivr", "callback_waiting", "queued", "offered"):
        return HandleTime(
            talk_hold_s=0.0, hold_s=0.0, holds=0, holds_announced=0, on_hold_since=None
        )
    end = now
    holds = told = 0
    hold_s = 0.0
    since: datetime | None = None
    for ev in events:
        if ev.at < answered:
            continue
        if ev.event == "hold_started":
            holds += 1
            told += bool(ev.data.get("announced"))
            since = ev.at
        elif ev.event == "hold_ended" and since is not None:
            hold_s += max(0.0, (ev.at - since).total_seconds())
            since = None
        elif ev.event == "ended" and contact.state in ("wrap_up", "ended"):
            end = ev.at
    if since is not None:
        hold_s += max(0.0, (end - since).total_seconds())
    talk_hold = max(0.0, (end - answered).total_seconds())
    return HandleTime(
        talk_hold_s=talk_hold,
        hold_s=hold_s,
        holds=holds,
        holds_announced=told,
        on_hold_since=since if contact.state == "on_hold" else None,
    )


# --- what the agent's desk shows live -----------------------------------------------------------


def desk_fingerprint(session: Session, user_id: int) -> str:
    """A short text that changes whenever the agent's desk must be redrawn (one statement)."""
    row = session.execute(
        select(
            AgentStatus.state,
            AgentStatus.contact_id,
            Contact.state,
            Contact.queue,
            func.length(func.coalesce(Contact.notes, "")).cast(Integer),
        )
        .select_from(AgentStatus)
        .outerjoin(Contact, Contact.id == AgentStatus.contact_id)
        .where(AgentStatus.user_id == user_id)
    ).first()
    if row is None:
        return "offline"
    return "|".join(str(x) for x in row)
