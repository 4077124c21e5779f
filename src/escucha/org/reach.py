"""What an agent may touch (ADR 17): the contacts offered or assigned to them or waiting in
their queues, and the tickets of their team. Supervisors and admins reach everything.

"Their queues" are the queues of their team and the queues whose required skills they hold
(the ones routing can offer them). A contact still in the IVR (in no queue and with nobody)
belongs to no team yet: any agent-level caller may route it, as the caller's side of an
integration does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.errors import Forbidden
from escucha.org.models import AgentProfile, Queue


class Person(Protocol):
    """A signed-in user (a ``User`` row or what the screens keep of it)."""

    @property
    def id(self) -> int: ...

    @property
    def role(self) -> str: ...


@dataclass(frozen=True)
class Reach:
    user_id: int
    everything: bool
    team_id: int | None = None
    queues: frozenset[str] = frozenset()

    def contact(self, *, queue: str | None, agent_id: int | None) -> bool:
        if self.everything or agent_id == self.user_id:
            return True
        if queue is None:
            return agent_id is None  # still in the IVR: nobody's yet
        return queue in self.queues

    def ticket(
        self, *, team_id: int | None, assignee_id: int | None, created_by_id: int | None
    ) -> bool:
        if self.everything or self.user_id in (assignee_id, created_by_id):
            return True
        return team_id is not None and team_id == self.team_id


def reach_of(session: Session, user: Person) -> Reach:
    if user.role != "agent":
        return Reach(user.id, everything=True)
    profile = session.scalar(select(AgentProfile).where(AgentProfile.user_id == user.id))
    team_id = profile.team_id if profile is not None else None
    skills = profile.skills if profile is not None else {}
    queues = set()
    for q in session.scalars(select(Queue)):
        held = all(int(skills.get(skill, 0)) >= int(level) for skill, level in q.skills.items())
        if (team_id is not None and q.team_id == team_id) or held:
            queues.add(q.name)
    return Reach(user.id, everything=False, team_id=team_id, queues=frozenset(queues))


def check_contact(
    session: Session, user: Person, *, queue: str | None, agent_id: int | None
) -> None:
    """Refuse (403) an agent acting on a contact that is not theirs nor in their queues."""
    if user.role != "agent" or agent_id == user.id:  # their own contact: nothing to read
        return
    if not reach_of(session, user).contact(queue=queue, agent_id=agent_id):
        raise Forbidden(
            "this contact is in a queue of another team and not offered to you; "
            "a supervisor can act on it"
        )


def check_ticket(
    session: Session,
    user: Person,
    *,
    team_id: int | None,
    assignee_id: int | None,
    created_by_id: int | None,
) -> None:
    """Refuse (403) an agent reading or changing a ticket of another team."""
    if user.role != "agent":
        return
    reach = reach_of(session, user)
    if not reach.ticket(team_id=team_id, assignee_id=assignee_id, created_by_id=created_by_id):
        raise Forbidden("this ticket belongs to another team; a supervisor can act on it")
