"""Test data, made one way everywhere: organisation, users, customers, contacts, tickets, callbacks.

Plain functions that take the session first and flush (never commit: a test commits what the
app or another process must see). Two organisations:

- :func:`demo`: the demo organisation of ``escucha/org/demo.yaml`` (queues ``facturas`` and
  ``reclamaciones``, agents ``ana``, ``luis``, ``marta``…), for flows that route calls.
- :func:`make_org`: a small organisation built row by row (teams, calendars, SLA policies),
  for tickets and promises; :func:`make_queues` adds only two queues, for contact history.

Passwords are hashed with cheap argon2 settings in every test (see ``tests/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import count
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.auth.models import User
from escucha.callbacks import service as callbacks
from escucha.callbacks.models import Callback
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact, ContactEvent, Customer
from escucha.org import models as org
from escucha.org import service as org_service
from escucha.org.schemas import OrgFile
from escucha.routing import benchdb
from escucha.tickets import opening
from escucha.tickets import replies as canned_replies
from escucha.tickets.models import CannedReply, Ticket
from escucha.voice import sip

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Madrid
PASSWORD = "correct-horse-battery"  # the factories' password
DEMO = Path(org_service.__file__).parent / "demo.yaml"

_n = count(1)
_phones = iter(range(600_000_001, 699_999_999))

# --- the demo organisation -------------------------------------------------------------------


@cache
def _demo_org() -> OrgFile:
    """The demo organisation, read once (parsing the YAML is the slow part)."""
    return org_service.parse_org(DEMO.read_text(encoding="utf-8"), str(DEMO))[0]


def demo(session: Session, users: Sequence[str] | None = None) -> dict[str, int]:
    """Apply the demo organisation (with only the named ``users`` when given); its users' ids
    by username."""
    org = _demo_org()
    if users is not None:
        org = org.model_copy(update={"users": [u for u in org.users if u.username in users]})
    org_service.apply_org(session, org, now=START)
    session.flush()
    return {u.username: u.id for u in session.scalars(select(User))}


def demo_users(session: Session) -> dict[str, int]:
    """:func:`demo`, committed for the app to see."""
    ids = demo(session)
    session.commit()
    return ids


# --- a small organisation built row by row ---------------------------------------------------

OFFICE_HOURS = {"mon-fri": ["08:00-20:00"], "sat": ["09:00-14:00"]}


@dataclass
class Org:
    organisation: org.Organisation
    office: org.Calendar
    care: org.Team
    faults: org.Team
    complaints: org.Team


def make_org(
    session: Session,
    *,
    profile: str = "es-ley-10-2025",
    country: str = "ES",
    subdivision: str | None = "MD",
    timezone: str = "Europe/Madrid",
) -> Org:
    """Teams ``atencion``, ``averias`` (24 h) and ``reclamaciones``, with their SLA policies."""
    organisation = org.Organisation(
        name="Aguas de prueba",
        country=country,
        subdivision=subdivision,
        timezone=timezone,
        language="es",
        regulatory_profile=profile,
        ivr={},
    )
    office = org.Calendar(
        name="oficina",
        timezone=timezone,
        holiday_country=country,
        holiday_subdivision=subdivision,
        hours=OFFICE_HOURS,
        closures=[],
    )
    always = org.Calendar(
        name="24h",
        timezone=timezone,
        holiday_country=None,
        holiday_subdivision=None,
        hours={"all": ["00:00-24:00"]},
        closures=[],
    )
    session.add_all([organisation, office, always])
    session.flush()
    care = org.Team(name="atencion", display_name="Atención", calendar_id=office.id)
    faults = org.Team(name="averias", display_name="Averías", calendar_id=always.id)
    complaints = org.Team(
        name="reclamaciones",
        display_name="Reclamaciones",
        calendar_id=office.id,
        handles_complaints=True,
    )
    session.add_all([care, faults, complaints])
    session.flush()
    session.add_all(
        [
            org.SlaPolicy(
                name="reclamacion",
                ticket_kind="complaint",
                channel="any",
                team_id=complaints.id,
                first_response={"amount": 1, "unit": "business_days"},
                resolution={"amount": 15, "unit": "business_days"},
            ),
            org.SlaPolicy(
                name="averia",
                ticket_kind="fault",
                channel="any",
                team_id=faults.id,
                first_response={"amount": 2, "unit": "hours"},
                resolution={"amount": 1, "unit": "calendar_days"},
            ),
            org.SlaPolicy(
                name="consulta-email",
                ticket_kind="any",
                channel="email",
                team_id=care.id,
                first_response={"amount": 8, "unit": "business_hours"},
                resolution={"amount": 3, "unit": "business_days"},
            ),
            org.SlaPolicy(
                name="general",
                ticket_kind="any",
                channel="any",
                team_id=care.id,
                first_response={"amount": 4, "unit": "business_hours"},
                resolution={"amount": 5, "unit": "business_days"},
            ),
        ]
    )
    session.flush()
    return Org(organisation, office, care, faults, complaints)


def make_queues(session: Session) -> None:
    """Queues ``facturas`` (care team) and ``reclamaciones`` (a team that handles complaints)."""
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


# --- users -----------------------------------------------------------------------------------


def make_user(session: Session, **overrides: Any) -> User:
    """A user made by the auth service, with :data:`PASSWORD` unless told otherwise."""
    n = next(_n)
    fields: dict[str, Any] = {
        "username": f"user{n}",
        "display_name": f"User {n}",
        "role": "agent",
        "password": PASSWORD,
        "now": START,
    }
    fields.update(overrides)
    return auth_service.create_user(session, **fields)


def make_person(session: Session, username: str, role: str = "agent", name: str = "") -> User:
    """A user without a password (no hashing: fast)."""
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


@cache
def _password_hash() -> str:
    return auth_service.hash_password(PASSWORD)


def make_login_user(
    session: Session, username: str, role: str = "agent", display_name: str = ""
) -> User:
    """A user who can log in with :data:`PASSWORD`; the hash is computed once per run."""
    user = make_person(session, username, role, display_name)
    user.password_hash = _password_hash()
    session.flush()
    return user


def make_agent(
    session: Session,
    team: org.Team | None = None,
    *,
    skills: dict[str, Any] | None = None,
    role: str = "agent",
) -> User:
    """An agent without a password, in ``team`` when given."""
    n = next(_n)
    user = User(
        username=f"agent{n}",
        display_name=f"Agent {n}",
        role=role,
        language="es",
        active=True,
        session_epoch=0,
        created_at=START,
    )
    session.add(user)
    session.flush()
    if team is not None:
        session.add(
            org.AgentProfile(user_id=user.id, team_id=team.id, skills=skills or {}, languages=[])
        )
        session.flush()
    return user


# --- customers and contacts ------------------------------------------------------------------


def make_customer(
    session: Session,
    *,
    phone: str | None = "auto",
    email: str | None = None,
    language: str = "es",
    name: str = "Cliente",
) -> Customer:
    """A customer row; ``phone="auto"`` gives a fresh Spanish mobile number."""
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
    for kind, value in (("phone", customer.phone), ("email", customer.email)):
        if value and contacts.find_by_point(session, kind, value) is None:
            contacts.record_point(session, customer, kind, value, now=START, verified=True)
    return customer


def caller(
    session: Session, now: datetime, phone: str, queue: str = "facturas", lang: str = "es"
) -> Contact:
    """A voice call that chose option 1 and waits in ``queue`` (through the contacts service)."""
    customer = contacts.find_or_create_customer(session, now=now, phone=phone, language=lang)
    contact = contacts.start_contact(session, channel="voice", now=now, customer=customer)
    contacts.ivr_choice(session, contact, node="main", key="1", now=now)
    contacts.enqueue(session, contact, queue, now=now, skills={"facturas": 1})
    return contact


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

    Written directly with its event log (fast). ``holds`` are ``(seconds after answer, length
    in seconds, announced)``.
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


# --- tickets and callbacks -------------------------------------------------------------------

BASE_URL = "http://testserver"


def make_ticket(
    session: Session,
    *,
    now: datetime = START,
    base_url: str = BASE_URL,
    channel: str = "web",
    description: str | None = "Me han cobrado dos veces",
    email: str | None = "rosa@example.es",
    **intake: Any,
) -> Ticket:
    """A ticket opened by the tickets service, as a customer's web form would open it."""
    opened = opening.open_ticket(
        session,
        opening.Intake(channel=channel, description=description, email=email, **intake),
        now=now,
        base_url=base_url,
    )
    return opened.ticket


def make_callback(
    session: Session,
    *,
    now: datetime = START,
    queue: str = "facturas",
    customer: Customer | None = None,
    contact: Contact | None = None,
    **options: Any,
) -> Callback:
    """A callback taken by the callbacks service: for ``contact``'s caller when given (keeping
    the caller's place), else for ``customer`` or a new one."""
    if customer is None:
        if contact is not None and contact.customer_id is not None:
            customer = session.get(Customer, contact.customer_id)
        customer = customer or make_customer(session)
    return callbacks.request_callback(
        session, now=now, queue=queue, customer=customer, contact=contact, **options
    )


def make_sip_account(
    session: Session, user: User, *, phone: str = "browser", username: str | None = None
) -> sip.Issued:
    """The agent's account on the PBX, as an administrator creates it (ADR 23)."""
    issued = sip.issue(session, user, now=START, phone=phone, username=username)
    assert isinstance(issued, sip.Issued)
    return issued


#: A recording notice callers may refuse with 9 (Spanish refusal written, English generated).
RECORDING_NOTICE: dict[str, Any] = {
    "text": {
        "es": "Esta llamada se graba para mejorar nuestro servicio.",
        "en": "This call is recorded to improve our service.",
    },
    "refuse_key": "9",
    "refuse_text": {"es": "Pulse 9 si no desea que se grabe."},
}


def recording_notice(session: Session, notice: dict[str, Any] | None = None) -> None:
    """Give the organisation's IVR a recording notice (the caller commits)."""
    row = session.scalar(select(org.Organisation).limit(1))
    assert row is not None, "apply an organisation first"
    row.ivr = {**dict(row.ivr), "recording_notice": notice or RECORDING_NOTICE}
    session.flush()


def make_canned_reply(
    session: Session,
    *,
    title: str = "Acuse",
    language: str = "es",
    body: str = "Hola {customer_name}: su caso {case_number} tendrá respuesta {promised_time}.",
    author: User | None = None,
) -> CannedReply:
    """A canned reply saved by the replies service (a supervisor is made when none is given)."""
    who = author or make_person(session, f"sup{next(_n)}", role="supervisor")
    return canned_replies.save(
        session, title=title, language=language, body=body, user=who, now=START
    )


def make_floor(
    session: Session,
    *,
    agents: int,
    waiting: int,
    history: int = 0,
    queue: str = "facturas",
    seed: int = 0,
) -> list[int]:
    """A floor of the demo organisation written at once (the estimate benchmark's): agents
    none of whom is free, callers waiting in ``queue``, callers who left it with their
    estimates settled. The waiting contacts' ids."""
    return benchdb.seed_floor(
        session, queue=queue, agents=agents, waiting=waiting, history=history, now=START, seed=seed
    )
