"""``escucha asterisk check``: what a PBX lacks before escucha can run its line, in plain words.

Each :class:`Finding` is one thing checked: ARI reachable with escucha's credentials, the
application registered (a node of escucha is connected to its events), every agent's endpoint
present on the PBX and registered, the codecs they allow, the trunk template and its endpoint,
and what escucha itself needs (its public address, espeak-ng for the prompts).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Literal

import httpx
from sqlalchemy.orm import Session

from escucha.asterisk import rules as A
from escucha.asterisk import service as pbx
from escucha.asterisk.ari import AriClient, AriError
from escucha.config import Settings
from escucha.ivr.audio import ESPEAK

Level = Literal["ok", "warning", "missing"]


@dataclass(frozen=True)
class Finding:
    level: Level
    text: str


def check(session: Session, settings: Settings, client: AriClient | None = None) -> list[Finding]:
    """Everything checked, in the order a PBX admin would fix it."""
    if client is not None or not settings.ari_url:
        return _check(session, settings, client)
    own = AriClient.from_settings(settings)
    try:
        return _check(session, settings, own)
    finally:
        own.close()


def _check(session: Session, settings: Settings, client: AriClient | None) -> list[Finding]:
    out: list[Finding] = []
    if not settings.ari_url:
        return [
            Finding(
                "missing",
                "ESCUCHA_ARI_URL is not set: give the ARI address, e.g. "
                "https://pbx.example.org:8089/ari",
            )
        ]
    if not settings.ari_user or not settings.ari_password:
        out.append(Finding("missing", "ESCUCHA_ARI_USER and ESCUCHA_ARI_PASSWORD must be set"))
    if not settings.base_url:
        out.append(
            Finding(
                "missing",
                "ESCUCHA_BASE_URL is not set: Asterisk fetches escucha's prompts from it",
            )
        )
    if shutil.which(ESPEAK) is None:
        out.append(Finding("missing", "espeak-ng is not installed: prompts cannot be spoken"))
    client = client or AriClient.from_settings(settings)
    try:
        info = client.info()
    except AriError as exc:
        cause = exc.__cause__
        if isinstance(cause, httpx.HTTPError):
            out.append(
                Finding(
                    "missing",
                    f"ARI is not reachable at {settings.ari_url} ({cause}): check http.conf "
                    "(enabled=yes, bindaddr, tlsenable for 8089) and the firewall",
                )
            )
        elif " 401 " in str(exc):
            out.append(
                Finding(
                    "missing",
                    f"ARI refused user {settings.ari_user!r}: check the [user] section of "
                    "ari.conf (type=user, password) and ESCUCHA_ARI_PASSWORD",
                )
            )
        else:
            out.append(Finding("missing", f"ARI answered with an error: {exc}"))
        return out
    version = (info.get("system") or {}).get("version", "?")
    out.append(Finding("ok", f"ARI reachable, Asterisk {version}, user {settings.ari_user!r}"))
    if client.application() is None:
        out.append(
            Finding(
                "missing",
                f"the application {settings.ari_app!r} is not registered: start `escucha worker` "
                "(or `escucha serve`) with ESCUCHA_ARI_URL set so it connects to ARI's events",
            )
        )
    else:
        out.append(Finding("ok", f"application {settings.ari_app!r} registered"))
    out.extend(_endpoints(session, client))
    return out


def _endpoints(session: Session, client: AriClient) -> list[Finding]:
    out: list[Finding] = []
    present = {
        f"{e.get('technology')}/{e.get('resource')}": str(e.get("state", "unknown"))
        for e in client.endpoints()
    }
    agents = pbx.agent_endpoints(session)
    if not agents:
        out.append(Finding("warning", "escucha has no active agents to ring"))
    for username, endpoint in agents.items():
        state = present.get(endpoint)
        if state is None:
            out.append(
                Finding(
                    "missing",
                    f"agent {username}: endpoint {endpoint} does not exist on the PBX "
                    "(add it to pjsip.conf, or set the agent's pbx_endpoint)",
                )
            )
            continue
        if state != "online":
            out.append(
                Finding(
                    "warning",
                    f"agent {username}: {endpoint} exists but is {state} (not registered now)",
                )
            )
        else:
            out.append(Finding("ok", f"agent {username}: {endpoint} online"))
        tech, resource = A.split_endpoint(endpoint)
        if tech == "PJSIP":
            fields = client.endpoint_config(resource)
            if fields is None:
                out.append(Finding("warning", f"agent {username}: cannot read {endpoint}'s codecs"))
            else:
                report = A.codec_report(fields)
                for problem in report.problems:
                    out.append(Finding("missing", f"agent {username}: {endpoint} {problem}"))
                if not report.problems:
                    out.append(
                        Finding("ok", f"agent {username}: codecs {', '.join(report.codecs)}")
                    )
    template = pbx.trunk(session)
    if not template:
        out.append(
            Finding(
                "missing",
                "the organisation has no trunk: add `pbx: {trunk: PJSIP/{number}@carrier}` to "
                "its YAML so callbacks and transfers can reach outside numbers",
            )
        )
        return out
    try:
        A.check_trunk(template)
    except A.TemplateError as exc:
        out.append(Finding("missing", str(exc)))
        return out
    tech, rest = template.split("/", 1)
    host = rest.split("@", 1)[1] if "@" in rest else ""
    if tech == "PJSIP" and host and f"PJSIP/{host}" not in present:
        out.append(
            Finding(
                "missing",
                f"trunk {template}: the PBX has no endpoint {host!r} (the carrier's section in "
                "pjsip.conf)",
            )
        )
    else:
        out.append(Finding("ok", f"trunk {template}"))
    return out
