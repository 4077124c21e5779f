"""Case work on the screens: tags, priority and merges on a case; bulk assignment and bulk
rescheduling from the list; saved views; the supervisors' canned replies (``/canned-replies``).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from escucha.auth.api import DB, AgentCaller, ClockDep, SupervisorCaller
from escucha.errors import Forbidden, InvalidInput, NotFound
from escucha.org import reach
from escucha.tickets import bulk, merge, replies, tags, views
from escucha.tickets.models import Ticket, TicketMerge
from escucha.web.casework_pages import casework_list, formatter
from escucha.web.render import render
from escucha.web.tickets import TicketPost, _get, _int, _local_due

router = APIRouter(include_in_schema=False)


@router.post("/tickets/{ticket_id}/tags")
def add_tag(post: TicketPost, tag: Annotated[str, Form()] = "") -> Response:
    return post.act(lambda t: tags.add(post.db, t, tag, user=post.user, now=post.now))


@router.post("/tickets/{ticket_id}/tags/remove")
def remove_tag(post: TicketPost, tag: Annotated[str, Form()] = "") -> Response:
    return post.act(lambda t: tags.remove(post.db, t, tag, user=post.user, now=post.now))


@router.post("/tickets/{ticket_id}/priority")
def set_priority(post: TicketPost, priority: Annotated[str, Form()] = "") -> Response:
    return post.act(lambda t: tags.set_priority(post.db, t, priority, user=post.user, now=post.now))


@router.post("/tickets/{ticket_id}/merge")
def merge_into_this(post: TicketPost, other: Annotated[str, Form()] = "") -> Response:
    """This case absorbs the case numbered ``other`` (its duplicate)."""

    def absorb(survivor: Ticket) -> TicketMerge:
        if not other.strip():
            raise InvalidInput("other: give the number of the duplicate case")
        duplicate = _get(post.request, post.db, other.strip(), lock=True)
        return merge.merge(post.db, survivor, duplicate, user=post.user, now=post.now)

    return post.act(absorb)


def _back(query: str, **extra: str) -> str:
    pairs = [(k, v) for k, v in parse_qsl(query) if k not in ("done", "skipped")]
    pairs += [(k, v) for k, v in extra.items() if v]
    return "/tickets" + (f"?{urlencode(pairs)}" if pairs else "")


@router.post("/tickets/bulk")
def bulk_action(
    request: Request,
    caller: AgentCaller,
    db: DB,
    clock: ClockDep,
    action: Annotated[str, Form()] = "",
    ids: Annotated[list[str] | None, Form()] = None,
    team_id: Annotated[str, Form()] = "",
    assignee_id: Annotated[str, Form()] = "",
    due: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Assign or reschedule the chosen cases; all or nothing."""
    user = caller.need_user()
    now = clock.now()
    chosen = [i for i in (_int(x) for x in ids or []) if i is not None]
    try:
        tickets = bulk.load(db, chosen, reach.reach_of(db, user))
        if action == "assign":
            n = bulk.assign(
                db,
                tickets,
                user=user,
                now=now,
                team_id=_int(team_id),
                assignee_id=_int(assignee_id),
            )
            return RedirectResponse(_back(back, done=str(n)), status_code=303)
        if action == "reschedule":
            when = _local_due(db, due)
            base_url = str(request.app.state.settings.public_url)
            done = bulk.reschedule(
                db, tickets, when, reason=reason, user=user, now=now, base_url=base_url
            )
            target = _back(back, done=str(len(done.moved)), skipped=",".join(done.skipped))
            return RedirectResponse(target, status_code=303)
        raise InvalidInput("action: assign or reschedule")
    except (InvalidInput, Forbidden) as exc:
        db.rollback()
        return casework_list(request, db, user, now, error=exc.message, status_code=422)


@router.post("/tickets/views")
def save_view(
    request: Request,
    caller: AgentCaller,
    db: DB,
    clock: ClockDep,
    name: Annotated[str, Form()] = "",
    shared: Annotated[str, Form()] = "",
    query: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    user = caller.need_user()
    pairs = parse_qsl(query)
    data = dict(pairs)
    f = views.Filters.from_mapping(data, tags=[v for k, v in pairs if k == "tag"])
    try:
        view = views.save_view(db, user, name, f, shared=bool(shared), now=clock.now())
    except (InvalidInput, Forbidden) as exc:
        db.rollback()
        return casework_list(request, db, user, clock.now(), error=exc.message, status_code=422)
    return RedirectResponse(f"/tickets?view={view.id}", status_code=303)


@router.post("/tickets/views/{view_id}/delete")
def delete_view(
    request: Request, view_id: int, caller: AgentCaller, db: DB, clock: ClockDep
) -> Response:
    user = caller.need_user()
    try:
        views.delete_view(db, user, view_id, now=clock.now())
    except (NotFound, Forbidden) as exc:
        db.rollback()
        return casework_list(request, db, user, clock.now(), error=exc.message, status_code=422)
    return RedirectResponse("/tickets", status_code=303)


# --- canned replies -------------------------------------------------------------------------------


def _canned_page(
    request: Request,
    db: DB,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "tickets/canned.html",
        {
            "replies": replies.all_replies(db),
            "languages": replies.LANGUAGES,
            "placeholders": replies.PLACEHOLDERS,
            "error": error,
            "values": values or {},
            "fmt": formatter(db),
        },
        status_code,
    )


@router.get("/canned-replies")
def canned_page(request: Request, _caller: SupervisorCaller, db: DB) -> Response:
    """Prepared answers in each language, with their placeholders."""
    return _canned_page(request, db)


@router.post("/canned-replies")
def canned_save(
    request: Request,
    caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    reply_id: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "es",
    body: Annotated[str, Form()] = "",
) -> Response:
    try:
        replies.save(
            db,
            title=title,
            language=language,
            body=body,
            user=caller.need_user(),
            now=clock.now(),
            reply_id=_int(reply_id),
        )
    except (InvalidInput, NotFound) as exc:
        db.rollback()
        values = {"reply_id": reply_id, "title": title, "language": language, "body": body}
        return _canned_page(request, db, error=exc.message, values=values, status_code=422)
    return RedirectResponse("/canned-replies", status_code=303)


@router.post("/canned-replies/{reply_id}/delete")
def canned_delete(
    request: Request, reply_id: int, caller: SupervisorCaller, db: DB, clock: ClockDep
) -> Response:
    try:
        replies.delete(db, reply_id, user=caller.need_user(), now=clock.now())
    except NotFound as exc:
        db.rollback()
        return _canned_page(request, db, error=exc.message, status_code=404)
    return RedirectResponse("/canned-replies", status_code=303)
