"""The built-in browser phone: a caller page and the agent's softphone (W1, W2, W6, C1).

``/phone`` is the demo caller: no login, a dial button, a keypad, the prompts as text (and as
audio when espeak-ng is installed), the queue messages as they come, a key to ask for a
callback, and hang up. It speaks the same internal telephony interface as Twilio
(``escucha.telephony.service``, provider ``"browser"``). The call lives in the session cookie.
When an agent calls back a browser-phone customer, this page rings: the number typed on the
page identifies the customer.

``/phone/agent`` is the agent's softphone: the call offered to them with the caller's number
and the path taken through the IVR, and the buttons to answer, call back, hold, hang up and
finish. Its panel (``/phone/agent/panel``) can be embedded in the agent desktop.

No voice is carried: this phone shows and speaks the prompts; a conversation needs Twilio.
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
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.auth.api import DB, AgentCaller, ClockDep, Public
from escucha.auth.models import User
from escucha.callbacks import service as callbacks
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact, Customer, Estimate
from escucha.errors import EscuchaError, InvalidInput, NotFound
from escucha.flows import calls
from escucha.ivr import audio
from escucha.org.models import Organisation, Queue
from escucha.routing import service as routing
from escucha.routing.models import AgentStatus
from escucha.telephony import rules as R
from escucha.telephony import service as telephony
from escucha.web.i18n import LANGUAGES, pick_language
from escucha.web.render import render

router = APIRouter(include_in_schema=False)
log = logging.getLogger("escucha.telephony")

PROVIDER = "browser"
KEYPAD = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#")
CALL, NUMBER, LINES, FRESH = "phone_call", "phone_number", "phone_lines", "phone_fresh"
AUDIO = "phone_audio"
MAX_LINES_CHARS = 1500
AUDIO_NAME = re.compile(r"^[0-9a-f]{32}\.wav$")
#: Phases in which the caller page keeps asking the line what is new.
POLLING = frozenset({"queue", "offered", "connected", "on_hold", "callback", "ringing"})


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
    if not lines or not espeak_available():
        return None
    text = " ".join(t for t, _ in lines)
    try:
        rendered = audio.render_text(
            text, lines[0][1], rate_wps=2.6, cache_dir=audio_cache_dir(request)
        )
    except EscuchaError as exc:
        log.warning("the browser phone could not render a prompt: %s", exc.message)
        return None
    return f"/phone/audio/{rendered.path.name}"


def _agent_name(db: Session, agent_id: int | None) -> str:
    user = db.get(User, agent_id) if agent_id else None
    return user.display_name if user is not None else ""


def _customer(db: Session, request: Request) -> Customer | None:
    number = request.session.get(NUMBER)
    if not isinstance(number, str) or not number:
        return None
    return db.scalar(select(Customer).where(Customer.phone == number))


def _caller_view(request: Request, db: Session, turn: R.Turn | None) -> dict[str, Any]:
    """Everything the caller page shows."""
    customer = _customer(db, request)
    ringing = telephony.ringing_callback(db, customer.id) if customer is not None else None
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
        }
    phase = "ringing" if ringing is not None and (call is None or call["ended"]) else None
    phase = phase or (call["phase"] if call is not None else "idle")
    org = db.scalar(select(Organisation.name).limit(1)) or "escucha"
    return {
        "call": call,
        "phase": phase,
        "polling": phase in POLLING,
        "ringing_agent": _agent_name(db, ringing.agent_id) if ringing is not None else "",
        "lines": [{"text": t, "lang": lang} for t, lang in lines],
        # the same element id on every poll: htmx keeps a prompt playing (hx-preserve)
        "audio_url": audio_url,
        "audio_id": "prompt-" + audio_url.rsplit("/", 1)[-1][:32] if audio_url else "",
        "autoplay": fresh,
        "number": request.session.get(NUMBER) or "",
        "keypad": KEYPAD,
        "organisation": org,
        "to_number": request.app.state.settings.twilio_from_number or "",
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
    """The demo caller's phone."""
    turn = _current(request, db, clock.now())
    view = _caller_view(request, db, turn)
    view["languages"] = LANGUAGES
    return render(request, "phone/caller.html", view)


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
    lang = language if language in LANGUAGES else pick_language(request, settings.default_language)
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
    )
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
    turn = telephony.caller_input(db, PROVIDER, ref, now=clock.now(), digits=digits, seq=n)
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
    turn = telephony.caller_input(db, PROVIDER, ref, now=clock.now(), speech=speech, seq=n)
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


def _ringing(request: Request, db: Session) -> Contact:
    customer = _customer(db, request)
    ringing = telephony.ringing_callback(db, customer.id) if customer is not None else None
    if ringing is None or not ringing.provider_ref:
        raise NotFound("nobody is calling this phone now")
    return ringing


@router.post("/phone/answer")
def answer(request: Request, _caller: Public, db: DB, clock: ClockDep) -> Response:
    """Pick up the callback an agent is making to this phone."""
    ringing = _ringing(request, db)
    ref = (ringing.provider_ref or "").split(":", 1)[1]
    request.session.pop(LINES, None)
    turn = telephony.callback_answered(db, PROVIDER, ref, now=clock.now())
    _remember(request, turn)
    return _answer(request, db, turn)


@router.post("/phone/decline")
def decline(request: Request, _caller: Public, db: DB, clock: ClockDep) -> Response:
    """Do not pick up: the agent sees no answer and the callback is tried again later."""
    ringing = _ringing(request, db)
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
# The agent's softphone
# --------------------------------------------------------------------------------------------


def _agent_view(request: Request, db: Session, user: User, now: datetime) -> dict[str, Any]:
    status = db.get(AgentStatus, user.id)
    contact = db.get(Contact, status.contact_id) if status and status.contact_id else None
    lang = pick_language(request, request.app.state.settings.default_language)
    card: dict[str, Any] | None = None
    if contact is not None:
        customer = db.get(Customer, contact.customer_id) if contact.customer_id else None
        queue = (
            db.scalar(select(Queue).where(Queue.name == contact.queue)) if contact.queue else None
        )
        told = db.scalar(
            select(Estimate)
            .where(Estimate.contact_id == contact.id)
            .order_by(Estimate.id.desc())
            .limit(1)
        )
        cb = callbacks.for_contact(db, contact.id) if contact.channel == "callback" else None
        origin = db.get(Contact, cb.origin_contact_id) if cb and cb.origin_contact_id else None
        path_of = origin if origin is not None and not contact.ivr_path else contact
        card = {
            "id": contact.id,
            "channel": contact.channel,
            "state": contact.state,
            "number": (cb.phone if cb else None) or (customer.phone if customer else None) or "",
            "name": customer.name if customer else "",
            "queue": (queue.display_name.get(lang) or queue.name)
            if queue
            else (contact.queue or ""),
            "waited_s": int(contacts.wait_s(contact, contact.answered_at or now)),
            "path": telephony.path_for_agent(db, path_of, lang),
            "told": told.bound_s if told else None,
            "dialing": cb is not None and cb.state == "dialing",
            "due": cb.due_at if cb else None,
            "attempts": cb.attempts if cb else 0,
            "language": contact.language,
        }
    return {
        "agent_state": status.state if status else "offline",
        "card": card,
        "queues": [q.name for q in db.scalars(select(Queue).order_by(Queue.name))],
    }


@router.get("/phone/agent")
def agent_phone(request: Request, caller: AgentCaller, db: DB, clock: ClockDep) -> Response:
    """The agent's softphone."""
    view = _agent_view(request, db, caller.need_user(), clock.now())
    return render(request, "phone/agent.html", view)


@router.get("/phone/agent/panel")
def agent_panel(request: Request, caller: AgentCaller, db: DB, clock: ClockDep) -> Response:
    """The softphone panel alone (polled; can be embedded in the agent desktop)."""
    view = _agent_view(request, db, caller.need_user(), clock.now())
    return render(request, "phone/_agent.html", view)


AGENT_ACTIONS = (
    "available",
    "break",
    "offline",
    "answer",
    "decline",
    "dial",
    "no_answer",
    "hold",
    "resume",
    "hangup",
    "wrap_up",
)


@router.post("/phone/agent/act")
def agent_act(
    request: Request,
    caller: AgentCaller,
    db: DB,
    clock: ClockDep,
    action: Annotated[str, Form()],
    contact_id: Annotated[int | None, Form()] = None,
    outcome: Annotated[str, Form(max_length=40)] = "solved",
    recap: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """What the agent does from the softphone."""
    user, now = caller.need_user(), clock.now()
    settings = request.app.state.settings
    if action not in AGENT_ACTIONS:
        raise InvalidInput(f"action: one of {', '.join(AGENT_ACTIONS)}")
    if action in ("available", "break", "offline"):
        routing.set_agent_state(db, user.id, action, now=now)
    else:
        if contact_id is None:
            raise InvalidInput("contact_id: which contact")
        if action == "answer":
            calls.answer(db, user.id, contact_id, now=now)
        elif action == "decline":
            routing.decline(db, user.id, contact_id, now=now)
        elif action == "dial":
            telephony.dial_callback(db, user.id, contact_id, now=now, settings=settings)
        elif action == "no_answer":
            callbacks.no_answer(db, user.id, contact_id, now=now)
        elif action == "hold":
            routing.hold(db, user.id, contact_id, now=now, announced=True)
        elif action == "resume":
            routing.resume(db, user.id, contact_id, now=now)
        elif action == "hangup":
            routing.end_call(db, user.id, contact_id, now=now, ended_by="agent")
        else:
            routing.wrap_up(
                db,
                user.id,
                contact_id,
                now=now,
                outcome=outcome or "solved",
                resolved=True,
                recap=recap,
            )
    if request.headers.get("hx-request"):
        return render(request, "phone/_agent.html", _agent_view(request, db, user, now))
    return RedirectResponse("/phone/agent", status_code=303)
