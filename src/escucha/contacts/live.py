"""The live side of contacts: the supervisor's wallboard, the customer's situation shown to the
agent, and the agent's day (W1, W2, W5, C2, C6, M1); the end of a contact at the desk is the
flow :mod:`escucha.flows.wrapup`.

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
contacts, queues or agents (``tests/contacts/test_live.py`` counts them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, func, or_, select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.callbacks.models import Callback
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact, ContactEvent, Customer, Estimate
from escucha.org import home
from escucha.org import models as org
from escucha.promises import service as promises
from escucha.promises.models import Promise
from escucha.routing.models import AgentStatus
from escucha.tickets.models import Ticket

Level = Literal["ok", "warn", "bad", "none"]

AGENT_STATES = ("available", "busy", "wrap_up", "break", "offline")
OPEN_CALLBACK_STATES = ("pending", "offered", "dialing")
DUE_SOON = timedelta(minutes=15)
REPEAT_WINDOW = timedelta(days=7)
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


def org_timezone(session: Session) -> str:
    """The organisation's time zone (its one reader is :mod:`escucha.org.home`)."""
    return home.zone_name(session)


def day_start(now: datetime, tz: str) -> datetime:
    """Local midnight of ``now`` in ``tz``, as an aware UTC time."""
    local = now.astimezone(ZoneInfo(tz))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(UTC)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


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
        return _ratio(self.answered_in_target, self.offered)

    @property
    def abandon_rate(self) -> float | None:
        """Abandoned after the short-abandon threshold over offered."""
        return _ratio(self.abandoned, self.offered)

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
    tz = org_timezone(session)  # 1
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


# --- the agent's day ----------------------------------------------------------------------------


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
        return _ratio(self.first_contact_resolved, self.handled)


def agent_day(session: Session, user_id: int, *, now: datetime, tz: str | None = None) -> AgentDay:
    """The agent's contacts wrapped up today: first-contact resolution, repeat contacts (the
    customer had another contact in the 7 days before; the call a callback came from does not
    count) and mean talk-plus-hold time."""
    start = day_start(now, tz or org_timezone(session))
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


# --- the customer's situation, before answering -------------------------------------------------


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


@dataclass(frozen=True)
class IvrStep:
    node: str
    key: str
    label: str


@dataclass(frozen=True)
class TicketView:
    ticket_id: int
    number: str
    kind: str
    status: str
    subject: str
    created_at: datetime


@dataclass(frozen=True)
class TransferView:
    at: datetime
    from_queue: str | None
    to_queue: str
    note: str
    agent: str


@dataclass(frozen=True)
class HandleTime:
    """Talk plus hold so far (information only: nothing is ever cut or timed)."""

    talk_hold_s: float
    hold_s: float
    holds: int
    holds_announced: int
    on_hold_since: datetime | None


@dataclass(frozen=True)
class Situation:
    """Everything the agent should know before answering, so the customer repeats nothing."""

    contact: Contact
    customer: Customer | None
    phone_masked: str
    email_masked: str
    ivr: tuple[IvrStep, ...]
    recent: tuple[Contact, ...]
    promises: tuple[Promise, ...]
    tickets: tuple[TicketView, ...]
    callback: Callback | None
    transfers: tuple[TransferView, ...]
    last_estimate: Estimate | None
    waited_s: float | None
    handle: HandleTime


def _ivr_label(ivr: dict[str, Any], node: str, key: str, lang: str) -> str:
    """The option's label in the organisation's IVR, or ``""`` when it cannot be found."""
    nodes = ivr.get("nodes") if isinstance(ivr, dict) else None
    spec = nodes.get(node) if isinstance(nodes, dict) else None
    options = spec.get("options") if isinstance(spec, dict) else None
    if not isinstance(options, list):
        return ""
    for opt in options:
        if isinstance(opt, dict) and str(opt.get("key")) == str(key):
            label = opt.get("label")
            if isinstance(label, dict):
                return str(label.get(lang) or label.get("es") or next(iter(label.values()), ""))
            return str(label or "")
    return ""


def open_tickets(session: Session, customer_id: int) -> tuple[TicketView, ...]:
    """The customer's tickets not yet closed."""
    rows = session.scalars(
        select(Ticket)
        .where(Ticket.customer_id == customer_id, Ticket.status != "closed")
        .order_by(Ticket.created_at.desc())
        .limit(20)
    )
    return tuple(
        TicketView(
            ticket_id=t.id,
            number=t.number,
            kind=t.kind,
            status=t.status,
            subject=t.subject,
            created_at=t.created_at,
        )
        for t in rows
    )


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


def situation(session: Session, contact: Contact, *, now: datetime, lang: str) -> Situation:
    """The customer's whole situation for the agent (C2): who, in which language, what they
    chose in the IVR, the last contacts, open promises and tickets, the callback's original
    place, transfers with their notes, what wait they were told, and the holds so far."""
    customer = session.get(Customer, contact.customer_id) if contact.customer_id else None
    ivr_spec = session.scalar(select(org.Organisation.ivr).limit(1)) or {}
    steps = tuple(
        IvrStep(
            node=str(step.get("node", "")),
            key=str(step.get("key", "")),
            label=_ivr_label(ivr_spec, str(step.get("node", "")), str(step.get("key", "")), lang),
        )
        for step in contact.ivr_path
        if isinstance(step, dict)
    )
    recent: tuple[Contact, ...] = ()
    pending: tuple[Promise, ...] = ()
    tickets: tuple[TicketView, ...] = ()
    if customer is not None:
        recent = tuple(
            c for c in contacts.recent_contacts(session, customer.id, limit=7) if c.id != contact.id
        )[:6]
        pending = tuple(
            session.scalars(
                select(Promise)
                .where(Promise.customer_id == customer.id, Promise.state == "pending")
                .order_by(Promise.due_at)
            )
        )
        tickets = open_tickets(session, customer.id)
    callback = session.scalar(select(Callback).where(Callback.contact_id == contact.id))
    events = contacts.events_of(session, contact.id)
    movers = {e.agent_id for e in events if e.event == "transferred" and e.agent_id}
    names: dict[int, str] = {
        row.id: row.display_name
        for row in session.execute(select(User.id, User.display_name).where(User.id.in_(movers)))
    }
    transfers: list[TransferView] = []
    queue_before: str | None = None
    for e in events:
        if e.event == "transferred" and not e.data.get("overflow_from"):
            transfers.append(
                TransferView(
                    at=e.at,
                    from_queue=queue_before,
                    to_queue=str(e.data.get("to", "")),
                    note=str(e.data.get("note", "")),
                    agent=names.get(e.agent_id or 0, ""),
                )
            )
        if e.event == "queued":
            queue_before = e.queue
    told_ids = [contact.id, *([contact.parent_id] if contact.parent_id else [])]
    last_estimate = session.scalar(
        select(Estimate)
        .where(Estimate.contact_id.in_(told_ids))
        .order_by(Estimate.id.desc())
        .limit(1)
    )
    joined = contact.joined_at or contact.queued_at
    waited_end = contact.answered_at if contact.state != "offered" else now
    waited = (
        max(0.0, ((waited_end or now) - joined).total_seconds()) if joined is not None else None
    )
    return Situation(
        contact=contact,
        customer=customer,
        phone_masked=mask_phone(customer.phone if customer else None),
        email_masked=mask_email(customer.email if customer else None),
        ivr=steps,
        recent=recent,
        promises=pending,
        tickets=tickets,
        callback=callback,
        transfers=tuple(transfers),
        last_estimate=last_estimate,
        waited_s=waited,
        handle=handle_time(events, contact, now),
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
