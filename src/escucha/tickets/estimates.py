"""When a written request (email, web) will get its first answer (P2).

Estimated from the real backlog, the team's staffing and measured handling time, and never
earlier than how fast the team has been answering; the estimate becomes the first-response
promise of a request that is not a complaint.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.org import models as org
from escucha.promises import rules as prules
from escucha.tickets import profiles as tprofiles
from escucha.tickets import rules as trules
from escucha.tickets.models import Ticket, TicketMessage
from escucha.tickets.planning import PROMISE_LABELS
from escucha.tickets.service import WRITTEN_CHANNELS

AWAITING_TEAM: tuple[str, ...] = ("new", "open", "reopened", "appealed")
WRITTEN_SKILL = "email"
"""Agent skill that answers the written queue; when nobody on the team has it, all count."""
DEFAULT_HANDLING_S = 900.0
"""Handling time per written reply until the team has measured replies of its own."""
HANDLING_WINDOW_DAYS = 30
RESPONSE_SHARE = 0.8
"""The written estimate is never earlier than the time within which this share of the team's
recent written requests got their first answer (business time): agents rarely sit on an empty
inbox, so backlog over staffing alone would promise minutes and break the promise."""
MIN_RESPONSE_SAMPLES = 20
MAX_RESPONSE_SAMPLES = 500
"""The most recent answers the share is read from (a request is never slowed by history)."""


# --- written queue estimate -----------------------------------------------------------------------


@dataclass(frozen=True)
class WrittenEta:
    """An estimated first-response time for the written queue (P2) and how it was made.

    ``backlog_s = (ahead + 1) * handling_s / agents``; ``work_s`` is the larger of that and
    ``responded_s``, the business time within which ``RESPONSE_SHARE`` of the team's written
    requests of the last 30 days got their first answer (once there are
    ``MIN_RESPONSE_SAMPLES`` of them); ``due`` is ``work_s`` of the team's open time after now,
    rounded up to 5 minutes of local time.
    """

    due: datetime
    ahead: int
    agents: int
    handling_s: float
    samples: int
    work_s: float
    backlog_s: float = 0.0
    responded_s: float | None = None
    responses: int = 0


def written_agents(session: Session, team: org.Team | None) -> int:
    """Agents of the team who answer written requests (skill ``email``; else all), at least 1."""
    if team is None:
        return 1
    rows = session.scalars(
        select(org.AgentProfile)
        .join(User, User.id == org.AgentProfile.user_id)
        .where(org.AgentProfile.team_id == team.id, User.active.is_(True))
    ).all()
    skilled = [p for p in rows if WRITTEN_SKILL in (p.skills or {})]
    return max(1, len(skilled or rows))


def measured_handling_s(
    session: Session, team: org.Team | None, *, now: datetime
) -> tuple[float, int]:
    """Mean handling time of the team's written replies in the last 30 days, and the count."""
    since = now - timedelta(days=HANDLING_WINDOW_DAYS)
    team_filter = Ticket.team_id.is_(None) if team is None else Ticket.team_id == team.id
    mean, count = session.execute(
        select(func.avg(TicketMessage.work_s), func.count(TicketMessage.id))
        .join(Ticket, Ticket.id == TicketMessage.ticket_id)
        .where(
            team_filter,
            Ticket.channel.in_(WRITTEN_CHANNELS),
            TicketMessage.author_kind == "agent",
            TicketMessage.visibility == "customer",
            TicketMessage.work_s.is_not(None),
            TicketMessage.created_at >= since,
        )
    ).one()
    if not count:
        return DEFAULT_HANDLING_S, 0
    return float(mean), int(count)


def measured_first_response_s(
    session: Session, team: org.Team | None, *, now: datetime, cal: prules.BusinessCalendar
) -> tuple[float | None, int]:
    """Business seconds within which ``RESPONSE_SHARE`` of the team's written requests of the
    last 30 days (the latest ``MAX_RESPONSE_SAMPLES`` answered) got their first answer, and
    how many were read (``None`` below ``MIN_RESPONSE_SAMPLES``)."""
    since = now - timedelta(days=HANDLING_WINDOW_DAYS)
    team_filter = Ticket.team_id.is_(None) if team is None else Ticket.team_id == team.id
    rows = session.execute(
        select(Ticket.created_at, Ticket.first_response_at)
        .where(
            team_filter,
            Ticket.channel.in_(WRITTEN_CHANNELS),
            Ticket.first_response_at.is_not(None),
            Ticket.created_at >= since,
        )
        .order_by(Ticket.first_response_at.desc())
        .limit(MAX_RESPONSE_SAMPLES)
    ).all()
    waits = [prules.business_seconds_between(cal, a, b) for a, b in rows if b is not None]
    if len(waits) < MIN_RESPONSE_SAMPLES:
        return None, len(waits)
    return trules.nearest_rank(waits, RESPONSE_SHARE), len(waits)


def written_queue_eta(
    session: Session,
    team: org.Team | None,
    *,
    now: datetime,
    cal: prules.BusinessCalendar,
    exclude_ticket_id: int | None = None,
) -> WrittenEta:
    """When a new written request will get its first answer, from backlog and staffing (P2).

    ``ahead`` counts the team's open email and web tickets still waiting for a first answer;
    ``handling_s`` is the measured mean handling time of the team's written replies (each
    reply records the time the agent spent on it); ``agents`` those on the team with the
    ``email`` skill. The estimate is never earlier than how fast the team has been answering
    (:func:`measured_first_response_s`). Business time is counted on the team's calendar, so
    a message sent on Friday evening is answered on Monday.
    """
    team_filter = Ticket.team_id.is_(None) if team is None else Ticket.team_id == team.id
    stmt = select(func.count(Ticket.id)).where(
        team_filter,
        Ticket.channel.in_(WRITTEN_CHANNELS),
        Ticket.status.in_(AWAITING_TEAM),
        Ticket.first_response_at.is_(None),
    )
    if exclude_ticket_id is not None:
        stmt = stmt.where(Ticket.id != exclude_ticket_id)
    ahead = int(session.scalar(stmt) or 0)
    agents = written_agents(session, team)
    handling_s, samples = measured_handling_s(session, team, now=now)
    backlog_s = (ahead + 1) * handling_s / agents
    responded_s, responses = measured_first_response_s(session, team, now=now, cal=cal)
    work_s = max(backlog_s, responded_s or 0.0)
    due = prules.add_business_time(cal, now, timedelta(seconds=work_s))
    due = prules.round_up_local(due, cal.timezone, 5)
    return WrittenEta(
        due, ahead, agents, handling_s, samples, work_s, backlog_s, responded_s, responses
    )


def with_eta(
    planned: list[tprofiles.PlannedPromise],
    eta: WrittenEta,
    cal: prules.BusinessCalendar,
    *,
    now: datetime,
) -> list[tprofiles.PlannedPromise]:
    """The first response is promised at the estimated time; if that is later than the
    published standard the promise is at risk from the start (escalated at once)."""
    out: list[tprofiles.PlannedPromise] = []
    found = False
    for p in planned:
        if p.kind is prules.PromiseKind.FIRST_RESPONSE and not p.regulatory:
            found = True
            late = eta.due > p.due
            escalate = (now,) if late else prules.escalation_times(cal, now, eta.due, (0.75,))
            out.append(replace(p, due=eta.due, escalate_at=escalate))
        else:
            out.append(p)
    if not found:
        es, en = PROMISE_LABELS["first_response"]
        out.append(
            tprofiles.PlannedPromise(
                kind=prules.PromiseKind.FIRST_RESPONSE,
                due=eta.due,
                allowance=prules.Allowance(
                    eta.work_s / 60.0, prules.AllowanceUnit.BUSINESS_MINUTES
                ),
                regulatory=False,
                on_breach=tprofiles.BreachAction.ESCALATE,
                escalate_at=prules.escalation_times(cal, now, eta.due, (0.75,)),
                label_es=es,
                label_en=en,
            )
        )
    return sorted(out, key=lambda p: (p.due, p.kind.value))
