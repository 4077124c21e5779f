"""Agent and team reports (C4, C6): QA trend, strengths and weaknesses by criterion, handle
time always beside first-contact resolution and repeat contacts, and breaks taken.

Definitions (the same as the analytics):

* **Handle time** of a contact: talk (answered to ended, holds included) plus wrap-up.
* **FCR**: among the agent's contacts with a known customer, the share marked resolved after
  which the same customer did not contact us again within 7 days.
* **Repeat contacts**: among the agent's contacts with a known customer, the share whose
  customer had contacted us in the 7 days before.

Handle time is never judged alone: a short call that makes the customer call again is
slower service, not faster. Contacts near the end of the period have had less time to repeat.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.contacts.models import Contact, ContactEvent
from escucha.org import models as org
from escucha.qa import reviews as qa
from escucha.qa.schemas import Scorecard
from escucha.workforce.service import StateTime, state_times

FCR_WINDOW = timedelta(days=7)


@dataclass
class ContactFigures:
    """Handled contacts of one agent (or team) and their outcome measures."""

    contacts: int = 0
    handle_s: float = 0.0
    eligible: int = 0
    first_contact_resolved: int = 0
    repeats: int = 0

    @property
    def aht_s(self) -> float | None:
        return self.handle_s / self.contacts if self.contacts else None

    @property
    def fcr(self) -> float | None:
        return self.first_contact_resolved / self.eligible if self.eligible else None

    @property
    def repeat_rate(self) -> float | None:
        return self.repeats / self.eligible if self.eligible else None

    def add(self, other: ContactFigures) -> None:
        self.contacts += other.contacts
        self.handle_s += other.handle_s
        self.eligible += other.eligible
        self.first_contact_resolved += other.first_contact_resolved
        self.repeats += other.repeats


@dataclass(frozen=True)
class CriterionMean:
    criterion_id: str
    label: dict[str, str]
    rated: int
    mean: float  # criterion score in [0, 1]


@dataclass
class AgentRow:
    agent_id: int
    name: str
    team: str
    figures: ContactFigures
    qa: qa.AgentQa | None
    strengths: list[CriterionMean]
    weaknesses: list[CriterionMean]
    time: StateTime


@dataclass
class TeamRow:
    team: str
    agents: int = 0
    figures: ContactFigures = field(default_factory=ContactFigures)
    reviews: int = 0
    score_total: float = 0.0
    scored: int = 0
    weekly: dict[str, list[float]] = field(default_factory=dict)
    breaks: int = 0
    break_s: float = 0.0
    logged_in_s: float = 0.0

    @property
    def qa_mean(self) -> float | None:
        return self.score_total / self.scored if self.scored else None

    def weekly_mean(self, week: str) -> float | None:
        values = self.weekly.get(week) or []
        return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class AgentReport:
    since: datetime
    until: datetime
    weeks: list[str]
    agents: list[AgentRow]
    teams: list[TeamRow]


def contact_figures(
    session: Session, *, since: datetime, until: datetime, agent_ids: Iterable[int]
) -> dict[int, ContactFigures]:
    """Handle time, FCR and repeat contacts per agent for contacts ended in the period."""
    ids = list(agent_ids)
    out: dict[int, ContactFigures] = {i: ContactFigures() for i in ids}
    if not ids:
        return out
    handled = session.scalars(
        select(Contact).where(
            Contact.agent_id.in_(ids),
            Contact.state == "ended",
            Contact.answered_at.is_not(None),
            Contact.ended_at >= since,
            Contact.ended_at < until,
        )
    ).all()
    if not handled:
        return out
    wraps: dict[int, float] = {}
    for contact_id, data in session.execute(
        select(ContactEvent.contact_id, ContactEvent.data).where(
            ContactEvent.contact_id.in_([c.id for c in handled]),
            ContactEvent.event == "wrapped_up",
        )
    ):
        wraps[contact_id] = float((data or {}).get("wrap_s") or 0.0)
    customers = {c.customer_id for c in handled if c.customer_id is not None}
    arrivals: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    if customers:
        for customer_id, arrived, contact_id in session.execute(
            select(Contact.customer_id, Contact.arrived_at, Contact.id).where(
                Contact.customer_id.in_(customers),
                Contact.arrived_at >= since - 2 * FCR_WINDOW,
                Contact.arrived_at <= until + FCR_WINDOW,
            )
        ):
            if customer_id is not None:
                arrivals[customer_id].append((arrived, contact_id))
    for c in handled:
        fig = out[c.agent_id or 0]
        fig.contacts += 1
        answered = c.answered_at
        ended = c.ended_at or answered
        talk = max(0.0, (ended - answered).total_seconds()) if answered and ended else 0.0
        fig.handle_s += talk + wraps.get(c.id, 0.0)
        if c.customer_id is None:
            continue
        fig.eligible += 1
        others = [(t, i) for t, i in arrivals[c.customer_id] if i != c.id]
        came_back = any(c.arrived_at < t <= c.arrived_at + FCR_WINDOW for t, _ in others)
        came_before = any(c.arrived_at - FCR_WINDOW <= t < c.arrived_at for t, _ in others)
        if c.resolved and not came_back:
            fig.first_contact_resolved += 1
        if came_before:
            fig.repeats += 1
    return out


def _strengths(
    card: Scorecard, agent_qa: qa.AgentQa | None, n: int = 3
) -> tuple[list[CriterionMean], list[CriterionMean]]:
    if agent_qa is None:
        return [], []
    labels = {c.id: c.label.model_dump() for c in card.criteria()}
    means = [
        CriterionMean(cid, labels.get(cid, {"es": cid, "en": cid}), rated, mean)
        for cid, (rated, mean) in agent_qa.criteria.items()
    ]
    best = sorted(means, key=lambda m: (-m.mean, -m.rated, m.criterion_id))[:n]
    worst = [
        m
        for m in sorted(means, key=lambda m: (m.mean, -m.rated, m.criterion_id))
        if m.mean < 1.0 and m not in best
    ][:n]
    return best, worst


def _weeks(since: datetime, until: datetime) -> list[str]:
    start = since.date() - timedelta(days=since.weekday())
    out = []
    day = start
    while day < until.date() or (day == until.date() and until.time() != datetime.min.time()):
        out.append(day.isoformat())
        day += timedelta(days=7)
    return out


def agent_report(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    team: str | None = None,
) -> AgentReport:
    """Every agent (of ``team``, by name, when given) and each team, for the period."""
    stmt = (
        select(User, org.Team)
        .outerjoin(org.AgentProfile, org.AgentProfile.user_id == User.id)
        .outerjoin(org.Team, org.Team.id == org.AgentProfile.team_id)
        .where(User.role == "agent", User.active.is_(True))
        .order_by(User.display_name)
    )
    if team:
        stmt = stmt.where(org.Team.name == team)
    people = session.execute(stmt).all()
    ids = [u.id for u, _ in people]
    figures = contact_figures(session, since=since, until=until, agent_ids=ids)
    qa_by_agent = qa.agent_qa(session, since=since, until=until, agent_ids=ids)
    end = min(until, now)
    times = (
        state_times(session, since=since, until=end, user_ids=ids)
        if end > since
        else {i: StateTime(i) for i in ids}
    )
    card = qa.scorecard_of(qa.current_scorecard(session, now=now))
    agents: list[AgentRow] = []
    teams: dict[str, TeamRow] = {}
    for user, team_row in people:
        team_name = team_row.display_name if team_row is not None else ""
        mine = qa_by_agent.get(user.id)
        best, worst = _strengths(card, mine)
        row = AgentRow(
            agent_id=user.id,
            name=user.display_name,
            team=team_name,
            figures=figures[user.id],
            qa=mine,
            strengths=best,
            weaknesses=worst,
            time=times[user.id],
        )
        agents.append(row)
        t = teams.setdefault(team_name, TeamRow(team_name))
        t.agents += 1
        t.figures.add(row.figures)
        t.breaks += row.time.breaks
        t.break_s += row.time.break_s
        t.logged_in_s += row.time.logged_in_s
        if mine is not None:
            t.reviews += mine.reviews
            if mine.mean_score is not None:
                scored = sum(n for n, mean in mine.weekly.values() if mean is not None)
                t.score_total += mine.mean_score * scored
                t.scored += scored
            for week, (n, mean) in mine.weekly.items():
                if mean is not None:  # weighted by the agent's reviews that week
                    t.weekly.setdefault(week, []).extend([mean] * n)
    return AgentReport(
        since=since,
        until=until,
        weeks=_weeks(since, until),
        agents=agents,
        teams=sorted(teams.values(), key=lambda t: t.team),
    )
