"""The agent's desk (W5, C2): the contact card, the one picture of a contact and its caller an
agent sees, and what surrounds it (the agent's state, a warm transfer, their day, the queues).

The card gathers what several domains know of one contact (the customer's situation from
``contacts``, how the desk's softphone reaches the caller from ``voice``, the callback being
dialled, the complaint queues from ``org``), so it is built here, above them, and only by
:func:`contact_card`: a call placed from the web phone (``/phone``) and a call on the phone
line show the same card on ``/agent``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.contacts import agent_day
from escucha.contacts import desk as desk_marks
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact
from escucha.flows import briefing
from escucha.org import home
from escucha.org import models as org
from escucha.org import service as org_service
from escucha.routing import service as routing
from escucha.routing.models import AgentStatus
from escucha.voice import service as voice
from escucha.voice.models import VoiceConsult


@dataclass(frozen=True)
class ContactCard:
    """What the agent sees of a contact and its caller, before answering and while talking:
    the customer's situation (name, masked phone and email, language, IVR path, waits and what
    they were told, last contacts, promises, tickets, transfers, holds), how the softphone
    reaches them (a web caller's typed number, masked and unverified), whether the callback is
    being dialled, and the kind of case the wrap-up offers first."""

    contact: Contact
    situation: briefing.Situation
    voice: voice.DeskVoice
    callback_dialing: bool
    default_kind: str  # "complaint" in a queue of a team that handles complaints, else "query"


def contact_card(session: Session, contact: Contact, *, now: datetime, lang: str) -> ContactCard:
    """The contact card of ``contact``, with labels in ``lang``."""
    situation = briefing.situation(session, contact, now=now, lang=lang)
    callback = situation.callback
    return ContactCard(
        contact=contact,
        situation=situation,
        voice=voice.desk_voice(session, contact, now=now),
        callback_dialing=(
            contact.channel == "callback" and callback is not None and callback.state == "dialing"
        ),
        default_kind=(
            "complaint" if contact.queue in org_service.complaint_queues(session) else "query"
        ),
    )


@dataclass(frozen=True)
class Desk:
    """Everything the agent's desk shows."""

    timezone: str
    status: AgentStatus | None
    card: ContactCard | None
    consult: VoiceConsult | None
    consult_peer: str  # the colleague on the other side of the consult
    consult_targets: list[tuple[int, str]]  # who could take a consult now
    day: agent_day.AgentDay
    queues: list[org.Queue]
    skills: list[org.Skill]
    profile: org.AgentProfile | None
    key: str  # :func:`desk_key`


def desk(session: Session, user_id: int, *, now: datetime, lang: str) -> Desk:
    """The agent's desk now, with labels in ``lang``."""
    tz = home.zone_name(session)
    status = routing.status_of(session, user_id)
    contact = (
        contacts.get_contact(session, status.contact_id)
        if status is not None and status.contact_id
        else None
    )
    card = contact_card(session, contact, now=now, lang=lang) if contact is not None else None
    consult = voice.open_consult(session, user_id)
    peer = ""
    if consult is not None:
        other = consult.to_user_id if consult.from_user_id == user_id else consult.from_user_id
        peer = auth_service.display_names(session, [other]).get(other, "")
    return Desk(
        timezone=tz,
        status=status,
        card=card,
        consult=consult,
        consult_peer=peer,
        consult_targets=(
            voice.consult_targets(session, user_id, now=now)
            if contact is not None and contact.state == "on_hold" and consult is None
            else []
        ),
        day=agent_day.agent_day(session, user_id, now=now, tz=tz),
        queues=org_service.queues(session),
        skills=org_service.skills(session),
        profile=org_service.agent_profile(session, user_id),
        key=desk_marks.desk_fingerprint(session, user_id) + _consult_mark(consult),
    )


def desk_key(session: Session, user_id: int) -> str:
    """The desk's fingerprint, with the consult the agent is in (a warm transfer): the live
    desk is redrawn when it changes."""
    consult = voice.open_consult(session, user_id)
    return desk_marks.desk_fingerprint(session, user_id) + _consult_mark(consult)


def _consult_mark(consult: VoiceConsult | None) -> str:
    return f"|c{consult.id}:{consult.answered_at is not None}" if consult is not None else ""
