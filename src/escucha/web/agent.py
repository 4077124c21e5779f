"""The agent desktop (W5, C2, C3, C6): state, the offered contact with the customer's whole
situation, hold/resume/transfer/end, and the wrap-up with a recap sent to the customer.

The desk is redrawn live over Server-Sent Events (``GET /agent/events``): when the agent's
state or contact changes (:mod:`escucha.db.changes`, ADR 25) the stream opens a short database
session, compares a fingerprint of the agent's state and contact, and pushes the desk only when
it changed. Handle time is shown as information; no
timer ever cuts, colours or nags a call.

The desk carries the call's sound: its softphone (``static/voice-agent.js``) follows the
contact's state pushed here (ringing when offered, sound when connected, the agent's audio
replaced when on hold, closed at the end) and exchanges WebRTC session descriptions with the
caller's page through ``/agent/voice/*`` (ADR 16).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import anyio
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from escucha.admission import on_lane_threads
from escucha.audit import service as audit
from escucha.auth.api import DB, AgentCaller, ClockDep, SupervisorCaller, session_user
from escucha.auth.models import User
from escucha.callbacks import service as callbacks
from escucha.contacts import live
from escucha.contacts.models import Contact
from escucha.db import changes
from escucha.errors import Conflict, EscuchaError, InvalidInput, NotFound
from escucha.flows import calls, wrapup
from escucha.org import models as org
from escucha.routing import service as routing
from escucha.routing.models import AgentStatus
from escucha.telephony import service as telephony
from escucha.telephony import twilio as twilio_sdk
from escucha.voice import rules as voice_rules
from escucha.voice import service as voice
from escucha.voice import sip
from escucha.web.i18n import pick_language
from escucha.web.render import render

router = APIRouter(include_in_schema=False)

#: A live stream looks at the database when its topics change (ADR 25), and at least this
#: often so nothing can stay stuck; it sends a comment to keep proxies open.
SAFETY_S = 30.0
KEEPALIVE_S = 15.0
STATES = ("available", "break", "offline")
OUTCOMES = ("solved", "informed", "needs_follow_up", "complaint", "other")
ACTIONS = (
    "answer",
    "decline",
    "call",
    "no-answer",
    "hold",
    "resume",
    "transfer",
    "consult",
    "end",
    "wrap-up",
)


# --- formatting helpers shared with the wallboard ---------------------------------------------


def duration(seconds: float | None) -> str:
    """``75`` -> ``1:15``; ``3725`` -> ``1:02:05``; ``None`` -> ``—``."""
    if seconds is None:
        return "—"
    total = int(max(0.0, seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def time_helpers(tz: str, now: datetime) -> dict[str, Callable[..., str]]:
    zone = ZoneInfo(tz)

    def hhmm(at: datetime | None) -> str:
        return at.astimezone(zone).strftime("%H:%M") if at else "—"

    def hhmmss(at: datetime | None) -> str:
        return at.astimezone(zone).strftime("%H:%M:%S") if at else "—"

    def when(at: datetime | None) -> str:
        if at is None:
            return "—"
        local = at.astimezone(zone)
        if local.date() == now.astimezone(zone).date():
            return local.strftime("%H:%M")
        return local.strftime("%d/%m/%Y %H:%M")

    return {"hhmm": hhmm, "hhmmss": hhmmss, "when": when, "dur": duration}


def sse_event(event: str, html: str) -> str:
    """One Server-Sent Event carrying an HTML fragment (each line its own ``data:``)."""
    lines = html.splitlines() or [""]
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


Look = Callable[[Session], list[str] | None]


def live_stream(
    request: Request,
    topics: Sequence[str],
    look: Look,
    *,
    first: str = "",
    every_s: float = SAFETY_S,
    gap_s: float = 0.0,
) -> StreamingResponse:
    """The one loop of every live stream: ``look`` runs in a short session of its own when one
    of ``topics`` changed (:mod:`escucha.db.changes`, ADR 25), or after ``every_s`` seconds
    with no change, and what it returns is sent (``None`` ends the stream). Nothing changing,
    an open stream costs no query; a comment keeps proxies open every ``KEEPALIVE_S``.
    ``gap_s`` is the least time between two looks (changes in between are taken together).
    A client that does not ask for ``text/event-stream`` gets the first look only.
    """
    factory: sessionmaker[Session] = request.app.state.session_factory
    hub = changes.hub_for(request.app.state.engine)
    once = "text/event-stream" not in request.headers.get("accept", "")

    def run() -> list[str] | None:
        with factory() as session:
            return look(session)

    async def stream() -> AsyncIterator[str]:
        if first:
            yield first
        clock = anyio.current_time
        quiet_since = looked = clock()
        while True:
            stamp = hub.stamp(topics)  # before looking: a change during the look wakes again
            found = await run_in_threadpool(run)
            if found is None:
                return
            looked = clock()
            for chunk in found:
                yield chunk
            if found:
                quiet_since = looked
            if once:
                return
            while True:
                left = min(KEEPALIVE_S - (clock() - quiet_since), every_s - (clock() - looked))
                if await hub.wait(topics, stamp, max(0.0, left)) or clock() - looked >= every_s:
                    break
                if await request.is_disconnected():
                    return
                if clock() - quiet_since >= KEEPALIVE_S:
                    quiet_since = clock()
                    yield ": keep-alive\n\n"
            if gap_s > 0:
                await anyio.sleep(max(0.0, gap_s - (clock() - looked)))
            if await request.is_disconnected():
                return

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


Snapshot = Callable[[Session, str | None], tuple[str, str | None] | None]


def event_stream(
    request: Request,
    event: str,
    snapshot: Snapshot,
    topics: Sequence[str],
    *,
    every_s: float = SAFETY_S,
    gap_s: float = 0.0,
) -> StreamingResponse:
    """Push ``snapshot``'s fragment whenever its key changes, looking when ``topics`` change.

    ``snapshot(session, last_key)`` returns ``(key, html)`` (``html`` is ``None`` when the key
    did not change) or ``None`` to end the stream (the user logged out or was deactivated).
    """
    last: list[str | None] = [None]

    def look(session: Session) -> list[str] | None:
        seen = snapshot(session, last[0])
        if seen is None:
            return None
        key, html = seen
        if html is None or key == last[0]:
            return []
        last[0] = key
        return [sse_event(event, html)]

    return live_stream(request, topics, look, every_s=every_s, gap_s=gap_s)


SignalFetch = Callable[[Session, int], list[dict[str, Any]] | None]


def signal_stream(request: Request, fetch: SignalFetch, topics: Sequence[str]) -> StreamingResponse:
    """Signals as Server-Sent Events (``event: signal``, JSON data, the signal's ``id``).

    A reconnecting ``EventSource`` sends ``Last-Event-ID`` and gets what it missed; a new one
    starts after the newest signal. ``fetch(session, after)`` returns ``None`` to end.
    """
    raw = request.headers.get("last-event-id", "")
    after: list[int | None] = [int(raw) if raw.isdigit() else None]

    def look(session: Session) -> list[str] | None:
        since = voice.last_signal_id(session) if after[0] is None else after[0]
        after[0] = since
        found = fetch(session, since)
        if found is None:
            return None
        out = []
        for item in found:
            since = max(since, int(item["id"]))
            after[0] = since
            out.append(f"id: {item['id']}\nevent: signal\ndata: {json.dumps(item)}\n\n")
        return out

    return live_stream(request, topics, look, first="retry: 1000\n\n")


def still_signed_in(request: Request, session: Session, user_id: int) -> User | None:
    """The user of a long-lived stream, while their session is still open on the server."""
    user = session_user(request, session, request.app.state.clock.now(), touch=False)
    return user if user is not None and user.id == user_id else None


# --- the desk -------------------------------------------------------------------------------


def _outcome_of(*, solved: bool, ticket_kind: str) -> str:
    """The outcome the desk's one question implies (the API may still name any outcome)."""
    if solved:
        return "solved"
    return "complaint" if ticket_kind == "complaint" else "needs_follow_up"


def _desk_context(
    request: Request, db: Session, user: User, now: datetime, error: str | None = None
) -> dict[str, Any]:
    lang = pick_language(request)
    tz = live.org_timezone(db)
    status = db.get(AgentStatus, user.id)
    contact = db.get(Contact, status.contact_id) if status and status.contact_id else None
    situation = live.situation(db, contact, now=now, lang=lang) if contact is not None else None
    queues = list(db.scalars(select(org.Queue).order_by(org.Queue.name)))
    profile = db.scalar(select(org.AgentProfile).where(org.AgentProfile.user_id == user.id))
    complaint_queues = set(
        db.scalars(
            select(org.Queue.name)
            .join(org.Team, org.Team.id == org.Queue.team_id)
            .where(org.Team.handles_complaints.is_(True))
        )
    )
    local_now = now.astimezone(ZoneInfo(tz))
    voice_of = voice.desk_voice(db, contact, now=now) if contact is not None else None
    cb = (
        callbacks.for_contact(db, contact.id) if contact and contact.channel == "callback" else None
    )
    consult = voice.open_consult(db, user.id)
    peer = None
    if consult is not None:
        other = consult.to_user_id if consult.from_user_id == user.id else consult.from_user_id
        peer = db.get(User, other)
    return {
        "voice": voice_of,
        "consult": consult,
        "consult_peer": peer.display_name if peer is not None else "",
        "consult_role": (
            "from" if consult is not None and consult.from_user_id == user.id else "to"
        ),
        "consult_targets": (
            voice.consult_targets(db, user.id, now=now)
            if contact is not None and contact.state == "on_hold" and consult is None
            else []
        ),
        "callback_dialing": cb is not None and cb.state == "dialing",
        "state": status.state if status else "offline",
        "since": status.since if status else None,
        "contact": contact,
        "s": situation,
        "day": live.agent_day(db, user.id, now=now, tz=tz),
        "queues": queues,
        "queue_names": {q.name: q.display_name.get(lang) or q.name for q in queues},
        "skill_names": {s.name: s.label(lang) for s in db.scalars(select(org.Skill))},
        "profile": profile,
        "fp": desk_key(db, user.id),
        "error": error,
        "tz": tz,
        "now": now,
        "min_promise": local_now.strftime("%Y-%m-%dT%H:%M"),
        "default_kind": (
            "complaint" if contact is not None and contact.queue in complaint_queues else "query"
        ),
        "states": STATES,
        "outcomes": OUTCOMES,
        "ticket_kinds": wrapup.TICKET_KINDS,
        **time_helpers(tz, now),
    }


def desk_key(session: Session, user_id: int) -> str:
    """The desk's fingerprint, with the consult the agent is in (a warm transfer)."""
    consult = voice.open_consult(session, user_id)
    extra = f"|c{consult.id}:{consult.answered_at is not None}" if consult is not None else ""
    return live.desk_fingerprint(session, user_id) + extra


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request", "").lower() == "true"


def _answer(
    request: Request,
    db: Session,
    user: User,
    now: datetime,
    *,
    error: EscuchaError | None = None,
) -> Response:
    """The desk after an action: the fragment for HTMX, else a redirect (or the page with the
    error). A refused action is rolled back and explained where the agent is looking."""
    status = error.status_code if error is not None else 200
    if error is not None:
        db.rollback()
    elif not _is_htmx(request):
        return RedirectResponse("/agent", status_code=303)
    ctx = _desk_context(request, db, user, now, error.message if error else None)
    name = "agent/_desk.html" if _is_htmx(request) else "agent/desk.html"
    return render(request, name, ctx, status_code=status)


@router.get("/agent")
def desk_page(request: Request, caller: AgentCaller, db: DB, clock: ClockDep) -> Response:
    user = caller.need_user()
    ctx = _desk_context(request, db, user, clock.now())
    ctx["ice_servers"] = ice_servers(request)
    ctx["record_calls"] = request.app.state.settings.record_calls
    ctx["twilio_agents"] = twilio_sdk.sdk_ready(request.app.state.settings)
    ctx["quality_bounds"] = {
        "loss": voice_rules.POOR_LOSS,
        "jitter": voice_rules.POOR_JITTER_S,
        "rtt": voice_rules.POOR_RTT_S,
    }
    return render(request, "agent/desk.html", ctx)


@router.get("/agent/desk")
def desk_fragment(request: Request, caller: AgentCaller, db: DB, clock: ClockDep) -> Response:
    """The desk alone (what the live stream pushes)."""
    user = caller.need_user()
    return render(request, "agent/_desk.html", _desk_context(request, db, user, clock.now()))


@router.get("/agent/events")
def desk_events(request: Request, caller: AgentCaller, clock: ClockDep) -> StreamingResponse:
    """The desk, pushed whenever the agent's state or contact changes (event ``desk``)."""
    user_id = caller.need_user().id

    def snapshot(session: Session, last: str | None) -> tuple[str, str | None] | None:
        user = still_signed_in(request, session, user_id)
        if user is None:
            return None
        key = desk_key(session, user_id)
        if key == last:
            return key, None
        request.state.user = user
        ctx = _desk_context(request, session, user, clock.now())
        return key, bytes(render(request, "agent/_desk.html", ctx).body).decode()

    return event_stream(request, "desk", snapshot, (f"agent:{user_id}", f"user:{user_id}"))


@router.post("/agent/state")
def set_state(
    request: Request,
    caller: AgentCaller,
    db: DB,
    clock: ClockDep,
    state: Annotated[str, Form()],
) -> Response:
    """Available, break or offline. Wrap-up is entered by ending a call and left by choice."""
    user, now = caller.need_user(), clock.now()
    try:
        if state not in STATES:
            raise InvalidInput(f"state: one of {', '.join(STATES)}")
        if state == "available":
            settings = request.app.state.settings
            sip.check_may_go_available(db, user.id, now=now, settings=settings)
        routing.set_agent_state(db, user.id, state, now=now)
    except EscuchaError as exc:
        return _answer(request, db, user, now, error=exc)
    return _answer(request, db, user, now)


def _promised(raw: str, tz: str) -> datetime | None:
    """A ``datetime-local`` value, read in the organisation's time zone."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        naive = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("promised_at: a date and time such as 2026-11-24T12:00") from None
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=ZoneInfo(tz))


def _yes(value: str) -> bool | None:
    return {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}.get(
        value.strip().lower()
    )


@router.post("/agent/contacts/{contact_id}/{action}")
def contact_action(
    request: Request,
    contact_id: int,
    action: str,
    caller: AgentCaller,
    db: DB,
    clock: ClockDep,
    announced: Annotated[str, Form()] = "",
    queue: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    outcome: Annotated[str, Form()] = "",
    resolved: Annotated[str, Form()] = "",
    recap: Annotated[str, Form()] = "",
    promised_at: Annotated[str, Form()] = "",
    ticket_kind: Annotated[str, Form()] = "query",
    next_state: Annotated[str, Form()] = "available",
    to_user: Annotated[str, Form()] = "",
) -> Response:
    """What the agent does with their own contact (the services refuse anyone else's)."""
    if action not in ACTIONS:
        raise NotFound(f"no action {action!r}")
    user, now = caller.need_user(), clock.now()
    try:
        if action == "answer":
            calls.answer(db, user.id, contact_id, now=now)
        elif action == "decline":
            routing.decline(db, user.id, contact_id, now=now)
        elif action == "call":
            _call_customer(request, db, user.id, contact_id, now=now)
        elif action == "no-answer":
            cb = callbacks.for_contact(db, contact_id)
            contact = voice.agent_contact(db, user.id, contact_id)
            if cb is not None and cb.state != "dialing" and voice.web_caller_of(db, contact):
                raise Conflict("call the customer first: no answer is recorded without a call")
            callbacks.no_answer(db, user.id, contact_id, now=now)
        elif action == "hold":
            told = _yes(announced)
            if told is None:
                raise InvalidInput(
                    "announced: say whether you told the customer before putting them on hold"
                )
            routing.hold(db, user.id, contact_id, now=now, announced=told)
        elif action == "resume":
            routing.resume(db, user.id, contact_id, now=now)
        elif action == "transfer":
            if not queue:
                raise InvalidInput("queue: choose where to transfer the customer")
            routing.transfer(db, user.id, contact_id, queue, now=now, note=note.strip()[:1000])
        elif action == "consult":
            if not to_user.isdigit():
                raise InvalidInput("to_user: choose the colleague to talk to first")
            voice.start_consult(db, user.id, contact_id, int(to_user), now=now, note=note)
        elif action == "end":
            routing.end_call(db, user.id, contact_id, now=now, ended_by="agent")
        else:
            solved = _yes(resolved)
            if solved is None:
                raise InvalidInput("resolved: say whether the customer's matter is solved")
            if not outcome:  # the desk asks one question: is it solved?
                outcome = _outcome_of(solved=solved, ticket_kind=ticket_kind)
            if outcome not in OUTCOMES:
                raise InvalidInput(f"outcome: one of {', '.join(OUTCOMES)}")
            if next_state not in STATES:
                raise InvalidInput(f"next_state: one of {', '.join(STATES)}")
            wrapup.wrap_up_with_recap(
                db,
                user,
                contact_id,
                now=now,
                outcome=outcome,
                resolved=solved,
                recap=recap,
                promised_at=_promised(promised_at, live.org_timezone(db)),
                ticket_kind=ticket_kind,
                next_state=next_state,
                base_url=request.app.state.settings.public_url,
            )
    except EscuchaError as exc:
        return _answer(request, db, user, now, error=exc)
    return _answer(request, db, user, now)


CONSULT_ACTIONS = ("answer", "cancel", "hand-over")


@router.post("/agent/consults/{consult_id}/{action}")
def consult_action(
    request: Request, consult_id: int, action: str, caller: AgentCaller, db: DB, clock: ClockDep
) -> Response:
    """A warm transfer: the colleague answers (or declines with ``cancel``); the agent on the
    call hands the customer over or goes back to them (ADR 24)."""
    if action not in CONSULT_ACTIONS:
        raise NotFound(f"no action {action!r}")
    user, now = caller.need_user(), clock.now()
    try:
        if action == "answer":
            voice.answer_consult(db, user.id, consult_id, now=now)
        elif action == "cancel":
            voice.end_consult(db, user.id, consult_id, now=now)
        else:
            voice.hand_over(db, user.id, consult_id, now=now)
    except EscuchaError as exc:
        return _answer(request, db, user, now, error=exc)
    return _answer(request, db, user, now)


def _call_customer(
    request: Request, db: Session, user_id: int, contact_id: int, *, now: datetime
) -> None:
    """Ring the web caller's page if it is still open; otherwise dial through Twilio if set up.

    Nothing is recorded as an attempt unless a call is really placed.
    """
    settings = request.app.state.settings
    contact = voice.agent_contact(db, user_id, contact_id)
    caller = voice.web_caller_of(db, contact)
    if voice.is_alive(caller, now):
        telephony.dial_callback(db, user_id, contact_id, now=now, settings=settings)
        return
    if not telephony.twilio_ready(settings):
        raise Conflict(
            "the customer's page is closed and no phone line is set up (Twilio): "
            "the customer cannot be called from here"
        )
    telephony.dial_callback(db, user_id, contact_id, now=now, settings=settings, provider="twilio")


# --- the softphone's signalling (ADR 16) -----------------------------------------------------


class AgentSignalIn(BaseModel):
    contact_id: int
    kind: str = Field(max_length=20)
    body: dict[str, Any] = Field(default_factory=dict)


class DeskBeatIn(BaseModel):
    mic_ok: bool = False


@router.post("/agent/voice/signal")
def agent_signal(
    caller: AgentCaller, db: DB, clock: ClockDep, signal: AgentSignalIn
) -> dict[str, int]:
    """A session description (or a hang-up of the sound) from the desk to the caller's page."""
    user = caller.need_user()
    contact = voice.agent_contact(db, user.id, signal.contact_id)
    if voice.web_caller_of(db, contact) is None:
        raise Conflict(f"contact {contact.id} has no web caller to talk to")
    sent = voice.send(
        db,
        contact,
        sender="agent",
        kind=signal.kind,
        body=signal.body,
        now=clock.now(),
        user_id=user.id,
    )
    voice.join(db, contact, user_id=user.id, now=clock.now())
    return {"id": sent.id}


class ConsultSignalIn(BaseModel):
    consult_id: int
    kind: str = Field(max_length=20)
    body: dict[str, Any] = Field(default_factory=dict)


@router.post("/agent/voice/consult-signal")
def consult_signal(
    caller: AgentCaller, db: DB, clock: ClockDep, signal: ConsultSignalIn
) -> dict[str, int]:
    """A session description between the two desks of a consult (the customer is not on it)."""
    user = caller.need_user()
    sent = voice.consult_send(
        db, user.id, signal.consult_id, signal.kind, signal.body, now=clock.now()
    )
    return {"id": sent.id}


@router.get("/agent/voice/events")
def agent_signal_events(request: Request, caller: AgentCaller) -> StreamingResponse:
    """The callers' signals to this agent, as Server-Sent Events."""
    user_id = caller.need_user().id

    def fetch(session: Session, after: int) -> list[dict[str, Any]] | None:
        if still_signed_in(request, session, user_id) is None:
            return None
        return [voice.as_event(s) for s in voice.signals_for_agent(session, user_id, after=after)]

    return signal_stream(request, fetch, (f"signals:agent:{user_id}", f"user:{user_id}"))


@router.post("/agent/voice/beat")
@on_lane_threads
def desk_beat(caller: AgentCaller, db: DB, clock: ClockDep, beat: DeskBeatIn) -> dict[str, str]:
    """The desk is open (every 2 s); an available agent whose desk went silent goes offline.

    Every open desk writes here every 2 s, so the write is committed in its worker thread
    (:func:`~escucha.admission.on_lane_threads`): on SQLite it holds the database's one writer
    lock only for the write, never while the request waits for the event loop and another
    thread to commit it, which made callers' webhooks wait behind desks."""
    user = caller.need_user()
    voice.desk_beat(db, user.id, now=clock.now(), mic_ok=beat.mic_ok)
    status = db.get(AgentStatus, user.id)
    return {"state": status.state if status else "offline"}


@router.post("/agent/voice/twilio-token")
def twilio_token(request: Request, caller: AgentCaller) -> Response:
    """A short-lived access token for this agent's desk on Twilio's Voice JavaScript SDK
    (identity ``agent-<user id>``, the one ``<Dial><Client>`` rings); never for anyone else."""
    user = caller.need_user()
    settings = request.app.state.settings
    if not twilio_sdk.sdk_ready(settings):
        raise Conflict(
            "Twilio agents are not set up here (ESCUCHA_TWILIO_API_KEY_SID, "
            "ESCUCHA_TWILIO_API_KEY_SECRET, ESCUCHA_TWILIO_TWIML_APP_SID)"
        )
    body = {
        "token": twilio_sdk.access_token(settings, user.id),
        "identity": twilio_sdk.client_identity(user.id),
        "ttl_s": settings.twilio_token_ttl_s,
    }
    return Response(
        json.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store"}
    )


def ice_servers(request: Request) -> list[dict[str, Any]]:
    return voice_rules.parse_ice_servers(request.app.state.settings.ice_servers)


@router.post("/agent/voice/recording/{contact_id}/{seq}")
async def recording_piece(
    request: Request, contact_id: int, seq: int, caller: AgentCaller, db: DB, clock: ClockDep
) -> dict[str, int]:
    """The next piece of the call's recording, made in the desk (ADR 15)."""
    user = caller.need_user()
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > voice.MAX_CHUNK_BYTES:
        raise InvalidInput(f"a recording piece has a length of at most {voice.MAX_CHUNK_BYTES}")
    if seq < 0:
        raise InvalidInput("seq: 0 or more")
    data = await request.body()
    settings = request.app.state.settings
    if not settings.record_calls:
        raise Conflict("calls are not recorded here (ESCUCHA_RECORD_CALLS)")

    def store() -> dict[str, int]:
        contact = voice.agent_contact(db, user.id, contact_id)
        rec = voice.add_chunk(
            db,
            contact,
            user_id=user.id,
            seq=seq,
            data=data,
            content_type=request.headers.get("content-type", ""),
            now=clock.now(),
            settings=settings,
        )
        return {"chunks": rec.chunks}

    return await run_in_threadpool(store)


@router.get("/voice/recordings/{contact_id}")
def play_recording(
    request: Request, contact_id: int, caller: SupervisorCaller, db: DB, clock: ClockDep
) -> StreamingResponse:
    """A call's recording, for quality review; every listen is written to the audit trail."""
    user = caller.need_user()
    rec = voice.recording_of(db, contact_id)
    if rec is None:
        raise NotFound(f"contact {contact_id} has no recording")
    audit.record(
        db,
        action="recording.listened",
        actor=f"user:{user.id}:{user.username}",
        subject_kind="contact",
        subject_id=contact_id,
        now=clock.now(),
        data={"chunks": rec.chunks, "bytes": rec.bytes},
    )
    pieces = voice.recording_pieces(rec, request.app.state.settings)
    missing = [p.name for p in pieces if not p.is_file()]
    if missing:
        raise NotFound(f"recording of contact {contact_id} is incomplete: {missing[0]} is missing")

    def stream() -> Any:
        for piece in pieces:
            yield piece.read_bytes()

    return StreamingResponse(
        stream(),
        media_type=rec.content_type,
        headers={"Cache-Control": "no-store", "Content-Length": str(rec.bytes)},
    )
