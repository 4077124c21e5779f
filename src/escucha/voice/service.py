"""Web calls: who may signal which contact, the signals themselves, and liveness (ADR 16).

Signalling carries WebRTC session descriptions between the caller's page (``/phone``) and the
agent's desk (``/agent``); the sound itself goes browser to browser. escucha decides nothing
about a call from the media: every change of a contact's life goes through the services that
own it (``routing``, ``telephony``, ``callbacks``); this module only notices who is still there.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from escucha import languages
from escucha.auth.models import User
from escucha.callbacks.models import Callback
from escucha.config import Settings
from escucha.contacts import service as contacts
from escucha.contacts.desk import mask_phone
from escucha.contacts.models import Contact
from escucha.errors import Conflict, EscuchaError, Forbidden, InvalidInput
from escucha.i18n import translator
from escucha.ivr import audio
from escucha.jobs import service as jobs
from escucha.qa import rules as qa_rules
from escucha.routing import service as routing
from escucha.routing.models import AgentStatus
from escucha.speech import service as speech
from escucha.speech.models import SpeechTranscript
from escucha.telephony import calls as telephony
from escucha.voice import rules as R
from escucha.voice.models import (
    AgentDesk,
    VoiceConsult,
    VoiceLeg,
    VoiceRecording,
    VoiceSignal,
    WebCaller,
)

log = logging.getLogger("escucha.voice")

PROVIDER = "browser"
#: Contact states in which a caller's page takes part in a call (or is rung for one).
CALLER_LIVE = ("ivr", "queued", "offered", "connected", "on_hold")
#: Contact states an agent may signal: being put through, talking, on hold, just ended.
AGENT_SIGNAL = ("offered", "connected", "on_hold", "wrap_up")
TALKING = ("connected", "on_hold")

#: What the caller's page shows and plays, by reason (message ids of the Babel catalogs).
MESSAGES = {
    "agent_lost": "We lost the connection to the agent. Please hold: you are first in line again.",
}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- callers --------------------------------------------------------------------------------


def caller_of(session: Session, token: object) -> WebCaller | None:
    """The web caller of a session's token, if that browser has called."""
    if not isinstance(token, str) or not token:
        return None
    return session.scalar(select(WebCaller).where(WebCaller.token_hash == token_hash(token)))


def start_caller(
    session: Session, token: str, *, typed_number: str | None, now: datetime
) -> WebCaller:
    """The browser with this token is calling (its row is made on its first call)."""
    caller = caller_of(session, token)
    if caller is None:
        caller = WebCaller(token_hash=token_hash(token), created_at=now, last_seen_at=now)
        session.add(caller)
    caller.typed_number = typed_number or None
    caller.last_seen_at = now
    caller.gone_at = None
    session.flush()
    return caller


def join(
    session: Session,
    contact: Contact,
    *,
    now: datetime,
    caller: WebCaller | None = None,
    user_id: int | None = None,
) -> VoiceLeg:
    """A leg of ``contact`` for this caller's page or this agent (made once)."""
    side = "caller" if caller is not None else "agent"
    query = select(VoiceLeg).where(VoiceLeg.contact_id == contact.id, VoiceLeg.side == side)
    query = (
        query.where(VoiceLeg.caller_id == caller.id)
        if caller is not None
        else query.where(VoiceLeg.user_id == user_id)
    )
    leg = session.scalar(query.limit(1))
    if leg is None:
        leg = VoiceLeg(
            contact_id=contact.id,
            side=side,
            caller_id=caller.id if caller is not None else None,
            user_id=user_id,
            created_at=now,
        )
        session.add(leg)
        session.flush()
    return leg


def caller_leg(session: Session, caller: WebCaller, contact_id: int) -> VoiceLeg:
    """The caller's leg on a contact; anything else is refused (a page signals only its own)."""
    leg = session.scalar(
        select(VoiceLeg).where(
            VoiceLeg.contact_id == contact_id,
            VoiceLeg.side == "caller",
            VoiceLeg.caller_id == caller.id,
        )
    )
    if leg is None:
        raise Forbidden("this page is not on that call")
    return leg


def web_caller_of(session: Session, contact: Contact) -> WebCaller | None:
    """The browser on the caller's side of ``contact`` (or of the call a callback came from)."""
    ids = [contact.id]
    cb = session.scalar(select(Callback).where(Callback.contact_id == contact.id))
    if cb is not None and cb.origin_contact_id is not None:
        ids.append(cb.origin_contact_id)
    caller_id = session.scalar(
        select(VoiceLeg.caller_id)
        .where(VoiceLeg.contact_id.in_(ids), VoiceLeg.side == "caller")
        .order_by(VoiceLeg.id.desc())
        .limit(1)
    )
    return session.get(WebCaller, caller_id) if caller_id is not None else None


def is_alive(caller: WebCaller | None, now: datetime) -> bool:
    return (
        caller is not None
        and caller.gone_at is None
        and not R.caller_gone(caller.last_seen_at, now)
    )


def ringing_for(session: Session, caller: WebCaller) -> Contact | None:
    """A callback being dialled to this browser: only the page whose call asked for it rings."""
    origins = select(VoiceLeg.contact_id).where(
        VoiceLeg.side == "caller", VoiceLeg.caller_id == caller.id
    )
    return session.scalar(
        select(Contact)
        .join(Callback, Callback.contact_id == Contact.id)
        .where(
            Callback.origin_contact_id.in_(origins),
            Contact.channel == "callback",
            Contact.state == "offered",
            Contact.provider == PROVIDER,
            Callback.state == "dialing",
        )
        .order_by(Contact.id.desc())
        .limit(1)
    )


def caller_beat(session: Session, caller: WebCaller, *, now: datetime, media: str) -> None:
    """The caller's page is open (every 2 s), with its peer connection's state."""
    if media not in R.MEDIA_STATES:
        raise InvalidInput(f"media: one of {', '.join(sorted(R.MEDIA_STATES))}")
    caller.last_seen_at = now
    caller.leaving_at = None
    if caller.gone_at is not None:
        return  # declared gone already; its calls have ended
    legs = session.scalars(
        select(VoiceLeg).where(VoiceLeg.caller_id == caller.id, VoiceLeg.ended_at.is_(None))
    )
    for leg in legs:
        leg.media = media


def caller_leaving(session: Session, caller: WebCaller, *, now: datetime) -> None:
    """The page is being closed or reloaded: gone unless it beats again in a moment."""
    if caller.gone_at is None:
        caller.leaving_at = now


def caller_left(session: Session, caller: WebCaller, *, at: datetime, reason: str) -> int:
    """The caller's page is gone since ``at``: each call it was on ends at that time.

    Waiting (IVR, queue, being offered) it is an abandon; talking, the conversation ends and the
    agent wraps up; a callback ringing there was not answered (a real attempt was made).
    """
    if caller.gone_at is None:
        caller.gone_at = at
    ended = 0
    ringing = ringing_for(session, caller)
    if ringing is not None and ringing.provider_ref:
        ref = ringing.provider_ref.split(":", 1)[1]
        telephony.call_ended(
            session, PROVIDER, ref, "no-answer", now=max(at, ringing.offered_at or at)
        )
        ended += 1
    legs = list(
        session.scalars(
            select(VoiceLeg).where(VoiceLeg.caller_id == caller.id, VoiceLeg.ended_at.is_(None))
        )
    )
    for leg in legs:
        leg.ended_at = at
        leg.end_reason = reason
        contact = session.get(Contact, leg.contact_id)
        if contact is None or contact.provider != PROVIDER or not contact.provider_ref:
            continue
        if contact.state not in CALLER_LIVE:
            continue
        ref = contact.provider_ref.split(":", 1)[1]
        status = "no-answer" if contact.channel == "callback" else "completed"
        when = max(at, contact.offered_at or at) if contact.channel == "callback" else at
        telephony.call_ended(session, PROVIDER, ref, status, now=when)
        ended += 1
        log.info(
            "web caller gone",
            extra={"contact_id": contact.id, "reason": reason, "state": contact.state},
        )
    return ended


# --- agents ---------------------------------------------------------------------------------


def agent_contact(session: Session, user_id: int, contact_id: int) -> Contact:
    """A contact the agent may signal: offered or assigned to them, or just ended by them."""
    contact = session.get(Contact, contact_id)
    if contact is None or contact.agent_id != user_id or contact.state not in AGENT_SIGNAL:
        raise Forbidden(f"contact {contact_id} is not a call of yours")
    return contact


def desk_beat(session: Session, user_id: int, *, now: datetime, mic_ok: bool) -> AgentDesk:
    """The desk says what it carries (the microphone's test): sent when that changes, and
    rarely while its live stream cannot be opened; the stream keeps it alive otherwise."""
    desk = session.get(AgentDesk, user_id)
    if desk is None:
        desk = AgentDesk(user_id=user_id, last_seen_at=now)
        session.add(desk)
    desk.last_seen_at = now
    desk.mic_ok = mic_ok
    desk.gone_at = None
    session.flush()
    return desk


def desks_alive(session: Session, user_ids: Collection[int], *, now: datetime) -> int:
    """The desks of ``user_ids`` are open now (their live streams are): one statement for all
    of them, the columns a beat writes but the microphone's. Returns the rows marked."""
    if not user_ids:
        return 0
    marked = session.execute(
        update(AgentDesk)
        .where(AgentDesk.user_id.in_(sorted(user_ids)))
        .values(last_seen_at=now, gone_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(marked, "rowcount", 0) or 0)


# --- signals --------------------------------------------------------------------------------


def send(
    session: Session,
    contact: Contact,
    *,
    sender: str,
    kind: str,
    body: Any,
    now: datetime,
    user_id: int | None = None,
) -> VoiceSignal:
    """A signal from one side of ``contact`` to the other (checked for its side)."""
    try:
        clean = R.check_signal(sender, kind, body)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    recipient = "agent" if sender == "caller" else "caller"
    if sender == "caller":
        if contact.agent_id is None and kind != "bye":
            raise Conflict("no agent is on this call yet")
        user_id = contact.agent_id
    signal = VoiceSignal(
        contact_id=contact.id,
        sender=sender,
        recipient=recipient,
        user_id=user_id,
        kind=kind,
        body=clean,
        created_at=now,
    )
    session.add(signal)
    session.flush()
    return signal


def last_signal_id(session: Session) -> int:
    return int(session.scalar(select(func.max(VoiceSignal.id))) or 0)


def signals_for_caller(session: Session, caller_id: int, *, after: int) -> list[VoiceSignal]:
    mine = select(VoiceLeg.contact_id).where(
        VoiceLeg.side == "caller", VoiceLeg.caller_id == caller_id
    )
    return list(
        session.scalars(
            select(VoiceSignal)
            .where(
                VoiceSignal.id > after,
                VoiceSignal.recipient == "caller",
                VoiceSignal.contact_id.in_(mine),
            )
            .order_by(VoiceSignal.id)
            .limit(50)
        )
    )


def signals_for_agent(session: Session, user_id: int, *, after: int) -> list[VoiceSignal]:
    return list(
        session.scalars(
            select(VoiceSignal)
            .where(
                VoiceSignal.id > after,
                VoiceSignal.recipient == "agent",
                VoiceSignal.user_id == user_id,
            )
            .order_by(VoiceSignal.id)
            .limit(50)
        )
    )


def as_event(signal: VoiceSignal) -> dict[str, Any]:
    return {"id": signal.id, "contact_id": signal.contact_id, "kind": signal.kind, **signal.body}


# --- consults: a warm transfer (ADR 24) ------------------------------------------------------


def open_consult(session: Session, user_id: int) -> VoiceConsult | None:
    """The consult this agent is in (asking or asked), if any."""
    return session.scalar(
        select(VoiceConsult)
        .where(
            VoiceConsult.ended_at.is_(None),
            or_(VoiceConsult.from_user_id == user_id, VoiceConsult.to_user_id == user_id),
        )
        .order_by(VoiceConsult.id.desc())
        .limit(1)
    )


def consult_targets(session: Session, user_id: int, *, now: datetime) -> list[tuple[int, str]]:
    """Colleagues who could take a consult now: available, free, with their desk open."""
    fresh = now - timedelta(seconds=R.AGENT_CALL_GRACE_S)
    rows = session.execute(
        select(User.id, User.display_name)
        .join(AgentStatus, AgentStatus.user_id == User.id)
        .join(AgentDesk, AgentDesk.user_id == User.id)
        .where(
            User.id != user_id,
            User.active.is_(True),
            AgentStatus.state == "available",
            AgentStatus.contact_id.is_(None),
            AgentDesk.gone_at.is_(None),
            AgentDesk.last_seen_at >= fresh,
        )
        .order_by(User.display_name)
    ).all()
    return [(int(uid), str(name)) for uid, name in rows]


def _consult(session: Session, consult_id: int, user_id: int) -> VoiceConsult:
    consult = session.get(VoiceConsult, consult_id)
    if consult is None or user_id not in (consult.from_user_id, consult.to_user_id):
        raise Forbidden(f"consult {consult_id} is not yours")
    if consult.ended_at is not None:
        raise Conflict(f"consult {consult_id} has ended ({consult.outcome})")
    return consult


def start_consult(
    session: Session, user_id: int, contact_id: int, to_user_id: int, *, now: datetime, note: str
) -> VoiceConsult:
    """The agent asks a colleague to talk first; the customer waits on hold meanwhile."""
    contact = agent_contact(session, user_id, contact_id)
    if contact.state != "on_hold":
        raise Conflict("put the customer on hold before talking to a colleague")
    if to_user_id == user_id:
        raise InvalidInput("to_user: choose a colleague, not yourself")
    if open_consult(session, user_id) is not None:
        raise Conflict("you are already talking to a colleague: hand over or cancel first")
    if to_user_id not in {uid for uid, _ in consult_targets(session, user_id, now=now)}:
        raise Conflict("that colleague is not available now: choose another one")
    routing.reserve_for_consult(session, to_user_id, now=now)
    consult = VoiceConsult(
        contact_id=contact.id,
        from_user_id=user_id,
        to_user_id=to_user_id,
        note=note.strip()[:1000],
        started_at=now,
    )
    session.add(consult)
    contacts.transition(session, contact, "consult", at=now, to_agent=to_user_id)
    session.flush()
    return consult


def answer_consult(session: Session, user_id: int, consult_id: int, *, now: datetime) -> None:
    consult = _consult(session, consult_id, user_id)
    if consult.to_user_id != user_id:
        raise Forbidden("only the colleague asked answers a consult")
    consult.answered_at = consult.answered_at or now


def _finish(session: Session, consult: VoiceConsult, outcome: str, *, now: datetime) -> None:
    consult.ended_at = now
    consult.outcome = outcome
    contact = session.get(Contact, consult.contact_id)
    if contact is not None and contacts.can(contact, "end_consult"):
        talked = (now - consult.answered_at).total_seconds() if consult.answered_at else 0.0
        contacts.transition(
            session,
            contact,
            "end_consult",
            at=now,
            agent_id=consult.from_user_id,
            to_agent=consult.to_user_id,
            outcome=outcome,
            talk_s=talked,
        )
    session.add(
        VoiceSignal(
            contact_id=consult.contact_id,
            sender="agent",
            recipient="agent",
            user_id=consult.to_user_id,
            kind="consult_bye",
            body={"consult_id": consult.id, "reason": outcome},
            created_at=now,
        )
    )


def end_consult(session: Session, user_id: int, consult_id: int, *, now: datetime) -> str:
    """Cancelled by the agent who asked (back to the customer) or declined by the colleague."""
    consult = _consult(session, consult_id, user_id)
    outcome = "cancelled" if consult.from_user_id == user_id else "declined"
    close_consult(session, consult, outcome, now=now)
    return outcome


#: Outcomes that bring the customer back to the agent who asked.
BACK_TO_CUSTOMER = ("cancelled", "unanswered")


def close_consult(session: Session, consult: VoiceConsult, outcome: str, *, now: datetime) -> None:
    """End an open consult without a hand-over: cancelled, declined, ``unanswered`` (the
    colleague's phone did not answer) or ``customer_left``. The colleague is free again;
    cancelled and unanswered bring the customer back to the agent who asked."""
    _finish(session, consult, outcome, now=now)
    routing.end_reservation(session, consult.to_user_id, now=now)
    contact = session.get(Contact, consult.contact_id)
    if outcome in BACK_TO_CUSTOMER and contact is not None and contact.state == "on_hold":
        routing.resume(session, consult.from_user_id, contact.id, now=now)


def consult_on_pbx(session: Session, consult: VoiceConsult) -> bool:
    """Whether the consult is about a call on the PBX (the phones carry it, not the desks)."""
    contact = session.get(Contact, consult.contact_id)
    return contact is not None and contact.provider == "asterisk"


def contact_consult(session: Session, contact_id: int) -> VoiceConsult | None:
    """The open consult about this contact, if any."""
    return session.scalar(
        select(VoiceConsult)
        .where(VoiceConsult.contact_id == contact_id, VoiceConsult.ended_at.is_(None))
        .order_by(VoiceConsult.id.desc())
        .limit(1)
    )


def hand_over(session: Session, user_id: int, consult_id: int, *, now: datetime) -> Contact:
    """The customer now talks with the colleague; the agent who asked leaves the call."""
    consult = _consult(session, consult_id, user_id)
    if consult.from_user_id != user_id:
        raise Forbidden("only the agent on the call hands it over")
    if consult.answered_at is None:
        raise Conflict("the colleague has not answered yet")
    _finish(session, consult, "handed_over", now=now)
    contact = routing.hand_over(
        session, user_id, consult.contact_id, consult.to_user_id, now=now, note=consult.note
    )
    for leg in session.scalars(
        select(VoiceLeg).where(
            VoiceLeg.contact_id == contact.id,
            VoiceLeg.side == "agent",
            VoiceLeg.user_id == user_id,
            VoiceLeg.ended_at.is_(None),
        )
    ):
        leg.ended_at = now
        leg.end_reason = "handed_over"
    return contact


def consult_send(
    session: Session, user_id: int, consult_id: int, kind: str, body: Any, *, now: datetime
) -> VoiceSignal:
    """A session description between the two agents' desks (the customer hears none of it)."""
    consult = _consult(session, consult_id, user_id)
    try:
        clean = R.check_signal("consult", kind, body)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if consult.answered_at is None and kind != "bye":
        raise Conflict("the colleague has not answered yet")
    other = consult.to_user_id if user_id == consult.from_user_id else consult.from_user_id
    signal = VoiceSignal(
        contact_id=consult.contact_id,
        sender="agent",
        recipient="agent",
        user_id=other,
        kind=f"consult_{kind}",
        body={**clean, "consult_id": consult.id},
        created_at=now,
    )
    session.add(signal)
    session.flush()
    return signal


def lose_consults(session: Session, user_id: int, *, now: datetime) -> int:
    """A desk went silent: its open consult ends (the colleague asked is free again)."""
    consult = open_consult(session, user_id)
    if consult is None:
        return 0
    _finish(session, consult, "lost", now=now)
    if consult.to_user_id != user_id:
        routing.end_reservation(session, consult.to_user_id, now=now)
    return 1


# --- what the desk shows --------------------------------------------------------------------


@dataclass(frozen=True)
class DeskVoice:
    """How the desk's softphone reaches the customer of a contact."""

    transport: str  # "webrtc" (a web caller), "twilio", or "" (no voice through the desk)
    typed_number: str  # the number typed on the web page, masked
    caller_alive: bool
    record: bool = True  # False: the caller refused the recording at the IVR's notice


def desk_voice(session: Session, contact: Contact, *, now: datetime) -> DeskVoice:
    record = not telephony.recording_refused(session, contact)
    caller = web_caller_of(session, contact)
    if caller is not None:
        typed = mask_phone(caller.typed_number)
        return DeskVoice("webrtc", typed, is_alive(caller, now), record)
    if contact.provider == "twilio":
        return DeskVoice("twilio", "", False, record)
    return DeskVoice("", "", False, record)


# --- sweeps ---------------------------------------------------------------------------------


def _say(settings: Settings, key: str, language: str) -> dict[str, str]:
    """A message the caller's page shows and plays (espeak-ng's rendering when installed)."""
    lang = languages.resolve(language)
    text = translator(lang)(MESSAGES[key])
    out = {"reason": key, "text": text}
    if shutil.which(audio.ESPEAK) is not None:
        cache = Path(settings.outbox_dir).parent / "ivr-audio"
        try:
            rendered = audio.render_text(text, lang, rate_wps=2.6, cache_dir=cache)
            out["audio"] = f"/phone/audio/{rendered.path.name}"
        except EscuchaError as exc:
            log.warning("message not rendered: %s", exc.message)
    return out


def agent_lost(
    session: Session, user_id: int, contact: Contact, *, now: datetime, settings: Settings
) -> None:
    """The agent's desk went silent in a call: the caller goes back to the head of the line."""
    queue = contact.queue or ""
    if contact.state == "offered":
        routing.decline(session, user_id, contact.id, now=now)
    else:
        note = "La conexión con el agente se perdió; el cliente vuelve a la cola."
        routing.transfer(session, user_id, contact.id, queue, now=now, note=note)
    message = _say(settings, "agent_lost", contact.language)
    session.add(
        VoiceSignal(
            contact_id=contact.id,
            sender="agent",
            recipient="caller",
            user_id=user_id,
            kind="bye",
            body=message,
            created_at=now,
        )
    )
    for leg in session.scalars(
        select(VoiceLeg).where(
            VoiceLeg.contact_id == contact.id,
            VoiceLeg.side == "agent",
            VoiceLeg.ended_at.is_(None),
        )
    ):
        leg.ended_at = now
        leg.end_reason = "agent_lost"
    log.warning("agent's desk lost in a call", extra={"contact_id": contact.id, "agent": user_id})


@dataclass
class Swept:
    callers_gone: int = 0
    calls_ended: int = 0
    agents_lost: int = 0
    agents_offline: int = 0


def sweep(session: Session, *, now: datetime, settings: Settings) -> Swept:
    """Callers and desks that went silent: what they were doing ends at its true time."""
    out = Swept()
    stale = now - timedelta(seconds=R.CALLER_GRACE_S)
    left = now - timedelta(seconds=R.LEAVING_GRACE_S)
    for caller in session.scalars(
        select(WebCaller).where(
            WebCaller.gone_at.is_(None),
            or_(WebCaller.last_seen_at < stale, WebCaller.leaving_at < left),
        )
    ).all():
        out.callers_gone += 1
        closed = caller.leaving_at is not None
        at = caller.leaving_at if caller.leaving_at is not None else caller.last_seen_at
        reason = "page_closed" if closed else "silent"
        out.calls_ended += caller_left(session, caller, at=at, reason=reason)
    in_call = now - timedelta(seconds=R.AGENT_CALL_GRACE_S)
    idle = now - timedelta(seconds=R.AGENT_IDLE_GRACE_S)
    rows = session.execute(
        select(AgentDesk, AgentStatus)
        .join(AgentStatus, AgentStatus.user_id == AgentDesk.user_id)
        .where(AgentDesk.gone_at.is_(None), AgentDesk.last_seen_at < in_call)
    ).all()
    for desk, status in rows:
        lose_consults(session, desk.user_id, now=now)
        contact = session.get(Contact, status.contact_id) if status.contact_id else None
        if contact is not None and contact.state in ("offered", *TALKING):
            if web_caller_of(session, contact) is None and contact.state != "offered":
                continue  # a Twilio or phone call does not depend on the desk being open
            agent_lost(session, desk.user_id, contact, now=now, settings=settings)
            routing.set_agent_state(session, desk.user_id, "offline", now=now)
            desk.gone_at = desk.last_seen_at
            out.agents_lost += 1
        elif contact is None and status.state == "available" and desk.last_seen_at < idle:
            routing.set_agent_state(session, desk.user_id, "offline", now=now)
            desk.gone_at = desk.last_seen_at
            out.agents_offline += 1
    session.execute(
        delete(VoiceSignal).where(
            VoiceSignal.created_at < now - timedelta(seconds=R.SIGNAL_RETENTION_S)
        )
    )
    return out


# --- recordings (ADR 15) --------------------------------------------------------------------

MAX_CHUNK_BYTES = 2 * 1024 * 1024
RECORDING_TYPES = ("audio/webm", "audio/ogg")


def recordings_dir(settings: Settings) -> Path:
    return Path(settings.outbox_dir).parent / "recordings"


def recordings_of(session: Session, contact_id: int) -> list[VoiceRecording]:
    """The contact's recorded legs still kept, in the order they began."""
    return list(
        session.scalars(
            select(VoiceRecording)
            .where(VoiceRecording.contact_id == contact_id, VoiceRecording.deleted_at.is_(None))
            .order_by(VoiceRecording.leg)
        )
    )


def recording_of(session: Session, contact_id: int, leg: int = 1) -> VoiceRecording | None:
    return session.scalar(
        select(VoiceRecording).where(
            VoiceRecording.contact_id == contact_id,
            VoiceRecording.leg == leg,
            VoiceRecording.deleted_at.is_(None),
        )
    )


def _recording_type(content_type: str) -> str:
    base = content_type.split(";", 1)[0].strip().lower()
    if base not in RECORDING_TYPES:
        raise InvalidInput(f"content-type: one of {', '.join(RECORDING_TYPES)}")
    return base


def start_leg(
    session: Session, contact: Contact, *, user_id: int, content_type: str, now: datetime
) -> VoiceRecording:
    """A new leg of the call's recording: the agent's desk began recording the customer and
    itself (each agent a call reaches records their own part; a desk reloaded mid-call
    begins another leg). Legs are numbered from 1 in the order they begin."""
    base = _recording_type(content_type)
    if telephony.recording_refused(session, contact):
        raise Conflict("the caller refused the recording of this call")
    last = session.scalar(
        select(func.max(VoiceRecording.leg)).where(VoiceRecording.contact_id == contact.id)
    )
    rec = VoiceRecording(
        contact_id=contact.id,
        leg=int(last or 0) + 1,
        user_id=user_id,
        content_type=base,
        started_at=now,
        updated_at=now,
    )
    session.add(rec)
    session.flush()
    _finish_later(session, rec, at=now + timedelta(seconds=R.LEG_CHECK_S), now=now)
    return rec


def add_chunk(
    session: Session,
    contact_id: int,
    *,
    user_id: int,
    leg: int,
    seq: int,
    data: bytes,
    content_type: str,
    now: datetime,
    settings: Settings,
) -> VoiceRecording:
    """The next piece of an agent's leg of a call's recording (a resent piece is kept once).

    Each piece is its own file, written before the row counts it: a crash loses at most the
    pieces the desk had not sent yet. Only the leg's own agent sends its pieces: while the call
    is theirs, and for :data:`R.LEG_TAIL_S` after their last piece once it is not (the desk's
    recorder gives its last piece when the call has just left it, handed over or ended).
    """
    base = _recording_type(content_type)
    if not data or len(data) > MAX_CHUNK_BYTES:
        raise InvalidInput(f"a recording piece is 1 to {MAX_CHUNK_BYTES} bytes")
    rec = session.scalar(
        select(VoiceRecording)
        .where(VoiceRecording.contact_id == contact_id, VoiceRecording.leg == leg)
        .with_for_update()
    )
    if rec is None or rec.user_id != user_id:
        raise Forbidden(f"leg {leg} of contact {contact_id} is not a recording of yours")
    if base != rec.content_type:
        raise InvalidInput(f"content-type: this leg is recorded as {rec.content_type}")
    contact = session.get_one(Contact, contact_id)  # a recording's contact is never deleted
    ours = contact.agent_id == user_id and contact.state in AGENT_SIGNAL
    if not ours and (now - rec.updated_at).total_seconds() > R.LEG_TAIL_S:
        raise Forbidden(f"contact {contact_id} is not a call of yours")
    if rec.deleted_at is not None:
        raise Conflict("this recording was deleted")
    if telephony.recording_refused(session, contact):
        raise Conflict("the caller refused the recording of this call")
    if seq < rec.chunks:
        return rec  # sent twice: kept once
    if seq > rec.chunks:
        raise Conflict(f"recording piece {rec.chunks} is missing: send the pieces in order")
    folder = recordings_dir(settings) / str(contact.id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / R.piece_name(leg, seq)).write_bytes(data)
    rec.chunks += 1
    rec.bytes += len(data)
    rec.updated_at = now
    session.flush()
    return rec


def recording_pieces(rec: VoiceRecording, settings: Settings) -> list[Path]:
    folder = recordings_dir(settings) / str(rec.contact_id)
    return [folder / R.piece_name(rec.leg, i) for i in range(rec.chunks)]


def delete_old_recordings(session: Session, *, now: datetime, settings: Settings) -> int:
    """Recorded legs older than the retention period are deleted, each with its pieces (the
    row keeps the trace); a contact's folder goes with its last leg."""
    cutoff = now - timedelta(days=settings.recording_retention_days)
    old = session.scalars(
        select(VoiceRecording).where(
            VoiceRecording.deleted_at.is_(None), VoiceRecording.started_at < cutoff
        )
    ).all()
    for rec in old:
        folder = recordings_dir(settings) / str(rec.contact_id)
        for piece in folder.glob(R.piece_name(rec.leg, None)):
            piece.unlink(missing_ok=True)
        (folder / R.recording_name(rec.leg, rec.content_type)).unlink(missing_ok=True)
        rec.deleted_at = now
    session.flush()
    for contact_id in {rec.contact_id for rec in old}:
        if not recordings_of(session, contact_id):
            shutil.rmtree(recordings_dir(settings) / str(contact_id), ignore_errors=True)
    return len(old)


# --- a complete leg is transcribed (ADR 15, ADR 19) -----------------------------------------


def _finish_later(session: Session, rec: VoiceRecording, *, at: datetime, now: datetime) -> None:
    jobs.enqueue(
        session,
        "voice.finish_leg",
        {"recording_id": rec.id},
        now=now,
        run_at=at,
        idempotency_key=f"voice.finish_leg:{rec.id}:{at.isoformat()}",
    )


def _leg_live(session: Session, rec: VoiceRecording) -> bool:
    """Whether the leg's agent may still be recording it: still on the call, and their desk
    has begun no later leg of it."""
    contact = session.get_one(Contact, rec.contact_id)
    if contact.agent_id != rec.user_id or contact.state not in TALKING:
        return False
    later = session.scalar(
        select(VoiceRecording.id)
        .where(
            VoiceRecording.contact_id == rec.contact_id,
            VoiceRecording.user_id == rec.user_id,
            VoiceRecording.leg > rec.leg,
        )
        .limit(1)
    )
    return later is None


def finish_leg(
    session: Session, recording_id: int, *, now: datetime, settings: Settings
) -> SpeechTranscript | None:
    """The ``voice.finish_leg`` job: a leg whose recording is complete is handed to the
    transcription job; one still being recorded is looked at again later."""
    rec = session.scalar(
        select(VoiceRecording).where(VoiceRecording.id == recording_id).with_for_update()
    )
    if rec is None or rec.deleted_at is not None:
        return None
    due = R.leg_complete_at(rec.updated_at, live=_leg_live(session, rec))
    if due is None or due > now:
        later = due if due is not None else now + timedelta(seconds=R.LEG_CHECK_S)
        _finish_later(session, rec, at=later, now=now)
        return None
    return transcribe_leg(session, rec, now=now, settings=settings)


def transcribe_leg(
    session: Session, rec: VoiceRecording, *, now: datetime, settings: Settings
) -> SpeechTranscript | None:
    """Ask for the transcription of a complete leg (its pieces joined into one file beside
    them, deleted with them), in the contact's language; agent on channel 0. A leg that
    cannot be transcribed is skipped with the reason in the log."""
    where = {"contact_id": rec.contact_id, "leg": rec.leg}
    contact = session.get_one(Contact, rec.contact_id)
    language = languages.resolve(contact.language)
    if rec.chunks == 0:
        log.info("recorded leg not transcribed: no piece was recorded", extra=where)
        return None
    if language not in qa_rules.LANGS:
        log.warning(
            "recorded leg not transcribed: no speech engine for %s (one of %s)",
            language,
            ", ".join(qa_rules.LANGS),
            extra=where,
        )
        return None
    pieces = recording_pieces(rec, settings)
    try:
        data = b"".join(piece.read_bytes() for piece in pieces)
    except OSError as exc:
        log.warning("recorded leg not transcribed: %s", exc, extra=where)
        return None
    path = pieces[0]
    if len(pieces) > 1:
        path = path.parent / R.recording_name(rec.leg, rec.content_type)
        tmp = path.with_suffix(".joining")
        tmp.write_bytes(data)
        tmp.replace(path)
    return speech.request_transcription(
        session,
        contact_id=rec.contact_id,
        uri=str(path),
        sha256=speech.sha256_of(data),
        language=language,
        now=now,
        source="voice",
        agent_channel=0,
    )
