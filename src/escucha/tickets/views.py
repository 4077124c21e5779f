"""The case list's filters and saved views (personal or shared), with live counts.

:class:`Filters` is what the list can be narrowed by: a text query (full-text search, results
ranked), status, team, assignee, tags, priority, kind, channel, promises at risk or overdue.
:func:`run` lists the cases an agent may see (ADR 17) that pass the filters and :func:`count`
counts them, so each saved view shows how many cases it holds now.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.orm import Session

from escucha.audit import service as audit
from escucha.auth.models import User
from escucha.contacts.models import Customer
from escucha.errors import Forbidden, InvalidInput, NotFound
from escucha.org import models as org
from escucha.org.reach import Reach
from escucha.promises.models import Promise
from escucha.tickets import service
from escucha.tickets import tags as ttags
from escucha.tickets.models import SavedView, Ticket, TicketMerge, TicketTag
from escucha.tickets.rules import TicketStatus
from escucha.tickets.search import Hit, search

PRIORITIES = ttags.PRIORITIES
KINDS = ("query", "fault", "request", "complaint")
CHANNELS = ("voice", "callback", "email", "web", "sms", "voicemail", "in_person")
STATUSES = ("open", "all", *[s.value for s in TicketStatus])
MAX_VIEWS = 50
MAX_NAME = 80


def _int(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


@dataclass(frozen=True)
class Filters:
    """One way to narrow the case list; the empty filter is "every open case"."""

    q: str = ""
    status: str = "open"
    team: int | None = None
    assignee: str = ""  # "", "me", "none" or a user id
    tags: tuple[str, ...] = ()
    priority: str = ""
    kind: str = ""
    channel: str = ""
    at_risk: bool = False
    overdue: bool = False

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], tags: list[str] | None = None) -> Filters:
        """From a query string or a saved view; values that mean nothing are dropped."""
        assignee = str(data.get("assignee") or "")
        if data.get("mine"):
            assignee = "me"
        if assignee not in ("", "me", "none") and _int(assignee) is None:
            assignee = ""
        raw_tags = tags if tags is not None else data.get("tags") or []
        if isinstance(raw_tags, str):
            raw_tags = raw_tags.split(",")
        if data.get("tag"):
            raw_tags = [*raw_tags, str(data["tag"])]
        clean: list[str] = []
        for t in raw_tags:
            try:
                tag = ttags.normalise(str(t))
            except InvalidInput:
                continue
            if tag not in clean:
                clean.append(tag)
        status = str(data.get("status") or "open")
        return cls(
            q=service.one_line(str(data.get("q") or ""), 200),
            status=status if status in STATUSES else "open",
            team=_int(data.get("team")),
            assignee=assignee,
            tags=tuple(clean[:10]),
            priority=p if (p := str(data.get("priority") or "")) in PRIORITIES else "",
            kind=k if (k := str(data.get("kind") or "")) in KINDS else "",
            channel=c if (c := str(data.get("channel") or "")) in CHANNELS else "",
            at_risk=bool(data.get("at_risk")),
            overdue=bool(data.get("overdue")),
        )

    def to_dict(self) -> dict[str, Any]:
        """What a saved view keeps: only the filters that are set."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if value in ("", None, False, ()) or (key == "status" and value == "open"):
                continue
            out[key] = list(value) if key == "tags" else value
        return out

    def query_string(self) -> str:
        pairs: list[tuple[str, str]] = []
        for key, value in self.to_dict().items():
            if key == "tags":
                pairs += [("tag", t) for t in value]
            else:
                pairs.append((key, "1" if value is True else str(value)))
        return urlencode(pairs)


def _overdue(now: datetime) -> Any:
    return exists().where(
        Promise.ticket_id == Ticket.id,
        or_(
            Promise.state == "broken",
            (Promise.state == "pending") & (Promise.due_at < now),
        ),
    )


def _clauses(
    f: Filters, *, now: datetime, user_id: int, reach: Reach | None, ids: list[int] | None
) -> list[Any]:
    where: list[Any] = [~exists().where(TicketMerge.absorbed_id == Ticket.id)]
    if ids is not None:
        where.append(Ticket.id.in_(ids))
    if f.status == "open":
        where.append(Ticket.status.in_(service.OPEN_STATUSES))
    elif f.status != "all":
        where.append(Ticket.status == f.status)
    if f.team is not None:
        where.append(Ticket.team_id == f.team)
    if f.assignee == "me":
        where.append(Ticket.assignee_id == user_id)
    elif f.assignee == "none":
        where.append(Ticket.assignee_id.is_(None))
    elif f.assignee:
        where.append(Ticket.assignee_id == int(f.assignee))
    for tag in f.tags:
        where.append(exists().where(TicketTag.ticket_id == Ticket.id, TicketTag.tag == tag))
    if f.priority:
        where.append(Ticket.priority == f.priority)
    if f.kind:
        where.append(Ticket.kind == f.kind)
    if f.channel:
        where.append(Ticket.channel == f.channel)
    if f.at_risk:
        where.append(service._risk_clause(now))
    if f.overdue:
        where.append(_overdue(now))
    if reach is not None and not reach.everything:
        mine = or_(Ticket.assignee_id == reach.user_id, Ticket.created_by_id == reach.user_id)
        if reach.team_id is not None:
            mine = or_(mine, Ticket.team_id == reach.team_id)
        where.append(mine)
    return where


@dataclass(frozen=True)
class CaseRow:
    ticket: Ticket
    customer: str
    team: str
    assignee: str
    next_due: datetime | None
    next_kind: str | None
    at_risk: bool
    broken: int
    tags: list[str] = field(default_factory=list)
    via: str = ""  # what the text query matched: case, message, customer, number


def _hits(session: Session, f: Filters) -> dict[int, Hit] | None:
    if not f.q:
        return None
    return {h.ticket_id: h for h in search(session, f.q)}


def run(
    session: Session,
    f: Filters,
    *,
    now: datetime,
    user_id: int,
    reach: Reach | None,
    limit: int = 200,
) -> list[CaseRow]:
    """The cases that pass ``f``: best match first for a text query, else next promise first."""
    hits = _hits(session, f)
    ids = list(hits) if hits is not None else None
    next_due = service._next_due_column().label("next_due")
    risky = service._risk_clause(now).label("risky")
    stmt = select(Ticket, next_due, risky).where(
        *_clauses(f, now=now, user_id=user_id, reach=reach, ids=ids)
    )
    if hits is None:
        stmt = stmt.order_by(case((next_due.is_(None), 1), else_=0), next_due, Ticket.id)
        rows = session.execute(stmt.limit(limit)).all()
    else:
        found = sorted(session.execute(stmt).all(), key=lambda r: (-hits[r[0].id].score, -r[0].id))
        rows = found[:limit]
    tickets = [r[0] for r in rows]
    broken: dict[int, int] = defaultdict(int)
    if tickets:
        for tid in session.scalars(
            select(Promise.ticket_id).where(
                Promise.ticket_id.in_([t.id for t in tickets]), Promise.state == "broken"
            )
        ):
            if tid is not None:
                broken[tid] += 1
    kinds = _next_kinds(session, [t.id for t in tickets])
    customers = service._names(session, Customer, {t.customer_id for t in tickets}, "name")
    teams = service._names(session, org.Team, {t.team_id for t in tickets}, "display_name")
    users = service._names(session, User, {t.assignee_id for t in tickets}, "display_name")
    tags = ttags.tags_of(session, [t.id for t in tickets])
    return [
        CaseRow(
            ticket=t,
            customer=customers.get(t.customer_id or 0, ""),
            team=teams.get(t.team_id or 0, ""),
            assignee=users.get(t.assignee_id or 0, ""),
            next_due=due,
            next_kind=kinds.get(t.id),
            at_risk=bool(risk),
            broken=broken.get(t.id, 0),
            tags=tags.get(t.id, []),
            via=hits[t.id].via if hits is not None else "",
        )
        for t, due, risk in rows
    ]


def _next_kinds(session: Session, ids: list[int]) -> dict[int, str]:
    soonest: dict[int, tuple[datetime, str]] = {}
    if ids:
        for tid, due, kind in session.execute(
            select(Promise.ticket_id, Promise.due_at, Promise.kind).where(
                Promise.ticket_id.in_(ids), Promise.state == "pending"
            )
        ):
            if tid is not None and (tid not in soonest or due < soonest[tid][0]):
                soonest[int(tid)] = (due, str(kind))
    return {tid: kind for tid, (_due, kind) in soonest.items()}


def count(session: Session, f: Filters, *, now: datetime, user_id: int, reach: Reach | None) -> int:
    hits = _hits(session, f)
    ids = list(hits) if hits is not None else None
    stmt = select(func.count(Ticket.id)).where(
        *_clauses(f, now=now, user_id=user_id, reach=reach, ids=ids)
    )
    return int(session.scalar(stmt) or 0)


# --- saved views ----------------------------------------------------------------------------------

BUILTIN: tuple[tuple[str, Filters], ...] = (
    ("mine", Filters(assignee="me")),
    ("unassigned", Filters(assignee="none")),
    ("at_risk", Filters(at_risk=True)),
    ("overdue", Filters(overdue=True)),
    ("all_open", Filters()),
)
"""Views every agent has, named by key (the screens translate the names)."""


@dataclass(frozen=True)
class ViewCount:
    key: str  # "mine" for a built-in view, the id for a saved one
    name: str
    filters: Filters
    count: int
    shared: bool
    saved: SavedView | None


def visible_views(session: Session, user: User) -> list[SavedView]:
    """The user's own views and every shared one."""
    stmt = (
        select(SavedView)
        .where(or_(SavedView.owner_id == user.id, SavedView.shared.is_(True)))
        .order_by(SavedView.shared, SavedView.name, SavedView.id)
    )
    return list(session.scalars(stmt))


def visible_view(session: Session, user: User, view_id: int) -> SavedView | None:
    """The saved view, when it is the user's own or shared (``None`` otherwise)."""
    view = session.get(SavedView, view_id)
    return view if view is not None and (view.shared or view.owner_id == user.id) else None


def with_counts(
    session: Session, user: User, *, now: datetime, reach: Reach | None
) -> list[ViewCount]:
    out = [
        ViewCount(key, key, f, count(session, f, now=now, user_id=user.id, reach=reach), True, None)
        for key, f in BUILTIN
    ]
    for v in visible_views(session, user):
        f = Filters.from_mapping(v.filters)
        n = count(session, f, now=now, user_id=user.id, reach=reach)
        out.append(ViewCount(str(v.id), v.name, f, n, v.shared, v))
    return out


def save_view(
    session: Session, user: User, name: str, f: Filters, *, shared: bool, now: datetime
) -> SavedView:
    """Keep ``f`` under ``name``; only supervisors and admins share views with everyone."""
    title = service.one_line(name, MAX_NAME)
    if not title:
        raise InvalidInput("name: give the view a name")
    if shared and user.role not in ("supervisor", "admin"):
        raise Forbidden("only a supervisor can share a view with everyone")
    mine = session.scalar(select(func.count(SavedView.id)).where(SavedView.owner_id == user.id))
    if int(mine or 0) >= MAX_VIEWS:
        raise InvalidInput(f"name: at most {MAX_VIEWS} views each; delete one first")
    view = SavedView(
        name=title, owner_id=user.id, shared=shared, filters=f.to_dict(), created_at=now
    )
    session.add(view)
    session.flush()
    _audit(session, user, view, "view.saved", now=now)
    return view


def delete_view(session: Session, user: User, view_id: int, *, now: datetime) -> None:
    view = session.get(SavedView, view_id)
    if view is None:
        raise NotFound(f"view {view_id} not found")
    if view.owner_id != user.id and not (view.shared and user.role in ("supervisor", "admin")):
        raise Forbidden("this view is someone else's")
    _audit(session, user, view, "view.deleted", now=now)
    session.delete(view)
    session.flush()


def _audit(session: Session, user: User, view: SavedView, action: str, *, now: datetime) -> None:
    audit.record(
        session,
        action=action,
        actor=service.actor_of(user),
        subject_kind="saved_view",
        subject_id=view.id,
        subject_ref=view.name[:40],
        now=now,
        data={"shared": view.shared, "filters": view.filters},
    )
