"""Pure rules of the voice domain: liveness graces, the ICE servers setting, signals (ADR 3)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

#: A caller page beats every 2 s; silent this long it is gone (noticed within 10 s with the
#: sweep's period).
CALLER_GRACE_S = 5.0
#: A page that said it was closing and did not beat again this long (a reload does) is gone.
LEAVING_GRACE_S = 2.5
#: An open desk is marked alive every this many seconds by the server process that holds its
#: live stream (one statement for all of that process's desks), or beats itself while it has no
#: stream open.
DESK_MARK_EVERY_S = 2.0
#: Unmarked this long in a call, the caller goes back in line.
AGENT_CALL_GRACE_S = 8.0
#: Unmarked this long while available, the agent becomes offline (a browser closed by mistake
#: and reopened at once keeps the state).
AGENT_IDLE_GRACE_S = 30.0
#: How often the worker looks for callers and desks that went silent.
SWEEP_EVERY_S = 2.0
#: Signals are kept this long (a page that reconnects reads what it missed meanwhile).
SIGNAL_RETENTION_S = 3600.0

#: Once the call has left an agent (handed over, ended), the pieces of their leg of the
#: recording still in flight are taken this long after the last one arrived.
LEG_TAIL_S = 60.0
#: While a leg's agent is still on the call, whether its recording is complete is looked at
#: this often (then it is handed to the transcription job).
LEG_CHECK_S = 60.0

#: What each side may send: a session description, and the end of its leg.
CALLER_KINDS = frozenset({"answer", "ready", "bye"})
AGENT_KINDS = frozenset({"offer", "bye"})
#: Between two agents' desks in a consult (a warm transfer, ADR 24).
CONSULT_KINDS = frozenset({"offer", "answer", "bye"})
MAX_SDP_CHARS = 20_000
MEDIA_STATES = frozenset(
    {"new", "connecting", "connected", "disconnected", "failed", "closed", "none"}
)
#: Connection quality a person can read: these bounds are where calls start to sound bad.
POOR_LOSS = 0.05
POOR_JITTER_S = 0.05
POOR_RTT_S = 0.4


__pure__ = True  # the standard library only


class IceServersError(ValueError):
    """ESCUCHA_ICE_SERVERS is not a JSON list of ``{"urls": ..., ...}``."""


def parse_ice_servers(raw: str) -> list[dict[str, Any]]:
    """The ``ESCUCHA_ICE_SERVERS`` setting: a JSON list of RTCIceServer objects ("" = none).

    >>> parse_ice_servers('[{"urls": "stun:stun.example.org:3478"}]')
    [{'urls': ['stun:stun.example.org:3478']}]
    """
    text = raw.strip()
    if not text:
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IceServersError(f"ESCUCHA_ICE_SERVERS: not JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(value, list):
        raise IceServersError("ESCUCHA_ICE_SERVERS: a JSON list of servers, [] for none")
    servers: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        where = f"ESCUCHA_ICE_SERVERS[{i}]"
        if not isinstance(item, dict):
            raise IceServersError(f"{where}: an object with urls")
        urls = item.get("urls")
        urls = [urls] if isinstance(urls, str) else urls
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise IceServersError(f"{where}.urls: a URL or a list of URLs")
        for url in urls:
            scheme = url.split(":", 1)[0]
            if scheme not in ("stun", "stuns", "turn", "turns"):
                raise IceServersError(f"{where}.urls: {url!r} is not a stun: or turn: URL")
        server: dict[str, Any] = {"urls": urls}
        turn = any(u.startswith("turn") for u in urls)
        for key in ("username", "credential"):
            if key in item:
                if not isinstance(item[key], str):
                    raise IceServersError(f"{where}.{key}: text")
                server[key] = item[key]
            elif turn:
                raise IceServersError(f"{where}: a TURN server needs {key}")
        unknown = set(item) - {"urls", "username", "credential"}
        if unknown:
            raise IceServersError(f"{where}: unknown {', '.join(sorted(unknown))}")
        servers.append(server)
    return servers


ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$")


def parse_embed_origins(raw: str) -> list[str]:
    """``ESCUCHA_PHONE_EMBED_ORIGINS``: the sites that may frame the web call.

    >>> parse_embed_origins("https://www.example.org  http://localhost:3000")
    ['https://www.example.org', 'http://localhost:3000']
    """
    origins = raw.split()
    for origin in origins:
        if not ORIGIN.match(origin):
            raise ValueError(
                f"ESCUCHA_PHONE_EMBED_ORIGINS: {origin!r} is not an origin such as "
                "https://www.example.org (scheme and host, no path)"
            )
    return origins


def silent_for(last_seen: datetime, now: datetime) -> float:
    return max(0.0, (now - last_seen).total_seconds())


def caller_gone(last_seen: datetime, now: datetime, *, grace_s: float = CALLER_GRACE_S) -> bool:
    return silent_for(last_seen, now) > grace_s


def check_signal(side: str, kind: str, body: Any) -> dict[str, Any]:
    """A signal a page sends, checked: the kind its side may send and a bounded body."""
    allowed = {"caller": CALLER_KINDS, "consult": CONSULT_KINDS}.get(side, AGENT_KINDS)
    if kind not in allowed:
        raise ValueError(f"kind: one of {', '.join(sorted(allowed))}")
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ValueError("body: an object")
    out: dict[str, Any] = {}
    if kind in ("offer", "answer"):
        sdp = body.get("sdp")
        if not isinstance(sdp, str) or not sdp.startswith("v=0") or len(sdp) > MAX_SDP_CHARS:
            raise ValueError(f"body.sdp: a session description of up to {MAX_SDP_CHARS} characters")
        out["sdp"] = sdp
    reason = body.get("reason")
    if reason is not None:
        if not isinstance(reason, str) or len(reason) > 40:
            raise ValueError("body.reason: up to 40 characters")
        out["reason"] = reason
    return out


# --- SIP agents on the organisation's PBX (ADR 23) --------------------------------------------

#: Where an agent's PBX calls ring: the desk in the browser, or a SIP desk phone.
PHONES = ("browser", "desk")
#: What the browser reports of its registration to the PBX.
REGISTRATIONS = frozenset({"registering", "registered", "unregistered", "failed"})
SIP_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
SIP_PASSWORD_BYTES = 18  # 24 URL-safe characters
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def check_sip_username(name: str) -> str:
    """A name usable as a pjsip endpoint, auth and AOR section and a SIP URI's user part.

    >>> check_sip_username("agent-ana")
    'agent-ana'
    """
    if not SIP_USERNAME.match(name):
        raise ValueError(
            f"SIP username {name!r}: 1 to 40 letters, digits, dots, dashes or underscores, "
            "starting with a letter or digit"
        )
    return name


def parse_sip_ws_url(raw: str) -> str:
    """``ESCUCHA_SIP_WS_URL``: the PBX's WebSocket for browsers ("" = no browser phones).

    ``wss://`` always; ``ws://`` only on this machine (browsers refuse it from HTTPS pages and
    it would carry the agent's password in the clear).

    >>> parse_sip_ws_url("wss://pbx.example.org:8089/ws")
    'wss://pbx.example.org:8089/ws'
    """
    url = raw.strip()
    if not url:
        return ""
    match = re.match(r"^(wss?)://([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(:[0-9]{1,5})?(/\S*)?$", url)
    if not match:
        raise ValueError(
            f"ESCUCHA_SIP_WS_URL: {url!r} is not a WebSocket URL such as "
            "wss://pbx.example.org:8089/ws"
        )
    if match.group(1) == "ws" and match.group(2) not in LOOPBACK_HOSTS:
        raise ValueError(
            f"ESCUCHA_SIP_WS_URL: {url!r} must use wss:// (ws:// is allowed on 127.0.0.1 only)"
        )
    return url


def sip_ws_origin(ws_url: str) -> str:
    """The scheme, host and port of the PBX's WebSocket: what the pages' CSP allows.

    >>> sip_ws_origin("wss://pbx.example.org:8089/ws")
    'wss://pbx.example.org:8089'
    """
    return "/".join(ws_url.split("/", 3)[:3]) if ws_url else ""


def sip_domain(ws_url: str, domain: str) -> str:
    """The SIP domain of agents' addresses: ``ESCUCHA_SIP_DOMAIN``, else the PBX's host.

    >>> sip_domain("wss://pbx.example.org:8089/ws", "")
    'pbx.example.org'
    """
    if domain.strip():
        return domain.strip()
    host = re.sub(r"^wss?://", "", ws_url).split("/", 1)[0]
    return host.rsplit(":", 1)[0] if not host.endswith("]") else host


def sip_offline(
    registration: str, changed_at: datetime | None, seen_at: datetime | None, now: datetime
) -> bool:
    """An available agent whose browser phone is not registered, past the idle grace."""
    if seen_at is None or silent_for(seen_at, now) > AGENT_IDLE_GRACE_S:
        return True
    if registration == "registered":
        return False
    return changed_at is None or silent_for(changed_at, now) > AGENT_IDLE_GRACE_S


# --- recordings (ADR 15) --------------------------------------------------------------------


def piece_name(leg: int, seq: int | None) -> str:
    """The file of piece ``seq`` of a leg in the contact's folder (``None``: a glob of all of
    them). The first leg keeps the names of the time when a call had one recording.

    >>> piece_name(1, 3), piece_name(2, 0), piece_name(2, None)
    ('000003.part', 'leg2-000000.part', 'leg2-??????.part')
    """
    number = "??????" if seq is None else f"{seq:06d}"
    return f"{number}.part" if leg == 1 else f"leg{leg}-{number}.part"


def recording_name(leg: int, content_type: str) -> str:
    """The file a complete leg's pieces are joined into, for its transcription.

    >>> recording_name(1, "audio/webm"), recording_name(2, "audio/ogg")
    ('leg1.webm', 'leg2.ogg')
    """
    return f"leg{leg}.{content_type.rsplit('/', 1)[-1]}"


def leg_complete_at(last_piece_at: datetime, *, live: bool) -> datetime | None:
    """When a leg's recording is complete: once the call has left its agent (ended, handed
    over, or that desk began another leg) no piece is taken :data:`LEG_TAIL_S` after the last
    one. ``None`` while the agent is still on the call (not known yet).

    >>> from datetime import datetime as d
    >>> leg_complete_at(d(2026, 1, 1, 10), live=False), leg_complete_at(d(2026, 1, 1), live=True)
    (datetime.datetime(2026, 1, 1, 10, 1), None)
    """
    return None if live else last_piece_at + timedelta(seconds=LEG_TAIL_S)


@dataclass(frozen=True)
class LegHold:
    """A hold within one recorded leg: where it starts in that leg's recording."""

    offset_s: float
    length_s: float | None  # None: never resumed
    announced: bool


def holds_within(
    start: datetime,
    end: datetime,
    agent_id: int,
    holds: Iterable[tuple[datetime, int | None, float | None, bool]],
) -> list[LegHold]:
    """The holds (``(started, agent, length_s, announced)``) this agent began while their leg
    was recorded, placed in that leg's recording.

    >>> from datetime import datetime as d
    >>> holds_within(d(2026, 1, 1, 10), d(2026, 1, 1, 10, 5), 7,
    ...              [(d(2026, 1, 1, 10, 2), 7, 30.0, True), (d(2026, 1, 1, 10, 6), 7, 5.0, False),
    ...               (d(2026, 1, 1, 10, 3), 8, 5.0, False)])
    [LegHold(offset_s=120.0, length_s=30.0, announced=True)]
    """
    return [
        LegHold((at - start).total_seconds(), length_s, announced)
        for at, agent, length_s, announced in holds
        if agent == agent_id and start <= at <= end
    ]
