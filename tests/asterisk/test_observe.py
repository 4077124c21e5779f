"""Observe-only mode: Asterisk's own queues answer, AMI's queue events fill the contact log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from escucha.asterisk.consumer import AmiObserver
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.contacts.models import Contact, ContactEvent
from tests.asterisk.amistandin import AmiStandIn
from tests.asterisk.conftest import wait_until

CALL = {"Channel": "PJSIP/carrier-00000001", "CallerIDNum": "600111222", "CallerIDName": ""}


@pytest.fixture
def ami() -> Iterator[AmiStandIn]:
    server = AmiStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def observer(
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
    ami: AmiStandIn,
    users: dict[str, int],
) -> Iterator[AmiObserver]:
    cfg = settings.model_copy(
        update={
            "ami_host": "127.0.0.1",
            "ami_port": ami.port,
            "ami_user": ami.user,
            "ami_secret": ami.secret,
        }
    )
    node = AmiObserver(session_factory, cfg, clock)
    node.start_thread()
    wait_until(node.connected.is_set, what="the AMI login")
    yield node
    node.stop()


def _contact(session: Session, uid: str) -> Contact | None:
    session.expire_all()
    return session.scalar(select(Contact).where(Contact.provider_ref == f"ami:{uid}"))


def _events(session: Session, contact: Contact) -> list[str]:
    rows = session.scalars(
        select(ContactEvent.event)
        .where(ContactEvent.contact_id == contact.id)
        .order_by(ContactEvent.id)
    )
    return list(rows)


def test_an_answered_queue_call_is_written_with_its_agent(
    observer: AmiObserver, ami: AmiStandIn, session: Session, users: dict[str, int]
) -> None:
    ami.event(
        "QueueCallerJoin", **CALL, Uniqueid="1733.1", Queue="facturas", Position="1", Count="1"
    )
    ami.event(
        "QueueCallerJoin", **CALL, Uniqueid="1733.1", Queue="facturas", Position="1", Count="1"
    )  # repeated: changes nothing
    wait_until(lambda: _contact(session, "1733.1") is not None, what="the arrival")
    ami.event(
        "AgentConnect",
        **CALL,
        Uniqueid="1733.1",
        Queue="facturas",
        MemberName="Ana",
        Interface="PJSIP/ana",
        HoldTime="25",
        RingTime="3",
    )
    ami.event(
        "AgentComplete",
        **CALL,
        Uniqueid="1733.1",
        Queue="facturas",
        MemberName="Ana",
        Interface="PJSIP/ana",
        HoldTime="25",
        TalkTime="180",
        Reason="caller",
    )
    wait_until(lambda: (c := _contact(session, "1733.1")) is not None and c.state == "ended")
    contact = _contact(session, "1733.1")
    assert contact is not None
    assert (contact.queue, contact.agent_id, contact.provider) == ("facturas", users["ana"], "ami")
    assert _events(session, contact) == [
        "arrived",
        "queued",
        "offered",
        "answered",
        "ended",
        "wrapped_up",
    ]
    answered = session.scalar(
        select(ContactEvent).where(
            ContactEvent.contact_id == contact.id, ContactEvent.event == "answered"
        )
    )
    assert answered is not None
    assert answered.data["wait_s"] == 25.0
    assert observer.observed == 3


def test_an_abandoned_queue_call_counts_as_abandoned(
    observer: AmiObserver, ami: AmiStandIn, session: Session
) -> None:
    ami.event(
        "QueueCallerJoin", **CALL, Uniqueid="1733.2", Queue="averias", Position="2", Count="2"
    )
    ami.event(
        "QueueCallerAbandon",
        **CALL,
        Uniqueid="1733.2",
        Queue="averias",
        Position="2",
        OriginalPosition="2",
        HoldTime="47",
    )
    ami.event(
        "QueueCallerLeave", **CALL, Uniqueid="1733.2", Queue="averias", Position="2", Count="1"
    )
    wait_until(lambda: (c := _contact(session, "1733.2")) is not None and c.state == "abandoned")
    contact = _contact(session, "1733.2")
    assert contact is not None
    assert _events(session, contact) == ["arrived", "queued", "abandoned", "ended"]


def test_a_wrong_secret_is_refused_and_nothing_is_written(
    session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock, ami: AmiStandIn
) -> None:
    cfg = settings.model_copy(
        update={
            "ami_host": "127.0.0.1",
            "ami_port": ami.port,
            "ami_user": "escucha",
            "ami_secret": "wrong",
        }
    )
    node = AmiObserver(session_factory, cfg, clock)
    node.start_thread()
    try:
        wait_until(lambda: ami.refused >= 1, what="the refused login")
        assert not node.connected.is_set()
    finally:
        node.stop()
