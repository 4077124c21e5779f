"""Twilio Programmable Voice: turns rendered as TwiML, and webhook signatures checked.

Twilio signs every webhook: ``X-Twilio-Signature`` is the base64 HMAC-SHA1, keyed with the
account's auth token, of the full URL Twilio called followed by the POST parameters sorted by
name. The URL must be the public one (``ESCUCHA_BASE_URL`` + path behind a proxy), else the
request URL. A missing token, a missing signature or a wrong one is refused with 403.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from escucha.config import Settings
from escucha.errors import ConfigurationError, Forbidden
from escucha.telephony import rules as R

log = logging.getLogger("escucha.telephony")

PREFIX = "/telephony/twilio"
SIGNATURE_HEADER = "x-twilio-signature"


def twiml(
    turn: R.Turn,
    *,
    base_url: str = "",
    woken: bool = False,
    recorded: Callable[[R.Say], str | None] | None = None,
) -> str:
    """The TwiML of a turn. URLs are absolute on ``base_url`` when given, else host-relative.

    ``woken``: escucha redirects the call through Twilio's REST API when an agent is chosen
    (``telephony.wake``), so the wait loop stays silent until the next announcement is due
    instead of coming back every ``POLL_S`` seconds. ``recorded``: the URL of a sentence's
    recording (uploaded in the IVR editor), played instead of saying it.
    """
    base = base_url.rstrip("/") + PREFIX
    response = VoiceResponse()

    def say(verb: Any, action: R.Say) -> None:
        url = recorded(action) if recorded is not None else None
        if url:
            verb.play(url)
        else:
            verb.say(action.text, language=R.speech_language(action.language))

    for action in turn.actions:
        if isinstance(action, R.Say):
            say(response, action)
        elif isinstance(action, R.Gather) and action.kind == "menu":
            gather = response.gather(
                input="dtmf speech" if action.speech else "dtmf",
                action=f"{base}/gather?n={turn.seq}",
                method="POST",
                action_on_empty_result=True,
                num_digits=1,
                finish_on_key="",
                timeout=max(1, math.ceil(action.timeout_s)),
                language=R.speech_language(action.language),
                hints=", ".join(action.hints) or None,
                speech_timeout="auto" if action.speech else None,
            )
            for prompt in action.prompts:
                say(gather, prompt)
        elif isinstance(action, R.Gather):
            gather = response.gather(
                input="dtmf",
                action=f"{base}/wait?n={turn.seq}",
                method="POST",
                num_digits=1,
                timeout=max(1, math.ceil(action.timeout_s)),
            )
            for prompt in action.prompts:
                say(gather, prompt)
            pause_s = max(action.pause_s, action.quiet_s) if woken else action.pause_s
            if pause_s > 0:
                gather.pause(length=max(1, math.ceil(pause_s)))
        elif isinstance(action, R.Poll):
            response.redirect(f"{base}/wait", method="POST")
        elif isinstance(action, R.Connect):
            dial = response.dial(action=f"{base}/dialed", method="POST", timeout=20)
            dial.client(
                client_identity(action.agent_id),
                status_callback_event="answered",
                status_callback=f"{base}/agent",
                status_callback_method="POST",
            )
        elif isinstance(action, R.Transfer):
            response.dial(action.number)
        elif isinstance(action, R.Record):
            response.record(
                action=f"{base}/recorded",
                method="POST",
                max_length=action.max_s,
                play_beep=True,
                finish_on_key="#",
            )
        elif isinstance(action, R.Hangup):
            response.hangup()
    return str(response)


def public_url(request: Request, settings: Settings) -> str:
    """The URL Twilio called: ``ESCUCHA_BASE_URL`` + path (+ query) when set, else the request's."""
    if not settings.base_url:
        return str(request.url)
    url = settings.base_url.rstrip("/") + request.url.path
    return f"{url}?{request.url.query}" if request.url.query else url


def signature_ok(token: str, url: str, params: object, signature: str) -> bool:
    """Whether ``signature`` is Twilio's for ``url`` and ``params`` under ``token``."""
    return bool(RequestValidator(token).validate(url, params, signature))


async def twilio_params(request: Request) -> dict[str, str]:
    """The webhook's POST parameters, once its signature is checked (403 otherwise)."""
    settings: Settings = request.app.state.settings
    form = await request.form()
    signature = request.headers.get(SIGNATURE_HEADER)
    if not settings.twilio_auth_token:
        log.warning("a Twilio webhook was refused: ESCUCHA_TWILIO_AUTH_TOKEN is not set")
        raise Forbidden("Twilio webhooks are off: ESCUCHA_TWILIO_AUTH_TOKEN is not set")
    if not signature:
        raise Forbidden("missing X-Twilio-Signature")
    url = public_url(request, settings)
    if not signature_ok(settings.twilio_auth_token, url, form, signature):
        log.warning("a Twilio webhook with a wrong signature was refused (url %s)", url)
        raise Forbidden("wrong X-Twilio-Signature")
    return {k: v for k, v in form.multi_items() if isinstance(v, str)}


TwilioParams = Annotated[dict[str, str], Depends(twilio_params)]


# --------------------------------------------------------------------------------------------
# Agents on Twilio's Voice JavaScript SDK (ADR 24)
# --------------------------------------------------------------------------------------------


def client_identity(user_id: int) -> str:
    """The Voice SDK identity of an agent: what ``<Dial><Client>`` rings."""
    return f"agent-{user_id}"


def sdk_ready(settings: Settings) -> bool:
    """Whether agents' desks can use Twilio's Voice JavaScript SDK."""
    return bool(
        settings.twilio_account_sid
        and settings.twilio_api_key_sid
        and settings.twilio_api_key_secret
        and settings.twilio_twiml_app_sid
    )


def access_token(settings: Settings, user_id: int) -> str:
    """A short-lived access token for the agent's desk: it may receive the calls
    ``<Client>agent-<id></Client>`` rings, and place calls only through escucha's TwiML app."""
    if not sdk_ready(settings):
        raise ConfigurationError(
            "Twilio agents need ESCUCHA_TWILIO_ACCOUNT_SID, ESCUCHA_TWILIO_API_KEY_SID, "
            "ESCUCHA_TWILIO_API_KEY_SECRET and ESCUCHA_TWILIO_TWIML_APP_SID"
        )
    token = AccessToken(
        settings.twilio_account_sid,
        settings.twilio_api_key_sid,
        settings.twilio_api_key_secret,
        identity=client_identity(user_id),
        ttl=settings.twilio_token_ttl_s,
    )
    token.add_grant(
        VoiceGrant(outgoing_application_sid=settings.twilio_twiml_app_sid, incoming_allow=True)
    )
    return str(token.to_jwt())
