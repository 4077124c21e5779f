"""Request bodies bounded at the door, before anything reads them (ADR 18).

:class:`BodyLimit` is a plain ASGI middleware, outside every other part of the application, so
it applies to every caller alike (anonymous, signed in, API token, provider webhook):

- a request whose ``Content-Length`` is over its route's limit is answered ``413`` at once,
  without reading a byte of its body (and the connection is closed, so the client stops
  sending);
- a body without a length (``Transfer-Encoding: chunked``) is counted as it streams in, and
  the request is answered ``413`` as soon as the count passes the limit: the rest is never
  read, so nothing past the limit is held in memory or spooled to disk;
- a provider's webhook (``/telephony/``) has a small limit of its own, enforced before its
  signature is checked.

The limit of a route comes from :data:`ROUTE_LIMITS`, the first entry whose pattern matches
the path, else ``ESCUCHA_MAX_BODY_BYTES``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from escucha import languages
from escucha.config import Settings
from escucha.i18n import translator

log = logging.getLogger("escucha.http")

#: The other fields of a form and the multipart framing around an uploaded file.
FORM_OVERHEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class RouteLimit:
    """Routes whose path matches ``pattern`` take bodies up to the setting ``setting``
    (plus ``overhead`` bytes of form framing)."""

    pattern: re.Pattern[str]
    setting: str
    overhead: int = 0

    def bytes_for(self, settings: Settings) -> int:
        value: int = getattr(settings, self.setting)
        return value + self.overhead


#: Where a body larger than ``ESCUCHA_MAX_BODY_BYTES`` is legitimate (or a smaller one is due).
ROUTE_LIMITS: tuple[RouteLimit, ...] = (
    # Twilio's webhooks are small forms; checked before their signature is.
    RouteLimit(re.compile(r"^/telephony/"), "max_webhook_bytes"),
    # An organisation file as the request body.
    RouteLimit(re.compile(r"^/api/v1/org/apply$"), "max_upload_bytes"),
    # A call history (CSV) uploaded to plan a day.
    RouteLimit(re.compile(r"^/planning/day$"), "max_upload_bytes", FORM_OVERHEAD_BYTES),
    # The public forms: a complaint's text of any length and its files (ADR 27).
    RouteLimit(
        re.compile(r"^/(complaints|requests)/new$"), "max_upload_bytes", FORM_OVERHEAD_BYTES
    ),
    # A prompt recorded for the IVR (a WAV).
    RouteLimit(re.compile(r"^/ivr/recorded/[^/]+$"), "max_upload_bytes", FORM_OVERHEAD_BYTES),
    # A call's transcript pasted or uploaded for quality review.
    RouteLimit(
        re.compile(r"^/qa/contacts/[0-9]+/transcript$"), "max_upload_bytes", FORM_OVERHEAD_BYTES
    ),
)


def limit_for(path: str, settings: Settings) -> int:
    """The largest body, in bytes, a request to ``path`` may carry."""
    for route in ROUTE_LIMITS:
        if route.pattern.search(path):
            return route.bytes_for(settings)
    return settings.max_body_bytes


class _TooLarge(Exception):
    """Raised inside the application's ``receive`` once the body passes its limit."""


def _is_api(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    if path.startswith(("/api/", "/auth/", "/telephony/")):
        return True
    for name, value in scope.get("headers", ()):
        if name == b"accept" and b"application/json" in value:
            return True
    return False


class BodyLimit:
    """Refuse request bodies over their route's limit before reading them (see module)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        app_state = getattr(scope.get("app"), "state", None)
        settings: Settings = getattr(app_state, "settings", None) or self.settings
        limit = limit_for(scope["path"], settings)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            log.warning(
                "request body refused by its length",
                extra={"route": scope["path"], "bytes": declared, "limit": limit},
            )
            await _refuse(scope, send, limit)
            return

        received = 0
        exceeded = False
        started = False

        async def counted() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _TooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the answer is the 413 below, whatever the application made of it
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not exceeded:
                raise
        if exceeded:
            log.warning(
                "request body refused while streaming",
                extra={"route": scope["path"], "bytes": received, "limit": limit},
            )
            if not started:
                await _refuse(scope, send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # the server refuses a malformed length before the application sees it; be safe
            return int(text) if text.isdigit() else 0
    return None


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    message = "the request body is larger than the limit of {limit} bytes"
    # the unread rest of the body must not be taken for the next request
    await answer_at_door(
        scope, send, 413, "too_large", message, [(b"connection", b"close")], limit=limit
    )


async def answer_at_door(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: list[tuple[bytes, bytes]],
    **fields: object,
) -> None:
    """A short answer before the application runs: JSON for the API and webhooks (and anyone
    who asks for it), else plain text in the default language and English (no language has
    been chosen yet). ``message`` is a message id of the Babel catalogs, ``fields`` its
    ``{field}`` values."""
    en = message.format(**fields)
    if _is_api(scope):
        body = json.dumps({"error": code, "detail": en}).encode()
        ctype = b"application/json"
    else:
        said = translator(languages.DEFAULT_LANGUAGE)(message, **fields)
        body = f"{status}: {said} / {en}\n".encode()
        ctype = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", ctype),
                (b"content-length", str(len(body)).encode()),
                *headers,
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
