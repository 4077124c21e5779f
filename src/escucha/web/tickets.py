"""The team's ticket screens: the inbox, the ticket page and the supervisor's promises (P1-P6, M4).

``/tickets`` lists open tickets by the next promise due with filters (team, kind, channel, at
risk); ``/tickets/{id}`` shows the thread and lets an agent reply by email or SMS, add internal
notes, reassign, change the status or kind, resolve, and change a promised time with a reason
that the customer is told. ``/promises`` shows supervisors the promises at risk and broken by
team, the kept rates, and the customers to follow up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from escucha.audit import service as audit
from escucha.auth import service as auth_service
from escucha.auth.api import DB, AgentCaller, ClockDep, SupervisorCaller
from escucha.auth.models import User
from escucha.contacts import customers
from escucha.errors import InvalidInput, NotFound
from escucha.org import reach
from escucha.org import service as org_service
from escucha.tickets import handling, planning, queries, reporting, service
from escucha.tickets import rules as trules
from escucha.tickets.models import Ticket
from escucha.web.casework_pages import case_context, casework_list
from escucha.web.render import render

router = APIRouter(include_in_schema=False)

KINDS = ("query", "fault", "request", "complaint")
CHANNELS = ("voice", "callback", "email", "web", "sms", "voicemail", "in_person")


def _formatter(db: Session) -> Callable[[datetime | None], str]:
    zone = ZoneInfo(planning.org_context(db).timezone)

    def fmt(at: datetime | None) -> str:
        return at.astimezone(zone).strftime("%d/%m/%Y %H:%M") if at is not None else ""

    return fmt


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


@router.get("/tickets")
def inbox(request: Request, caller: AgentCaller, db: DB, clock: ClockDep) -> Response:
    """Open tickets, the next promise due first; a text query ranks them by how well they match.

    The filters are those of :class:`escucha.tickets.views.Filters`; ``view`` opens a saved or
    built-in view; the saved views are listed with their live counts.
    """
    return casework_list(request, db, caller.need_user(), clock.now())


@router.get("/tickets/find")
def find(request: Request, _caller: AgentCaller, db: DB, number: str = "") -> Response:
    """Go to a ticket by its number (as read out by a customer)."""
    if not number.strip():
        return RedirectResponse("/tickets", status_code=303)
    try:
        ticket = _get(request, db, number)
    except NotFound as exc:
        return _not_found(request, exc.message)
    return RedirectResponse(f"/tickets/{ticket.id}", status_code=303)


def _ticket_page(
    request: Request,
    db: Session,
    ticket: Ticket,
    now: datetime,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    customer = customers.customer_of(db, ticket.customer_id)
    notes = {n.id: n for n in service.delivery_states(db, ticket.id)}
    messages = service.thread(db, ticket.id)
    authors = auth_service.display_names(db, (m.author_id for m in messages))
    agents = auth_service.users(db, active_only=True, by="display_name")
    named = {m.body for m in messages if m.subject in LINKED_CODES and m.body}
    teams = org_service.teams(db)
    nexts = sorted(
        s.value
        for s in trules.allowed_next_statuses(ticket.status, ticket.kind)
        if s not in (trules.TicketStatus.RESOLVED, trules.TicketStatus.APPEALED)
    )
    return render(
        request,
        "tickets/ticket.html",
        {
            "t": ticket,
            "customer": customer,
            "team": next((team for team in teams if team.id == ticket.team_id), None),
            "assignee": (
                auth_service.get_user(db, ticket.assignee_id) if ticket.assignee_id else None
            ),
            "teams": teams,
            "agents": agents,
            "promises": planning.promises_of(db, ticket.id),
            "messages": messages,
            "authors": authors,
            "linked": queries.ids_by_number(db, named),
            "linked_codes": LINKED_CODES,
            "notes": notes,
            "attachments": service.attachments_of(db, ticket.id),
            "contacts": service.linked_contacts(db, ticket.id),
            "events": audit.events_for(db, "ticket", ticket.id),
            **case_context(db, ticket, request.state.user, now),
            "next_statuses": nexts,
            "can_resolve": trules.TicketStatus.RESOLVED
            in trules.allowed_next_statuses(ticket.status, ticket.kind),
            "kinds": KINDS,
            "groups": trules.speech_groups(ticket.number),
            "fmt": _formatter(db),
            "opened_at": now.isoformat(),
            "error": error,
            "now": now,
            "tz": planning.org_context(db).timezone,
        },
        status_code,
    )


def _get(request: Request, db: Session, ticket_id: int | str, *, lock: bool = False) -> Ticket:
    """The ticket, when the signed-in person may see it (an agent: their team's, ADR 17)."""
    ticket = service.get_ticket(db, ticket_id, lock=lock)
    reach.check_ticket(
        db,
        request.state.user,
        team_id=ticket.team_id,
        assignee_id=ticket.assignee_id,
        created_by_id=ticket.created_by_id,
    )
    return ticket


LINKED_CODES = ("mentions_case", "mentioned_by", "follows_closed", "merged_from", "merged_into")
"""Thread events whose text is another case's number, shown as a link to it."""


def _not_found(request: Request, message: str) -> Response:
    """The 404 page, rendered while the request's session is still open."""
    return render(
        request, "error.html", {"status": 404, "code": "not_found", "detail": message}, 404
    )


@router.get("/tickets/{ticket_id}")
def ticket_page(
    request: Request, ticket_id: int, _caller: AgentCaller, db: DB, clock: ClockDep
) -> Response:
    """A ticket: customer, promises, thread with delivery states, and what can be done."""
    try:
        ticket = _get(request, db, ticket_id)
    except NotFound as exc:
        return _not_found(request, exc.message)
    return _ticket_page(request, db, ticket, clock.now())


def _act(
    request: Request,
    db: Session,
    ticket_id: int,
    now: datetime,
    action: Callable[[Ticket], Any],
) -> Response:
    """Run ``action``; on a refusal nothing is kept and the page says why (422)."""
    try:
        ticket = _get(request, db, ticket_id, lock=True)
    except NotFound as exc:
        return _not_found(request, exc.message)
    try:
        action(ticket)
    except (InvalidInput, NotFound) as exc:
        db.rollback()
        return _ticket_page(
            request, db, _get(request, db, ticket_id), now, error=exc.message, status_code=422
        )
    return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)


@dataclass(frozen=True)
class _Post:
    """A form post on one ticket by the signed-in agent, at the clock's time."""

    request: Request
    ticket_id: int
    db: Session
    user: User
    now: datetime

    @property
    def base_url(self) -> str:
        return str(self.request.app.state.settings.public_url)

    def act(self, action: Callable[[Ticket], Any]) -> Response:
        """:func:`_act` on this post's ticket."""
        return _act(self.request, self.db, self.ticket_id, self.now, action)


def _post(request: Request, ticket_id: int, caller: AgentCaller, db: DB, clock: ClockDep) -> _Post:
    now = clock.now()
    return _Post(request, ticket_id, db, caller.need_user(), now)


TicketPost = Annotated[_Post, Depends(_post)]


def _work_s(opened_at: str, now: datetime) -> float | None:
    """Seconds between showing the reply form and sending it: the reply's handling time."""
    try:
        started = datetime.fromisoformat(opened_at)
    except ValueError:
        return None
    if started.tzinfo is None:
        return None
    seconds = (now - started).total_seconds()
    return seconds if 0 <= seconds <= 4 * 3600 else None


@router.post("/tickets/{ticket_id}/reply")
def reply(
    post: TicketPost,
    body: Annotated[str, Form()] = "",
    channel: Annotated[str, Form()] = "email",
    opened_at: Annotated[str, Form()] = "",
) -> Response:
    return post.act(
        lambda t: handling.reply_to_customer(
            post.db,
            t,
            body,
            user=post.user,
            now=post.now,
            base_url=post.base_url,
            channel=channel,
            work_s=_work_s(opened_at, post.now),
        )
    )


@router.post("/tickets/{ticket_id}/note")
def note(post: TicketPost, body: Annotated[str, Form()] = "") -> Response:
    return post.act(lambda t: handling.add_note(post.db, t, body, user=post.user, now=post.now))


@router.post("/tickets/{ticket_id}/assign")
def assign(
    post: TicketPost,
    team_id: Annotated[str, Form()] = "",
    assignee_id: Annotated[str, Form()] = "",
) -> Response:
    return post.act(
        lambda t: handling.reassign(
            post.db,
            t,
            user=post.user,
            now=post.now,
            team_id=_int(team_id),
            assignee_id=_int(assignee_id),
        )
    )


@router.post("/tickets/{ticket_id}/status")
def set_status(post: TicketPost, status: Annotated[str, Form()] = "") -> Response:
    return post.act(
        lambda t: handling.change_status(post.db, t, status, user=post.user, now=post.now)
    )


@router.post("/tickets/{ticket_id}/resolve")
def resolve(
    post: TicketPost,
    resolution: Annotated[str, Form()] = "",
    channel: Annotated[str, Form()] = "email",
) -> Response:
    return post.act(
        lambda t: handling.resolve(
            post.db,
            t,
            resolution,
            user=post.user,
            now=post.now,
            base_url=post.base_url,
            channel=channel if channel in ("email", "sms") else None,
        )
    )


@router.post("/tickets/{ticket_id}/notified")
def notified(post: TicketPost, how: Annotated[str, Form()] = "letter") -> Response:
    return post.act(
        lambda t: handling.mark_notified(
            post.db, t, user=post.user, now=post.now, how=how[:20] or "letter"
        )
    )


@router.post("/tickets/{ticket_id}/kind")
def set_kind(post: TicketPost, kind: Annotated[str, Form()] = "") -> Response:
    return post.act(
        lambda t: handling.change_kind(
            post.db, t, kind, now=post.now, base_url=post.base_url, user=post.user
        )
    )


def _local_due(db: Session, text: str) -> datetime:
    """``2026-11-30T12:00`` from a datetime-local field, read in the organisation's zone."""
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput("due: give a date and time") from None
    zone = ZoneInfo(planning.org_context(db).timezone)
    return naive.replace(tzinfo=zone) if naive.tzinfo is None else naive


@router.post("/tickets/{ticket_id}/promises/{promise_id}/reschedule")
def reschedule(
    post: TicketPost,
    promise_id: int,
    due: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    return post.act(
        lambda t: handling.reschedule_promise(
            post.db,
            t,
            promise_id,
            _local_due(post.db, due),
            reason=reason,
            user=post.user,
            now=post.now,
            base_url=post.base_url,
        )
    )


@router.post("/tickets/{ticket_id}/follow-up/done")
def follow_up_done(
    request: Request, ticket_id: int, caller: SupervisorCaller, db: DB, clock: ClockDep
) -> Response:
    """The customer flagged after a bad experience (M4) has been followed up."""
    try:
        ticket = _get(request, db, ticket_id, lock=True)
    except NotFound as exc:
        return _not_found(request, exc.message)
    handling.clear_follow_up(db, ticket, user=caller.need_user(), now=clock.now())
    return RedirectResponse(request.headers.get("referer") or "/promises", status_code=303)


@router.get("/tickets/{ticket_id}/attachments/{attachment_id}")
def attachment(
    request: Request, ticket_id: int, attachment_id: int, _caller: AgentCaller, db: DB
) -> Response:
    """Download an attachment (always as a file, never shown inline)."""
    _get(request, db, ticket_id)
    att = queries.attachment_of(db, ticket_id, attachment_id)
    if att is None:
        return _not_found(request, "attachment not found")
    return Response(
        att.data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": attachment_disposition(att.filename)},
    )


def attachment_disposition(filename: str) -> str:
    """``Content-Disposition`` for a download (RFC 6266): an ASCII ``filename`` every client
    reads and, for a name with other characters (``文件.pdf``), ``filename*`` in UTF-8."""
    ascii_name = "".join(
        c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in filename
    )
    header = f'attachment; filename="{ascii_name or "file"}"'
    if not filename.isascii():
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header


@router.get("/promises")
def promises_page(request: Request, _caller: SupervisorCaller, db: DB, clock: ClockDep) -> Response:
    """Promises at risk and broken by team; kept rates by team, kind and channel (P4, M4)."""
    now = clock.now()
    since = now - timedelta(days=30)
    teams, rates, follow = reporting.promise_overview(db, now=now, since=since)
    return render(
        request,
        "tickets/promises.html",
        {
            "teams": teams,
            "rates": rates,
            "follow": follow,
            "fmt": _formatter(db),
            "now": now,
            "since": since,
        },
    )
