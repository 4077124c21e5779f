"""Routing rules: value types, the order of contacts, qualification, after-hours (W2, W6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escucha.routing.rules import (
    AfterHours,
    Agent,
    AgentPolicy,
    AgentState,
    ArrivalAction,
    ContactKind,
    QueueConfig,
    WaitingContact,
    agent_key,
    arrival_decision,
    effective_priority,
    from_seconds,
    is_allowed_transition,
    merge_requirements,
    order_key,
    qualifies,
    rank_at,
    skill_score,
    to_seconds,
)

# --- value types ---------------------------------------------------------------------------


def test_queue_config_needs_overflow_target_and_delay_together() -> None:
    with pytest.raises(ValueError, match="go together"):
        QueueConfig("ventas", overflow_after_s=60.0)
    with pytest.raises(ValueError, match="go together"):
        QueueConfig("ventas", overflow_to="general")
    assert QueueConfig("ventas", overflow_after_s=60.0, overflow_to="general").overflow_to == (
        "general"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"overflow_after_s": 30.0, "overflow_to": "ventas"}, "itself"),
        ({"overflow_after_s": 0.0, "overflow_to": "general"}, "> 0"),
        ({"aging_per_s": -0.1}, ">= 0"),
        ({"aging_per_s": float("nan")}, "finite"),
        ({"after_hours": AfterHours.OVERFLOW}, "after_hours_queue"),
        ({"after_hours_queue": "general"}, "after_hours_queue"),
        ({"callback_offer_s": 0.0}, "callback_offer_s"),
        ({"default_wait_s": 0.0}, "default_wait_s"),
        ({"skills": {"es": 0}}, "level"),
        ({"skills": {"": 1}}, "skill names"),
    ],
)
def test_queue_config_rejects_bad_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QueueConfig("ventas", **kwargs)  # type: ignore[arg-type]


def test_available_agent_needs_idle_since_and_only_busy_agents_hold_a_contact() -> None:
    with pytest.raises(ValueError, match="idle_since"):
        Agent("ana", {"es": 2}, AgentState.AVAILABLE)
    with pytest.raises(ValueError, match="current contact"):
        Agent("ana", {"es": 2}, AgentState.BREAK, contact_id="c1")
    agent = Agent("ana", {"es": 2}, AgentState.WRAP_UP, contact_id="c1")
    assert agent.contact_id == "c1"
    assert dict(agent.skills) == {"es": 2}


def test_agent_skills_are_copied_and_read_only() -> None:
    skills = {"es": 2}
    agent = Agent("ana", skills)
    skills["en"] = 3
    assert "en" not in agent.skills
    with pytest.raises(TypeError):
        agent.skills["fr"] = 1  # type: ignore[index]


def test_waiting_contact_defaults_queued_at_to_join_time() -> None:
    contact = WaitingContact("c1", "ventas", joined_at=100.0)
    assert contact.queued_at == 100.0
    assert contact.entered_queue_at == 100.0
    assert contact.kind is ContactKind.LIVE
    moved = WaitingContact("c1", "ventas", joined_at=100.0, queued_at=160.0)
    assert moved.entered_queue_at == 160.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"priority": 1.5},
        {"priority": True},
        {"joined_at": float("inf")},
        {"queue": ""},
        {"contact_id": ""},
    ],
)
def test_waiting_contact_rejects_bad_values(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {"contact_id": "c1", "queue": "ventas", "joined_at": 1.0}
    base.update(kwargs)
    with pytest.raises(ValueError):  # noqa: PT011 - several distinct messages
        WaitingContact(**base)  # type: ignore[arg-type]


# --- the order of contacts ----------------------------------------------------------------

# Times are whole seconds and aging rates are exact binary fractions, so the arithmetic in
# these properties is exact.
_times = st.integers(min_value=0, max_value=10_000).map(float)
_aging = st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0])
_priority = st.integers(min_value=-3, max_value=3)


@settings(max_examples=200, deadline=None)
@given(
    aging=_aging,
    a=st.tuples(_times, _priority),
    b=st.tuples(_times, _priority),
    now_offset=st.integers(min_value=0, max_value=10_000),
)
def test_static_key_orders_like_effective_priority_at_any_time(
    aging: float,
    a: tuple[float, int],
    b: tuple[float, int],
    now_offset: int,
) -> None:
    first = WaitingContact("a", "q", joined_at=a[0], priority=a[1])
    second = WaitingContact("b", "q", joined_at=b[0], priority=b[1])
    now = max(a[0], b[0]) + now_offset

    def spec(c: WaitingContact) -> tuple[float, float, str]:
        return (-effective_priority(c, aging, now), c.joined_at, c.contact_id)

    assert (order_key(first, aging) < order_key(second, aging)) == (spec(first) < spec(second))
    assert (
        rank_at(order_key(first, aging), aging, now) < rank_at(order_key(second, aging), aging, now)
    ) == (spec(first) < spec(second))


def test_fifo_within_a_priority_and_higher_priority_first() -> None:
    early = WaitingContact("z-early", "q", joined_at=10.0)
    late = WaitingContact("a-late", "q", joined_at=20.0)
    urgent = WaitingContact("u", "q", joined_at=30.0, priority=1)
    keys = sorted([late, urgent, early], key=lambda c: order_key(c, 0.0))
    assert [c.contact_id for c in keys] == ["u", "z-early", "a-late"]


def test_aging_lets_a_long_wait_overtake_a_higher_priority() -> None:
    old = WaitingContact("old", "q", joined_at=0.0, priority=0)
    vip = WaitingContact("vip", "q", joined_at=100.0, priority=1)
    # at 0.02 per second, 100 s of extra waiting is worth 2 priority points
    assert order_key(old, 0.02) < order_key(vip, 0.02)
    # at 0.005 per second it is worth only 0.5
    assert order_key(vip, 0.005) < order_key(old, 0.005)


def test_callback_with_original_join_time_sorts_among_live_callers() -> None:
    before = WaitingContact("live-1", "q", joined_at=10.0)
    callback = WaitingContact("cb", "q", joined_at=20.0, kind=ContactKind.CALLBACK)
    after = WaitingContact("live-2", "q", joined_at=30.0)
    ordered = sorted([after, callback, before], key=lambda c: order_key(c, 0.01))
    assert [c.contact_id for c in ordered] == ["live-1", "cb", "live-2"]


def test_join_time_ties_are_broken_by_contact_id() -> None:
    b = WaitingContact("b", "q", joined_at=5.0)
    a = WaitingContact("a", "q", joined_at=5.0)
    assert order_key(a, 0.1) < order_key(b, 0.1)


# --- skills and agents ---------------------------------------------------------------------


def test_merge_requirements_keeps_the_highest_level() -> None:
    merged = merge_requirements({"es": 1, "facturacion": 2}, {"es": 3, "vip": 1})
    assert merged == (("es", 3), ("facturacion", 2), ("vip", 1))


def test_qualifies_needs_every_skill_at_the_level() -> None:
    reqs = merge_requirements({"es": 2, "facturacion": 1})
    assert qualifies({"es": 2, "facturacion": 1}, reqs)
    assert qualifies({"es": 5, "facturacion": 3, "en": 1}, reqs)
    assert not qualifies({"es": 1, "facturacion": 3}, reqs)
    assert not qualifies({"es": 5}, reqs)
    assert qualifies({}, ())


def test_skill_score_sums_levels_on_required_skills_only() -> None:
    reqs = merge_requirements({"es": 1, "facturacion": 1})
    assert skill_score({"es": 4, "facturacion": 2, "en": 5}, reqs) == 6


def test_agent_key_policies() -> None:
    longest = sorted(
        [
            agent_key(AgentPolicy.LONGEST_IDLE, 50.0, 9, "b"),
            agent_key(AgentPolicy.LONGEST_IDLE, 10.0, 1, "c"),
            agent_key(AgentPolicy.LONGEST_IDLE, 10.0, 1, "a"),
        ]
    )
    assert [k[2] for k in longest] == ["a", "c", "b"]
    best = sorted(
        [
            agent_key(AgentPolicy.BEST_SKILL, 10.0, 2, "long-idle"),
            agent_key(AgentPolicy.BEST_SKILL, 50.0, 5, "expert"),
            agent_key(AgentPolicy.BEST_SKILL, 40.0, 5, "expert-idle"),
        ]
    )
    assert [k[2] for k in best] == ["expert-idle", "expert", "long-idle"]


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        (AgentState.OFFLINE, AgentState.AVAILABLE, True),
        (AgentState.OFFLINE, AgentState.BUSY, False),
        (AgentState.OFFLINE, AgentState.WRAP_UP, False),
        (AgentState.AVAILABLE, AgentState.BUSY, True),
        (AgentState.AVAILABLE, AgentState.WRAP_UP, False),
        (AgentState.BUSY, AgentState.WRAP_UP, True),
        (AgentState.WRAP_UP, AgentState.AVAILABLE, True),
        (AgentState.WRAP_UP, AgentState.BUSY, False),
        (AgentState.BREAK, AgentState.BUSY, False),
        (AgentState.BREAK, AgentState.BREAK, True),
    ],
)
def test_transitions(current: AgentState, new: AgentState, allowed: bool) -> None:
    assert is_allowed_transition(current, new) is allowed


# --- arrival, after-hours --------------------------------------------------------------------


def test_open_queue_queues_and_offers_a_callback_above_the_threshold() -> None:
    config = QueueConfig("ventas", callback_offer_s=300.0)
    assert arrival_decision(config, is_open=True, estimate_s=120.0).action is ArrivalAction.QUEUE
    offer = arrival_decision(config, is_open=True, estimate_s=301.0)
    assert offer.action is ArrivalAction.OFFER_CALLBACK
    assert offer.target_queue == "ventas"
    assert arrival_decision(config, is_open=True).action is ArrivalAction.QUEUE
    no_threshold = QueueConfig("ventas")
    assert (
        arrival_decision(no_threshold, is_open=True, estimate_s=9999.0).action
        is ArrivalAction.QUEUE
    )


@pytest.mark.parametrize(
    ("after_hours", "target", "action", "expected_queue"),
    [
        (AfterHours.VOICEMAIL, None, ArrivalAction.VOICEMAIL, "ventas"),
        (AfterHours.CALLBACK, None, ArrivalAction.CALLBACK, "ventas"),
        (AfterHours.OVERFLOW, "guardia", ArrivalAction.OVERFLOW, "guardia"),
    ],
)
def test_closed_queue_follows_its_after_hours_rule(
    after_hours: AfterHours, target: str | None, action: ArrivalAction, expected_queue: str
) -> None:
    config = QueueConfig(
        "ventas", after_hours=after_hours, after_hours_queue=target, callback_offer_s=10.0
    )
    decision = arrival_decision(config, is_open=False, estimate_s=5000.0)
    assert decision.action is action
    assert decision.target_queue == expected_queue


# --- time ------------------------------------------------------------------------------------


def test_seconds_round_trip_and_reject_naive_datetimes() -> None:
    moment = datetime(2025, 3, 4, 15, 30, tzinfo=timezone(timedelta(hours=-5)))
    seconds = to_seconds(moment)
    assert from_seconds(seconds) == moment
    assert from_seconds(seconds).tzinfo is UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        to_seconds(datetime(2025, 3, 4, 15, 30))  # noqa: DTZ001 - the point of the test
