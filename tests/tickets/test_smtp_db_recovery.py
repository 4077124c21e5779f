"""The SMTP listener after the database could not write for a while: ``451`` while it cannot,
``250`` again as soon as it can, without a restart (like the web server and the worker)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from sqlalchemy import func, make_url, select
from sqlalchemy.orm import Session

from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.db.engine import make_engine, make_sessionmaker
from escucha.tickets.models import InboundEmail
from escucha.tickets.smtp import SmtpListener, start_smtp_listener
from tests.factories import make_org
from tests.readonly import read_only_window
from tests.tickets.helpers import free_port

OWN = "atencion@aguas.example"


def _send(listener: SmtpListener, n: int) -> int:
    msg = EmailMessage()
    msg["From"] = f"cliente{n}@example.es"
    msg["To"] = OWN
    msg["Subject"] = f"Consulta {n}"
    msg.set_content("¿Cuándo leen el contador?")
    try:
        with smtplib.SMTP(listener.host, listener.port, timeout=30) as smtp:
            smtp.send_message(msg)
    except smtplib.SMTPDataError as exc:
        return exc.smtp_code
    return 250


def test_the_listener_answers_451_while_the_database_cannot_write_then_accepts_again(
    settings: Settings, session: Session, clock: FrozenClock
) -> None:
    make_org(session)
    session.commit()
    engine = make_engine(settings)
    listener = start_smtp_listener(
        settings.model_copy(update={"smtp_from": OWN}),
        host="127.0.0.1",
        port=free_port(),
        session_factory=make_sessionmaker(engine),
        clock=clock,
    )
    try:
        assert _send(listener, 1) == 250
        with read_only_window(engine):
            assert _send(listener, 2) == 451
            assert _send(listener, 3) == 451
        # the database writes again: accepted at once, by the same listener
        assert _send(listener, 4) == 250
        assert _send(listener, 5) == 250
    finally:
        listener.stop()
        engine.dispose()
    session.expire_all()
    senders = session.scalars(select(InboundEmail.sender).order_by(InboundEmail.id)).all()
    assert senders == ["cliente1@example.es", "cliente4@example.es", "cliente5@example.es"]
    assert session.scalar(select(func.count()).select_from(InboundEmail)) == 3
    assert make_url(settings.database_url).database  # the test ran on a named database
