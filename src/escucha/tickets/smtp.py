"""The SMTP listener (aiosmtpd): each accepted message becomes a ticket or joins one (P2).

``escucha smtp --port 2525`` runs it alone; :func:`start_smtp_listener` starts it in a thread
beside the web server (``escucha serve`` with ``ESCUCHA_SMTP_LISTEN_PORT``). Put it behind the
organisation's mail server (an MX that relays ``atencion@...`` to it) rather than on the open
internet: it accepts any recipient and does no spam filtering.

A message is acknowledged with ``250`` only after its ticket has been committed; a database
problem answers ``451`` so the sending server retries later and nothing is lost. A connection
that failed (the database restarted, or was read-only for a while) is replaced and the
message tried once more on a fresh one, so the listener accepts again as soon as the
database writes. Messages over
:attr:`~escucha.tickets.email.InboundSettings.max_message_bytes` are refused with ``552`` by
aiosmtpd before they are read.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from escucha.clock import Clock, SystemClock
from escucha.config import Settings
from escucha.db.engine import make_engine, make_sessionmaker
from escucha.db.session import transaction
from escucha.tickets.email import InboundSettings, Received, receive_email

log = logging.getLogger("escucha.smtp")


class TicketHandler:
    """aiosmtpd handler: stores each message through :func:`receive_email`."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: Clock,
        limits: InboundSettings | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.clock = clock
        self.limits = limits or InboundSettings()

    def store(self, raw: bytes, mail_from: str | None) -> Received:
        """One message, one transaction (runs in a worker thread, not on the event loop)."""
        with transaction(self.session_factory) as session:
            return receive_email(
                session,
                raw,
                now=self.clock.now(),
                settings=self.settings,
                source="smtp",
                envelope_from=mail_from,
                limits=self.limits,
            )

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            try:
                result = await loop.run_in_executor(
                    None, self.store, bytes(raw), envelope.mail_from
                )
                break
            except DBAPIError as exc:
                # A connection dropped, or one that cannot write since the database was
                # read-only for a while: the pool has replaced it, so try once more on a
                # fresh one before asking the sender to come back.
                if exc.connection_invalidated and attempt == 1:
                    continue
                log.warning("inbound email not stored: the database cannot write (%s)", exc.code)
                return "451 4.3.0 Temporary failure; please try again later"
            except Exception:
                log.exception("inbound email could not be stored")
                return "451 4.3.0 Temporary failure; please try again later"
        log.info(
            "inbound email",
            extra={"outcome": result.outcome, "ticket": result.number, "ack": result.acknowledged},
        )
        return f"250 2.0.0 Accepted {result.number or ''}".rstrip()


@dataclass
class SmtpListener:
    """A running listener; :meth:`stop` ends it (and disposes the engine it created)."""

    controller: Controller
    host: str
    port: int
    engine: Engine | None = None

    def stop(self) -> None:
        self.controller.stop()
        if self.engine is not None:
            self.engine.dispose()


def start_smtp_listener(
    settings: Settings,
    *,
    port: int | None = None,
    host: str | None = None,
    session_factory: sessionmaker[Session] | None = None,
    clock: Clock | None = None,
    limits: InboundSettings | None = None,
) -> SmtpListener:
    """Start listening in a background thread; returns once the port is open.

    ``port`` defaults to ``settings.smtp_listen_port``, ``host`` to ``settings.host``.
    Hook for ``escucha serve``::

        listener = start_smtp_listener(cfg) if cfg.smtp_listen_port else None
        try:
            uvicorn.run(...)
        finally:
            if listener is not None:
                listener.stop()
    """
    limits = limits or InboundSettings()
    engine = None
    if session_factory is None:
        engine = make_engine(settings)
        session_factory = make_sessionmaker(engine)
    handler = TicketHandler(session_factory, settings, clock or SystemClock(), limits)
    bind_host = host or settings.host
    bind_port = port if port is not None else settings.smtp_listen_port
    controller = Controller(
        handler,
        hostname=bind_host,
        port=bind_port,
        data_size_limit=limits.max_message_bytes,
        enable_SMTPUTF8=True,
        ident="escucha",
    )
    controller.start()
    return SmtpListener(controller, bind_host, bind_port, engine)


def serve_smtp(
    settings: Settings,
    *,
    port: int | None = None,
    host: str | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run the listener until ``stop`` is set (the CLI sets it on SIGINT/SIGTERM)."""
    listener = start_smtp_listener(settings, port=port, host=host)
    log.info("smtp listening", extra={"host": listener.host, "port": listener.port})
    event = stop or threading.Event()
    try:
        event.wait()
    finally:
        listener.stop()
