"""A small organisation for ticket tests, made without password hashing (fast)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from itertools import count
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.org import models as org
from tests.conftest import START

_n = count(1)

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


def make_agent(
    session: Session,
    team: org.Team | None = None,
    *,
    skills: dict[str, Any] | None = None,
    role: str = "agent",
) -> User:
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


# --- an SMTP sink for tests ----------------------------------------------------------------------


class SinkHandler:
    """Collects every message an aiosmtpd server receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.rcpt: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.rcpt.append(list(envelope.rcpt_tos))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def smtp_sink() -> Iterator[tuple[int, SinkHandler]]:
    """An aiosmtpd server on a free loopback port that keeps what it receives."""
    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


def wait_for(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
