"""What an agent does with a contact when that reaches more than routing: answering a callback
reaches the customer who asked for it, calling a customer back rings their web page or dials
their phone, and no answer is recorded without a call (W2, W6)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from escucha.callbacks import service as callbacks
from escucha.config import Settings
from escucha.contacts.models import Contact
from escucha.errors import Conflict
from escucha.routing import service as routing
from escucha.telephony import dialer
from escucha.voice import service as voice


def answer(session: Session, user_id: int, contact_id: int, *, now: datetime) -> Contact:
    """The agent takes the contact offered to them; a callback's customer is then reached."""
    contact = routing.answer(session, user_id, contact_id, now=now)
    callbacks.reached_if_callback(session, contact, now=now)
    return contact


def call_customer(
    session: Session, user_id: int, contact_id: int, *, now: datetime, settings: Settings
) -> None:
    """Ring the web caller's page if it is still open; otherwise dial through Twilio if set up.

    Nothing is recorded as an attempt unless a call is really placed.
    """
    contact = voice.agent_contact(session, user_id, contact_id)
    caller = voice.web_caller_of(session, contact)
    if voice.is_alive(caller, now):
        dialer.dial_callback(session, user_id, contact_id, now=now, settings=settings)
        return
    if not dialer.twilio_ready(settings):
        raise Conflict(
            "the customer's page is closed and no phone line is set up (Twilio): "
            "the customer cannot be called from here"
        )
    dialer.dial_callback(
        session, user_id, contact_id, now=now, settings=settings, provider="twilio"
    )


def no_answer(session: Session, user_id: int, contact_id: int, *, now: datetime) -> None:
    """The customer called back did not answer; refused for a web caller not yet called."""
    cb = callbacks.for_contact(session, contact_id)
    contact = voice.agent_contact(session, user_id, contact_id)
    if cb is not None and cb.state != "dialing" and voice.web_caller_of(session, contact):
        raise Conflict("call the customer first: no answer is recorded without a call")
    callbacks.no_answer(session, user_id, contact_id, now=now)
