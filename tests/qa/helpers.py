"""Ended contacts with their event log, made directly (fast), and sample transcripts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from escucha.contacts.models import Contact, ContactEvent, Customer
from tests.conftest import START

DATA = Path(__file__).parent / "data"
GOOD_ES = (DATA / "es" / "es01_cargo_duplicado.txt").read_text(encoding="utf-8")
BAD_ES = (DATA / "es" / "es02_sin_internet.txt").read_text(encoding="utf-8")

_phones = iter(range(600_000_001, 699_999_999))


def make_customer(
    session: Session,
    *,
    phone: str | None = "auto",
    email: str | None = None,
    language: str = "es",
    name: str = "Cliente",
) -> Customer:
    customer = Customer(
        phone=f"+34{next(_phones)}" if phone == "auto" else phone,
        email=email,
        name=name,
        language=language,
        timezone="Europe/Madrid",
        created_at=START,
    )
    session.add(customer)
    session.flush()
    return customer


def _event(
    session: Session, contact: Contact, event: str, at: datetime, agent_id: int | None, **data: Any
) -> None:
    session.add(
        ContactEvent(
            contact_id=contact.id,
            event=event,
            at=at,
            queue=contact.queue,
            agent_id=agent_id,
            data=data,
        )
    )


def make_ended_contact(
    session: Session,
    *,
    agent_id: int | None,
    customer: Customer | None = None,
    queue: str = "facturas",
    arrived: datetime = START,
    wait_s: float = 30.0,
    talk_s: float = 240.0,
    wrap_s: float = 30.0,
    holds: Sequence[tuple[float, float, bool]] = (),
    resolved: bool = True,
    channel: str = "voice",
    state: str = "ended",
) -> Contact:
    """A contact that queued, was answered by ``agent_id``, talked, held and wrapped up.

    ``holds`` are ``(seconds after answer, length in seconds, announced)``.
    """
    answered = arrived + timedelta(seconds=wait_s)
    ended = answered + timedelta(seconds=talk_s)
    contact = Contact(
        channel=channel,
        state=state,
        customer_id=customer.id if customer else None,
        queue=queue,
        language=customer.language if customer else "es",
        provider="browser",
        ivr_path=[],
        skills={},
        agent_id=agent_id,
        arrived_at=arrived,
        queued_at=arrived,
        joined_at=arrived,
        offered_at=answered,
        answered_at=answered,
        ended_at=ended if state == "ended" else None,
        outcome="solved" if resolved else "pending",
        resolved=resolved,
    )
    session.add(contact)
    session.flush()
    _event(session, contact, "arrived", arrived, None, channel=channel)
    _event(session, contact, "queued", arrived, None, queue=queue)
    _event(session, contact, "offered", answered, agent_id)
    _event(session, contact, "answered", answered, agent_id, wait_s=wait_s)
    for offset, length, announced in holds:
        start = answered + timedelta(seconds=offset)
        _event(session, contact, "hold_started", start, agent_id, announced=announced)
        _event(
            session,
            contact,
            "hold_ended",
            start + timedelta(seconds=length),
            agent_id,
            hold_s=length,
        )
    if state == "ended":
        _event(session, contact, "ended", ended, agent_id, ended_by="agent")
        _event(
            session,
            contact,
            "wrapped_up",
            ended + timedelta(seconds=wrap_s),
            agent_id,
            outcome=contact.outcome,
            resolved=resolved,
            wrap_s=wrap_s,
        )
    session.flush()
    return contact


def make_person(session: Session, username: str, role: str = "agent", name: str = "") -> Any:
    """A user without a password (no hashing: fast)."""
    from escucha.auth.models import User

    user = User(
        username=username,
        display_name=name or username.title(),
        role=role,
        language="es",
        password_hash=None,
        active=True,
        session_epoch=0,
        created_at=START,
    )
    session.add(user)
    session.flush()
    return user


def make_queues(session: Session) -> None:
    """Queues ``facturas`` (care team) and ``reclamaciones`` (a team that handles complaints)."""
    from escucha.org import models as org

    cal = org.Calendar(name="oficina", timezone="Europe/Madrid", hours={}, closures=[])
    session.add(cal)
    session.flush()
    care = org.Team(name="atencion", display_name="Atención", calendar_id=cal.id)
    complaints = org.Team(
        name="reclamaciones",
        display_name="Reclamaciones",
        calendar_id=cal.id,
        handles_complaints=True,
    )
    session.add_all([care, complaints])
    session.flush()
    session.add_all(
        [
            org.Queue(
                name="facturas", display_name={}, team_id=care.id, calendar_id=cal.id, skills={}
            ),
            org.Queue(
                name="reclamaciones",
                display_name={},
                team_id=complaints.id,
                calendar_id=cal.id,
                skills={},
            ),
        ]
    )
    session.flush()


PASSWORD = "correct-horse-battery"  # the factories' password


@cache
def _password_hash() -> str:
    from escucha.auth.service import hash_password

    return hash_password(PASSWORD)


def make_login_user(
    session: Session, username: str, role: str = "agent", display_name: str = ""
) -> Any:
    """A user who can log in with :data:`PASSWORD`; the hash is computed once per run."""
    user = make_person(session, username, role, display_name)
    user.password_hash = _password_hash()
    session.flush()
    return user
