"""Twilio Programmable Voice webhooks under ``/telephony/twilio/`` (W1, W2, W6, C1).

Point a Twilio number's "A call comes in" at ``/telephony/twilio/voice`` and "Call status
changes" at ``/telephony/twilio/status`` (both POST). The other URLs are named in the TwiML
escucha answers. Every request must carry a valid ``X-Twilio-Signature`` (403 otherwise); a
retried request changes nothing twice. See ``docs/guides/telephony.md``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from escucha.admission import CallRoute
from escucha.auth.api import DB, ClockDep, Webhook
from escucha.errors import InvalidInput
from escucha.telephony import calls as telephony
from escucha.telephony import dialer
from escucha.telephony import rules as R
from escucha.telephony.twilio import TwilioParams, twiml
from escucha.web.pbx_audio import recorded_url

router = APIRouter(prefix="/telephony/twilio", include_in_schema=False, route_class=CallRoute)

PROVIDER = "twilio"


def _xml(request: Request, turn: R.Turn | None) -> Response:
    if turn is None:
        body = '<?xml version="1.0" encoding="UTF-8"?><Response />'
    else:
        settings = request.app.state.settings
        body = twiml(
            turn,
            base_url=settings.base_url,
            woken=dialer.twilio_rest_ready(settings),
            recorded=recorded_url(settings),
        )
    return Response(body, media_type="application/xml")


def _sid(params: dict[str, str], name: str = "CallSid") -> str:
    sid = params.get(name, "").strip()
    if not sid:
        raise InvalidInput(f"{name}: missing")
    return sid


@router.post("/voice")
def voice(
    request: Request, _caller: Webhook, params: TwilioParams, db: DB, clock: ClockDep
) -> Response:
    """A call comes in: the greeting and the first menu."""
    turn = telephony.incoming_call(
        db,
        provider=PROVIDER,
        call_ref=_sid(params),
        from_number=params.get("From"),
        to_number=params.get("To", ""),
        now=clock.now(),
        record=request.app.state.settings.record_calls,
    )
    return _xml(request, turn)


@router.post("/gather")
def gather(
    request: Request,
    _caller: Webhook,
    params: TwilioParams,
    db: DB,
    clock: ClockDep,
    n: int | None = None,
) -> Response:
    """The caller's keys (``Digits``) or words (``SpeechResult``) at a menu; ``n`` numbers it."""
    turn = telephony.caller_input(
        db,
        PROVIDER,
        _sid(params),
        now=clock.now(),
        digits=params.get("Digits"),
        speech=params.get("SpeechResult"),
        seq=n,
        record=request.app.state.settings.record_calls,
    )
    return _xml(request, turn)


@router.post("/wait")
def wait(
    request: Request, _caller: Webhook, params: TwilioParams, db: DB, clock: ClockDep
) -> Response:
    """One pass of the wait loop; ``Digits`` may carry the callback key; ``woken=1`` marks the
    fetch caused by escucha's redirect when an agent was chosen (ADR 12)."""
    woken = None
    if dialer.twilio_rest_ready(request.app.state.settings):
        woken = request.query_params.get("woken") == "1"
    turn = telephony.wait_turn(
        db, PROVIDER, _sid(params), now=clock.now(), digits=params.get("Digits"), woken=woken
    )
    return _xml(request, turn)


@router.post("/agent")
def agent(
    request: Request, _caller: Webhook, params: TwilioParams, db: DB, clock: ClockDep
) -> Response:
    """Status of the leg to the agent's client: ``answered`` answers the contact."""
    if params.get("CallStatus") in ("in-progress", "answered"):
        parent = _sid(params, "ParentCallSid")
        telephony.agent_leg(db, PROVIDER, parent, event="answered", now=clock.now())
    return _xml(request, None)


@router.post("/dialed")
def dialed(
    request: Request, _caller: Webhook, params: TwilioParams, db: DB, clock: ClockDep
) -> Response:
    """The leg to the agent ended (``DialCallStatus``): back to the line, or the end."""
    turn = telephony.agent_leg(
        db,
        PROVIDER,
        _sid(params),
        event="ended",
        status=params.get("DialCallStatus", "completed"),
        now=clock.now(),
    )
    return _xml(request, turn)


@router.post("/recorded")
def recorded(
    request: Request, _caller: Webhook, params: TwilioParams, db: DB, clock: ClockDep
) -> Response:
    """A voicemail was recorded (``RecordingUrl``, ``RecordingDuration``)."""
    duration = params.get("RecordingDuration")
    turn = telephony.leave_voicemail(
        db,
        PROVIDER,
        _sid(params),
        now=clock.now(),
        recording_url=params.get("RecordingUrl") or None,
        duration_s=float(duration) if duration and duration.isdigit() else None,
    )
    return _xml(request, turn)


@router.post("/outbound")
def outbound(
    request: Request, _caller: Webhook, params: TwilioParams, db: DB, clock: ClockDep
) -> Response:
    """The customer picked up a callback escucha dialled: put them through to the agent."""
    turn = telephony.callback_answered(db, PROVIDER, _sid(params), now=clock.now())
    return _xml(request, turn)


@router.post("/status")
def status(
    request: Request, _caller: Webhook, params: TwilioParams, db: DB, clock: ClockDep
) -> Response:
    """Call status changes (``CallStatus``): a call that ends while waiting is abandoned."""
    telephony.call_ended(db, PROVIDER, _sid(params), params.get("CallStatus", ""), now=clock.now())
    return _xml(request, None)
