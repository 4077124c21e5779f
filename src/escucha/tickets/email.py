"""Email in (P2): parse, thread, protect from loops, keep attachments, acknowledge.

Both the SMTP listener (:mod:`escucha.tickets.smtp`) and IMAP polling
(:mod:`escucha.tickets.imap`) hand the raw message to :func:`receive_email`, in one transaction.

* **Parsing** uses the standard library's ``email`` package with ``policy=default``; the text
  part is preferred, HTML is turned into text, broken headers and charsets never stop a
  message.
* **Threading**: a message joins a case only when it proves it may write into it: a reply
  whose ``In-Reply-To``/``References`` name a message escucha sent for the case (its
  Message-ID ``<notification-N.SIG@escucha>`` carries an HMAC of ``N`` made with the server's
  secret, so it cannot be guessed), or a message from one of the case's own contact points
  (the customer's email address) naming the case (a valid number in the subject, or an
  earlier email of the thread), or a message that quotes the case's number *and* its
  verification code. Anything else that names a case opens a new request, linked both ways
  as "mentions case N" for the agents; a message naming nothing opens a new request.
* **Loop protection**: no acknowledgment to automatic mail (``Auto-Submitted`` other than
  ``no``, ``Precedence: bulk/junk/list``, ``X-Autoreply``, mailing lists, ``X-Loop`` naming us),
  to our own address, or to a sender over :attr:`InboundSettings.sender_rate_per_h` messages
  in the last hour; those messages are still kept (a complaint is never dropped), joined to the
  sender's latest ticket when over the rate. Bounces are noted on the ticket they refer to
  and mark that notification failed.
* **Attachments** are kept in the database up to a size and a count; larger ones are listed
  in an internal note. A body longer than the description limit is kept whole as
  ``message.txt``.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses
from html.parser import HTMLParser

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha import languages
from escucha.config import Settings
from escucha.contacts.models import Customer
from escucha.notifications.models import Notification
from escucha.notifications.rules import SIGNED_IN_TEXT, signed_notification
from escucha.tickets import handling, merge, opening, service
from escucha.tickets import rules as trules
from escucha.tickets.models import InboundEmail, Ticket, TicketAttachment, TicketMessage


class InboundSettings(BaseSettings):
    """Limits for email in, from ``ESCUCHA_EMAIL_IN_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="ESCUCHA_EMAIL_IN_", extra="ignore")

    sender_rate_per_h: int = 10
    max_attachment_bytes: int = 5 * 1024 * 1024
    max_attachments: int = 10
    max_message_bytes: int = 25 * 1024 * 1024


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class ParsedEmail:
    """What escucha needs from one message."""

    sender: str
    sender_name: str
    subject: str
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    body: str
    language: str | None
    automatic: str | None  # why it is automatic mail, or None
    bounce: bool
    size_bytes: int
    own_loop: bool = False  # sent by escucha itself, or X-Loop names it
    attachments: list[Attachment] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


class _TextFromHtml(HTMLParser):
    _BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextFromHtml()
    with contextlib.suppress(Exception):  # malformed HTML gives what was read so far
        parser.feed(html)
        parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _header(msg: Message, name: str) -> str:
    """A header on one line, without control characters (a NUL cannot be stored in
    PostgreSQL's text, and none belongs in a header)."""
    try:
        value = msg.get(name)
    except Exception:
        return ""
    return " ".join(_CONTROL.sub("", str(value)).split()) if value is not None else ""


_MSGID = re.compile(r"<[^<>\s]+>")


def _ids(text: str) -> tuple[str, ...]:
    return tuple(_MSGID.findall(text))


def _part_text(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, bytes):
            return content.decode("utf-8", "replace")
        return str(content)
    except Exception:
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _body(msg: EmailMessage) -> str:
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    if part is None:
        if msg.get_content_maintype() == "text":
            part = msg
        else:
            return ""
    text = _part_text(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return text


def _automatic(msg: Message, sender: str, own: str) -> tuple[str | None, bool]:
    """Why a message is automatic (no acknowledgment may answer it), or ``None``; and
    whether it is escucha's own mail coming back."""
    own = own.strip().lower()
    loops = [str(v).lower() for v in msg.get_all("X-Loop") or () if v]
    if own and (sender == own or any(own in v for v in loops)):
        return "sent by escucha itself", True
    auto = _header(msg, "Auto-Submitted").lower()
    if auto and auto != "no":
        return f"auto-submitted: {auto}", False
    precedence = _header(msg, "Precedence").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"precedence: {precedence}", False
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"):
        if _header(msg, name):
            return f"{name.lower()} header", False
    if _header(msg, "List-Id") or _header(msg, "List-Unsubscribe"):
        return "mailing list", False
    return None, False


def _is_bounce(msg: Message, sender: str, envelope_from: str | None) -> bool:
    local = sender.split("@")[0]
    return (
        envelope_from in ("", "<>")
        or local in ("mailer-daemon", "postmaster")
        or msg.get_content_type() == "multipart/report"
    )


def parse_email(
    raw: bytes,
    *,
    own_address: str = "",
    envelope_from: str | None = None,
    limits: InboundSettings | None = None,
) -> ParsedEmail:
    """Read a raw RFC 5322 message; never raises for a malformed one."""
    limits = limits or InboundSettings()
    msg = message_from_bytes(raw, policy=policy.default)
    pairs = getaddresses([_header(msg, "From") or _header(msg, "Sender")])
    name, address = pairs[0] if pairs else ("", "")
    if not address and envelope_from not in (None, "", "<>"):
        address = str(envelope_from).strip("<>")
    sender = _CONTROL.sub("", address).strip().lower()[:320]
    language = _header(msg, "Content-Language").split(",")[0].strip().lower()[:2] or None
    automatic, own_loop = _automatic(msg, sender, own_address)
    references = _ids(_header(msg, "References"))
    in_reply = _ids(_header(msg, "In-Reply-To"))
    message_ids = _ids(_header(msg, "Message-ID"))
    parsed = ParsedEmail(
        sender=sender,
        sender_name=service.one_line(name, service.MAX_NAME),
        subject=service.one_line(_header(msg, "Subject"), service.MAX_SUBJECT),
        message_id=message_ids[0][:300] if message_ids else None,
        in_reply_to=in_reply[0] if in_reply else None,
        references=references,
        body=_body(msg),
        language=languages.resolve(language) if languages.known(language) else None,
        automatic=automatic,
        bounce=_is_bounce(msg, sender, envelope_from),
        size_bytes=len(raw),
        own_loop=own_loop,
    )
    try:
        parts = list(msg.iter_attachments())
    except Exception:
        parts = []
    for part in parts:
        filename = service.one_line(part.get_filename() or "attachment", 200) or "attachment"
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if len(data) > limits.max_attachment_bytes:
            parsed.dropped.append(f"{filename} ({len(data)} bytes, over the limit)")
        elif len(parsed.attachments) >= limits.max_attachments:
            parsed.dropped.append(f"{filename} (more than {limits.max_attachments} files)")
        else:
            parsed.attachments.append(Attachment(filename, part.get_content_type()[:100], data))
    return parsed


_QUOTE_HEADER = re.compile(
    r"^(on .{0,200} wrote:|el .{0,200} escribi[oó]:|-{2,} ?(original message|mensaje original)"
    r" ?-{2,}|from: .+|de: .+)\s*$",
    re.I,
)


def strip_quoted(body: str) -> str:
    """The new text of a reply: quoted lines (``>``) and the quoted original are cut."""
    kept: list[str] = []
    for line in body.splitlines():
        if _QUOTE_HEADER.match(line.strip()):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    text = "\n".join(kept).strip()
    return text or body.strip()


_NUMBER_IN_TEXT = re.compile(r"(?<!\d)(\d{4}[-\s.]?\d{7,9}[-\s.]?\d)(?!\d)")
# Ids fit a 64-bit integer: a forged longer one cannot reach the database as a number.
_NOTIFICATION_ID = re.compile(r"^<notification-(\d{1,18})(?:\.[0-9a-f]{24})?@escucha>$")


def number_in_subject(subject: str) -> trules.TicketNumber | None:
    """The first valid ticket number (check digit included) in a subject line."""
    for match in _NUMBER_IN_TEXT.finditer(subject):
        try:
            return trules.parse_ticket_number(match.group(1))
        except trules.InvalidTicketNumberError:
            continue
    return None


@dataclass(frozen=True)
class Thread:
    """The case a message names, how, and whether it may write into it (``trusted``)."""

    ticket: Ticket | None
    how: str
    trusted: bool


def _contact_point(session: Session, ticket: Ticket, sender: str) -> bool:
    if not sender or ticket.customer_id is None:
        return False
    customer = session.get(Customer, ticket.customer_id)
    return customer is not None and (customer.email or "").strip().lower() == sender


def _quotes_code(ticket: Ticket, parsed: ParsedEmail) -> bool:
    code = re.escape(ticket.verification_code.upper())
    pattern = rf"(?<![A-Z0-9]){code}(?![A-Z0-9])"
    return re.search(pattern, f"{parsed.subject}\n{parsed.body}".upper()) is not None


def thread_of(session: Session, parsed: ParsedEmail, *, secret: str = "") -> Thread:
    """The case this message names and whether it may join it (see the module's rules)."""
    ids = [i for i in (parsed.in_reply_to, *reversed(parsed.references)) if i]
    named: list[tuple[Ticket, str]] = []
    for mid in ids:
        note_id = signed_notification(mid, secret) if secret else None
        if note_id is not None:
            note = session.get(Notification, note_id)
            ticket = session.get(Ticket, note.ticket_id) if note and note.ticket_id else None
            if ticket is not None:
                return Thread(ticket, "reply to our message", True)
    number = number_in_subject(parsed.subject)
    if number is not None:
        ticket = session.scalar(select(Ticket).where(Ticket.number == str(number)))
        if ticket is not None:
            named.append((ticket, "number in subject"))
    for mid in ids:
        match = _NOTIFICATION_ID.match(mid)
        if match:
            note = session.get(Notification, int(match.group(1)))
            if note is not None and note.ticket_id is not None:
                ticket = session.get(Ticket, note.ticket_id)
                if ticket is not None:
                    named.append((ticket, "reply to our message"))
            continue
        found = session.scalar(
            select(TicketMessage.ticket_id).where(TicketMessage.message_id == mid[:300]).limit(1)
        )
        ticket = session.get(Ticket, found) if found is not None else None
        if ticket is not None:
            named.append((ticket, "references"))
    for ticket, how in named:
        if _contact_point(session, ticket, parsed.sender):
            return Thread(ticket, how, True)
        if how == "number in subject" and _quotes_code(ticket, parsed):
            return Thread(ticket, "number and verification code", True)
    if named:
        ticket, how = named[0]
        return Thread(ticket, how, False)
    return Thread(None, "", False)


def find_thread(
    session: Session, parsed: ParsedEmail, *, secret: str = ""
) -> tuple[Ticket | None, str]:
    """The ticket this message may join, and how it was found; ``(None, "")`` when it names
    none or may not write into the one it names."""
    thread = thread_of(session, parsed, secret=secret)
    return (thread.ticket, thread.how) if thread.trusted else (None, "")


def _bounced_notification(
    session: Session, parsed: ParsedEmail, secret: str
) -> Notification | None:
    """The message of ours a bounce reports, named by its signed Message-ID only: anybody can
    send a "bounce", and it must not mark a message failed that it never saw."""
    for mid in (parsed.in_reply_to, *parsed.references):
        note_id = signed_notification(mid or "", secret)
        if note_id is not None:
            return session.get(Notification, note_id)
    # A delivery report quotes the original headers in its body.
    for match in SIGNED_IN_TEXT.finditer(parsed.body):
        note_id = signed_notification(match.group(0), secret)
        if note_id is not None:
            return session.get(Notification, note_id)
    return None


@dataclass(frozen=True)
class Received:
    """What happened to one inbound message."""

    outcome: str  # created, joined, bounce, ignored
    ticket_id: int | None
    number: str | None
    acknowledged: bool
    reason: str | None = None
    duplicate: bool = False


def message_key(parsed: ParsedEmail, raw: bytes) -> str:
    if parsed.message_id:
        return parsed.message_id
    return f"<sha256-{hashlib.sha256(raw).hexdigest()}@escucha.inbound>"


def _recent_from(session: Session, sender: str, now: datetime) -> int:
    return int(
        session.scalar(
            select(func.count(InboundEmail.id)).where(
                InboundEmail.sender == sender, InboundEmail.received_at >= now - timedelta(hours=1)
            )
        )
        or 0
    )


def _latest_ticket_of(session: Session, sender: str) -> Ticket | None:
    return session.scalar(
        select(Ticket)
        .join(Customer, Customer.id == Ticket.customer_id)
        .where(Customer.email == sender)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(1)
    )


def _keep_attachments(
    session: Session,
    ticket: Ticket,
    message: TicketMessage | None,
    parsed: ParsedEmail,
    now: datetime,
) -> None:
    for att in parsed.attachments:
        session.add(
            TicketAttachment(
                ticket_id=ticket.id,
                message_id=message.id if message is not None else None,
                filename=att.filename,
                content_type=att.content_type,
                size_bytes=len(att.data),
                sha256=hashlib.sha256(att.data).hexdigest(),
                data=att.data,
                created_at=now,
            )
        )
    if parsed.dropped:
        service.system_event(
            session, ticket, "attachments_dropped", now=now, detail="; ".join(parsed.dropped)
        )
    session.flush()


def _description(parsed: ParsedEmail) -> tuple[str, Attachment | None]:
    """The body as description; a body over the limit is cut and kept whole as a file."""
    text = service.safe_text(parsed.body)
    cleaned = trules.clean_text(text)
    if len(cleaned) <= service.MAX_DESCRIPTION:
        return cleaned, None
    note = "\n[…]"
    cut = cleaned[: service.MAX_DESCRIPTION - len(note)] + note
    return cut, Attachment("message.txt", "text/plain", text.encode("utf-8", "replace"))


def receive_email(
    session: Session,
    raw: bytes,
    *,
    now: datetime,
    settings: Settings,
    source: str,
    envelope_from: str | None = None,
    limits: InboundSettings | None = None,
) -> Received:
    """Turn one inbound message into a new ticket or a message on an existing one.

    Idempotent on the Message-ID (or the message's hash) from the same sender, so a message
    delivered twice or read again from IMAP is handled once, and another sender reusing a
    Message-ID neither reaches the first message's case nor is dropped.
    """
    limits = limits or InboundSettings()
    parsed = parse_email(
        raw, own_address=settings.smtp_from, envelope_from=envelope_from, limits=limits
    )
    key = message_key(parsed, raw)
    seen = session.scalar(select(InboundEmail).where(InboundEmail.message_key == key))
    if seen is not None and seen.sender != (parsed.sender or "unknown"):
        # Another sender's message with the same Message-ID is not a redelivery: keyed by
        # sender and Message-ID, it is handled (and de-duplicated) on its own.
        scoped = hashlib.sha256(f"{parsed.sender}\x1f{key}".encode()).hexdigest()
        key = f"<sha256-{scoped}@escucha.inbound>"
        seen = session.scalar(select(InboundEmail).where(InboundEmail.message_key == key))
    if seen is not None:
        ticket = session.get(Ticket, seen.ticket_id) if seen.ticket_id else None
        return Received(
            seen.outcome,
            seen.ticket_id,
            ticket.number if ticket else None,
            seen.acknowledged,
            seen.reason,
            duplicate=True,
        )
    sender = parsed.sender or "unknown"
    record = InboundEmail(
        message_key=key,
        sender=sender,
        received_at=now,
        subject=parsed.subject,
        size_bytes=parsed.size_bytes,
        source=source[:10],
        outcome="ignored",
        acknowledged=False,
    )
    result = _handle(session, parsed, now=now, settings=settings, sender=sender, limits=limits)
    record.outcome = result.outcome
    record.ticket_id = result.ticket_id
    record.acknowledged = result.acknowledged
    record.reason = (result.reason or "")[:200] or None
    session.add(record)
    session.flush()
    return result


def _handle(
    session: Session,
    parsed: ParsedEmail,
    *,
    now: datetime,
    settings: Settings,
    sender: str,
    limits: InboundSettings,
) -> Received:
    actor = f"email:{sender}"
    if parsed.bounce:
        note = _bounced_notification(session, parsed, settings.secret_key)
        ticket = session.get(Ticket, note.ticket_id) if note and note.ticket_id else None
        if ticket is None:
            ticket, _how = find_thread(session, parsed, secret=settings.secret_key)
        if note is not None:
            note.status = "failed"
            note.last_error = f"bounced: {parsed.subject}"[:2000]
        if ticket is not None:
            service.system_event(
                session, ticket, "delivery_failed", now=now, detail=parsed.subject or sender
            )
        return Received(
            "bounce", ticket.id if ticket else None, ticket.number if ticket else None, False
        )
    if parsed.own_loop:
        return Received("ignored", None, None, False, parsed.automatic)
    over_rate = _recent_from(session, sender, now) >= limits.sender_rate_per_h
    thread = thread_of(session, parsed, secret=settings.secret_key)
    trusted = merge.surviving(session, thread.ticket) if thread.trusted and thread.ticket else None
    ticket, how = (trusted, thread.how) if trusted is not None else (None, "")
    mentioned = thread.ticket if not thread.trusted else None
    if ticket is None and over_rate:
        ticket, how = _latest_ticket_of(session, sender), "sender over the rate"
    if ticket is not None and ticket.status != "closed":
        joined = _join(session, ticket, parsed, now=now, actor=actor, reason=how)
        if mentioned is not None and mentioned.id != ticket.id:  # over the rate, on their own
            service.system_event(session, ticket, "mentions_case", now=now, detail=mentioned.number)
            service.system_event(session, mentioned, "mentioned_by", now=now, detail=ticket.number)
        return joined
    reason = parsed.automatic or ("sender over the rate" if over_rate else None)
    description, whole = _description(parsed)
    opened = opening.open_ticket(
        session,
        opening.Intake(
            channel="email",
            description=description,
            subject=parsed.subject,
            name=parsed.sender_name,
            email=parsed.sender or None,
            language=parsed.language,
            message_id=parsed.message_id,
        ),
        now=now,
        base_url=settings.public_url,
        notify_customer=reason is None,
        actor=actor,
    )
    first = session.scalar(
        select(TicketMessage)
        .where(TicketMessage.ticket_id == opened.ticket.id, TicketMessage.direction == "in")
        .order_by(TicketMessage.id)
        .limit(1)
    )
    if whole is not None:
        parsed.attachments.insert(0, whole)
    _keep_attachments(session, opened.ticket, first, parsed, now)
    if ticket is not None:  # a reply to a closed ticket opens a new one, linked by a note
        service.system_event(
            session, opened.ticket, "follows_closed", now=now, detail=ticket.number
        )
    elif mentioned is not None:  # names a case it may not write into: linked both ways
        service.system_event(
            session, opened.ticket, "mentions_case", now=now, detail=mentioned.number
        )
        service.system_event(
            session, mentioned, "mentioned_by", now=now, detail=opened.ticket.number
        )
    if reason is not None:
        service.system_event(session, opened.ticket, "no_auto_reply", now=now, detail=reason)
    return Received(
        "created", opened.ticket.id, opened.ticket.number, opened.notification is not None, reason
    )


def _join(
    session: Session,
    ticket: Ticket,
    parsed: ParsedEmail,
    *,
    now: datetime,
    actor: str,
    reason: str,
) -> Received:
    body = strip_quoted(service.safe_text(parsed.body))
    if parsed.automatic:
        message = service.add_message(
            session,
            ticket,
            now=now,
            direction="in",
            visibility="internal",
            author_kind="customer",
            channel="email",
            subject=parsed.subject,
            body=body,
            from_address=parsed.sender,
            message_id=parsed.message_id,
        )
    else:
        message = handling.add_customer_message(
            session,
            ticket,
            body,
            now=now,
            channel="email",
            subject=parsed.subject,
            from_address=parsed.sender,
            message_id=parsed.message_id,
            actor=actor,
        )
    _keep_attachments(session, ticket, message, parsed, now)
    return Received("joined", ticket.id, ticket.number, False, parsed.automatic or reason)
