"""IMAP polling: read a mailbox every minute and hand each new message to email in (P2).

Configured from the environment (``ESCUCHA_IMAP_HOST``, ``_PORT``, ``_USER``, ``_PASSWORD``,
``_MAILBOX``, ``_SSL``); polling is off while ``ESCUCHA_IMAP_HOST`` is empty.

Messages are fetched with ``BODY.PEEK[]`` (which leaves them unread) and stored in the job's
transaction; a message is flagged ``\\Seen`` only on a later poll, once its Message-ID is in
the database. So a crash between reading and committing loses nothing, and a message read
twice is stored once (email in is idempotent on the Message-ID).
"""

from __future__ import annotations

import imaplib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.config import Settings
from escucha.tickets.email import InboundSettings, message_key, parse_email, receive_email
from escucha.tickets.models import InboundEmail

log = logging.getLogger("escucha.imap")


class ImapSettings(BaseSettings):
    """The mailbox to poll, from ``ESCUCHA_IMAP_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="ESCUCHA_IMAP_", extra="ignore")

    host: str = ""
    port: int = 993
    user: str = ""
    password: SecretStr = SecretStr("")
    mailbox: str = "INBOX"
    ssl: bool = True
    batch: int = 50
    timeout_s: float = 30.0

    @property
    def enabled(self) -> bool:
        return bool(self.host and self.user)


class ImapClient(Protocol):
    """The part of :class:`imaplib.IMAP4` that polling uses."""

    def login(self, user: str, password: str) -> Any: ...
    def select(self, mailbox: str = ..., readonly: bool = ...) -> Any: ...
    def uid(self, command: str, *args: Any) -> Any: ...
    def logout(self) -> Any: ...


def connect(cfg: ImapSettings) -> ImapClient:
    if cfg.ssl:
        return imaplib.IMAP4_SSL(cfg.host, cfg.port, timeout=cfg.timeout_s)
    return imaplib.IMAP4(cfg.host, cfg.port, timeout=cfg.timeout_s)


@dataclass(frozen=True)
class PollResult:
    stored: int
    already_stored: int
    marked_seen: int


def _raw_message(data: Any) -> bytes | None:
    for item in data or ():
        if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def poll_mailbox(
    session: Session,
    settings: Settings,
    *,
    now: datetime,
    cfg: ImapSettings | None = None,
    client_factory: Callable[[ImapSettings], ImapClient] = connect,
    limits: InboundSettings | None = None,
) -> PollResult:
    """Store the unread messages of the mailbox; flag as read those stored before."""
    cfg = cfg or ImapSettings()
    if not cfg.enabled:
        return PollResult(0, 0, 0)
    client = client_factory(cfg)
    stored = known = seen = 0
    try:
        client.login(cfg.user, cfg.password.get_secret_value())
        client.select(cfg.mailbox)
        status, data = client.uid("SEARCH", None, "UNSEEN")
        if status != "OK":
            raise RuntimeError(f"IMAP search failed: {status}")
        uids = (data[0] or b"").split()[: cfg.batch]
        for uid in uids:
            status, fetched = client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = _raw_message(fetched) if status == "OK" else None
            if raw is None:
                continue
            parsed = parse_email(raw, own_address=settings.smtp_from, limits=limits)
            key = message_key(parsed, raw)
            done = session.scalar(select(InboundEmail.id).where(InboundEmail.message_key == key))
            if done is not None:
                known += 1
                client.uid("STORE", uid, "+FLAGS", "(\\Seen)")
                seen += 1
                continue
            receive_email(session, raw, now=now, settings=settings, source="imap", limits=limits)
            stored += 1
    finally:
        try:
            client.logout()
        except Exception:  # a broken connection still ends the poll
            log.warning("imap logout failed")
    return PollResult(stored, known, seen)
