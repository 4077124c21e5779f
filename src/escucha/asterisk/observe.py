"""Observe-only mode: Asterisk's own queues answer the calls, escucha writes their life into
its contact log from AMI queue events, so analytics, patience curves and QA work there too.

escucha's promises do not apply to these calls: nobody told the caller a bound, offered a
callback that keeps their place or chose the agent. The contacts are written through the
contact's state machine (never routed: a call enters escucha's line and leaves it to the agent
Asterisk chose in one transaction), and the agents are not moved. The events are read as the
``queue_log`` importer reads their ``queue_log`` lines (``escucha.analytics.importers.asterisk``):
only an abandonment counts as abandoned; a caller who left by a timeout or a key was not
answered, not abandoned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from escucha.analytics.importers.asterisk import ANSWERS, COMPLETES
from escucha.asterisk import rules as A
from escucha.auth.models import User
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact
from escucha.errors import InvalidInput
from escucha.org.models import AgentProfile

log = logging.getLogger("escucha.asterisk")

PROVIDER = "ami"


@dataclass(frozen=True)
class Observed:
    """What an AMI event did to the contact log."""

    contact_id: int | None
    step: str


def _ref(uniqueid: str) -> str:
    return f"{PROVIDER}:{uniqueid}"[:100]


def _contact(session: Session, uniqueid: str) -> Contact | None:
    return session.scalar(select(Contact).where(Contact.provider_ref == _ref(uniqueid)))


def _agent(session: Session, interface: str, member: str) -> int | None:
    """The escucha user a queue member is: by their PBX endpoint, else by name."""
    found = session.scalar(
        select(AgentProfile.user_id).where(
            or_(AgentProfile.pbx_endpoint == interface, AgentProfile.pbx_endpoint == member)
        )
    )
    if found is not None:
        return int(found)
    names = {A.interface_user(interface), A.interface_user(member), member}
    return session.scalar(select(User.id).where(User.username.in_(sorted(n for n in names if n))))


def _seconds(message: dict[str, str], key: str) -> float:
    value = message.get(key, "")
    return float(value) if value.replace(".", "", 1).isdigit() else 0.0


def observe(session: Session, message: dict[str, str], *, now: datetime) -> Observed:
    """Write one AMI event into the contact log (a repeated one changes nothing)."""
    name = message.get("Event", "")
    kind = A.AMI_QUEUE_EVENTS.get(name)
    uid = message.get("Uniqueid", "")
    if kind is None or not uid:
        return Observed(None, "ignored")
    contact = _contact(session, uid)
    if kind == "ENTERQUEUE":
        if contact is not None:
            return Observed(contact.id, "repeated")
        number = message.get("CallerIDNum", "")
        customer = None
        if number and number != "<unknown>":
            try:
                customer = contacts.find_or_create_customer(
                    session, now=now, phone=contacts.normalise_phone(number)
                )
            except InvalidInput:
                customer = None
        contact = contacts.start_contact(
            session,
            channel="voice",
            now=now,
            customer=customer,
            provider=PROVIDER,
            provider_ref=_ref(uid),
            queue=message.get("Queue") or None,
        )
        contact.outcome = None
        return Observed(contact.id, "arrived")
    if contact is None:
        return Observed(None, "unknown call")
    queue = contact.queue or message.get("Queue") or "pbx"
    joined = contact.arrived_at
    if kind in ANSWERS and contact.state == "ivr":
        user = _agent(session, message.get("Interface", ""), message.get("MemberName", ""))
        contacts.enqueue(session, contact, queue, now=joined, pbx=True)
        if user is None:
            contact.outcome = "answered_on_pbx"
            contacts.transition(
                session,
                contact,
                "cancel",
                at=now,
                reason="answered_on_pbx",
                member=message.get("MemberName", ""),
            )
            return Observed(contact.id, "answered by a member escucha does not know")
        contacts.transition(session, contact, "offer", at=now, agent_id=user)
        contact.agent_id = user
        contact.offered_at = now
        contact.answered_at = now
        contacts.transition(
            session, contact, "answer", at=now, wait_s=_seconds(message, "HoldTime")
        )
        return Observed(contact.id, "answered")
    if kind == "COMPLETE" and contact.state in ("connected", "on_hold"):
        completed = "COMPLETECALLER" if message.get("Reason", "") == "caller" else "COMPLETEAGENT"
        by = "customer" if completed == COMPLETES[1] else "agent"
        contacts.transition(session, contact, "end_call", at=now, ended_by=by)
        contact.outcome = contact.outcome or "pbx"
        contacts.transition(
            session,
            contact,
            "wrap_up",
            at=now,
            outcome="pbx",
            resolved=None,
            wrap_s=0.0,
            ended_by=by,
            talk_s=_seconds(message, "TalkTime"),
        )
        return Observed(contact.id, "ended")
    if kind == "ABANDON" and contact.state == "ivr":
        contacts.enqueue(session, contact, queue, now=joined, pbx=True)
        waited = _seconds(message, "HoldTime") or (now - joined).total_seconds()
        contacts.transition(session, contact, "abandon", at=now, wait_s=waited)
        contacts.transition(session, contact, "close", at=now, reason="caller_hung_up")
        return Observed(contact.id, "abandoned")
    if kind == "LEAVE" and contact.state == "ivr":
        return Observed(contact.id, "leaving")
    return Observed(contact.id, "noted")


def left(session: Session, uniqueid: str, *, now: datetime) -> Observed:
    """A caller left the queue and, a few seconds on, was neither answered nor abandoned: a
    timeout, an empty queue or a key (``queue_log``'s exits). Not an abandonment: for patience
    the wait is censored there."""
    contact = _contact(session, uniqueid)
    if contact is None or contact.state != "ivr":
        return Observed(contact.id if contact else None, "noted")
    contacts.enqueue(session, contact, contact.queue or "pbx", now=contact.arrived_at, pbx=True)
    contact.outcome = "left_queue"
    contacts.transition(session, contact, "cancel", at=now, reason="left_queue")
    return Observed(contact.id, "left")


def event_time(message: dict[str, str], fallback: datetime) -> datetime:
    """The event's time when AMI carries one (``Timestamp``, with ``timestampevents=yes``)."""
    stamp = message.get("Timestamp", "")
    try:
        return datetime.fromtimestamp(float(stamp), UTC)
    except ValueError:
        return fallback
