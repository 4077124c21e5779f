"""The web call: a caller page with sound, and the embeddable snippet (W1, W2, W6, C1).

``/phone`` calls the organisation from the browser: the IVR's prompts and the queue's
announcements are heard (espeak-ng's rendering) and shown, keys work, a callback can be asked
for, and when an agent answers on ``/agent`` the two talk over WebRTC (``escucha.voice``, ADR 16).
It speaks the same internal telephony interface as Twilio (``escucha.telephony.calls``,
provider ``"browser"``). The call lives in the session cookie, and the page's voice token binds
it: the page signals only its own calls, and a callback rings only the page that asked for it.

The agent's side is the softphone of the agent desk (``/agent``); ``/phone/agent`` leads there.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from escucha.admission import CallRoute
from escucha.app import CSP
from escucha.auth import service as auth_service
from escucha.auth.api import DB, AgentCaller, ClockDep, Public
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact
from escucha.errors import EscuchaError, InvalidInput, NotFound
from escucha.ivr import audio
from escucha.org import service as org_service
from escucha.telephony import calls as telephony
from escucha.telephony import rules as R
from escucha.voice import rules as voice_rules
from escucha.voice import service as voice
from escucha.voice.models import WebCaller
from escucha.web.agent import signal_stream
from escucha.web.i18n import LANGUAGES, pick_language
from escucha.web.render import render

router = APIRouter(include_in_schema=False, route_class=CallRoute)
log = logging.getLogger("escucha.telephony")

PROVIDER = "browser"
KEYPAD = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#")
CALL, NUMBER, LINES, FRESH = "phone_call", "phone_number", "phone_lines", "phone_fresh"
AUDIO = "phone_audio"
#: The page's voice token (the database keeps only its hash): binds the page to its calls.
VOICE = "phone_voice"
MAX_LINES_CHARS = 1500
AUDIO_NAME = re.compile(r"^[0-9a-f]{32}\.wav$")
#: Phases in which the caller page keeps asking the line what is new.
POLLING = frozenset({"queue", "offered", "connected", "on_hold", "callback", "ringing"})
#: Phases in which what the line said is still true (not once an agent has the call).
SAYING = frozenset({"ivr", "closed", "voicemail", "queue", "callback"})


def espeak_available() -> bool:
    """Whether prompts can be heard as audio on this machine."""
    return shutil.which(audio.ESPEAK) is not None


def audio_cache_dir(request: Request) -> Path:
    """Rendered prompts are cached next to the outbox (shared with the IVR editor)."""
    return Path(request.app.state.settings.outbox_dir).parent / "ivr-audio"


# --------------------------------------------------------------------------------------------
# The caller's page
# --------------------------------------------------------------------------------------------


def _remember(request: Request, turn: R.Turn) -> None:
    """Keep what the caller heard last (a quiet pass of the wait loop keeps the previous)."""
    request.session[CALL] = turn.call.split(":", 1)[1] if ":" in turn.call else turn.call
    said = [[s.text, s.language] for s in turn.texts() if s.text]
    if said:
        kept: list[list[str]] = []
        total = 0
        for text, lang in said:
            total += len(text)
            if total > MAX_LINES_CHARS:
                break
            kept.append([text, lang])
        request.session[LINES] = kept
        request.session[FRESH] = True


def _audio_url(request: Request, lines: list[list[str]]) -> str | None:
    """One WAV of what the line says: espeak-ng's rendering of the sentences, or, when some
    were recorded in the IVR editor, each sentence as it is heard (recorded or spoken)."""
    if not lines:
        return None
    settings = request.app.state.settings
    folder = audio.recorded_dir(settings)
    any_recorded = any(audio.recorded(t, lang, folder) is not None for t, lang in lines)
    if not any_recorded and not espeak_available():
        return None
    try:
        if any_recorded:
            parts = [
                audio.prompt_audio(t, lang, rate_wps=2.6, settings=settings) for t, lang in lines
            ]
            path = audio.joined(parts, audio_cache_dir(request))
        else:
            text = " ".join(t for t, _ in lines)
            path = audio.render_text(
                text, lines[0][1], rate_wps=2.6, cache_dir=audio_cache_dir(request)
            ).path
    except EscuchaError as exc:
        log.warning("the browser phone could not render a prompt: %s", exc.message)
        return None
    return f"/phone/audio/{path.name}"


def _agent_name(db: Session, agent_id: int | None) -> str:
    return auth_service.display_names(db, [agent_id]).get(agent_id, "") if agent_id else ""


def _web_caller(db: Session, request: Request) -> WebCaller | None:
    return voice.caller_of(db, request.session.get(VOICE))


def _voice_token(request: Request) -> str:
    token = request.session.get(VOICE)
    if not isinstance(token, str) or len(token) < 20:
        token = secrets.token_urlsafe(24)
        request.session[VOICE] = token
    return token


def _notice_wait(turn: R.Turn) -> int:
    """Seconds the page waits at the recording notice before going on (0: not there): the
    time to say it (at 2.6 words a second) and the notice's own wait for the key."""
    for action in turn.actions:
        if isinstance(action, R.Gather) and action.notice:
            spoken = sum(len(p.text.split()) for p in action.prompts) / 2.6
            return int(spoken + action.timeout_s) + 1
    return 0


def _caller_view(request: Request, db: Session, turn: R.Turn | None) -> dict[str, Any]:
    """Everything the caller page shows."""
    web_caller = _web_caller(db, request)
    ringing = voice.ringing_for(db, web_caller) if web_caller is not None else None
    lines = request.session.get(LINES) or []
    fresh = bool(request.session.pop(FRESH, False))
    if fresh:
        request.session[AUDIO] = _audio_url(request, lines) or ""
    audio_url = (request.session.get(AUDIO) or None) if lines else None
    call: dict[str, Any] | None = None
    if turn is not None:
        call = {
            "phase": turn.phase,
            "seq": turn.seq,
            "listening": turn.listening,
            "agent": _agent_name(db, turn.agent_id),
            "ended": turn.phase in ("ended", "callback"),
            # the recording notice: no key pressed by then accepts it (as on the phone line)
            "notice_s": _notice_wait(turn),
        }
    phase = "ringing" if ringing is not None and (call is None or call["ended"]) else None
    phase = phase or (call["phase"] if call is not None else "idle")
    # what the line said stays while it is true: in line, not once an agent has the call
    # (a greeting said on picking up a callback is shown the once)
    saying = phase in SAYING or (fresh and phase == "connected")
    org = org_service.organisation_name(db) or "escucha"
    return {
        "call": call,
        "phase": phase,
        "polling": phase in POLLING,
        "ringing_agent": _agent_name(db, ringing.agent_id) if ringing is not None else "",
        # only what is true now: no place in line once talking, on hold or after the call
        "lines": [{"text": t, "lang": lang} for t, lang in lines] if saying else [],
        # the same element id on every poll: htmx keeps a prompt playing (hx-preserve)
        "audio_url": audio_url if saying else None,
        "audio_id": "prompt-" + audio_url.rsplit("/", 1)[-1][:32] if audio_url else "",
        "autoplay": fresh,
        "number": request.session.get(NUMBER) or "",
        "keypad": KEYPAD,
        "organisation": org,
        "to_number": request.app.state.settings.twilio_from_number or "",
        "record_calls": request.app.state.settings.record_calls,
        "recording_days": int(request.app.state.settings.recording_retention_days),
        # the contact whose sound this page carries now (the agent's offer names it)
        "voice_contact": (
            turn.contact_id
            if turn is not None and phase in ("offered", "connected", "on_hold")
            else ""
        ),
    }


def _current(request: Request, db: Session, now: datetime) -> R.Turn | None:
    ref = request.session.get(CALL)
    if not isinstance(ref, str):
        return None
    contact = telephony.find_call(db, PROVIDER, ref)
    if contact is None:
        request.session.pop(CALL, None)
        return None
    return telephony.current_turn(db, contact, now=now)


def _answer(request: Request, db: Session, turn: R.Turn | None) -> Response:
    if request.headers.get("hx-request"):
        return render(request, "phone/_caller.html", _caller_view(request, db, turn))
    return RedirectResponse("/phone", status_code=303)


@router.get("/phone")
def phone(request: Request, _caller: Public, db: DB, clock: ClockDep) -> Response:
    """The caller's phone."""
    _voice_token(request)
    turn = _current(request, db, clock.now())
    view = _caller_view(request, db, turn)
    view["languages"] = LANGUAGES
    view["ice_servers"] = voice_rules.parse_ice_servers(request.app.state.settings.ice_servers)
    return render(request, "phone/caller.html", view)


@router.get("/phone/embed")
def phone_embedded(request: Request, _caller: Public, db: DB, clock: ClockDep) -> Response:
    """The caller's phone alone, for a frame on the sites in ``ESCUCHA_PHONE_EMBED_ORIGINS``."""
    _voice_token(request)
    settings = request.app.state.settings
    view = _caller_view(request, db, _current(request, db, clock.now()))
    view["ice_servers"] = voice_rules.parse_ice_servers(settings.ice_servers)
    view["embedded"] = True
    response = render(request, "phone/embed.html", view)
    origins = voice_rules.parse_embed_origins(settings.phone_embed_origins)
    ancestors = "frame-ancestors " + (" ".join(["'self'", *origins]) if origins else "'none'")
    response.headers["Content-Security-Policy"] = CSP.replace("frame-ancestors 'none'", ancestors)
    return response


@router.post("/phone/dial")
def dial(
    request: Request,
    _caller: Public,
    db: DB,
    clock: ClockDep,
    number: Annotated[str, Form(max_length=40)] = "",
    language: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Call the organisation. The number is optional: without it no callback can be made."""
    now = clock.now()
    settings = request.app.state.settings
    client = request.client.host if request.client else "unknown"
    key = f"phone:{client}"
    auth_service.check_rate(db, key, now=now, per_minute=settings.status_rate_per_min)
    auth_service.record_failure(db, key, now=now)  # counts calls placed from this address
    lang = language if language in LANGUAGES else pick_language(request)
    e164 = contacts.normalise_phone(number) if number.strip() else ""
    old = request.session.get(CALL)
    if isinstance(old, str):
        telephony.call_ended(db, PROVIDER, old, "completed", now=now)
    request.session[NUMBER] = e164
    request.session.pop(LINES, None)
    request.session.pop(AUDIO, None)
    turn = telephony.incoming_call(
        db,
        provider=PROVIDER,
        call_ref=secrets.token_hex(12),
        from_number=e164 or None,
        to_number=settings.twilio_from_number or "browser",
        now=now,
        language=lang,
        number_verified=False,  # typed on a page: a way to call back, not an identity
        record=settings.record_calls,
    )
    contact = telephony.find_call(db, PROVIDER, turn.call.split(":", 1)[1])
    if contact is not None:
        caller = voice.start_caller(db, _voice_token(request), typed_number=e164, now=now)
        voice.join(db, contact, caller=caller, now=now)
    _remember(request, turn)
    return _answer(request, db, turn)


def _need_call(request: Request) -> str:
    ref = request.session.get(CALL)
    if not isinstance(ref, str):
        raise NotFound("there is no call on this phone: dial first")
    return ref


@router.post("/phone/key")
def key(
    request: Request,
    _caller: Public,
    db: DB,
    clock: ClockDep,
    digits: Annotated[str, Form(max_length=20)] = "",
    n: Annotated[int | None, Form()] = None,
) -> Response:
    """A key of the keypad (or several typed ahead)."""
    ref = _need_call(request)
    record = request.app.state.settings.record_calls
    turn = telephony.caller_input(
        db, PROVIDER, ref, now=clock.now(), digits=digits, seq=n, record=record
    )
    _remember(request, turn)
    return _answer(request, db, turn)


@router.post("/phone/say")
def say(
    request: Request,
    _caller: Public,
    db: DB,
    clock: ClockDep,
    speech: Annotated[str, Form(max_length=300)] = "",
    n: Annotated[int | None, Form()] = None,
) -> Response:
    """Words instead of a key (typed: this phone has no speech recognition)."""
    ref = _need_call(request)
    if not speech.strip():
        raise InvalidInput("say: write what you would say")
    record = request.app.state.settings.record_calls
    turn = telephony.caller_input(
        db, PROVIDER, ref, now=clock.now(), speech=speech, seq=n, record=record
    )
    _remember(request, turn)
    return _answer(request, db, turn)


@router.post("/phone/poll")
def poll(request: Request, _caller: Public, db: DB, clock: ClockDep) -> Response:
    """What is new on the line: announcements in the queue, an agent, a callback ringing."""
    now = clock.now()
    ref = request.session.get(CALL)
    turn: R.Turn | None = None
    if isinstance(ref, str):
        contact = telephony.find_call(db, PROVIDER, ref)
        if contact is not None and contact.state == "queued":
            turn = telephony.wait_turn(db, PROVIDER, ref, now=now)
            _remember(request, turn)  # a new announcement, or nothing new
        elif contact is not None:
            turn = telephony.current_turn(db, contact, now=now)  # said before; not again
    return _answer(request, db, turn)


@router.post("/phone/callback")
def call_me_back(request: Request, _caller: Public, db: DB, clock: ClockDep) -> Response:
    """The "call me back" key: keeps the place in line, or books the stated time."""
    turn = telephony.take_callback(db, PROVIDER, _need_call(request), now=clock.now())
    _remember(request, turn)
    return _answer(request, db, turn)


@router.post("/phone/message")
def message(
    request: Request,
    _caller: Public,
    db: DB,
    clock: ClockDep,
    text: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A voicemail, typed (this phone records no sound)."""
    if not text.strip():
        raise InvalidInput("message: write your message")
    turn = telephony.leave_voicemail(db, PROVIDER, _need_call(request), now=clock.now(), text=text)
    _remember(request, turn)
    return _answer(request, db, turn)


@router.post("/phone/hangup")
def hangup(request: Request, _caller: Public, db: DB, clock: ClockDep) -> Response:
    """Hang up: waiting, it is an abandon; talking, the agent goes to wrap-up."""
    ref = request.session.pop(CALL, None)
    if isinstance(ref, str):
        telephony.call_ended(db, PROVIDER, ref, "completed", now=clock.now())
    request.session.pop(LINES, None)
    request.session.pop(AUDIO, None)
    return _answer(request, db, None)


def _ringing(request: Request, db: Session) -> tuple[Contact, WebCaller]:
    caller = _web_caller(db, request)
    ringing = voice.ringing_for(db, caller) if caller is not None else None
    if caller is None or ringing is None or not ringing.provider_ref:
        raise NotFound("nobody is calling this phone now")
    return ringing, caller


@router.post("/phone/answer")
def answer(request: Request, _caller: Public, db: DB, clock: ClockDep) -> Response:
    """Pick up the callback an agent is making to this phone."""
    ringing, caller = _ringing(request, db)
    ref = (ringing.provider_ref or "").split(":", 1)[1]
    request.session.pop(LINES, None)
    voice.join(db, ringing, caller=caller, now=clock.now())
    turn = telephony.callback_answered(db, PROVIDER, ref, now=clock.now())
    _remember(request, turn)
    return _answer(request, db, turn)


@router.post("/phone/decline")
def decline(request: Request, _caller: Public, db: DB, clock: ClockDep) -> Response:
    """Do not pick up: the agent sees no answer and the callback is tried again later."""
    ringing, _caller_row = _ringing(request, db)
    ref = (ringing.provider_ref or "").split(":", 1)[1]
    telephony.call_ended(db, PROVIDER, ref, "busy", now=clock.now())
    return _answer(request, db, None)


@router.get("/phone/audio/{name}")
def prompt_audio(request: Request, name: str, _caller: Public) -> Response:
    """A prompt rendered by espeak-ng (from the cache, by its hash)."""
    if not AUDIO_NAME.match(name):
        raise NotFound("no such prompt")
    path = audio_cache_dir(request) / name
    if not path.is_file():
        raise NotFound("no such prompt")
    return FileResponse(path, media_type="audio/wav")


# --------------------------------------------------------------------------------------------
# Sound: signalling and liveness of the caller's page (ADR 16)
# --------------------------------------------------------------------------------------------


class SignalIn(BaseModel):
    contact_id: int
    kind: str = Field(max_length=20)
    body: dict[str, Any] = Field(default_factory=dict)


class BeatIn(BaseModel):
    media: str = Field(default="none", max_length=20)


def _need_caller(db: Session, request: Request) -> WebCaller:
    caller = _web_caller(db, request)
    if caller is None:
        raise NotFound("this page has not called: dial first")
    return caller


@router.post("/phone/voice/signal")
def caller_signal(
    request: Request, _caller: Public, db: DB, clock: ClockDep, signal: SignalIn
) -> dict[str, int]:
    """A session description (or a hang-up of the sound) from the caller's page to the agent."""
    caller = _need_caller(db, request)
    voice.caller_leg(db, caller, signal.contact_id)  # only a call this page is on
    contact = contacts.get_contact(db, signal.contact_id)
    sent = voice.send(
        db, contact, sender="caller", kind=signal.kind, body=signal.body, now=clock.now()
    )
    return {"id": sent.id}


@router.get("/phone/voice/events")
def caller_events(request: Request, _caller: Public) -> StreamingResponse:
    """The agent's signals to this page, as Server-Sent Events (JSON, ``id`` resumes)."""
    token = request.session.get(VOICE)

    def fetch(session: Session, after: int) -> list[dict[str, Any]] | None:
        caller = voice.caller_of(session, token)
        if caller is None:
            return []
        return [
            voice.as_event(s) for s in voice.signals_for_caller(session, caller.id, after=after)
        ]

    return signal_stream(request, fetch, ("signals:callers",))


@router.post("/phone/voice/beat")
def caller_beat(
    request: Request, _caller: Public, db: DB, clock: ClockDep, beat: BeatIn
) -> dict[str, bool]:
    """The page is open (every 2 s while it has a call), with its connection's state."""
    caller = _web_caller(db, request)
    if caller is None:
        return {"gone": False}
    voice.caller_beat(db, caller, now=clock.now(), media=beat.media)
    return {"gone": caller.gone_at is not None}


@router.post("/phone/voice/leaving")
def caller_leaving(request: Request, _caller: Public, db: DB, clock: ClockDep) -> Response:
    """The page is being closed (a beacon): its calls end unless it beats again at once."""
    caller = _web_caller(db, request)
    if caller is not None:
        voice.caller_leaving(db, caller, now=clock.now())
    return Response(status_code=204)


@router.get("/phone/agent")
def agent_phone(_caller: AgentCaller) -> Response:
    """The agent's softphone is part of the agent desk."""
    return RedirectResponse("/agent", status_code=303)
