"""Acting on many cases at once from the list: assign them, or move their next promised time
with a reason that each customer is told (through the same promise and outbox as one case).
All or nothing: one refusal leaves every case as it was."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.errors import Forbidden, InvalidInput
from escucha.org.reach import Reach
from escucha.tickets import handling, planning
from escucha.tickets.models import Ticket

MAX_BULK = 200


def load(session: Session, ids: Sequence[int], reach: Reach) -> list[Ticket]:
    """The chosen cases, locked, each one the caller may work (ADR 17)."""
    wanted = sorted(set(ids))
    if not wanted:
        raise InvalidInput("cases: choose at least one case")
    if len(wanted) > MAX_BULK:
        raise InvalidInput(f"cases: at most {MAX_BULK} at once")
    tickets = list(
        session.scalars(
            select(Ticket).where(Ticket.id.in_(wanted)).order_by(Ticket.id).with_for_update()
        )
    )
    if len(tickets) != len(wanted):
        raise InvalidInput("cases: some of the chosen cases do not exist")
    for t in tickets:
        if not reach.ticket(
            team_id=t.team_id, assignee_id=t.assignee_id, created_by_id=t.created_by_id
        ):
            raise Forbidden(f"case {t.number} belongs to another team; a supervisor can act on it")
    return tickets


def assign(
    session: Session,
    tickets: Sequence[Ticket],
    *,
    user: User,
    now: datetime,
    team_id: int | None,
    assignee_id: int | None,
) -> int:
    if team_id is None and assignee_id is None:
        raise InvalidInput("assignee: choose a team or an agent")
    for t in tickets:
        handling.reassign(session, t, user=user, now=now, team_id=team_id, assignee_id=assignee_id)
    return len(tickets)


@dataclass(frozen=True)
class Rescheduled:
    moved: list[str]  # case numbers whose customer is told the new time
    skipped: list[str]  # case numbers with no pending promise to move


def reschedule(
    session: Session,
    tickets: Sequence[Ticket],
    new_due: datetime,
    *,
    reason: str,
    user: User,
    now: datetime,
    base_url: str,
) -> Rescheduled:
    """Move each case's next pending promise (not the acknowledgment) to ``new_due``."""
    moved: list[str] = []
    skipped: list[str] = []
    for t in tickets:
        pending = [
            p for p in planning.pending_promises(session, t.id) if p.kind != "acknowledgment"
        ]
        if not pending:
            skipped.append(t.number)
            continue
        nxt = min(pending, key=lambda p: (p.due_at, p.id))
        handling.reschedule_promise(
            session, t, nxt.id, new_due, reason=reason, user=user, now=now, base_url=base_url
        )
        moved.append(t.number)
    if not moved:
        raise InvalidInput("cases: none of the chosen cases has a pending promise to move")
    return Rescheduled(moved, skipped)
