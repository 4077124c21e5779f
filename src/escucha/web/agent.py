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
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import anyio
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from escucha.admission import on_lane_threads
from escucha.audit import service as audit
from escucha.auth.api import DB, AgentCaller, ClockDep, SupervisorCaller, session_user
from escucha.auth.models import User
from escucha.config import Settings
from escucha.db import changes
from escucha.errors import Conflict, EscuchaError, InvalidInput, NotFound
from escucha.flows import calls, desk, wrapup
from escucha.org import home
from escucha.routing import service as routing
from escucha.telephony import twilio as twilio_sdk
from escucha.voice import rules as voice_rules
from escucha.voice import service as voice
from escucha.voice import sip
from escucha.voice.desks import OpenDesks
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
#: What a stream holds while it is open (:meth:`escucha.voice.desks.OpenDesks.holding`).
Held = Callable[[], AbstractContextManager[None]]


def live_stream(
    request: Request,
    topics: Sequence[str],
    look: Look,
    *,
    first: str = "",
    every_s: float = SAFETY_S,
    gap_s: float = 0.0,
    held: Held | None = None,
) -> StreamingResponse:
    """The one loop of every live stream: ``look`` runs in a short session of its own when one
    of ``topics`` changed (:mod:`escucha.db.changes`, ADR 25), or after ``every_s`` seconds
    with no change, and what it returns is sent (``None`` ends the stream). Nothing changing,
    an open stream costs no query; a comment keeps proxies open every ``KEEPALIVE_S``.
    ``gap_s`` is the least time between two looks (changes in between are taken together).
    A client that does not ask for ``text/event-stream`` gets the first look only.
    ``held()`` is entered while the stream is open and left when it ends, however it ends (the
    client's disconnect cancels it; a keep-alive written to a dead connection fails).
    """
    factory: sessionmaker[Session] = request.app.state.session_factory
    hub = changes.hub_for(request.app.state.engine)
    once = "text/event-stream" not in request.headers.get("accept", "")

    def run() -> list[str] | None:
        with factory() as session:
            return look(session)

    async def stream() -> AsyncIterator[str]:
        if held is None or once:
            async for chunk in loop():
                yield chunk
            return
        with held():
            async for chunk in loop():
                yield chunk

    async def loop() -> AsyncIterator[str]:
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


def signal_stream(
    request: Request, fetch: SignalFetch, topics: Sequence[str], *, held: Held | None = None
) -> StreamingResponse:
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

    return live_stream(request, topics, look, first="retry: 1000\n\n", held=held)


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
    d = desk.desk(db, user.id, now=now, lang=lang)
    card, consult, tz = d.card, d.consult, d.timezone
    return {
        "voice": card.voice if card is not None else None,
        "consult": consult,
        "consult_peer": d.consult_peer,
        # a consult about a call on the PBX: the agents talk through their phones (ADR 30)
        "consult_pbx": consult is not None and voice.consult_on_pbx(db, consult),
        "consult_role": (
            "from" if consult is not None and consult.from_user_id == user.id else "to"
        ),
        "consult_targets": d.consult_targets,
        "callback_dialing": card is not None and card.callback_dialing,
        "state": d.status.state if d.status else "offline",
        "since": d.status.since if d.status else None,
        "contact": card.contact if card is not None else None,
        "s": card.situation if card is not None else None,
        "day": d.day,
        "queues": d.queues,
        "queue_names": {q.name: q.display_name.get(lang) or q.name for q in d.queues},
        "skill_names": {s.name: s.label(lang) for s in d.skills},
        "profile": d.profile,
        "fp": d.key,
        "error": error,
        "tz": tz,
        "now": now,
        "min_promise": now.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M"),
        "default_kind": card.default_kind if card is not None else "query",
        "states": STATES,
        "outcomes": OUTCOMES,
        "ticket_kinds": wrapup.TICKET_KINDS,
        **time_helpers(tz, now),
    }


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
        key = desk.desk_key(session, user_id)
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
            settings = request.app.state.settings
            calls.call_customer(db, user.id, contact_id, now=now, settings=settings)
        elif action == "no-answer":
            calls.no_answer(db, user.id, contact_id, now=now)
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
                promised_at=_promised(promised_at, home.zone_name(db)),
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
    """The callers' signals to this agent, as Server-Sent Events. While it is open the desk
    is marked alive with the others open in this process (:mod:`escucha.voice.desks`)."""
    user_id = caller.need_user().id
    desks: OpenDesks = request.app.state.desks

    def fetch(session: Session, after: int) -> list[dict[str, Any]] | None:
        if still_signed_in(request, session, user_id) is None:
            return None
        return [voice.as_event(s) for s in voice.signals_for_agent(session, user_id, after=after)]

    topics = (f"signals:agent:{user_id}", f"user:{user_id}")
    return signal_stream(request, fetch, topics, held=lambda: desks.holding(user_id))


@router.post("/agent/voice/beat")
@on_lane_threads
def desk_beat(caller: AgentCaller, db: DB, clock: ClockDep, beat: DeskBeatIn) -> dict[str, str]:
    """The desk is open, with its microphone's test: sent when the desk opens and when what it
    carries changes, and every 20 s while its live stream cannot be opened (an open stream
    keeps the desk alive, :mod:`escucha.voice.desks`); an available agent whose desk is gone
    goes offline.

    The write is committed in its worker thread (:func:`~escucha.admission.on_lane_threads`):
    on SQLite it holds the database's one writer lock only for the write, never while the
    request waits for the event loop and another thread to commit it."""
    user = caller.need_user()
    voice.desk_beat(db, user.id, now=clock.now(), mic_ok=beat.mic_ok)
    status = routing.status_of(db, user.id)
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


class RecordingLegIn(BaseModel):
    #: What the desk's recorder makes (``audio/webm;codecs=opus``); every piece is sent as it.
    type: str = Field(max_length=100)


def _recording_on(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    if not settings.record_calls:
        raise Conflict("calls are not recorded here (ESCUCHA_RECORD_CALLS)")
    return settings


@router.post("/agent/voice/recording/{contact_id}")
def recording_leg(
    request: Request,
    contact_id: int,
    caller: AgentCaller,
    db: DB,
    clock: ClockDep,
    body: RecordingLegIn,
) -> dict[str, int]:
    """The desk begins recording its part of the call (ADR 15): a new leg, whose number its
    pieces are sent under. Each agent a transferred call reaches records their own leg."""
    user = caller.need_user()
    _recording_on(request)
    contact = voice.agent_contact(db, user.id, contact_id)
    rec = voice.start_leg(db, contact, user_id=user.id, content_type=body.type, now=clock.now())
    return {"leg": rec.leg}


@router.post("/agent/voice/recording/{contact_id}/{leg}/{seq}")
async def recording_piece(
    request: Request,
    contact_id: int,
    leg: int,
    seq: int,
    caller: AgentCaller,
    db: DB,
    clock: ClockDep,
) -> dict[str, int]:
    """The next piece of the desk's leg of the call's recording (ADR 15)."""
    user = caller.need_user()
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > voice.MAX_CHUNK_BYTES:
        raise InvalidInput(f"a recording piece has a length of at most {voice.MAX_CHUNK_BYTES}")
    if seq < 0 or leg < 1:
        raise InvalidInput("leg: 1 or more; seq: 0 or more")
    data = await request.body()
    settings = _recording_on(request)

    def store() -> dict[str, int]:
        rec = voice.add_chunk(
            db,
            contact_id,
            user_id=user.id,
            leg=leg,
            seq=seq,
            data=data,
            content_type=request.headers.get("content-type", ""),
            now=clock.now(),
            settings=settings,
        )
        return {"leg": rec.leg, "chunks": rec.chunks}

    return await run_in_threadpool(store)


@router.get("/voice/recordings/{contact_id}")
@router.get("/voice/recordings/{contact_id}/{leg}")
def play_recording(
    request: Request,
    contact_id: int,
    caller: SupervisorCaller,
    db: DB,
    clock: ClockDep,
    leg: int = 1,
) -> StreamingResponse:
    """One agent's leg of a call's recording (the first without a number), for quality
    review; every listen is written to the audit trail."""
    user = caller.need_user()
    rec = voice.recording_of(db, contact_id, leg)
    if rec is None:
        raise NotFound(f"contact {contact_id} has no recording of leg {leg}")
    audit.record(
        db,
        action="recording.listened",
        actor=f"user:{user.id}:{user.username}",
        subject_kind="contact",
        subject_id=contact_id,
        now=clock.now(),
        data={"leg": rec.leg, "agent_id": rec.user_id, "chunks": rec.chunks, "bytes": rec.bytes},
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
