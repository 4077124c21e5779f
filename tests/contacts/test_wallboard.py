"""The wallboard (W1, W2, W5, M1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from escucha.callbacks import service as callbacks
from escucha.contacts import wallboard
from escucha.contacts.models import Contact, Customer
from escucha.routing import service as routing
from tests.conftest import START
from tests.factories import caller, demo

S = timedelta(seconds=1)


def _customer(session: Session, contact: Contact) -> Customer:
    customer = session.get(Customer, contact.customer_id)
    assert customer is not None
    return customer


def _situation(session: Session) -> dict[str, Any]:
    """A morning in 'facturas' (times in seconds after 10:00 Madrid):

    A queued 0, answered 10 by Ana (in target), held 20-30 (told) and from 60 (not told);
    B queued 1, told an estimate, answered 41 by Marta (over the 20 s target);
    C queued 2, hung up at 5 (a short abandon); D queued 3, hung up at 33;
    E queued 4, took a callback at 20 (still in line as a callback);
    F queued 50, still waiting; G hung up yesterday evening (not today).
    """
    users = demo(session)
    a = caller(session, START, "600000001")
    b = caller(session, START + 1 * S, "600000002")
    told_b = routing.tell_estimate(session, b, now=START + 1 * S)
    c = caller(session, START + 2 * S, "600000003")
    d = caller(session, START + 3 * S, "600000004")
    e = caller(session, START + 4 * S, "600000005")
    routing.abandon(session, c, now=START + 5 * S)
    routing.set_agent_state(session, users["ana"], "available", now=START + 10 * S)
    session.refresh(a)
    assert (a.state, a.agent_id) == ("offered", users["ana"])
    routing.answer(session, users["ana"], a.id, now=START + 10 * S)
    routing.hold(session, users["ana"], a.id, now=START + 20 * S, announced=True)
    cb = callbacks.request_callback(
        session, now=START + 20 * S, queue="facturas", customer=_customer(session, e), contact=e
    )
    routing.resume(session, users["ana"], a.id, now=START + 30 * S)
    routing.abandon(session, d, now=START + 33 * S)
    routing.set_agent_state(session, users["marta"], "available", now=START + 41 * S)
    session.refresh(b)
    assert (b.state, b.agent_id) == ("offered", users["marta"])
    routing.answer(session, users["marta"], b.id, now=START + 41 * S)
    f = caller(session, START + 50 * S, "600000006")
    told_f = routing.tell_estimate(session, f, now=START + 50 * S)
    routing.hold(session, users["ana"], a.id, now=START + 60 * S, announced=False)
    # yesterday 23:00 in Madrid (22:00 UTC): before today's local midnight
    g = caller(session, START - timedelta(hours=11), "600000007")
    routing.abandon(session, g, now=START - timedelta(hours=11) + 60 * S)
    session.flush()
    return {
        "users": users,
        "a": a,
        "b": b,
        "f": f,
        "cb": cb,
        "told_b": told_b,
        "told_f": told_f,
    }


def test_the_wallboard_counts_a_hand_made_morning(session: Session) -> None:
    s = _situation(session)
    now = START + 80 * S
    board = wallboard.wallboard(session, now)
    assert board.timezone == "Europe/Madrid"
    assert board.day_start == START - timedelta(hours=10)  # local midnight, in UTC
    tiles = {q.name: q for q in board.queues}
    assert set(tiles) == {"facturas", "averias", "reclamaciones"}
    q = tiles["facturas"]
    # F waits live; E's callback keeps its place in line
    assert (q.waiting, q.callbacks_in_line) == (1, 1)
    assert q.longest_wait_s == 30.0
    assert q.wait_level == "warn"  # 30 s: over the 20 s target, within twice it
    # A in target (10 s), B not (40 s), D abandoned (30 s), C a short abandon (3 s < 5 s),
    # E took a callback (neither), G was yesterday
    assert (q.answered, q.answered_in_target, q.abandoned, q.short_abandons) == (2, 1, 1, 1)
    assert q.offered == 3
    assert q.service_level == pytest.approx(1 / 3)
    assert q.abandon_rate == pytest.approx(1 / 3)
    assert q.sl_level == "bad"  # 33 % against a target of 80 %
    assert q.abandon_level == "bad"
    assert (q.holds_today, q.holds_announced_today) == (2, 1)
    # the last estimate told in the queue was F's
    assert q.last_estimate_s == pytest.approx(s["told_f"].estimate.estimate_s)
    assert q.last_bound_s == s["told_f"].estimate.bound_s
    assert q.last_estimate_at == START + 50 * S
    # the estimate error is the same measure as the API's
    (reported,) = [r for r in routing.estimate_errors(session) if r.queue == "facturas"]
    assert q.estimates_measured == reported.count == 1
    assert q.estimate_mae_s == pytest.approx(reported.mae_s)
    assert q.estimate_within_25 == reported.within_25
    assert q.estimate_mae_s == pytest.approx(abs(s["told_b"].estimate.estimate_s - 40.0))
    # E's callback is pending, due later than 15 minutes from now
    assert (q.callbacks_pending, q.callbacks_due_soon, q.callbacks_overdue) == (1, 0, 0)
    assert q.callbacks_level == "ok"
    quiet = tiles["averias"]
    assert (quiet.waiting, quiet.offered, quiet.service_level, quiet.sl_level) == (
        0,
        0,
        None,
        "none",
    )
    # Ana has A on hold (unannounced for 20 s), Marta talks to B, Luis never logged in
    assert board.agents_by_state == {
        "available": 0,
        "busy": 2,
        "wrap_up": 0,
        "break": 0,
        "offline": 1,
    }
    (hold,) = board.holds
    assert (hold.contact_id, hold.held_s, hold.announced) == (s["a"].id, 20.0, False)
    assert hold.agent == "Ana López"
    assert hold.level == "warn"
    assert board.holds_level == "warn"
    # the callback's promise is due within the hour: at risk
    assert [p.kind for p in board.promises_at_risk] == ["callback"]
    assert board.promises_level == "warn"


def test_callbacks_due_soon_and_overdue_turn_amber_then_red(session: Session) -> None:
    s = _situation(session)
    cb = s["cb"]
    due = START + 80 * S + timedelta(minutes=10)
    cb.due_at = due
    session.flush()
    (q,) = [t for t in wallboard.wallboard(session, START + 80 * S).queues if t.name == "facturas"]
    assert (q.callbacks_due_soon, q.callbacks_overdue, q.callbacks_level) == (1, 0, "warn")
    later = wallboard.wallboard(session, due + S)
    (q,) = [t for t in later.queues if t.name == "facturas"]
    assert (q.callbacks_due_soon, q.callbacks_overdue, q.callbacks_level) == (0, 1, "bad")
    assert later.callbacks_level == "bad"


def test_levels_follow_the_queues_targets() -> None:
    base: dict[str, Any] = {
        "name": "q",
        "display_name": {"es": "Cola", "en": "Queue"},
        "sl_target_pct": 80.0,
        "sl_target_s": 20,
        "short_abandon_s": 5,
        "callback_threshold_s": 90,
        "waiting": 0,
        "longest_wait_s": None,
        "callbacks_in_line": 0,
        "last_estimate_s": None,
        "last_bound_s": None,
        "last_estimate_at": None,
        "estimates_measured": 0,
        "estimate_mae_s": None,
        "estimate_within_25": None,
        "answered": 0,
        "answered_in_target": 0,
        "abandoned": 0,
        "short_abandons": 0,
        "callbacks_pending": 0,
        "callbacks_due_soon": 0,
        "callbacks_overdue": 0,
        "holds_today": 0,
        "holds_announced_today": 0,
    }

    def tile(**kw: Any) -> wallboard.QueueTile:
        return wallboard.QueueTile(**{**base, **kw})

    assert tile().level == "ok"
    assert tile().label("en") == "Queue"
    assert tile(answered=10, answered_in_target=8).sl_level == "ok"
    assert tile(answered=10, answered_in_target=7).sl_level == "warn"
    assert tile(answered=10, answered_in_target=6, abandoned=1).sl_level == "bad"
    assert tile(answered=96, abandoned=4).abandon_level == "ok"
    assert tile(answered=93, abandoned=7).abandon_level == "warn"
    assert tile(answered=90, abandoned=10).abandon_level == "bad"
    assert tile(longest_wait_s=20.0).wait_level == "ok"
    assert tile(longest_wait_s=40.0).wait_level == "warn"
    assert tile(longest_wait_s=41.0).wait_level == "bad"
    assert tile(estimates_measured=10, estimate_within_25=0.8).estimate_level == "ok"
    assert tile(estimates_measured=10, estimate_within_25=0.6).estimate_level == "warn"
    assert tile(estimates_measured=10, estimate_within_25=0.5).estimate_level == "bad"
    assert tile(longest_wait_s=41.0, answered=10, answered_in_target=10).level == "bad"


@contextmanager
def _count_statements(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = session.get_bind()

    def on_execute(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


def test_the_wallboard_takes_a_fixed_number_of_statements(session: Session) -> None:
    s = _situation(session)
    now = START + 80 * S
    with _count_statements(session) as few:
        wallboard.wallboard(session, now)
    # many more contacts, holds, callbacks and estimates
    users = s["users"]
    for i in range(12):
        c = caller(session, START + (90 + i) * S, f"6001000{i:02d}")
        routing.tell_estimate(session, c, now=START + (90 + i) * S)
        if i % 3 == 0:
            routing.abandon(session, c, now=START + (100 + i) * S)
        elif i % 3 == 1:
            callbacks.request_callback(
                session,
                now=START + (100 + i) * S,
                queue="facturas",
                customer=_customer(session, c),
                contact=c,
            )
    routing.set_agent_state(session, users["luis"], "available", now=START + 200 * S)
    session.flush()
    with _count_statements(session) as many:
        board = wallboard.wallboard(session, START + 300 * S)
    assert sum(q.waiting + q.callbacks_in_line for q in board.queues) >= 8
    assert len(many) == len(few)
    assert len(few) <= 12
