"""The line survives: a dropped WebSocket, a node that restarts mid-call, two nodes on one PBX
with the lease, channels that vanish while nobody listens (ADR 22)."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha.asterisk.consumer import AriConsumer
from escucha.asterisk.models import AriChannel, AriLease
from escucha.clock import FrozenClock
from escucha.contacts.models import Contact
from tests.asterisk.conftest import (
    TALLY,
    NodeFactory,
    RunningClock,
    Said,
    call_contact,
    call_state,
    queued_call,
    talking_with_ana,
    wait_until,
)
from tests.asterisk.standin import AriStandIn
from tests.factories import START


def test_a_dropped_websocket_is_opened_again_and_reconciled(
    node: AriConsumer, standin: AriStandIn, session: Session, said: Said, clock: FrozenClock
) -> None:
    waiting = queued_call(standin, session, said)
    gone = standin.call_in("+34600333444")
    wait_until(lambda: call_state(session, gone) == "ivr")
    last_seen = clock.now()
    standin.refusing = True
    standin.drop_ws()
    wait_until(lambda: not node.connected.is_set(), what="the node to notice")
    clock.advance(timedelta(minutes=2))
    standin.hangup(gone)  # while nobody listens: its events are lost
    assert standin.lost_events > 0
    standin.refusing = False
    wait_until(lambda: node.connections == 2 and node.connected.is_set(), what="the reconnect")
    wait_until(lambda: call_state(session, gone) == "abandoned", what="the vanished call closed")
    closed = call_contact(session, gone)
    assert closed is not None
    assert closed.ended_at == last_seen  # its true end, not the reconnection's time
    assert node.driver.counters.closed_vanished == 1
    # the caller who waited on is still driven: the callback key works after the reconnect
    standin.dtmf(waiting, "1")
    wait_until(lambda: call_state(session, waiting) == "callback", what="the callback")
    calls = select(func.count()).where(Contact.channel == "voice")
    assert session.scalar(calls) == 2  # nothing lost, nothing twice


def test_a_node_that_restarts_mid_call_takes_the_conversation_up(
    make_node: NodeFactory,
    users: dict[str, int],
    standin: AriStandIn,
    session: Session,
    said: Said,
    clock: FrozenClock,
) -> None:
    first = make_node("before")
    wait_until(first.connected.is_set)
    cid, leg, _contact_id = talking_with_ana(standin, session, said, clock, users["ana"])
    first.stop()  # escucha restarts: the PBX keeps the call up
    second = make_node("after")
    wait_until(second.connected.is_set, what="the restarted node")
    wait_until(lambda: second.driver.counters.reconciled == 1, what="the call taken up")
    assert len(standin.originated()) == 1  # the agent is not rung twice
    assert second.driver.lines[cid].mode == "talk"
    standin.hangup(leg)
    wait_until(lambda: call_state(session, cid) == "wrap_up", what="the end, seen by the new node")
    wait_until(lambda: cid not in standin.legs)
    assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_exactly_one_node_consumes_and_another_takes_over_within_seconds(
    make_node: NodeFactory, users: dict[str, int], standin: AriStandIn, session: Session, said: Said
) -> None:
    running = RunningClock(START)
    a = make_node("node-a", on=running)
    b = make_node("node-b", on=running)
    wait_until(lambda: a.connected.is_set() or b.connected.is_set(), what="one node to connect")
    time.sleep(0.5)  # time for the other to try
    assert a.connected.is_set() != b.connected.is_set()
    assert standin.connections == 1
    holder, other = (a, b) if a.connected.is_set() else (b, a)
    session.expire_all()
    lease = session.scalar(select(AriLease))
    assert lease is not None
    assert lease.holder == holder.holder
    cid = queued_call(standin, session, said)
    started = time.monotonic()
    holder.stop(release=False)  # the holder dies: its lease lapses
    wait_until(other.connected.is_set, timeout_s=10, what="the other node to take over")
    took = time.monotonic() - started
    TALLY.takeovers.append(took)
    assert took < holder.settings.ari_lease_s + 3
    assert standin.connections == 2
    standin.dtmf(cid, "1")
    wait_until(lambda: call_state(session, cid) == "callback", what="the call driven by the other")
    session.expire_all()
    lease = session.scalar(select(AriLease))
    assert lease is not None
    assert (lease.holder, lease.generation) == (other.holder, 2)
    rows = session.scalars(select(AriChannel).where(AriChannel.channel_id == cid)).all()
    assert len(rows) == 1
