"""Shared arrangements for the ACD tests: the demo organisation and agents on duty."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact
from escucha.org import service as org_service
from tests.conftest import START

DEMO = Path(org_service.__file__).parent / "demo.yaml"


def demo(session: Session) -> dict[str, int]:
    org_service.apply_file(session, DEMO, now=START)
    session.flush()
    return {u.username: u.id for u in session.scalars(select(User))}


def caller(
    session: Session, now: datetime, phone: str, queue: str = "facturas", lang: str = "es"
) -> Contact:
    customer = contacts.find_or_create_customer(session, now=now, phone=phone, language=lang)
    contact = contacts.start_contact(session, channel="voice", now=now, customer=customer)
    contacts.ivr_choice(session, contact, node="main", key="1", now=now)
    contacts.enqueue(session, contact, queue, now=now, skills={"facturas": 1})
    return contact
