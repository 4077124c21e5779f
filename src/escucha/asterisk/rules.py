"""Asterisk ARI and AMI, pure: addresses, endpoint templates, hang-up causes, backoff (ADR 22).

Facts about ARI come from Asterisk's published API definitions (``rest-api/api-docs``): the
events WebSocket is ``GET /ari/events?app=<app>``; hang-up causes are ISDN Q.850 numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

#: ``Technology/resource`` as Asterisk names an endpoint (``PJSIP/ana``, ``SIP/100``).
ENDPOINT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,19}/[^\s/]{1,150}$")
#: A trunk template: an endpoint with exactly one ``{number}``.
TRUNK_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,19}/[^\s]*\{number\}[^\s]*$")
#: Reconnect delays, in seconds: doubled from the first up to the last.
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 10.0
#: Q.850 causes an unanswered leg ends with, as the call statuses escucha's service knows.
CAUSE_STATUS: Mapping[int, str] = {
    16: "completed",  # normal clearing
    17: "busy",  # user busy
    18: "no-answer",  # no user responding
    19: "no-answer",  # no answer
    21: "busy",  # call rejected
    1: "failed",  # unallocated number
    3: "failed",  # no route
    20: "failed",  # subscriber absent (not registered)
    27: "failed",  # destination out of order
    34: "failed",  # no circuit available
    38: "failed",  # network out of order
}


class TemplateError(ValueError):
    """An endpoint or trunk template that Asterisk would not accept."""


def events_url(ari_url: str, app: str) -> str:
    """The WebSocket address of ARI's events for ``app`` (``https`` -> ``wss``)."""
    parts = urlsplit(ari_url.rstrip("/"))
    if parts.scheme not in ("http", "https"):
        raise TemplateError(f"ESCUCHA_ARI_URL: {ari_url!r} is not an http(s) address")
    scheme = "wss" if parts.scheme == "https" else "ws"
    query = f"app={quote(app)}&subscribeAll=false"
    return urlunsplit((scheme, parts.netloc, parts.path + "/events", query, ""))


def lease_name(ari_url: str, app: str) -> str:
    """What names one Asterisk's events: its address and the application."""
    parts = urlsplit(ari_url.rstrip("/"))
    return f"{parts.netloc}{parts.path}#{app}"[:300]


def check_endpoint(endpoint: str, where: str = "endpoint") -> str:
    """``endpoint`` when Asterisk can dial it, else a :class:`TemplateError` saying why."""
    endpoint = endpoint.strip()
    if not ENDPOINT_RE.match(endpoint):
        raise TemplateError(
            f"{where}: {endpoint!r} is not an Asterisk endpoint like PJSIP/ana or PJSIP/200"
        )
    return endpoint


def check_trunk(template: str, where: str = "trunk") -> str:
    """A trunk template with one ``{number}`` (``PJSIP/{number}@trunk``), else why not."""
    template = template.strip()
    if template.count("{number}") != 1 or not TRUNK_RE.match(template):
        raise TemplateError(
            f"{where}: {template!r} must be an endpoint with one {{number}}, "
            "like PJSIP/{number}@carrier"
        )
    if re.search(r"\{(?!number\})", template):
        raise TemplateError(f"{where}: {template!r} has a {{...}} other than {{number}}")
    return template


def agent_endpoint(configured: str, username: str) -> str:
    """Where the PBX rings an agent: their own endpoint, else ``PJSIP/<username>``."""
    return configured.strip() or f"PJSIP/{username}"


def dial_trunk(template: str, number: str) -> str:
    """The endpoint of an outside number (E.164: the ``+`` is dropped for the carrier)."""
    digits = number.strip().lstrip("+")
    if not digits.isdigit():
        raise TemplateError(f"number: {number!r} is not a phone number")
    return check_trunk(template).replace("{number}", digits)


def split_endpoint(endpoint: str) -> tuple[str, str]:
    """``"PJSIP/ana"`` -> ``("PJSIP", "ana")``; a dial string's ``@host`` part is dropped."""
    tech, _, resource = endpoint.partition("/")
    return tech, resource.split("@", 1)[0]


def cause_status(cause: int | None) -> str:
    """The call status of a leg that ended with Q.850 ``cause`` without being answered."""
    return CAUSE_STATUS.get(cause or 0, "no-answer")


def backoff_s(attempt: int) -> float:
    """Seconds before reconnect number ``attempt`` (1, 2, ...): 0.5, 1, 2, 4 ... up to 10."""
    return float(min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2.0 ** max(0, attempt - 1)))


@dataclass(frozen=True)
class CodecReport:
    """What an agent's endpoint can carry, as ``escucha asterisk check`` tells it."""

    codecs: tuple[str, ...]
    webrtc: bool

    @property
    def problems(self) -> list[str]:
        out: list[str] = []
        if not any(c in self.codecs for c in ("opus", "ulaw", "alaw", "g722")):
            out.append("allows none of opus, ulaw, alaw, g722 (set allow=opus,ulaw)")
        if self.webrtc and "opus" not in self.codecs and "ulaw" not in self.codecs:
            out.append("is WebRTC but allows neither opus nor ulaw, which browsers speak")
        return out


def codec_report(fields: Mapping[str, str]) -> CodecReport:
    """The codecs (``allow``) and WebRTC flag of a PJSIP endpoint's configuration fields."""
    allow = fields.get("allow", "")
    codecs = tuple(c.strip().lower() for c in re.split(r"[,&]", allow) if c.strip())
    webrtc = fields.get("webrtc", "no").strip().lower() in ("yes", "true", "1", "on")
    return CodecReport(tuple(c for c in codecs if c != "!all" and c != "all"), webrtc)


# --- AMI: the queue events of observe-only mode --------------------------------------------

#: AMI queue events and the ``queue_log`` event they correspond to (the analytics importer's
#: vocabulary, ``escucha.analytics.importers.asterisk``).
AMI_QUEUE_EVENTS: Mapping[str, str] = {
    "QueueCallerJoin": "ENTERQUEUE",
    "AgentCalled": "RINGING",
    "AgentConnect": "CONNECT",
    "AgentRingNoAnswer": "RINGNOANSWER",
    "AgentComplete": "COMPLETE",
    "QueueCallerAbandon": "ABANDON",
    "QueueCallerLeave": "LEAVE",
    "AttendedTransfer": "ATTENDEDTRANSFER",
    "BlindTransfer": "BLINDTRANSFER",
}


def ami_message(block: str) -> dict[str, str]:
    """One AMI message (``Key: value`` lines) as a dict; repeated keys keep the first."""
    out: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and key.strip() not in out:
            out[key.strip()] = value.strip()
    return out


def ami_action(name: str, **fields: str) -> bytes:
    """An AMI action as it travels (CRLF lines, a blank line at the end)."""
    lines = [f"Action: {name}", *(f"{k}: {v}" for k, v in fields.items())]
    for line in lines:
        if "\r" in line or "\n" in line:
            raise ValueError(f"AMI field with a line break: {line[:40]!r}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def interface_user(interface: str) -> str:
    """The user a queue member stands for: ``PJSIP/ana`` -> ``ana``, ``Local/200@x`` -> ``200``."""
    _tech, resource = split_endpoint(interface)
    return resource.split("/", 1)[0]


CALL_RECORDING_RE = re.compile(r"^escucha-call-(\d+)(?:-leg(\d+))?$")


def call_recording(contact_id: int, leg: int) -> str:
    """The name of the recording of the ``leg``-th agent's bridge of a call (the first keeps
    the name of the time when a call had one recording).

    >>> call_recording(7, 1), call_recording(7, 2)
    ('escucha-call-7', 'escucha-call-7-leg2')
    """
    return f"escucha-call-{contact_id}" if leg == 1 else f"escucha-call-{contact_id}-leg{leg}"


def call_recording_leg(name: str) -> tuple[int, int] | None:
    """The contact and leg a recording's name stands for; ``None`` for another recording.

    >>> call_recording_leg("escucha-call-7"), call_recording_leg("escucha-call-7-leg2")
    ((7, 1), (7, 2))
    >>> call_recording_leg("escucha-vm-7") is None
    True
    """
    found = CALL_RECORDING_RE.match(name)
    if found is None:
        return None
    return int(found[1]), int(found[2] or 1)
