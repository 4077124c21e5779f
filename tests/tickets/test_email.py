"""Email in: parsing, threading, loop protection, attachments, IMAP polling (P2)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha.config import Settings
from escucha.notifications.models import Notification
from escucha.notifications.rules import message_id_for
from escucha.tickets import handling, planning, service
from escucha.tickets.email import (
    InboundSettings,
    find_thread,
    number_in_subject,
    parse_email,
    receive_email,
    strip_quoted,
)
from escucha.tickets.imap import ImapSettings, poll_mailbox
from escucha.tickets.models import InboundEmail, Ticket, TicketAttachment, TicketMessage
from tests.conftest import START
from tests.factories import make_agent, make_org

OWN = "atencion@aguas.example"


def mail(
    body: str = "¿Cuándo pasan a leer el contador?",
    *,
    sender: str = "Marta Gil <marta@example.es>",
    subject: str = "Lectura del contador",
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
    html: str | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = OWN
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.es")
    for name, value in (headers or {}).items():
        msg[name] = value
    if html is not None:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(body)
    for filename, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=filename)
    return msg.as_bytes()


@pytest.fixture
def cfg(settings: Settings) -> Settings:
    return settings.model_copy(update={"smtp_from": OWN, "base_url": "https://ayuda.example"})


def receive(session: Session, cfg: Settings, raw: bytes, **kw: Any):  # type: ignore[no-untyped-def]
    kw.setdefault("now", START)
    return receive_email(session, raw, settings=cfg, source="smtp", **kw)


def test_parsing_reads_text_html_attachments_and_survives_broken_mail() -> None:
    parsed = parse_email(
        mail(attachments=[("factura.pdf", b"%PDF-1.4 data"), ("enorme.pdf", b"x" * 5000)]),
        limits=InboundSettings(max_attachment_bytes=1000),
    )
    assert parsed.sender == "marta@example.es"
    assert parsed.sender_name == "Marta Gil"
    assert parsed.body.strip() == "¿Cuándo pasan a leer el contador?"
    assert [a.filename for a in parsed.attachments] == ["factura.pdf"]
    assert parsed.dropped
    assert "enorme.pdf" in parsed.dropped[0]
    assert parsed.automatic is None
    html = parse_email(mail(html="<p>Hola<br>no <b>llega</b> agua</p><script>x()</script>"))
    assert html.body == "Hola\nno llega agua"
    broken = parse_email(
        b"Subject: =?unknown?Q?x?=\r\nContent-Type: text/plain; charset=nope\r\n\r\nhola\xff"
    )
    assert "hola" in broken.body
    assert broken.sender == ""


def test_a_new_email_becomes_a_ticket_with_an_acknowledgment_and_an_eta(
    session: Session, cfg: Settings
) -> None:
    o = make_org(session)
    make_agent(session, o.care, skills={"email": 1})
    raw = mail()
    got = receive(session, cfg, raw)
    assert got.outcome == "created"
    assert got.acknowledged
    ticket = session.get(Ticket, got.ticket_id)
    assert ticket is not None
    assert ticket.channel == "email"
    assert ticket.team_id == o.care.id
    assert ticket.kind == "query"
    note = session.scalar(select(Notification).where(Notification.ticket_id == ticket.id))
    assert note is not None
    assert note.kind == "email_auto_ack"
    assert note.to_address == "marta@example.es"
    assert ticket.number in note.body
    assert "hoy antes de las 10:15" in note.body  # one email, one agent, 15 minutes
    first = next(p for p in planning.promises_of(session, ticket.id) if p.kind == "first_response")
    assert first.state == "pending"
    again = receive(session, cfg, raw)  # the same message delivered twice
    assert again.duplicate
    assert again.ticket_id == ticket.id
    assert session.scalar(select(func.count(Ticket.id))) == 1


def test_the_estimate_grows_with_the_backlog(session: Session, cfg: Settings) -> None:
    o = make_org(session)
    make_agent(session, o.care, skills={"email": 1})
    for i in range(4):
        receive(session, cfg, mail(sender=f"c{i}@example.es", body=f"Duda {i}"))
    notes = session.scalars(
        select(Notification).where(Notification.kind == "email_auto_ack").order_by(Notification.id)
    ).all()
    promised = [
        next(
            p.due_at
            for p in planning.promises_of(session, int(n.ticket_id or 0))
            if p.kind == "first_response"
        )
        for n in notes
    ]
    assert [(b - a) for a, b in itertools.pairwise(promised)] == [timedelta(minutes=15)] * 3


def test_a_reply_joins_by_number_in_subject_or_by_references(
    session: Session, cfg: Settings
) -> None:
    make_org(session)
    agent = make_agent(session)
    got = receive(session, cfg, mail())
    ticket = session.get(Ticket, got.ticket_id)
    assert ticket is not None
    handling.reply_to_customer(
        session, ticket, "Pasamos el martes 24.", user=agent, now=START, base_url="x"
    )
    handling.change_status(session, ticket, "waiting_customer", user=agent, now=START)
    spaced = " ".join(ticket.number.split("-"))
    reply = mail(
        "Perfecto, gracias\n\nEl lunes, Aguas escribió:\n> Pasamos el martes 24.",
        subject=f"RE: Lectura del contador (caso {spaced})",
    )
    joined = receive(session, cfg, reply)
    assert joined.outcome == "joined"
    assert joined.ticket_id == ticket.id
    assert not joined.acknowledged
    assert ticket.status == "open"
    last = service.thread(session, ticket.id)[-1]
    assert last.body == "Perfecto, gracias"
    assert last.author_kind == "customer"
    ack = session.scalar(select(Notification).where(Notification.kind == "email_auto_ack"))
    assert ack is not None
    by_ref = mail(
        "Otra cosa",
        subject="Sin número",
        headers={"In-Reply-To": f"<notification-{ack.id}@escucha>"},
    )
    assert receive(session, cfg, by_ref).ticket_id == ticket.id
    earlier = session.scalar(
        select(TicketMessage.message_id).where(
            TicketMessage.ticket_id == ticket.id, TicketMessage.direction == "in"
        )
    )
    chained = mail("Y otra", subject="x", headers={"References": f"<a@b> {earlier}"})
    assert receive(session, cfg, chained).ticket_id == ticket.id


def test_a_number_with_a_wrong_check_digit_does_not_thread(session: Session) -> None:
    assert number_in_subject("caso 2026-0000001-2") is not None
    assert number_in_subject("caso 2026-0000001-3") is None
    assert number_in_subject("pedido 123456") is None


def test_automatic_mail_is_kept_but_never_answered(session: Session, cfg: Settings) -> None:
    make_org(session)
    got = receive(session, cfg, mail())
    ticket = session.get(Ticket, got.ticket_id)
    assert ticket is not None
    out_of_office = mail(
        "Estoy fuera hasta el lunes",
        subject=f"Fuera de la oficina: {ticket.number}",
        headers={"Auto-Submitted": "auto-replied"},
    )
    joined = receive(session, cfg, out_of_office)
    assert joined.outcome == "joined"
    assert not joined.acknowledged
    assert service.thread(session, ticket.id)[-1].visibility == "internal"
    assert ticket.status == "new"  # an automatic reply does not move the case
    bulk = receive(
        session, cfg, mail("Boletín", sender="news@tienda.example", headers={"Precedence": "bulk"})
    )
    assert bulk.outcome == "created"
    assert not bulk.acknowledged
    assert "precedence" in (bulk.reason or "")
    ours = receive(session, cfg, mail("eco", sender=OWN))
    assert ours.outcome == "ignored"
    looped = receive(session, cfg, mail("eco", headers={"X-Loop": OWN}))
    assert looped.outcome == "ignored"
    acks = session.scalar(select(func.count(Notification.id)))
    assert acks == 1  # only the first, human message was acknowledged


def test_a_sender_over_the_rate_is_kept_on_their_ticket_without_replies(
    session: Session, cfg: Settings
) -> None:
    make_org(session)
    limits = InboundSettings(sender_rate_per_h=3)
    results = [
        receive(session, cfg, mail(f"mensaje {i}", subject=f"asunto {i}"), limits=limits)
        for i in range(5)
    ]
    assert [r.acknowledged for r in results] == [True, True, True, False, False]
    assert [r.outcome for r in results[3:]] == ["joined", "joined"]
    assert results[3].ticket_id == results[2].ticket_id
    later = receive(session, cfg, mail("otro día"), limits=limits, now=START + timedelta(hours=2))
    assert later.acknowledged


def test_a_bounce_marks_the_message_failed_on_its_ticket(session: Session, cfg: Settings) -> None:
    make_org(session)
    got = receive(session, cfg, mail())
    ack = session.scalar(select(Notification).where(Notification.ticket_id == got.ticket_id))
    assert ack is not None
    forged = mail(
        f"Delivery failed\nMessage-ID: <notification-{ack.id}@escucha>",
        sender="MAILER-DAEMON@mx.example",
        subject="Undelivered Mail Returned to Sender",
    )
    assert receive(session, cfg, forged, envelope_from="<>").ticket_id is None
    assert ack.status != "failed"  # an unsigned id proves nothing: anybody can send a bounce
    bounce = mail(
        f"Delivery failed\nMessage-ID: {message_id_for(ack.id, cfg.secret_key)}",
        sender="MAILER-DAEMON@mx.example",
        subject="Undelivered Mail Returned to Sender",
    )
    result = receive(session, cfg, bounce, envelope_from="<>")
    assert result.outcome == "bounce"
    assert result.ticket_id == got.ticket_id
    assert ack.status == "failed"
    assert "bounced" in (ack.last_error or "")
    assert service.thread(session, int(got.ticket_id or 0))[-1].subject == "delivery_failed"
    assert session.scalar(select(func.count(Ticket.id))) == 1


def test_a_long_body_is_kept_whole_as_a_file_and_attachments_are_stored(
    session: Session, cfg: Settings
) -> None:
    make_org(session)
    body = "Relato largo. " * 1000
    got = receive(session, cfg, mail(body, attachments=[("foto.pdf", b"%PDF x")]))
    ticket = session.get(Ticket, got.ticket_id)
    assert ticket is not None
    assert len(ticket.description) == service.MAX_DESCRIPTION
    assert ticket.description.endswith("[…]")
    files = session.scalars(
        select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id)
    ).all()
    assert [f.filename for f in files] == ["message.txt", "foto.pdf"]
    assert files[0].data.decode().strip() == body.strip()
    assert files[1].data == b"%PDF x"


def test_an_email_complaint_goes_to_the_complaints_team(session: Session, cfg: Settings) -> None:
    o = make_org(session)
    got = receive(
        session,
        cfg,
        mail("Quiero poner una reclamación: me han cobrado dos veces", subject="Reclamación"),
    )
    ticket = session.get(Ticket, got.ticket_id)
    assert ticket is not None
    assert ticket.kind == "complaint"
    assert ticket.team_id == o.complaints.id
    note = session.scalar(select(Notification).where(Notification.ticket_id == ticket.id))
    assert note is not None
    assert note.kind == "complaint_ack"


def test_a_reply_to_a_closed_case_opens_a_new_one(session: Session, cfg: Settings) -> None:
    make_org(session)
    agent = make_agent(session)
    old = session.get(Ticket, receive(session, cfg, mail()).ticket_id)
    assert old is not None
    handling.resolve(session, old, "Hecho.", user=agent, now=START, base_url="x")
    handling.change_status(session, old, "closed", user=agent, now=START)
    got = receive(session, cfg, mail("Vuelve a pasar", subject=f"Re: {old.number}"))
    assert got.outcome == "created"
    assert got.ticket_id != old.id
    codes = [m.subject for m in service.thread(session, int(got.ticket_id or 0))]
    assert "follows_closed" in codes


def test_quoted_text_is_cut_from_replies() -> None:
    text = "Gracias\n\nOn Mon, 23 Nov 2026, Aguas wrote:\n> old\n> text"
    assert strip_quoted(text) == "Gracias"
    assert strip_quoted("> only quoted") == "> only quoted"
    assert strip_quoted("Hola\n> cita\nadiós") == "Hola\nadiós"


class FakeImap:
    """Enough of imaplib.IMAP4 to poll: messages by UID with a \\Seen flag."""

    def __init__(self, messages: dict[bytes, bytes]) -> None:
        self.messages = messages
        self.seen: set[bytes] = set()
        self.logged_out = False

    def login(self, user: str, password: str) -> tuple[str, list[bytes]]:
        assert (user, password) == ("buzon", "secreto")
        return "OK", [b""]

    def select(self, mailbox: str = "INBOX", readonly: bool = False) -> tuple[str, list[bytes]]:
        return "OK", [str(len(self.messages)).encode()]

    def uid(self, command: str, *args: Any) -> tuple[str, list[Any]]:
        if command == "SEARCH":
            unseen = [u for u in self.messages if u not in self.seen]
            return "OK", [b" ".join(unseen)]
        if command == "FETCH":
            assert args[1] == "(BODY.PEEK[])"
            return "OK", [(b"1 (UID " + args[0] + b" BODY[] {n}", self.messages[args[0]]), b")"]
        if command == "STORE":
            self.seen.add(args[0])
            return "OK", [b""]
        raise AssertionError(command)

    def logout(self) -> tuple[str, list[bytes]]:
        self.logged_out = True
        return "BYE", [b""]


def test_imap_polling_stores_new_mail_once_and_marks_it_read_afterwards(
    session: Session, cfg: Settings
) -> None:
    make_org(session)
    fake = FakeImap({b"7": mail("uno", sender="a@e.es"), b"8": mail("dos", sender="b@e.es")})
    imap = ImapSettings(host="imap.example", user="buzon", password="secreto")
    first = poll_mailbox(session, cfg, now=START, cfg=imap, client_factory=lambda _c: fake)
    assert (first.stored, first.already_stored, first.marked_seen) == (2, 0, 0)
    assert fake.logged_out
    second = poll_mailbox(session, cfg, now=START, cfg=imap, client_factory=lambda _c: fake)
    assert (second.stored, second.already_stored, second.marked_seen) == (0, 2, 2)
    assert fake.seen == {b"7", b"8"}
    assert session.scalar(select(func.count(Ticket.id))) == 2
    sources = set(session.scalars(select(InboundEmail.source)))
    assert sources == {"imap"}
    off = poll_mailbox(session, cfg, now=START, cfg=ImapSettings(host=""))
    assert off.stored == 0


def test_threading_finds_nothing_for_a_fresh_message(session: Session) -> None:
    assert find_thread(session, parse_email(mail())) == (None, "")


def test_control_characters_in_headers_are_dropped_before_anything_is_stored(
    session: Session, cfg: Settings
) -> None:
    """A NUL byte in the sender or a Message-ID (found by the fuzz test on PostgreSQL, whose
    text cannot hold one) is dropped; the message is still received."""
    make_org(session)
    raw = (
        b"From: Marta\x00 Gil <mar\x00ta@example.es>\r\n"
        b"To: " + OWN.encode() + b"\r\n"
        b"Subject: Lectura\x00 del contador\r\n"
        b"Message-ID: <a\x00b@example.es>\r\n"
        b"\r\n"
        b"Hola\r\n"
    )
    parsed = parse_email(raw, own_address=OWN)
    assert "\x00" not in parsed.sender + parsed.subject + (parsed.message_id or "")
    assert parsed.sender == "marta@example.es"
    got = receive(session, cfg, raw)
    assert got.outcome == "created"
    session.flush()
