"""Shared arrangements for the ACD tests: the demo organisation and agents on duty."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.auth.models import User
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact
from escucha.org import service as org_service
from escucha.org.schemas import OrgFile
from tests.conftest import START

DEMO = Path(org_service.__file__).parent / "demo.yaml"


@cache
def _demo_org() -> OrgFile:
    """The demo organisation, read once (parsing the YAML is the slow part)."""
    return org_service.parse_org(DEMO.read_text(encoding="utf-8"), str(DEMO))[0]


def demo(session: Session) -> dict[str, int]:
    """Apply the demo organisation; its users' ids by username."""
    org_service.apply_org(session, _demo_org(), now=START)
    session.flush()
    return {u.username: u.id for u in session.scalars(select(User))}


def demo_users(session: Session) -> dict[str, int]:
    """:func:`demo`, committed for the app to see."""
    ids = demo(session)
    session.commit()
    return ids


def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap password hashes for the demo's users, for tests that are not about passwords."""
    monkeypatch.setattr(
        auth_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def caller(
    session: Session, now: datetime, phone: str, queue: str = "facturas", lang: str = "es"
) -> Contact:
    customer = contacts.find_or_create_customer(session, now=now, phone=phone, language=lang)
    contact = contacts.start_contact(session, channel="voice", now=now, customer=customer)
    contacts.ivr_choice(session, contact, node="main", key="1", now=now)
    contacts.enqueue(session, contact, queue, now=now, skills={"facturas": 1})
    return contact
