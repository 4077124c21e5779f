"""The SMTP listener end to end: smtplib in, a ticket, an acknowledgment with an ETA out (P2)."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.jobs.service import run_due
from escucha.tickets import service
from escucha.tickets.email import InboundSettings
from escucha.tickets.models import Ticket
from escucha.tickets.smtp import SmtpListener, start_smtp_listener
from tests.factories import make_agent, make_org
from tests.tickets.helpers import free_port, smtp_sink

OWN = "atencion@aguas.example"


@pytest.fixture
def listener(
    settings: Settings, session_factory: sessionmaker[Session], clock: FrozenClock
) -> Iterator[SmtpListener]:
    running = start_smtp_listener(
        settings.model_copy(update={"smtp_from": OWN}),
        host="127.0.0.1",
        port=free_port(),
        session_factory=session_factory,
        clock=clock,
        limits=InboundSettings(max_message_bytes=200_000),
    )
    yield running
    running.stop()


def _send(listener: SmtpListener, subject: str, body: str) -> None:
    msg = EmailMessage()
    msg["From"] = "Pablo Ruiz <pablo@example.es>"
    msg["To"] = OWN
    msg["Subject"] = subject
    msg.set_content(body)
    with smtplib.SMTP(listener.host, listener.port, timeout=10) as smtp:
        smtp.send_message(msg)


def test_an_email_becomes_a_ticket_is_acknowledged_with_an_eta_and_a_reply_joins(
    listener: SmtpListener,
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    o = make_org(session)
    make_agent(session, o.care, skills={"email": 1})
    make_agent(session, o.care, skills={"email": 1})
    session.commit()
    _send(listener, "Cambio de domiciliación", "Quiero cambiar la cuenta del recibo.")
    ticket = session.scalar(select(Ticket))
    assert ticket is not None
    assert ticket.channel == "email"
    with smtp_sink() as (port, sink):
        sending = settings.model_copy(update={"smtp_port": port, "smtp_from": OWN})
        run_due(session_factory, sending, clock)
        assert len(sink.messages) == 1
    ack = sink.messages[0]
    assert sink.rcpt == [["pablo@example.es"]]
    assert ack["Auto-Submitted"] == "auto-generated"
    assert ticket.number in ack["Subject"]
    text = ack.get_content()
    # One email waiting, two agents, no measured replies yet: 900 s / 2 agents, rounded up.
    assert "hoy antes de las 10:10" in text
    assert ticket.verification_code in text
    assert "/status?number=" in text
    # The customer answers the acknowledgment: the number in the subject threads it.
    number = re.search(r"\d{4}-\d{7}-\d", ack["Subject"])
    assert number
    _send(listener, f"Re: {ack['Subject']}", "Adjunto el IBAN nuevo.\n\n> texto citado")
    session.expire_all()
    tickets = session.scalars(select(Ticket)).all()
    assert [t.number for t in tickets] == [number.group(0)]
    last = service.thread(session, tickets[0].id)[-1]
    assert last.body == "Adjunto el IBAN nuevo."
    assert last.author_kind == "customer"


def test_a_message_over_the_size_limit_is_refused_by_the_server(
    listener: SmtpListener, session: Session
) -> None:
    with pytest.raises(smtplib.SMTPException) as caught:
        _send(listener, "Enorme", "x" * 300_000)
    assert "552" in str(caught.value) or "too long" in str(caught.value).lower()
    assert session.scalar(select(Ticket)) is None
