"""The supervisor's wallboard (W1, W2, W5, M1): every queue, agent, hold and promise at risk
on the floor now, with levels that say what needs attention.

Definitions used on the wallboard ("today" is since local midnight in the organisation's time
zone; the event log is the source of truth):

* **offered**: callers who left a queue today answered or abandoned, counted each time they
  waited in a queue (a transfer or an overflow starts a new wait in the receiving queue).
  Callbacks are calls we make, not calls offered to us: they are left out, and so are callers
  who left the line by taking a callback (they keep their place and are neither answered nor
  abandoned).
* **short abandon**: a caller who hung up before the queue's ``short_abandon_s``; these are
  left out of every rate (M1: abandonment with a short-abandon threshold).
* **service level** = answered within the queue's ``sl_target_s`` / offered.
* **abandonment rate** = abandoned (not short) / offered.
* **estimate error**: mean absolute error and share within 25 % of the actual wait, over every
  estimate told to a caller who then reached an agent (the same measure as
  :func:`escucha.routing.service.estimate_errors`).
* **callbacks** not yet made (pending, offered or dialing): due within 15 minutes, overdue.

The number of SQL statements of :func:`wallboard` is fixed: it does not grow with the number of
contacts, queues or agents (``tests/contacts/test_wallboard.py`` counts them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.callbacks.models import Callback
from escucha.contacts.models import Contact, ContactEvent, Estimate
from escucha.contacts.today import day_start, ratio
from escucha.org import home
from escucha.org import models as org
from escucha.promises import service as promises
from escucha.routing.models import AgentStatus

Level = Literal["ok", "warn", "bad", "none"]

AGENT_STATES = ("available", "busy", "wrap_up", "break", "offline")
OPEN_CALLBACK_STATES = ("pending", "offered", "dialing")
DUE_SOON = timedelta(minutes=15)
#: Service level this many points under the queue's target turns from amber to red.
SL_AMBER_POINTS = 10.0
#: Abandonment rate thresholds (there is no per-queue target for abandonment).
ABANDON_AMBER = 0.05
ABANDON_RED = 0.10
#: Share of estimates within 25 % of the actual wait: green from 80 %, amber from 60 %.
ESTIMATE_GREEN = 0.80
ESTIMATE_AMBER = 0.60
#: A hold in progress turns amber after a minute and red after two (or amber at once when
#: the customer was not told).
HOLD_AMBER_S = 60.0
HOLD_RED_S = 120.0


def _worst(levels: Sequence[Level]) -> Level:
    order: tuple[Level, ...] = ("bad", "warn", "ok")
    return next((level for level in order if level in levels), "none")


# --- the wallboard ------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueTile:
    """One queue on the wallboard."""

    name: str
    display_name: dict[str, Any]
    sl_target_pct: float
    sl_target_s: int
    short_abandon_s: int
    callback_threshold_s: int
    waiting: int
    longest_wait_s: float | None
    callbacks_in_line: int
    last_estimate_s: float | None
    last_bound_s: float | None
    last_estimate_at: datetime | None
    estimates_measured: int
    estimate_mae_s: float | None
    estimate_within_25: float | None
    answered: int
    answered_in_target: int
    abandoned: int
    short_abandons: int
    callbacks_pending: int
    callbacks_due_soon: int
    callbacks_overdue: int
    holds_today: int
    holds_announced_today: int

    def label(self, lang: str) -> str:
        return str(self.display_name.get(lang) or self.display_name.get("es") or self.name)

    @property
    def offered(self) -> int:
        """Answered plus abandoned after the short-abandon threshold (callbacks excluded)."""
        return self.answered + self.abandoned

    @property
    def service_level(self) -> float | None:
        """Answered within ``sl_target_s`` over offered (short abandons excluded)."""
        return ratio(self.answered_in_target, self.offered)

    @property
    def abandon_rate(self) -> float | None:
        """Abandoned after the short-abandon threshold over offered."""
        return ratio(self.abandoned, self.offered)

    @property
    def wait_level(self) -> Level:
        if self.longest_wait_s is None:
            return "ok"
        if self.longest_wait_s <= self.sl_target_s:
            return "ok"
        return "warn" if self.longest_wait_s <= 2 * self.sl_target_s else "bad"

    @property
    def sl_level(self) -> Level:
        sl = self.service_level
        if sl is None:
            return "none"
        if sl * 100 >= self.sl_target_pct:
            return "ok"
        return "warn" if sl * 100 >= self.sl_target_pct - SL_AMBER_POINTS else "bad"

    @property
    def abandon_level(self) -> Level:
        rate = self.abandon_rate
        if rate is None:
            return "none"
        if rate < ABANDON_AMBER:
            return "ok"
        return "warn" if rate < ABANDON_RED else "bad"

    @property
    def estimate_level(self) -> Level:
        share = self.estimate_within_25
        if share is None:
            return "none"
        if share >= ESTIMATE_GREEN:
            return "ok"
        return "warn" if share >= ESTIMATE_AMBER else "bad"

    @property
    def callbacks_level(self) -> Level:
        if self.callbacks_overdue:
            return "bad"
        return "warn" if self.callbacks_due_soon else "ok"

    @property
    def level(self) -> Level:
        """The worst level of the queue's tiles (the frame of the queue's card)."""
        levels = (
            self.wait_level,
            self.sl_level,
            self.abandon_level,
            self.estimate_level,
            self.callbacks_level,
        )
        return _worst(levels)


@dataclass(frozen=True)
class AgentRow:
    user_id: int
    name: str
    state: str
    since: datetime | None
    contact_id: int | None


@dataclass(frozen=True)
class HoldRow:
    """A customer on hold now."""

    contact_id: int
    queue: str | None
    agent: str
    since: datetime
    held_s: float
    announced: bool

    @property
    def level(self) -> Level:
        if self.held_s >= HOLD_RED_S:
            return "bad"
        if self.held_s >= HOLD_AMBER_S or not self.announced:
            return "warn"
        return "ok"


@dataclass(frozen=True)
class PromiseRow:
    promise_id: int
    kind: str
    team: str
    due_at: datetime
    escalated: bool
    overdue: bool


@dataclass(frozen=True)
class Alert:
    """A problem on the floor, to be said in words on the wallboard (``code`` names the
    sentence; ``queue``, ``agent``, ``count`` and ``seconds`` fill it in)."""

    level: Level
    code: str
    queue: QueueTile | None = None
    agent: str = ""
    count: int = 0
    seconds: float = 0.0
    share: float | None = None


@dataclass(frozen=True)
class Wallboard:
    at: datetime
    timezone: str
    day_start: datetime
    queues: tuple[QueueTile, ...]
    agents: tuple[AgentRow, ...]
    holds: tuple[HoldRow, ...]
    promises_at_risk: tuple[PromiseRow, ...]

    @property
    def agents_by_state(self) -> dict[str, int]:
        counts = dict.fromkeys(AGENT_STATES, 0)
        for a in self.agents:
            counts[a.state] = counts.get(a.state, 0) + 1
        return counts

    @property
    def callbacks_pending(self) -> int:
        return sum(q.callbacks_pending for q in self.queues)

    @property
    def callbacks_due_soon(self) -> int:
        return sum(q.callbacks_due_soon for q in self.queues)

    @property
    def callbacks_overdue(self) -> int:
        return sum(q.callbacks_overdue for q in self.queues)

    @property
    def callbacks_level(self) -> Level:
        if self.callbacks_overdue:
            return "bad"
        return "warn" if self.callbacks_due_soon else "ok"

    @property
    def promises_level(self) -> Level:
        if any(p.overdue for p in self.promises_at_risk):
            return "bad"
        return "warn" if self.promises_at_risk else "ok"

    @property
    def holds_level(self) -> Level:
        return "ok" if not self.holds else _worst(tuple(h.level for h in self.holds))

    @property
    def alerts(self) -> tuple[Alert, ...]:
        """What needs someone's attention now, the worst first."""
        found: list[Alert] = []
        on_duty = sum(1 for a in self.agents if a.state in ("available", "busy", "wrap_up"))
        for q in self.queues:
            if q.waiting and not on_duty:
                found.append(Alert("bad", "nobody_on_duty", q, count=q.waiting))
            if q.wait_level == "bad" and q.longest_wait_s is not None:
                found.append(Alert("bad", "long_wait", q, seconds=q.longest_wait_s))
            if q.sl_level in ("bad", "warn"):
                found.append(Alert(q.sl_level, "service_level", q, share=q.service_level))
            if q.abandon_level in ("bad", "warn"):
                found.append(Alert(q.abandon_level, "abandoned", q, share=q.abandon_rate))
            if q.callbacks_overdue:
                found.append(Alert("bad", "callbacks_overdue", q, count=q.callbacks_overdue))
        for h in self.holds:
            if not h.announced:
                found.append(Alert("bad", "hold_not_announced", agent=h.agent, seconds=h.held_s))
            elif h.level != "ok":
                found.append(Alert(h.level, "hold_long", agent=h.agent, seconds=h.held_s))
        overdue = sum(1 for p in self.promises_at_risk if p.overdue)
        if overdue:
            found.append(Alert("bad", "promises_overdue", count=overdue))
        order = {"bad": 0, "warn": 1}
        return tuple(sorted(found, key=lambda a: order.get(a.level, 2)))


def _sum_when(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def wallboard(session: Session, now: datetime) -> Wallboard:
    """Every number of the wallboard at ``now``, in a fixed number of SQL statements."""
    tz = home.zone_name(session)  # 1
    start = day_start(now, tz)
    queues = list(session.scalars(select(org.Queue).order_by(org.Queue.name)))  # 2

    is_callback = case((Contact.channel == "callback", 1), else_=0).label("is_callback")
    waiting: dict[str, dict[int, tuple[int, datetime | None]]] = defaultdict(dict)
    for queue, cb, count, oldest in session.execute(  # 3
        select(Contact.queue, is_callback, func.count(), func.min(Contact.queued_at))
        .where(Contact.state == "queued")
        .group_by(Contact.queue, is_callback)
    ):
        waiting[queue or ""][int(cb)] = (int(count), oldest)

    wait = ContactEvent.data["wait_s"].as_float()
    announced = ContactEvent.data["announced"].as_boolean()
    live = Contact.channel != "callback"
    answered_ev = and_(ContactEvent.event == "answered", live)
    abandoned_ev = and_(ContactEvent.event == "abandoned", live)
    today: dict[str, Sequence[int]] = {}
    for row in session.execute(  # 4
        select(
            ContactEvent.queue,
            _sum_when(answered_ev),
            _sum_when(and_(answered_ev, wait <= org.Queue.sl_target_s)),
            _sum_when(and_(abandoned_ev, wait >= org.Queue.short_abandon_s)),
            _sum_when(and_(abandoned_ev, wait < org.Queue.short_abandon_s)),
            _sum_when(ContactEvent.event == "hold_started"),
            _sum_when(and_(ContactEvent.event == "hold_started", announced)),
        )
        .join(Contact, Contact.id == ContactEvent.contact_id)
        .join(org.Queue, org.Queue.name == ContactEvent.queue)
        .where(
            ContactEvent.at >= start,
            ContactEvent.at <= now,
            ContactEvent.event.in_(("answered", "abandoned", "hold_started")),
        )
        .group_by(ContactEvent.queue)
    ):
        today[row[0]] = [int(x) for x in row[1:]]

    last_told = {
        queue: (estimate_s, bound_s, given_at)
        for queue, estimate_s, bound_s, given_at in session.execute(  # 5
            select(Estimate.queue, Estimate.estimate_s, Estimate.bound_s, Estimate.given_at).where(
                Estimate.id.in_(select(func.max(Estimate.id)).group_by(Estimate.queue))
            )
        )
    }

    diff = func.abs(Estimate.estimate_s - Estimate.actual_wait_s)
    errors = {
        queue: (int(n), mae, int(within or 0))
        for queue, n, mae, within in session.execute(  # 6
            select(
                Estimate.queue,
                func.count(),
                func.avg(diff),
                _sum_when(diff <= 0.25 * Estimate.actual_wait_s),
            )
            .where(Estimate.outcome == "answered", Estimate.actual_wait_s.is_not(None))
            .group_by(Estimate.queue)
        )
    }

    callbacks = {
        queue: (int(n), int(soon), int(late))
        for queue, n, soon, late in session.execute(  # 7
            select(
                Callback.queue,
                func.count(),
                _sum_when(and_(Callback.due_at >= now, Callback.due_at < now + DUE_SOON)),
                _sum_when(Callback.due_at < now),
            )
            .where(Callback.state.in_(OPEN_CALLBACK_STATES))
            .group_by(Callback.queue)
        )
    }

    tiles = []
    for q in queues:
        live_wait = waiting.get(q.name, {}).get(0, (0, None))
        cb_wait = waiting.get(q.name, {}).get(1, (0, None))
        ans, in_target, abandoned, short, n_holds, holds_told = today.get(q.name, [0] * 6)
        told = last_told.get(q.name)
        n_err, mae, within = errors.get(q.name, (0, None, 0))
        cb_n, cb_soon, cb_late = callbacks.get(q.name, (0, 0, 0))
        oldest = live_wait[1]
        tiles.append(
            QueueTile(
                name=q.name,
                display_name=dict(q.display_name),
                sl_target_pct=float(q.sl_target_pct),
                sl_target_s=q.sl_target_s,
                short_abandon_s=q.short_abandon_s,
                callback_threshold_s=q.callback_threshold_s,
                waiting=live_wait[0],
                longest_wait_s=max(0.0, (now - oldest).total_seconds()) if oldest else None,
                callbacks_in_line=cb_wait[0],
                last_estimate_s=float(told[0]) if told else None,
                last_bound_s=float(told[1]) if told else None,
                last_estimate_at=told[2] if told else None,
                estimates_measured=n_err,
                estimate_mae_s=float(mae) if mae is not None else None,
                estimate_within_25=within / n_err if n_err else None,
                answered=ans,
                answered_in_target=in_target,
                abandoned=abandoned,
                short_abandons=short,
                callbacks_pending=cb_n,
                callbacks_due_soon=cb_soon,
                callbacks_overdue=cb_late,
                holds_today=n_holds,
                holds_announced_today=holds_told,
            )
        )

    latest_hold = (
        select(func.max(ContactEvent.id))
        .join(Contact, Contact.id == ContactEvent.contact_id)
        .where(Contact.state == "on_hold", ContactEvent.event == "hold_started")
        .group_by(ContactEvent.contact_id)
    )
    holds = tuple(
        HoldRow(
            contact_id=ev.contact_id,
            queue=queue,
            agent=agent or "",
            since=ev.at,
            held_s=max(0.0, (now - ev.at).total_seconds()),
            announced=bool(ev.data.get("announced")),
        )
        for ev, queue, agent in session.execute(  # 8
            select(ContactEvent, Contact.queue, User.display_name)
            .join(Contact, Contact.id == ContactEvent.contact_id)
            .outerjoin(User, User.id == Contact.agent_id)
            .where(ContactEvent.id.in_(latest_hold))
            .order_by(ContactEvent.at)
        )
    )

    agents = tuple(
        AgentRow(
            user_id=uid,
            name=name,
            state=state or "offline",
            since=since,
            contact_id=contact_id,
        )
        for uid, name, state, since, contact_id in session.execute(  # 9
            select(
                User.id,
                User.display_name,
                AgentStatus.state,
                AgentStatus.since,
                AgentStatus.contact_id,
            )
            .outerjoin(AgentStatus, AgentStatus.user_id == User.id)
            .where(User.active.is_(True))
            .where(or_(User.role == "agent", AgentStatus.user_id.is_not(None)))
            .order_by(User.display_name)
        )
    )

    risky = promises.at_risk(session, now=now)  # 10
    teams = {str(t.id): t.display_name for t in session.scalars(select(org.Team))}  # 11
    at_risk = tuple(
        PromiseRow(
            promise_id=p.id,
            kind=p.kind,
            team=teams.get(p.team or "", p.team or ""),
            due_at=p.due_at,
            escalated=p.escalated_at is not None
            or (p.escalate_at is not None and p.escalate_at <= now),
            overdue=p.due_at < now,
        )
        for p in risky
    )
    return Wallboard(
        at=now,
        timezone=tz,
        day_start=start,
        queues=tuple(tiles),
        agents=agents,
        holds=holds,
        promises_at_risk=at_risk,
    )
