"""The routing engine: unit behaviour and a stateful property test (W1, W2, W6, P1)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from escucha.errors import Conflict, InvalidInput, NotFound
from escucha.routing.engine import RoutingEngine
from escucha.routing.rules import (
    Agent,
    AgentPolicy,
    AgentState,
    Assignment,
    ContactKind,
    MatchReason,
    QueueConfig,
    WaitingContact,
    effective_priority,
    is_allowed_transition,
    merge_requirements,
    qualifies,
)

AVAILABLE = AgentState.AVAILABLE


def engine_with(
    *queues: QueueConfig, policy: AgentPolicy = AgentPolicy.LONGEST_IDLE
) -> RoutingEngine:
    return RoutingEngine(queues or (QueueConfig("q"),), policy=policy)


def available(agent_id: str, idle_since: float, **skills: int) -> Agent:
    return Agent(agent_id, skills, AVAILABLE, idle_since=idle_since)


def contact(
    contact_id: str, joined_at: float, queue: str = "q", **kwargs: object
) -> WaitingContact:
    return WaitingContact(contact_id, queue, joined_at, **kwargs)  # type: ignore[arg-type]


def pairs(assignments: list[Assignment]) -> list[tuple[str, str]]:
    return [(a.contact_id, a.agent_id) for a in assignments]


# --- agent choice ----------------------------------------------------------------------------


def test_contact_goes_to_the_longest_idle_qualified_agent() -> None:
    engine = engine_with(QueueConfig("q", {"es": 1}))
    engine.add_agent(available("recent", 50.0, es=5))
    engine.add_agent(available("idle-long", 10.0, es=1))
    engine.add_agent(available("no-skill", 1.0, en=5))
    assert engine.match(60.0) == []
    engine.add_contact(contact("c1", 61.0))
    out = engine.match(61.0)
    assert pairs(out) == [("c1", "idle-long")]
    assert out[0].reason is MatchReason.CONTACT_ARRIVED
    assert engine.agent("idle-long").state is AgentState.BUSY
    assert engine.agent("idle-long").contact_id == "c1"
    assert not engine.is_waiting("c1")


def test_best_skill_policy_prefers_the_highest_level_then_longest_idle() -> None:
    engine = engine_with(QueueConfig("q", {"es": 1}), policy=AgentPolicy.BEST_SKILL)
    engine.add_agent(available("novice", 1.0, es=1))
    engine.add_agent(available("expert", 30.0, es=4))
    engine.add_agent(available("expert-idle", 20.0, es=4))
    engine.match(40.0)
    engine.add_contact(contact("c1", 41.0))
    engine.add_contact(contact("c2", 42.0))
    engine.add_contact(contact("c3", 43.0))
    assert pairs(engine.match(43.0)) == [
        ("c1", "expert-idle"),
        ("c2", "expert"),
        ("c3", "novice"),
    ]


def test_agent_lacking_the_level_gets_nothing() -> None:
    engine = engine_with(QueueConfig("q", {"es": 1}))
    engine.add_contact(contact("c1", 0.0, skills={"es": 3}))
    engine.add_agent(available("low", 1.0, es=2))
    assert engine.match(1.0) == []
    engine.set_agent_skills("low", {"es": 3})
    assert pairs(engine.match(2.0)) == [("c1", "low")]


def test_agent_back_from_a_call_is_idle_only_since_its_return() -> None:
    engine = engine_with(QueueConfig("q"))
    engine.add_contact(contact("gone", 0.0))  # contacts without requirements have been seen
    engine.remove_contact("gone")
    engine.add_agent(available("a", 1.0, x=1))
    engine.add_agent(available("b", 5.0))
    engine.match(5.0)
    engine.add_contact(contact("needs-x", 6.0, skills={"x": 1}))
    assert pairs(engine.match(6.0)) == [("needs-x", "a")]
    engine.set_agent_state("a", AgentState.WRAP_UP, 9.0)
    engine.set_agent_state("a", AVAILABLE, 10.0)
    assert engine.match(10.0) == []
    engine.add_contact(contact("plain", 11.0))
    assert pairs(engine.match(11.0)) == [("plain", "b")]


def test_agent_who_lost_a_skill_is_not_offered_contacts_needing_it() -> None:
    engine = engine_with(QueueConfig("q"), QueueConfig("r"))
    engine.add_agent(Agent("a", {"x": 1}, AgentState.BREAK))
    engine.add_contact(contact("seen", 0.0, skills={"x": 1}))
    engine.remove_contact("seen")
    engine.set_agent_skills("a", {"y": 1})
    engine.add_contact(contact("needs-x", 1.0, queue="r", skills={"x": 1}))
    engine.set_agent_state("a", AVAILABLE, 2.0)
    assert engine.match(2.0) == []
    engine.add_contact(contact("needs-y", 3.0, queue="r", skills={"y": 1}))
    assert pairs(engine.match(3.0)) == [("needs-y", "a")]


def test_only_available_agents_get_contacts() -> None:
    engine = engine_with()
    engine.add_agent(Agent("a", {}, AgentState.BREAK))
    engine.add_agent(Agent("b", {}, AgentState.OFFLINE))
    engine.add_agent(Agent("c", {}, AgentState.WRAP_UP))
    engine.add_contact(contact("c1", 0.0))
    assert engine.match(1.0) == []
    engine.set_agent_state("a", AVAILABLE, 2.0)
    out = engine.match(2.0)
    assert pairs(out) == [("c1", "a")]
    assert out[0].reason is MatchReason.AGENT_AVAILABLE
    assert out[0].waited_s == 2.0


# --- contact order ---------------------------------------------------------------------------


def test_freed_agent_takes_highest_priority_then_oldest_across_queues() -> None:
    engine = engine_with(QueueConfig("ventas", {"v": 1}), QueueConfig("soporte", {"s": 1}))
    engine.add_contact(contact("v-old", 0.0, queue="ventas"))
    engine.add_contact(contact("s-new", 50.0, queue="soporte"))
    engine.add_contact(contact("s-vip", 90.0, queue="soporte", priority=2))
    engine.add_contact(contact("v-new", 60.0, queue="ventas"))
    engine.add_agent(Agent("a", {"v": 1, "s": 1}, AgentState.WRAP_UP))
    engine.match(100.0)
    served = []
    for step in range(4):
        now = 100.0 + step
        engine.set_agent_state("a", AVAILABLE, now)
        out = engine.match(now)
        served += [a.contact_id for a in out]
        engine.set_agent_state("a", AgentState.WRAP_UP, now)
    assert served == ["s-vip", "v-old", "s-new", "v-new"]


def test_aging_lets_an_old_low_priority_caller_overtake() -> None:
    engine = engine_with(QueueConfig("q", aging_per_s=0.01))
    engine.add_contact(contact("old", 0.0, priority=0))
    engine.add_contact(contact("vip", 150.0, priority=1))
    engine.add_agent(available("a", 200.0))
    # effective priorities at 200 s: old 2.0, vip 1.5
    assert pairs(engine.match(200.0)) == [("old", "a")]


def test_requirements_do_not_break_fifo_for_those_who_can_be_served() -> None:
    engine = engine_with(QueueConfig("q"))
    engine.add_contact(contact("needs-en", 0.0, skills={"en": 1}))
    engine.add_contact(contact("first", 1.0))
    engine.add_contact(contact("second", 2.0))
    engine.add_agent(available("a", 5.0, es=1))
    engine.add_agent(available("b", 6.0, es=1))
    assert pairs(engine.match(6.0)) == [("first", "a"), ("second", "b")]
    assert engine.is_waiting("needs-en")


def test_arrivals_in_one_batch_are_served_in_order() -> None:
    engine = engine_with(QueueConfig("q"))
    engine.add_agent(available("a", 0.0))
    engine.match(0.0)
    engine.add_contact(contact("later", 20.0))
    engine.add_contact(contact("earlier", 10.0))
    assert pairs(engine.match(20.0)) == [("earlier", "a")]


# --- callbacks keep their place ------------------------------------------------------------


def test_callback_keeps_the_callers_place() -> None:
    engine = engine_with(QueueConfig("q", aging_per_s=0.01))
    for i, t in enumerate([0.0, 10.0, 20.0, 30.0]):
        engine.add_contact(contact(f"c{i}", t))
    assert engine.callers_ahead("c2") == 2
    callback = engine.convert_to_callback("c2")
    assert callback.kind is ContactKind.CALLBACK
    assert callback.joined_at == 20.0
    assert engine.callers_ahead("c2") == 2
    renamed = engine.convert_to_callback("c1", callback_id="cb-1")
    assert renamed.joined_at == 10.0
    assert engine.position("cb-1") == 2
    assert not engine.is_waiting("c1")
    assert [c.contact_id for c in engine.waiting("q")] == ["c0", "cb-1", "c2", "c3"]


def test_callback_added_later_goes_ahead_of_callers_who_joined_after_it() -> None:
    engine = engine_with(QueueConfig("q"))
    engine.add_contact(contact("live-early", 0.0))
    engine.add_contact(contact("live-late", 100.0))
    engine.match(100.0)
    engine.add_contact(contact("cb", 50.0, kind=ContactKind.CALLBACK, queued_at=120.0))
    assert engine.callers_ahead("cb") == 1
    engine.add_agent(available("a", 130.0))
    engine.add_agent(available("b", 131.0))
    engine.add_agent(available("c", 132.0))
    out = engine.match(132.0)
    assert [a.contact_id for a in out] == ["live-early", "cb", "live-late"]
    assert out[1].kind is ContactKind.CALLBACK
    assert out[1].waited_s == 82.0


# --- overflow -------------------------------------------------------------------------------


def test_overflow_moves_after_the_wait_and_keeps_the_join_time() -> None:
    engine = engine_with(
        QueueConfig("ventas", {"v": 1}, overflow_after_s=60.0, overflow_to="general"),
        QueueConfig("general"),
    )
    engine.add_contact(contact("c1", 0.0, queue="ventas"))
    engine.add_contact(contact("c2", 30.0, queue="ventas", skills={"es": 1}))
    engine.add_contact(contact("g1", 10.0, queue="general"))
    assert engine.next_overflow_at() == 60.0
    assert engine.overflow(59.0) == []
    moved = engine.overflow(60.0)
    assert [(m.contact_id, m.from_queue, m.to_queue, m.waited_s) for m in moved] == [
        ("c1", "ventas", "general", 60.0)
    ]
    assert engine.contact("c1").queue == "general"
    assert engine.contact("c1").queued_at == 60.0
    assert engine.contact("c1").joined_at == 0.0
    assert [c.contact_id for c in engine.waiting("general")] == ["c1", "g1"]
    assert engine.next_overflow_at() == 90.0
    moved = engine.overflow(1000.0)
    assert [m.contact_id for m in moved] == ["c2"]
    assert engine.next_overflow_at() is None
    # the contact keeps its own requirement (es) in the new queue
    engine.remove_contact("g1")
    engine.add_agent(available("generalist", 1000.0))
    assert pairs(engine.match(1000.0)) == [("c1", "generalist")]
    assert engine.is_waiting("c2")
    engine.add_agent(available("es-speaker", 1001.0, es=1))
    assert pairs(engine.match(1001.0)) == [("c2", "es-speaker")]


def test_abandoned_contact_does_not_overflow_nor_get_served() -> None:
    engine = engine_with(
        QueueConfig("ventas", overflow_after_s=60.0, overflow_to="general"), QueueConfig("general")
    )
    engine.add_contact(contact("c1", 0.0, queue="ventas"))
    removed = engine.remove_contact("c1")
    assert removed is not None
    assert removed.contact_id == "c1"
    assert engine.overflow(100.0) == []
    assert engine.next_overflow_at() is None
    engine.add_agent(available("a", 100.0))
    assert engine.match(100.0) == []


# --- reading the line ----------------------------------------------------------------------


def test_positions_lengths_and_head_wait() -> None:
    engine = engine_with(QueueConfig("q"), QueueConfig("r"))
    assert engine.head_wait_s("q", 5.0) is None
    engine.add_contact(contact("a", 0.0))
    engine.add_contact(contact("b", 5.0, priority=1))
    engine.add_contact(contact("c", 7.0))
    engine.add_contact(contact("x", 1.0, queue="r"))
    assert [engine.callers_ahead(i) for i in "bac"] == [0, 1, 2]
    assert engine.position("c") == 3
    assert engine.queue_length("q") == 3
    assert engine.queue_length("r") == 1
    assert engine.waiting_count == 4
    assert engine.head_wait_s("q", 10.0) == 5.0  # b, first in line, joined at 5
    engine.remove_contact("b")
    assert engine.callers_ahead("c") == 1
    assert engine.head_wait_s("q", 10.0) == 10.0


def test_agents_staffed_counts_working_qualified_agents() -> None:
    engine = engine_with(QueueConfig("q", {"es": 2}))
    engine.add_agent(available("a", 0.0, es=2))
    engine.add_agent(Agent("b", {"es": 3}, AgentState.BUSY))
    engine.add_agent(Agent("c", {"es": 3}, AgentState.WRAP_UP))
    engine.add_agent(Agent("d", {"es": 3}, AgentState.BREAK))
    engine.add_agent(Agent("e", {"es": 1}, AgentState.BUSY))
    assert engine.agents_staffed("q") == 3


# --- persistence hooks -------------------------------------------------------------------


def test_undo_puts_both_sides_back_and_the_next_match_decides_again() -> None:
    engine = engine_with()
    engine.add_agent(available("a", 3.0))
    engine.add_contact(contact("c1", 1.0))
    (first,) = engine.match(5.0)
    engine.undo(first)
    assert engine.is_waiting("c1")
    assert engine.agent("a").state is AVAILABLE
    assert engine.agent("a").idle_since == 3.0
    assert pairs(engine.match(6.0)) == [("c1", "a")]
    engine.set_agent_state("a", AgentState.WRAP_UP, 60.0)
    with pytest.raises(Conflict, match="no longer current"):
        engine.undo(first)


def test_requeue_returns_the_contact_to_its_place() -> None:
    engine = engine_with()
    engine.add_contact(contact("c1", 0.0))
    engine.add_contact(contact("c2", 5.0))
    engine.add_agent(available("a", 6.0))
    (offer,) = engine.match(6.0)
    assert offer.contact_id == "c1"
    engine.requeue("c1")
    assert engine.callers_ahead("c1") == 0
    assert engine.callers_ahead("c2") == 1
    assert engine.agent("a").contact_id is None
    engine.set_agent_state("a", AgentState.BREAK, 7.0)
    engine.add_agent(available("b", 8.0))
    assert pairs(engine.match(8.0)) == [("c1", "b")]


def test_snapshot_and_restore_rebuild_the_same_state() -> None:
    engine = engine_with(
        QueueConfig("q", {"es": 1}, aging_per_s=0.5, overflow_after_s=100.0, overflow_to="r"),
        QueueConfig("r"),
    )
    engine.add_agent(available("a", 1.0, en=1))
    engine.add_agent(available("b", 2.0, es=1))
    engine.add_contact(contact("c1", 0.0))
    engine.add_contact(contact("c2", 3.0))
    engine.match(3.0)
    state = engine.snapshot()
    assert [a.agent_id for a in state.agents] == ["a", "b"]
    assert state.agents[1].contact_id == "c1"
    assert [c.contact_id for c in state.contacts] == ["c2"]

    restored = RoutingEngine.from_state(state)
    assert restored.match(4.0) == []
    assert restored.snapshot() == state
    assert restored.callers_ahead("c2") == 0
    assert restored.next_overflow_at() == engine.next_overflow_at()
    # the contact handled before the restart cannot be given to anyone else
    with pytest.raises(Conflict):
        restored.add_contact(contact("c1", 0.0))
    assert restored.remove_contact("c1") is None
    assert restored.agent("b").contact_id is None


def test_restore_matches_what_the_database_left_unmatched() -> None:
    from escucha.routing.rules import EngineState

    state = EngineState(
        queues=(QueueConfig("q"),),
        agents=(available("late", 9.0), available("early", 2.0)),
        contacts=(contact("c2", 5.0), contact("c1", 1.0), contact("c3", 6.0)),
    )
    out = RoutingEngine.from_state(state).match(10.0)
    assert pairs(out) == [("c1", "early"), ("c2", "late")]


# --- configuration and errors -------------------------------------------------------------


def test_set_queue_changes_aging_and_keeps_contacts() -> None:
    engine = engine_with(QueueConfig("q"))
    engine.add_contact(contact("old", 0.0))
    engine.add_contact(contact("vip", 100.0, priority=1))
    assert engine.callers_ahead("old") == 1
    engine.set_queue(QueueConfig("q", aging_per_s=0.1))
    assert engine.callers_ahead("old") == 0
    engine.set_queue(QueueConfig("r"))
    engine.set_queue(QueueConfig("q", aging_per_s=0.1, overflow_after_s=50.0, overflow_to="r"))
    assert engine.next_overflow_at() == 50.0
    assert [m.contact_id for m in engine.overflow(150.0)] == ["old", "vip"]
    with pytest.raises(InvalidInput):
        engine.set_queue(QueueConfig("q", overflow_after_s=5.0, overflow_to="nowhere"))
    assert engine.queue("q").overflow_to == "r"
    with pytest.raises(Conflict):
        engine.remove_queue("r")
    engine.remove_queue("q")
    with pytest.raises(NotFound):
        engine.queue("q")
    # a queue added again ages at its new rate
    engine.set_queue(QueueConfig("q", aging_per_s=1.0))
    engine.add_contact(contact("young-vip", 995.0, priority=3))
    engine.add_contact(contact("waited", 990.0))
    engine.add_agent(Agent("x", {}, AgentState.BREAK))
    engine.set_agent_state("x", AVAILABLE, 1000.0)
    assert pairs(engine.match(1000.0)) == [("waited", "x")]  # 10 > 5 + 3


def test_errors_name_what_is_wrong() -> None:
    with pytest.raises(InvalidInput, match="nowhere"):
        RoutingEngine([QueueConfig("q", overflow_after_s=5.0, overflow_to="nowhere")])
    with pytest.raises(Conflict):
        RoutingEngine([QueueConfig("q"), QueueConfig("q")])
    engine = engine_with()
    with pytest.raises(NotFound, match="ghost"):
        engine.set_agent_state("ghost", AVAILABLE, 0.0)
    with pytest.raises(NotFound):
        engine.add_contact(contact("c1", 0.0, queue="nowhere"))
    engine.add_contact(contact("c1", 0.0))
    with pytest.raises(Conflict):
        engine.add_contact(contact("c1", 1.0))
    engine.add_agent(Agent("a", {}))
    with pytest.raises(Conflict):
        engine.add_agent(Agent("a", {}))
    with pytest.raises(Conflict, match="offline to wrap_up"):
        engine.set_agent_state("a", AgentState.WRAP_UP, 0.0)
    with pytest.raises(NotFound):
        engine.remove_contact("nobody")
    with pytest.raises(NotFound):
        engine.requeue("c1")


def test_removed_agent_gets_nothing() -> None:
    engine = engine_with()
    engine.add_agent(available("a", 0.0))
    engine.match(0.0)
    assert engine.remove_agent("a").state is AVAILABLE
    engine.add_contact(contact("c1", 1.0))
    assert engine.match(1.0) == []
    assert engine.agents() == []


def test_put_agent_takes_the_new_view_and_refuses_a_taken_contact() -> None:
    engine = engine_with(QueueConfig("q", {"x": 1}))
    engine.add_contact(contact("c1", 1.0, skills={}))
    engine.put_agent(available("a", 5.0, x=1))  # unknown: added
    assert pairs(engine.match(10.0)) == [("c1", "a")]
    engine.put_agent(Agent("a", {"x": 1}, AgentState.WRAP_UP, 5.0, contact_id="c1"))
    assert engine.agent("a").state is AgentState.WRAP_UP
    engine.add_contact(contact("c2", 2.0))
    with pytest.raises(Conflict, match="c2"):  # c2 waits: nobody may hold it
        engine.put_agent(Agent("a", {"x": 1}, AgentState.BUSY, 5.0, contact_id="c2"))
    engine.put_agent(available("a", 20.0, x=1))  # same skills: back in line at once
    assert pairs(engine.match(21.0)) == [("c2", "a")]
    engine.put_agent(Agent("a", {"y": 1}, AgentState.AVAILABLE, 30.0))  # new skills
    engine.add_contact(contact("c3", 31.0))
    assert engine.match(32.0) == []


def test_setting_the_same_state_again_keeps_the_idle_clock() -> None:
    engine = engine_with()
    engine.add_agent(available("a", 0.0))
    engine.set_agent_state("a", AVAILABLE, 50.0)
    assert engine.agent("a").idle_since == 0.0


# --- stateful property test ---------------------------------------------------------------

QUEUES = (
    QueueConfig("q0", {"s0": 1}, aging_per_s=0.5, overflow_after_s=30.0, overflow_to="q1"),
    QueueConfig("q1", {}, aging_per_s=0.0),
    QueueConfig("q2", {"s1": 2}, aging_per_s=1.0),
)
CONFIG = {q.queue_id: q for q in QUEUES}
AGENT_SKILLS = st.dictionaries(
    st.sampled_from(["s0", "s1", "s2"]), st.integers(min_value=1, max_value=3), min_size=1
)
CONTACT_SKILLS: st.SearchStrategy[dict[str, int]] = st.one_of(
    st.just({}),
    st.dictionaries(
        st.sampled_from(["s0", "s1", "s2"]), st.integers(min_value=1, max_value=2), max_size=1
    ),
)


class RoutingMachine(RuleBasedStateMachine):
    """Random arrivals, abandonments, callbacks, agent states, overflow and restarts.

    Times are whole seconds and aging rates binary fractions, so ranks are exact.
    """

    agents_b = Bundle("agents")

    def __init__(self) -> None:
        super().__init__()
        self.engine = RoutingEngine(QUEUES)
        self.now = 1000.0
        self.agents: dict[str, Agent] = {}
        self.waiting: dict[str, WaitingContact] = {}
        self.done: set[str] = set()
        self.reskilled: set[str] = set()
        self.serial = 0

    @initialize(
        target=agents_b,
        policy=st.sampled_from(list(AgentPolicy)),
        staff=st.lists(AGENT_SKILLS, min_size=1, max_size=6),
        line=st.lists(
            st.tuples(
                st.sampled_from(list(CONFIG)),
                st.integers(min_value=0, max_value=2),
                CONTACT_SKILLS,
                st.integers(min_value=0, max_value=300),
            ),
            max_size=12,
        ),
    )
    def populate(
        self,
        policy: AgentPolicy,
        staff: list[dict[str, int]],
        line: list[tuple[str, int, dict[str, int], int]],
    ) -> MultipleResults[str]:
        """Start with busy agents and a line of contacts that joined over the last minutes."""
        self.engine = RoutingEngine(QUEUES, policy=policy)
        for queue, priority, skills, age in line:
            self.serial += 1
            new = WaitingContact(f"c{self.serial}", queue, self.now - age, priority, skills)
            self.engine.add_contact(new)
            self.waiting[new.contact_id] = new
        ids = []
        for skills in staff:
            self.serial += 1
            agent = Agent(f"a{self.serial}", skills, AgentState.BUSY)
            self.engine.add_agent(agent)
            self.agents[agent.agent_id] = agent
            ids.append(agent.agent_id)
        return multiple(*ids)

    # --- rules ---

    @rule(
        target=agents_b,
        skills=AGENT_SKILLS,
        start=st.sampled_from([AgentState.OFFLINE, AVAILABLE, AVAILABLE]),
    )
    def add_agent(self, skills: dict[str, int], start: AgentState) -> str:
        self.serial += 1
        agent_id = f"a{self.serial}"
        idle = self.now if start is AVAILABLE else None
        agent = Agent(agent_id, skills, start, idle_since=idle)
        self.engine.add_agent(agent)
        self.agents[agent_id] = agent
        return agent_id

    @rule(agent_id=agents_b, state=st.sampled_from(list(AgentState)))
    def set_state(self, agent_id: str, state: AgentState) -> None:
        agent = self.agents[agent_id]
        if not is_allowed_transition(agent.state, state):
            with pytest.raises(Conflict):
                self.engine.set_agent_state(agent_id, state, self.now)
            return
        self.engine.set_agent_state(agent_id, state, self.now)
        if state is agent.state:
            return
        keep = state in (AgentState.BUSY, AgentState.WRAP_UP)
        self.agents[agent_id] = replace(
            agent,
            state=state,
            idle_since=self.now if state is AVAILABLE else agent.idle_since,
            contact_id=agent.contact_id if keep else None,
        )

    @rule(agent_id=agents_b, skills=AGENT_SKILLS)
    def change_skills(self, agent_id: str, skills: dict[str, int]) -> None:
        self.engine.set_agent_skills(agent_id, skills)
        self.agents[agent_id] = replace(self.agents[agent_id], skills=skills)
        self.reskilled.add(agent_id)

    @rule(agent_id=agents_b, skills=st.one_of(st.none(), AGENT_SKILLS))
    def reload_agent(self, agent_id: str, skills: dict[str, int] | None) -> None:
        """The database's view of an agent replaces the engine's (as after another node's
        write), with the same skills or new ones: the engine behaves as before."""
        agent = self.agents[agent_id]
        if skills is not None:
            agent = replace(agent, skills=skills)
            self.reskilled.add(agent_id)
        self.engine.put_agent(agent)
        self.agents[agent_id] = agent
        assert self.engine.agent(agent_id) == agent

    @rule(agent_id=agents_b)
    def finish(self, agent_id: str) -> None:
        """A busy agent wraps up and becomes available again."""
        agent = self.agents[agent_id]
        if agent.state is AgentState.BUSY:
            self.set_state(agent_id, AgentState.WRAP_UP)
            self.set_state(agent_id, AVAILABLE)

    @rule(
        queue=st.sampled_from(list(CONFIG)),
        priority=st.integers(min_value=0, max_value=2),
        skills=CONTACT_SKILLS,
        callback_age=st.none() | st.integers(min_value=0, max_value=200),
    )
    def arrive(
        self, queue: str, priority: int, skills: dict[str, int], callback_age: int | None
    ) -> None:
        self.serial += 1
        kind = ContactKind.LIVE if callback_age is None else ContactKind.CALLBACK
        joined = self.now - (callback_age or 0)
        new = WaitingContact(
            f"c{self.serial}", queue, joined, priority, skills, kind, queued_at=self.now
        )
        self.engine.add_contact(new)
        self.waiting[new.contact_id] = new

    @precondition(lambda self: bool(self.waiting))
    @rule(data=st.data())
    def abandon(self, data: st.DataObject) -> None:
        contact_id = data.draw(st.sampled_from(sorted(self.waiting)))
        self.engine.remove_contact(contact_id)
        del self.waiting[contact_id]
        self.done.add(contact_id)

    @precondition(lambda self: bool(self.waiting))
    @rule(data=st.data())
    def take_callback(self, data: st.DataObject) -> None:
        contact_id = data.draw(st.sampled_from(sorted(self.waiting)))
        ahead = self.engine.callers_ahead(contact_id)
        callback = self.engine.convert_to_callback(contact_id)
        assert self.engine.callers_ahead(contact_id) == ahead
        assert callback.joined_at == self.waiting[contact_id].joined_at
        self.waiting[contact_id] = callback

    @rule(seconds=st.integers(min_value=1, max_value=40))
    def advance(self, seconds: int) -> None:
        self.now += seconds

    @rule()
    def overflow(self) -> None:
        for moved in self.engine.overflow(self.now):
            old = self.waiting[moved.contact_id]
            assert old.queue == moved.from_queue
            assert moved.to_queue == CONFIG[old.queue].overflow_to
            assert moved.waited_s >= CONFIG[old.queue].overflow_after_s  # type: ignore[operator]
            self.waiting[moved.contact_id] = replace(old, queue=moved.to_queue, queued_at=self.now)
        for c in self.waiting.values():
            config = CONFIG[c.queue]
            if config.overflow_after_s is not None:
                assert c.entered_queue_at + config.overflow_after_s > self.now

    @rule()
    def match(self) -> None:
        self._match_and_check(self.engine)

    @rule()
    def restart(self) -> None:
        """Persist-and-rebuild: the rebuilt engine holds the same state and owes nothing."""
        self._match_and_check(self.engine)
        state = self.engine.snapshot()
        rebuilt = RoutingEngine.from_state(state, policy=self.engine.policy)
        assert rebuilt.match(self.now) == []
        assert rebuilt.snapshot() == state
        self.engine = rebuilt

    # --- checks ---

    def _reqs(self, c: WaitingContact) -> tuple[tuple[str, int], ...]:
        return merge_requirements(CONFIG[c.queue].skills, c.skills)

    def _rank(self, c: WaitingContact) -> tuple[float, float, str]:
        aging = CONFIG[c.queue].aging_per_s
        return (-effective_priority(c, aging, self.now), c.joined_at, c.contact_id)

    def _match_and_check(self, engine: RoutingEngine) -> None:
        before_agents = dict(self.agents)
        before_waiting = dict(self.waiting)
        out = engine.match(self.now)
        contacts = [a.contact_id for a in out]
        agents = [a.agent_id for a in out]
        assert len(set(contacts)) == len(contacts), "a contact got two agents"
        assert len(set(agents)) == len(agents), "an agent got two contacts"
        for a in out:
            assert a.contact_id in before_waiting, "assigned a contact that was not waiting"
            c = before_waiting[a.contact_id]
            agent = before_agents[a.agent_id]
            assert agent.state is AVAILABLE, "assigned to an agent who was not available"
            assert qualifies(agent.skills, self._reqs(c)), "assigned to an agent lacking skill"
            assert (a.queue, a.kind, a.decided_at) == (c.queue, c.kind, self.now)
            assert a.waited_s == self.now - c.joined_at
            del self.waiting[a.contact_id]
            self.agents[a.agent_id] = replace(agent, state=AgentState.BUSY, contact_id=c.contact_id)
            self.done.add(a.contact_id)
            assert engine.agent(a.agent_id).contact_id == a.contact_id
        for a in out:
            c = before_waiting[a.contact_id]
            agent = before_agents[a.agent_id]
            for other in self.waiting.values():
                # FIFO within a priority among contacts with the same queue and requirements
                if (
                    other.queue == c.queue
                    and other.priority == c.priority
                    and self._reqs(other) == self._reqs(c)
                ):
                    assert (other.joined_at, other.contact_id) > (c.joined_at, c.contact_id)
                # a freed agent takes the first contact in line that it can serve
                if a.reason is MatchReason.AGENT_AVAILABLE and qualifies(
                    agent.skills, self._reqs(other)
                ):
                    assert self._rank(other) > self._rank(c)
            if (
                a.reason is MatchReason.CONTACT_ARRIVED
                and engine.policy is AgentPolicy.LONGEST_IDLE
            ):
                # the contact got the longest-idle qualified agent
                # (an agent whose skills just changed is reconsidered like a returning one)
                for peer in self.agents.values():
                    if peer.agent_id in self.reskilled:
                        continue
                    if peer.state is AVAILABLE and qualifies(peer.skills, self._reqs(c)):
                        assert (peer.idle_since or 0.0) >= (agent.idle_since or 0.0)
        self.reskilled.clear()
        # maximal: no available agent is qualified for any waiting contact
        for agent in self.agents.values():
            if agent.state is AVAILABLE:
                for c in self.waiting.values():
                    assert not qualifies(agent.skills, self._reqs(c)), "missed a match"

    @invariant()
    def positions_follow_the_queue_order(self) -> None:
        by_queue: dict[str, list[WaitingContact]] = {}
        for c in self.waiting.values():
            by_queue.setdefault(c.queue, []).append(c)
        for queue, members in by_queue.items():
            members.sort(key=self._rank)
            assert [c.contact_id for c in self.engine.waiting(queue)] == [
                c.contact_id for c in members
            ]
            for ahead, c in enumerate(members):
                assert self.engine.callers_ahead(c.contact_id) == ahead
        assert self.engine.waiting_count == len(self.waiting)

    @invariant()
    def agents_agree(self) -> None:
        for agent_id, agent in self.agents.items():
            seen = self.engine.agent(agent_id)
            assert seen.state is agent.state
            if agent.state is AVAILABLE:
                assert seen.idle_since == agent.idle_since


RoutingMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRoutingMachine = RoutingMachine.TestCase
