"""Callbacks: a caller's place kept, a time confirmed, retries and the message left (W5, P1)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from escucha.callbacks import service as callbacks
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact
from escucha.flows import calls
from escucha.jobs.service import run_due
from escucha.notifications.models import Notification
from escucha.promises.models import Promise
from escucha.routing import service as routing
from tests.conftest import START
from tests.factories import caller, demo


def test_a_callback_keeps_the_callers_place_and_is_confirmed_with_a_time(
    session: Session, session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    users = demo(session)
    early = caller(session, START, "600111001")
    later = caller(session, START + timedelta(seconds=30), "600111002")
    routing.tell_estimate(session, early, now=START + timedelta(seconds=31))
    customer = session.get(contacts.Customer, early.customer_id)
    assert customer is not None
    cb = callbacks.request_callback(
        session,
        now=START + timedelta(seconds=40),
        queue="facturas",
        customer=customer,
        contact=early,
    )
    assert early.state == "callback"
    assert cb.joined_at == START
    promise = session.get(Promise, cb.promise_id)
    assert promise is not None
    assert (promise.kind, promise.state, promise.due_at) == ("callback", "pending", cb.due_at)
    note = session.scalar(select(Notification).where(Notification.callback_id == cb.id))
    assert note is not None
    assert note.channel == "sms"
    assert re.search(r"\b\d{1,2}:\d{2}\b", note.body), note.body
    assert "lo antes posible" not in note.body.lower()
    session.commit()

    # An agent becomes free: the callback, which joined first, is offered before the later caller
    routing.set_agent_state(session, users["ana"], "available", now=START + timedelta(seconds=60))
    offered = session.get(Contact, cb.contact_id)
    assert offered is not None
    assert offered.state == "offered"
    session.refresh(later)
    assert later.state == "queued"
    calls.answer(session, users["ana"], offered.id, now=START + timedelta(seconds=70))
    session.refresh(promise)
    assert promise.state == "kept"
    assert cb.state == "completed"
    session.commit()

    # the confirmation is sent once by the outbox worker
    clock.set(START + timedelta(seconds=80))
    run_due(session_factory, settings, clock)
    run_due(session_factory, settings, clock)
    sent = list(settings.outbox_dir.glob("sms-*.json"))
    assert len(sent) == 1
    assert json.loads(sent[0].read_text())["to"] == "+34600111001"


def test_an_unanswered_callback_is_retried_then_a_message_is_left(
    session: Session, session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    users = demo(session)
    customer = contacts.find_or_create_customer(session, now=START, phone="600111009")
    cb = callbacks.request_callback(
        session, now=START, queue="facturas", customer=customer, max_attempts=2, retry_gap_s=300
    )
    session.commit()
    routing.set_agent_state(session, users["ana"], "available", now=START)
    session.commit()
    callbacks.no_answer(session, users["ana"], cb.contact_id, now=START + timedelta(seconds=30))
    session.commit()
    assert (cb.state, cb.attempts) == ("pending", 1)
    # an unanswered attempt does not keep the promise: only an answered call does (#16)
    assert session.get(Promise, cb.promise_id).state == "pending"  # type: ignore[union-attr]
    routing.set_agent_state(session, users["ana"], "break", now=START + timedelta(seconds=31))
    session.commit()
    clock.set(START + timedelta(seconds=30 + 300))
    run_due(session_factory, settings, clock)  # the retry puts it back in line at its place
    session.expire_all()
    assert session.get(Contact, cb.contact_id).state == "queued"  # type: ignore[union-attr]
    routing.set_agent_state(session, users["ana"], "available", now=clock.now())
    callbacks.no_answer(session, users["ana"], cb.contact_id, now=clock.now())
    session.commit()
    assert (cb.state, cb.attempts) == ("gave_up", 2)
    kinds = session.scalars(
        select(Notification.kind).where(Notification.callback_id == cb.id)
    ).all()
    assert sorted(kinds) == ["callback_confirmation", "callback_rescheduled"]
