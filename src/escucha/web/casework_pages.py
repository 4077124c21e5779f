"""What the case list and the case page show of case work: search, saved views with counts,
tags, priority, canned replies, merges and the activity feed (the actions are in
:mod:`escucha.web.casework`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.auth.api import UserView
from escucha.auth.models import User
from escucha.org import reach
from escucha.org import service as org_service
from escucha.tickets import feed, merge, planning, replies, tags, views
from escucha.tickets.models import Ticket
from escucha.web.render import render


def formatter(db: Session) -> Callable[[datetime | None], str]:
    zone = ZoneInfo(planning.org_context(db).timezone)

    def fmt(at: datetime | None) -> str:
        return at.astimezone(zone).strftime("%d/%m/%Y %H:%M") if at is not None else ""

    return fmt


def _filters(request: Request, db: Session, user: User) -> tuple[views.Filters, str]:
    """The list's filters from the query string, or those of the view it names."""
    params = request.query_params
    key = params.get("view", "")
    builtin = dict(views.BUILTIN)
    if key in builtin:
        return builtin[key], key
    if key.isdigit() and len(key) < 10:
        saved = views.visible_view(db, user, int(key))
        if saved is not None:
            return views.Filters.from_mapping(saved.filters), key
    data: dict[str, Any] = dict(params)
    return views.Filters.from_mapping(data, tags=params.getlist("tag")), ""


def casework_list(
    request: Request,
    db: Session,
    user: User,
    now: datetime,
    *,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    """The case list: search box, saved views with counts, filters, bulk actions."""
    filters, current = _filters(request, db, user)
    scope = reach.reach_of(db, user)
    rows = views.run(db, filters, now=now, user_id=user.id, reach=scope)
    agents = auth_service.users(db, active_only=True, by="display_name")
    return render(
        request,
        "tickets/inbox.html",
        {
            "rows": rows,
            "views": views.with_counts(db, user, now=now, reach=scope),
            "current": current,
            "teams": org_service.teams(db),
            "agents": agents,
            "kinds": views.KINDS,
            "channels": views.CHANNELS,
            "statuses": views.STATUSES,
            "priorities": views.PRIORITIES,
            "all_tags": tags.all_tags(db),
            "filters": filters,
            "query": filters.query_string(),
            "can_share": user.role in ("supervisor", "admin"),
            "tz": planning.org_context(db).timezone,
            "fmt": formatter(db),
            "now": now,
            "error": error,
            "notice": notice,
        },
        status_code,
    )


def case_context(db: Session, ticket: Ticket, user: UserView, now: datetime) -> dict[str, Any]:
    """Extra context for the case page."""
    return {
        "tags": tags.tags_of(db, [ticket.id]).get(ticket.id, []),
        "all_tags": tags.all_tags(db),
        "priorities": views.PRIORITIES,
        "canned": replies.for_ticket(db, ticket, agent_name=user.display_name, now=now),
        "merged_into": merge.merged_into(db, ticket.id),
        "absorbed": merge.absorbed_numbers(db, ticket.id),
        "feed": feed.feed(db, ticket),
    }
