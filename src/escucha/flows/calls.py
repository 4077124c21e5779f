"""What an agent does with a contact when that reaches more than routing: answering a callback
reaches the customer who asked for it (W2, W6)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from escucha.callbacks import service as callbacks
from escucha.contacts.models import Contact
from escucha.routing import service as routing


def answer(session: Session, user_id: int, contact_id: int, *, now: datetime) -> Contact:
    """The agent takes the contact offered to them; a callback's customer is then reached."""
    contact = routing.answer(session, user_id, contact_id, now=now)
    callbacks.reached_if_callback(session, contact, now=now)
    return contact
