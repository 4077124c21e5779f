"""Agents' state history: record each change, and report breaks and time per state (C6).

Routing calls :func:`record_state_change` whenever an agent's state changes; repeated calls
with the same state are ignored, so it is safe to call on every update.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from escucha.errors import InvalidInput
from escucha.workforce.models import AgentStateChange

STATES = ("offline", "available", "busy", "wrap_up", "break")


def last_state(session: Session, user_id: int, *, before: datetime | None = None) -> str | None:
    """The agent's state at ``before`` (now when omitted) according to the history."""
    stmt = select(AgentStateChange.state).where(AgentStateChange.user_id == user_id)
    if before is not None:
        stmt = stmt.where(AgentStateChange.at <= before)
    return session.scalar(
        stmt.order_by(AgentStateChange.at.desc(), AgentStateChange.id.desc()).limit(1)
    )


def record_state_change(
    session: Session, user_id: int, state: str, *, now: datetime
) -> AgentStateChange | None:
    """Append a change; ``None`` when the agent already was in ``state``."""
    if state not in STATES:
        raise InvalidInput(f"state: one of {', '.join(STATES)}")
    if last_state(session, user_id) == state:
        return None
    change = AgentStateChange(user_id=user_id, state=state, at=now)
    session.add(change)
    return change


@dataclass
class StateTime:
    """Time an agent spent in each state inside a window, and the breaks taken.

    ``breaks`` counts break periods that overlap the window (a run of consecutive ``break``
    changes is one break); ``break_s`` and ``longest_break_s`` count only the part inside it.
    """

    user_id: int
    seconds: dict[str, float] = field(default_factory=dict)
    breaks: int = 0
    break_s: float = 0.0
    longest_break_s: float = 0.0

    @property
    def logged_in_s(self) -> float:
        return sum(s for state, s in self.seconds.items() if state != "offline")


def _changes(
    session: Session, since: datetime, until: datetime, user_ids: Sequence[int] | None
) -> dict[int, list[tuple[datetime, str]]]:
    """For each user: the state at ``since`` (if known) followed by the changes inside."""
    base = select(AgentStateChange)
    if user_ids is not None:
        base = base.where(AgentStateChange.user_id.in_(list(user_ids)))
    latest = (
        select(AgentStateChange.user_id, func.max(AgentStateChange.at).label("at"))
        .where(AgentStateChange.at <= since)
        .group_by(AgentStateChange.user_id)
        .subquery()
    )
    before = session.scalars(
        base.join(
            latest,
            and_(AgentStateChange.user_id == latest.c.user_id, AgentStateChange.at == latest.c.at),
        ).order_by(AgentStateChange.id)
    ).all()
    inside = session.scalars(
        base.where(AgentStateChange.at > since, AgentStateChange.at < until).order_by(
            AgentStateChange.at, AgentStateChange.id
        )
    ).all()
    out: dict[int, list[tuple[datetime, str]]] = {}
    for row in before:  # the last of equal timestamps wins
        out[row.user_id] = [(since, row.state)]
    for row in inside:
        out.setdefault(row.user_id, []).append((row.at, row.state))
    return out


def state_times(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    user_ids: Iterable[int] | None = None,
) -> dict[int, StateTime]:
    """Time per state and breaks per agent between ``since`` and ``until``."""
    if until <= since:
        raise InvalidInput("the end of the period must be after its start")
    ids = None if user_ids is None else list(user_ids)
    out: dict[int, StateTime] = {}
    for user_id, changes in _changes(session, since, until, ids).items():
        summary = StateTime(user_id)
        current_break = 0.0
        in_break = False
        for i, (start, state) in enumerate(changes):
            end = changes[i + 1][0] if i + 1 < len(changes) else until
            span = max(0.0, (end - start).total_seconds())
            summary.seconds[state] = summary.seconds.get(state, 0.0) + span
            if state == "break":
                if not in_break:
                    summary.breaks += 1
                    current_break = 0.0
                in_break = True
                current_break += span
                summary.break_s += span
                summary.longest_break_s = max(summary.longest_break_s, current_break)
            else:
                in_break = False
        out[user_id] = summary
    if ids is not None:
        for user_id in ids:
            out.setdefault(user_id, StateTime(user_id))
    return out


def breaks_taken(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    user_ids: Iterable[int] | None = None,
) -> dict[int, StateTime]:
    """Breaks per agent in the period (see :class:`StateTime`); same as :func:`state_times`."""
    return state_times(session, since=since, until=until, user_ids=user_ids)
