"""Fixtures of the Asterisk tests: the ARI stand-in, settings pointing at it, escucha nodes
consuming its events, and a tally of calls driven and reconnects survived, printed at the end."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from escucha.asterisk.consumer import AriConsumer
from escucha.asterisk.lines import Speak
from escucha.clock import Clock, FrozenClock
from escucha.config import Settings
from escucha.contacts.models import Contact
from escucha.routing import service as routing
from escucha.telephony import rules as R
from tests.asterisk.standin import AriStandIn

ENDPOINTS = {
    "PJSIP/ana": "online",
    "PJSIP/luis": "online",
    "PJSIP/marta": "offline",
    "PJSIP/carrier": "online",
}


@dataclass
class Tally:
    calls: int = 0
    agent_legs: int = 0
    consult_legs: int = 0
    prompts: int = 0
    reconnects: int = 0
    taken_up: int = 0
    takeovers: list[float] = field(default_factory=list)


TALLY = Tally()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY.calls or TALLY.reconnects:
        takeover = (
            f", lease taken over in {max(TALLY.takeovers):.2f} s at most" if TALLY.takeovers else ""
        )
        terminalreporter.write_line(
            f"ARI stand-in: {TALLY.calls} calls driven ({TALLY.agent_legs} agent legs, "
            f"{TALLY.consult_legs} colleagues rung for a warm transfer, "
            f"{TALLY.prompts} prompts played), {TALLY.reconnects} reconnects survived, "
            f"{TALLY.taken_up} calls taken up after a restart or take-over{takeover}"
        )


def wait_until(check: Callable[[], object], timeout_s: float = 5.0, what: str = "") -> None:
    """Poll ``check`` until it is true; fail after ``timeout_s`` (the tests stay bounded)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.01)


def call_contact(session: Session, cid: str) -> Contact | None:
    session.expire_all()
    return session.scalar(select(Contact).where(Contact.provider_ref == f"asterisk:{cid}"))


def call_state(session: Session, cid: str) -> str | None:
    contact = call_contact(session, cid)
    return contact.state if contact is not None else None


def queued_call(standin: AriStandIn, session: Session, said: Said) -> str:
    """A caller who chose invoices (key 2) and waits in line."""
    cid = standin.call_in()
    wait_until(lambda: call_state(session, cid) == "ivr", what="the call to arrive")
    wait_until(lambda: said.heard(standin, cid), what="the greeting")
    standin.dtmf(cid, "2")
    wait_until(lambda: call_state(session, cid) == "queued", what="the caller in line")
    return cid


def call_for_ana(
    standin: AriStandIn, session: Session, said: Said, clock: FrozenClock, ana: int
) -> str:
    """Ana is free; a caller chooses invoices (key 2), which she takes."""
    routing.set_agent_state(session, ana, "available", now=clock.now())
    session.commit()
    cid = standin.call_in()
    wait_until(lambda: said.heard(standin, cid), what="the greeting")
    standin.dtmf(cid, "2")
    return cid


def talking_with_ana(
    standin: AriStandIn, session: Session, said: Said, clock: FrozenClock, ana: int
) -> tuple[str, str, int]:
    """A caller talking with Ana: their channel, Ana's leg, the contact."""
    standin.auto_answer["PJSIP/ana"] = 0.02
    cid = call_for_ana(standin, session, said, clock, ana)
    wait_until(lambda: call_state(session, cid) == "connected", what="the conversation")
    contact = call_contact(session, cid)
    assert contact is not None
    return cid, standin.leg_of(f"{cid}-a")[0], contact.id


class Said:
    """A speaker for the tests: each sentence gets a media URI; the text is kept to check what
    the caller heard (the real one renders with espeak-ng, tested on its own)."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    def __call__(self, say: R.Say) -> str:
        digest = hashlib.sha256(f"{say.language}\x00{say.text}".encode()).hexdigest()[:32]
        media = f"sound:http://escucha.test/telephony/asterisk/audio/{digest}.wav"
        self.texts[media] = say.text
        return media

    def heard(self, standin: AriStandIn, cid: str) -> list[str]:
        """What was played to channel ``cid``, in order."""
        return [
            self.texts.get(p["media"], p["media"])
            for p in standin.calls("POST", f"/channels/{cid}/play")
        ]


@pytest.fixture
def standin() -> Iterator[AriStandIn]:
    server = AriStandIn(endpoints=ENDPOINTS).start()
    yield server
    server.stop()


@pytest.fixture
def ari_settings(settings: Settings, standin: AriStandIn) -> Settings:
    return settings.model_copy(
        update={
            "ari_url": standin.url,
            "ari_user": standin.user,
            "ari_password": standin.password,
            "ari_lease_s": 1.0,
            "base_url": "http://escucha.test",
        }
    )


@pytest.fixture
def said() -> Said:
    return Said()


NodeFactory = Callable[..., AriConsumer]


class RunningClock:
    """Time that passes as on the wall, from ``start``: leases lapse by themselves."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.t0 = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)


@pytest.fixture
def make_node(
    session_factory: sessionmaker[Session], ari_settings: Settings, clock: FrozenClock, said: Said
) -> Iterator[NodeFactory]:
    started: list[AriConsumer] = []

    def make(
        name: str = "node",
        *,
        settings: Settings | None = None,
        on: Clock | None = None,
        speak: Speak | None = None,
    ) -> AriConsumer:
        """A node; ``speak``: how prompts become media (the tests' :class:`Said` unless
        given; ``speaker(settings)`` is the real one)."""
        node = AriConsumer(
            session_factory,
            settings or ari_settings,
            on or clock,
            name=name,
            speak=speak or said,
            poll_s=0.05,
            timeout_scale=0.1,
            tick_s=0.02,
        )
        node.start_thread()
        started.append(node)
        return node

    yield make
    for node in started:
        node.stop(release=False)
        TALLY.calls += node.driver.counters.calls
        TALLY.agent_legs += node.driver.counters.agent_legs
        TALLY.consult_legs += node.driver.counters.consults
        TALLY.prompts += node.driver.counters.prompts
        TALLY.reconnects += node.reconnects
        TALLY.taken_up += node.driver.counters.reconciled


@pytest.fixture
def node(make_node: NodeFactory, users: dict[str, int]) -> AriConsumer:
    first = make_node("node-a")
    wait_until(first.connected.is_set, what="the node to connect to ARI")
    return first
