"""The supervisor's home and the wallboard (W1, W2, W5, M1, P1), live over Server-Sent Events.

The numbers come from :func:`escucha.contacts.wallboard.wallboard` (their definitions are there and
under "Definitions" on the page). The stream ``GET /supervisor/wallboard/events`` opens a short
database session when the floor changes (at most once a second, ADR 25) or every ``TICK_S``
for the times that grow by themselves, and pushes the tiles (event ``tiles``) only when they
changed; the time of the last change is shown in the organisation's time zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from escucha.auth.api import DB, ClockDep, SupervisorCaller
from escucha.auth.models import User
from escucha.contacts import wallboard
from escucha.org import service as org_service
from escucha.web.agent import event_stream, still_signed_in, time_helpers
from escucha.web.render import render

router = APIRouter(include_in_schema=False)

#: The tiles show times that grow by themselves (the longest wait, holds): looked at this often
#: with no change on the floor, and at most once a second however often it changes.
TICK_S = 5.0
#: Stands for the time of the last change while the stream compares two renderings.
AS_OF = "[[as-of]]"


def _tiles_context(db: Session, now: datetime, as_of: str | None = None) -> dict[str, Any]:
    board = wallboard.wallboard(db, now)
    helpers = time_helpers(board.timezone, now)

    def minutes(since: datetime) -> str:
        """Time in a state to the minute, so the pushed tiles change once a minute, not every
        second."""
        return f"{int(max(0.0, (now - since).total_seconds()) // 60)} min"

    return {
        "minutes": minutes,
        "wb": board,
        "as_of": as_of if as_of is not None else helpers["hhmmss"](now),
        "levels": {
            "sl_amber_points": wallboard.SL_AMBER_POINTS,
            "abandon_amber": wallboard.ABANDON_AMBER,
            "abandon_red": wallboard.ABANDON_RED,
            "estimate_green": wallboard.ESTIMATE_GREEN,
            "estimate_amber": wallboard.ESTIMATE_AMBER,
            "hold_amber_s": wallboard.HOLD_AMBER_S,
            "hold_red_s": wallboard.HOLD_RED_S,
        },
        **helpers,
    }


@router.get("/supervisor")
def supervisor_home(
    request: Request, _caller: SupervisorCaller, db: DB, clock: ClockDep
) -> Response:
    """Queues and their targets, and the tiles (the wallboard is the same, larger)."""
    queues = org_service.queues(db)
    ctx = _tiles_context(db, clock.now())
    ctx.update({"queues": queues, "compact": True})
    return render(request, "supervisor/home.html", ctx)


@router.get("/supervisor/wallboard")
def wallboard_page(
    request: Request, _caller: SupervisorCaller, db: DB, clock: ClockDep, tv: bool = False
) -> Response:
    """The wallboard; ``?tv=1`` is the full-screen mode for a wall, without navigation."""
    ctx = _tiles_context(db, clock.now())
    ctx.update({"tv": tv, "bare": tv})
    return render(request, "supervisor/wallboard.html", ctx)


@router.get("/supervisor/wallboard/tiles")
def wallboard_tiles(
    request: Request, _caller: SupervisorCaller, db: DB, clock: ClockDep
) -> Response:
    """The tiles alone (what the live stream pushes)."""
    return render(request, "supervisor/_tiles.html", _tiles_context(db, clock.now()))


@router.get("/supervisor/wallboard/events")
def wallboard_events(
    request: Request, caller: SupervisorCaller, clock: ClockDep
) -> StreamingResponse:
    """The tiles, pushed when they change (at most once per second)."""
    user_id = caller.need_user().id

    def snapshot(session: Session, last: str | None) -> tuple[str, str | None] | None:
        user: User | None = still_signed_in(request, session, user_id)
        if user is None:
            return None
        request.state.user = user
        now = clock.now()
        ctx = _tiles_context(session, now, as_of=AS_OF)
        html = bytes(render(request, "supervisor/_tiles.html", ctx).body).decode()
        if html == last:
            return html, None
        return html, html.replace(AS_OF, ctx["hhmmss"](now))

    topics = ("floor", f"user:{user_id}")
    return event_stream(request, "tiles", snapshot, topics, every_s=TICK_S, gap_s=1.0)
