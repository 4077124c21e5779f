"""Agents on the organisation's PBX: their SIP accounts and presence by registration (ADR 23).

escucha keeps each agent's SIP username and a generated password; the administrator copies
them once into the PBX (``docs/asterisk-agents.md``), the desk gives them to the agent's own
browser, which registers with JsSIP. An agent whose phone is the browser may go available only
while it is registered, and becomes offline when the registration is lost for longer than the
desk's idle grace. An agent with a desk phone is not followed here: the PBX knows whether
that phone is registered.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.config import Settings
from escucha.errors import Conflict, InvalidInput, NotFound
from escucha.routing import service as routing
from escucha.routing.models import AgentStatus
from escucha.voice import rules as R
from escucha.voice.models import SipAccount

log = logging.getLogger("escucha.voice.sip")


@dataclass(frozen=True)
class Issued:
    """An account just created or rotated: the only time its password is shown."""

    account: SipAccount
    password: str


def account_of(session: Session, user_id: int) -> SipAccount | None:
    return session.get(SipAccount, user_id)


def _new_password() -> str:
    return secrets.token_urlsafe(R.SIP_PASSWORD_BYTES)


def issue(
    session: Session,
    user: User,
    *,
    now: datetime,
    username: str | None = None,
    phone: str | None = None,
    rotate: bool = False,
) -> Issued | SipAccount:
    """Create the agent's account (password generated), or change it: a new username, where
    it rings, or (``rotate``) a new password. Returns :class:`Issued` when a password was made."""
    name = username if username is not None else None
    if name is not None:
        try:
            R.check_sip_username(name)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
    if phone is not None and phone not in R.PHONES:
        raise InvalidInput(f"phone: one of {', '.join(R.PHONES)}")
    account = session.get(SipAccount, user.id)
    wanted = name if name is not None else (account.username if account else user.username)
    try:
        R.check_sip_username(wanted)
    except ValueError as exc:
        raise InvalidInput(f"{exc} (choose one with --sip-user)") from None
    taken = session.scalar(
        select(SipAccount).where(SipAccount.username == wanted, SipAccount.user_id != user.id)
    )
    if taken is not None:
        raise Conflict(f"SIP username {wanted!r} belongs to another agent")
    if account is None:
        password = _new_password()
        account = SipAccount(
            user_id=user.id,
            username=wanted,
            password=password,
            phone=phone or "browser",
            created_at=now,
            rotated_at=now,
            registration="unregistered",
        )
        session.add(account)
        session.flush()
        return Issued(account, password)
    account.username = wanted
    if phone is not None:
        account.phone = phone
    session.flush()
    if rotate:
        account.password = _new_password()
        account.rotated_at = now
        account.registration = "unregistered"
        account.registration_changed_at = now
        return Issued(account, account.password)
    return account


def remove(session: Session, user: User) -> None:
    account = session.get(SipAccount, user.id)
    if account is None:
        raise NotFound(f"{user.username} has no SIP account")
    session.delete(account)
    session.flush()


def accounts(session: Session) -> list[tuple[SipAccount, str]]:
    """Every account with its agent's username, by SIP username."""
    rows = session.execute(
        select(SipAccount, User.username)
        .join(User, User.id == SipAccount.user_id)
        .order_by(SipAccount.username)
    ).all()
    return [(a, name) for a, name in rows]


def browser_phone(
    settings: Settings, account: SipAccount | None, display_name: str
) -> dict[str, str]:
    """What the agent's desk needs to register (given to that agent only)."""
    if account is None:
        return {"phone": "none"}
    if account.phone == "desk":
        return {"phone": "desk", "username": account.username}
    ws_url = R.parse_sip_ws_url(settings.sip_ws_url)
    if not ws_url:
        return {"phone": "none"}
    domain = R.sip_domain(ws_url, settings.sip_domain)
    return {
        "phone": "browser",
        "ws_url": ws_url,
        "uri": f"sip:{account.username}@{domain}",
        "username": account.username,
        "password": account.password,
        "display_name": display_name,
    }


def report(session: Session, user_id: int, registration: str, *, now: datetime) -> SipAccount:
    """The desk's phone says how its registration is (on each change, and every 10 s)."""
    if registration not in R.REGISTRATIONS:
        raise InvalidInput(f"registration: one of {', '.join(sorted(R.REGISTRATIONS))}")
    account = session.get(SipAccount, user_id)
    if account is None:
        raise NotFound("you have no SIP account")
    if account.registration != registration or account.registration_changed_at is None:
        account.registration = registration
        account.registration_changed_at = now
    account.registration_seen_at = now
    session.flush()
    return account


def uses_browser_phone(settings: Settings, account: SipAccount | None) -> bool:
    return account is not None and account.phone == "browser" and bool(settings.sip_ws_url)


def check_may_go_available(
    session: Session, user_id: int, *, now: datetime, settings: Settings
) -> None:
    """An agent whose phone is the browser goes available only while it is registered."""
    account = session.get(SipAccount, user_id)
    if account is None or not uses_browser_phone(settings, account):
        return
    fresh = account.registration_seen_at is not None and not R.sip_offline(
        account.registration, account.registration_changed_at, account.registration_seen_at, now
    )
    if account.registration != "registered" or not fresh:
        raise Conflict(
            "your phone is not registered to the PBX yet: wait for “Phone registered” on the "
            "desk, or ask your administrator to check the PBX's WebSocket address"
        )


def sweep(session: Session, *, now: datetime, settings: Settings) -> int:
    """Available agents whose browser phone lost its registration past the grace: offline."""
    if not settings.sip_ws_url:
        return 0
    rows = session.execute(
        select(SipAccount, AgentStatus)
        .join(AgentStatus, AgentStatus.user_id == SipAccount.user_id)
        .where(
            SipAccount.phone == "browser",
            AgentStatus.state == "available",
            AgentStatus.contact_id.is_(None),
        )
    ).all()
    moved = 0
    for account, status in rows:
        if R.sip_offline(
            account.registration,
            account.registration_changed_at,
            account.registration_seen_at,
            now,
        ):
            routing.set_agent_state(session, status.user_id, "offline", now=now)
            log.warning(
                "agent offline: phone not registered",
                extra={"agent": status.user_id, "registration": account.registration},
            )
            moved += 1
    return moved


def pjsip_block(username: str, password: str, *, phone: str) -> str:
    """The agent's three ``pjsip.conf`` sections, to paste into the PBX once.

    A browser phone uses the WebRTC template of ``docs/asterisk-agents.md``
    (``[escucha-webrtc](!)``); a desk phone a plain UDP/TLS one (``[escucha-deskphone](!)``).
    """
    template = "escucha-webrtc" if phone == "browser" else "escucha-deskphone"
    return (
        f"[{username}](escucha-agent-auth)\n"
        f"username={username}\n"
        f"password={password}\n\n"
        f"[{username}](escucha-agent-aor)\n\n"
        f"[{username}]({template})\n"
        f"auth={username}\n"
        f"aors={username}\n"
    )
