"""Only the case's own people thread into it by email; anyone else opens a linked request."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.config import Settings
from escucha.notifications.models import Notification
from escucha.notifications.rules import message_id_for, signed_notification
from escucha.tickets import service
from escucha.tickets.email import InboundSettings, Received, receive_email
from escucha.tickets.models import Ticket, TicketAttachment, TicketMessage
from tests.conftest import START, login
from tests.factories import make_org, make_user

OWN = "atencion@aguas.example"
CUSTOMER = "marta@example.es"


def mail(
    body: str,
    *,
    sender: str,
    subject: str,
    headers: dict[str, str] | None = None,
    attachment: bytes | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = OWN
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.net")
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="f.pdf")
    return msg.as_bytes()


@pytest.fixture
def cfg(settings: Settings) -> Settings:
    return settings.model_copy(update={"smtp_from": OWN})


def receive(session: Session, cfg: Settings, raw: bytes) -> Received:
    return receive_email(session, raw, now=START, settings=cfg, source="smtp")


@pytest.fixture
def case(session: Session, cfg: Settings) -> Ticket:
    make_org(session)
    got = receive(
        session, cfg, mail("Me cobran dos veces", sender=CUSTOMER, subject="Factura doble")
    )
    ticket = session.get(Ticket, got.ticket_id)
    assert ticket is not None
    return ticket


def _bodies(session: Session, ticket: Ticket) -> list[str]:
    return [m.body for m in service.thread(session, ticket.id)]


def _codes(session: Session, ticket: Ticket) -> list[tuple[str, str]]:
    thread = service.thread(session, ticket.id)
    return [(m.subject, m.body) for m in thread if m.channel == "system"]


def _ack(session: Session, ticket: Ticket) -> Notification:
    note = session.scalar(select(Notification).where(Notification.ticket_id == ticket.id))
    assert note is not None
    return note


@pytest.mark.parametrize(
    "forged_headers",
    [
        {},
        {"In-Reply-To": "<notification-{ack}@escucha>"},
        {"In-Reply-To": "<notification-{ack}.0123456789abcdef01234567@escucha>"},
    ],
)
def test_a_stranger_naming_a_case_opens_a_new_request_linked_to_it(
    session: Session, cfg: Settings, case: Ticket, forged_headers: dict[str, str]
) -> None:
    ack = _ack(session, case)
    headers = {k: v.format(ack=ack.id) for k, v in forged_headers.items()}
    got = receive(
        session,
        cfg,
        mail(
            "Cancelen el pago, soy el titular",
            sender="mallory@evil.example",
            subject=f"Re: caso {case.number}",
            headers=headers,
            attachment=b"%PDF-1.4 fake",
        ),
    )
    assert got.outcome == "created"
    assert got.ticket_id != case.id
    assert "Cancelen el pago, soy el titular" not in _bodies(session, case)
    new = session.get(Ticket, got.ticket_id)
    assert new is not None
    assert ("mentions_case", case.number) in _codes(session, new)
    assert ("mentioned_by", new.number) in _codes(session, case)
    files = session.scalars(select(TicketAttachment.ticket_id)).all()
    assert files == [new.id]


def test_the_customer_and_holders_of_the_thread_or_the_code_still_join(
    session: Session, cfg: Settings, case: Ticket
) -> None:
    by_customer = receive(
        session, cfg, mail("Sigo esperando", sender=CUSTOMER, subject=f"Re: {case.number}")
    )
    assert (by_customer.outcome, by_customer.ticket_id) == ("joined", case.id)
    thread_id = message_id_for(_ack(session, case).id, cfg.secret_key)
    assert signed_notification(thread_id, cfg.secret_key) == _ack(session, case).id
    by_thread = receive(
        session,
        cfg,
        mail(
            "Soy su marido, respondo al acuse",
            sender="luis@example.es",
            subject="Re: acuse",
            headers={"In-Reply-To": thread_id},
        ),
    )
    assert (by_thread.outcome, by_thread.ticket_id) == ("joined", case.id)
    by_code = receive(
        session,
        cfg,
        mail(
            f"Código de verificación: {case.verification_code}",
            sender="gestoria@example.es",
            subject=f"Caso {case.number}",
        ),
    )
    assert (by_code.outcome, by_code.ticket_id) == ("joined", case.id)


def test_a_signature_made_with_another_secret_is_not_ours(cfg: Settings) -> None:
    forged = message_id_for(7, "another-secret-that-is-long-enough-0123456789")
    assert signed_notification(forged, cfg.secret_key) is None
    assert signed_notification(message_id_for(7, cfg.secret_key), cfg.secret_key) == 7


def test_the_agent_sees_the_sender_of_every_message_and_the_link_between_cases(
    client: TestClient, session: Session, cfg: Settings, case: Ticket
) -> None:
    got = receive(
        session,
        cfg,
        mail("Soy yo, cambien el IBAN", sender="mallory@evil.example", subject=case.number),
    )
    # a supervisor reaches both cases (an agent, their team's: ADR 17, tested on its own)
    make_user(session, username="agente", role="supervisor")
    session.commit()
    assert login(client, "agente", "correct-horse-battery").status_code == 303
    page = client.get(f"/tickets/{case.id}").text
    assert f'data-sender="{CUSTOMER}"' in page
    assert f'href="/tickets/{got.ticket_id}"' in page
    assert "Mencionado por otra solicitud" in page
    other = client.get(f"/tickets/{got.ticket_id}").text
    assert 'data-sender="mallory@evil.example"' in other
    assert f'href="/tickets/{case.id}"' in other
    assert "Menciona el caso" in other


def test_a_message_id_reused_by_another_sender_is_neither_dropped_nor_joined(
    session: Session, cfg: Settings, case: Ticket
) -> None:
    first = session.scalar(
        select(TicketMessage.message_id).where(TicketMessage.ticket_id == case.id)
    )
    assert first is not None
    raw = mail("Quiero reclamar otra cosa", sender="luis@example.es", subject="Reclamación")
    raw = raw.replace(raw.split(b"Message-ID: ")[1].split(b"\n")[0].strip(), first.encode())
    got = receive(session, cfg, raw)
    assert not got.duplicate
    assert got.outcome == "created"
    assert got.ticket_id != case.id
    again = receive(session, cfg, raw)
    assert again.duplicate
    assert again.ticket_id == got.ticket_id


def test_a_stranger_over_the_rate_stays_on_their_own_request_and_the_mention_is_linked(
    session: Session, cfg: Settings, case: Ticket
) -> None:
    limits = InboundSettings(sender_rate_per_h=1)
    own = receive_email(
        session,
        mail("Primera", sender="mallory@evil.example", subject="Hola"),
        now=START,
        settings=cfg,
        source="smtp",
        limits=limits,
    )
    got = receive_email(
        session,
        mail("Cancelen todo", sender="mallory@evil.example", subject=f"Caso {case.number}"),
        now=START,
        settings=cfg,
        source="smtp",
        limits=limits,
    )
    assert (got.outcome, got.ticket_id) == ("joined", own.ticket_id)
    assert "Cancelen todo" not in _bodies(session, case)
    mine = session.get(Ticket, own.ticket_id)
    assert mine is not None
    assert ("mentioned_by", mine.number) in _codes(session, case)
