"""Canned replies: prepared answers in each language, kept by supervisors, chosen in the reply
box. A reply's text may hold ``{case_number}``, ``{promised_time}`` (the next pending promise,
said in the organisation's zone and the customer's language), ``{customer_name}`` and
``{agent_name}``; any other ``{word}`` is refused when the reply is saved."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from escucha import languages
from escucha.audit import service as audit
from escucha.auth.models import User
from escucha.contacts.models import Customer
from escucha.errors import InvalidInput, NotFound
from escucha.i18n import translator
from escucha.notifications.messages import when_phrase
from escucha.tickets import planning, service
from escucha.tickets import rules as trules
from escucha.tickets.models import CannedReply, Ticket

PLACEHOLDERS = ("case_number", "promised_time", "customer_name", "agent_name")
LANGUAGES = languages.CODES
MAX_TITLE = 120
MAX_BODY = 5000
_FIELD = re.compile(r"\{([^{}]*)\}")
#: What stands for a promised time not yet set, and for a customer without a name.
_NO_DATE = "on the date we will confirm"
_NO_NAME = "customer"


def check_body(body: str) -> str:
    text = trules.clean_text(service.safe_text(body))
    if not text:
        raise InvalidInput("body: write the reply")
    if len(text) > MAX_BODY:
        raise InvalidInput(f"body: at most {MAX_BODY} characters")
    unknown = sorted({f for f in _FIELD.findall(text) if f not in PLACEHOLDERS})
    if unknown:
        allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise InvalidInput(f"body: unknown placeholder {{{unknown[0]}}}; use {allowed}")
    return text


def save(
    session: Session,
    *,
    title: str,
    language: str,
    body: str,
    user: User,
    now: datetime,
    reply_id: int | None = None,
) -> CannedReply:
    """Create a reply or change one; the title is unique within its language."""
    name = service.one_line(title, MAX_TITLE)
    if not name:
        raise InvalidInput("title: give the reply a title")
    if language not in LANGUAGES:
        raise InvalidInput(f"language: one of {', '.join(LANGUAGES)}")
    text = check_body(body)
    if reply_id is None:
        reply = CannedReply(
            title=name, language=language, body=text, created_by_id=user.id, updated_at=now
        )
        session.add(reply)
    else:
        reply = get(session, reply_id)
        reply.title, reply.language, reply.body, reply.updated_at = name, language, text, now
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise InvalidInput(f"title: a reply titled {name!r} in {language} exists") from None
    audit.record(
        session,
        action="canned_reply.saved",
        actor=service.actor_of(user),
        subject_kind="canned_reply",
        subject_id=reply.id,
        subject_ref=name[:40],
        now=now,
        data={"language": language, "chars": len(text)},
    )
    return reply


def get(session: Session, reply_id: int) -> CannedReply:
    reply = session.get(CannedReply, reply_id)
    if reply is None:
        raise NotFound(f"canned reply {reply_id} not found")
    return reply


def delete(session: Session, reply_id: int, *, user: User, now: datetime) -> None:
    reply = get(session, reply_id)
    audit.record(
        session,
        action="canned_reply.deleted",
        actor=service.actor_of(user),
        subject_kind="canned_reply",
        subject_id=reply.id,
        subject_ref=reply.title[:40],
        now=now,
        data={"language": reply.language},
    )
    session.delete(reply)
    session.flush()


def all_replies(session: Session) -> list[CannedReply]:
    return list(
        session.scalars(select(CannedReply).order_by(CannedReply.language, CannedReply.title))
    )


@dataclass(frozen=True)
class Filled:
    id: int
    title: str
    language: str
    text: str


def fill(
    session: Session,
    reply: CannedReply,
    ticket: Ticket,
    *,
    agent_name: str,
    now: datetime,
) -> str:
    """The reply's text with its placeholders filled for ``ticket``, in the reply's language."""
    lang = reply.language
    _ = translator(lang)
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    nxt = planning.next_promise(session, ticket.id)
    tz = planning.org_context(session).timezone
    when = (
        when_phrase(nxt.due_at, now=now, tz=tz, lang=lang)
        if nxt is not None and nxt.due_at > now
        else _(_NO_DATE)
    )
    values = {
        "case_number": ticket.number,
        "promised_time": when,
        "customer_name": (customer.name if customer is not None else "") or _(_NO_NAME),
        "agent_name": agent_name,
    }
    return _FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), reply.body)


def for_ticket(session: Session, ticket: Ticket, *, agent_name: str, now: datetime) -> list[Filled]:
    """Every reply, filled for ``ticket``; the customer's language first."""
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    lang = (customer.language if customer is not None else ticket.language)[:2]
    replies = sorted(all_replies(session), key=lambda r: (r.language != lang, r.language, r.title))
    return [
        Filled(r.id, r.title, r.language, fill(session, r, ticket, agent_name=agent_name, now=now))
        for r in replies
    ]
