"""The routing engine: waiting contacts matched to agents, in memory (W1, W2, W6, P1).

Pure: no database, no clock, no randomness. Every method that depends on time takes ``now``
(float seconds, see :mod:`escucha.routing.rules`). The router that owns an engine feeds it
events (contacts, agent states), calls :meth:`RoutingEngine.overflow` and
:meth:`RoutingEngine.match`, persists every returned decision and only then acts on it; if the
persistence fails it calls :meth:`RoutingEngine.undo`. At start it rebuilds the engine with
:meth:`RoutingEngine.from_state` from what the database holds; :meth:`RoutingEngine.snapshot`
gives the same shape back.

How ``match`` decides
---------------------
Changes are recorded when they happen and resolved by :meth:`RoutingEngine.match`:

1. contacts that arrived (or came back) since the last call join their queue;
2. each of them, first in order (effective priority at ``now``, then join time, then id),
   takes the qualified agent already available that the agent policy prefers
   (longest idle by default);
3. agents that became available since the last call, longest idle first, each take the first
   waiting contact (across every queue they qualify for, by effective priority at ``now``,
   then original join time, then id); an agent that finds none stays available.

Afterwards no available agent is qualified for any waiting contact, so the matching is
maximal; no agent gets two contacts and no contact two agents, because an agent leaves the
available set and a contact the waiting set the moment they are paired.

Data structures
---------------
Contacts are kept per *requirement set* (the queue's skills merged with the contact's own)
and queue, in heaps ordered by the static :func:`~escucha.routing.rules.order_key`; per queue a
sorted list of keys answers "how many callers ahead" with a binary search. Available agents
are kept per requirement set in heaps ordered by the agent policy. An agent knows the
requirement sets it qualifies for, so it looks only at the heads of those heaps. Removed
entries are dropped lazily when they reach the head of a heap, and a heap is compacted when
dead entries outnumber the live ones.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from escucha.errors import Conflict, InvalidInput, NotFound
from escucha.routing.rules import (
    STAFFED_STATES,
    Agent,
    AgentPolicy,
    AgentState,
    Assignment,
    ContactKind,
    EngineState,
    MatchReason,
    OrderKey,
    Overflow,
    QueueConfig,
    Requirements,
    WaitingContact,
    agent_key,
    is_allowed_transition,
    merge_requirements,
    order_key,
    qualifies,
    rank_at,
    skill_score,
)

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = ["RoutingEngine"]

_AgentEntry = tuple[float, float, str, int]
"""Heap entry of an available agent: policy key (two floats, agent id) and availability epoch."""

_COMPACT_SLACK = 64


class _Class:
    """One requirement set: its qualified available agents and its contact buckets."""

    __slots__ = ("agents", "buckets", "members", "reqs", "staffed")

    def __init__(self, reqs: Requirements) -> None:
        self.reqs = reqs
        self.agents: list[_AgentEntry] = []
        self.buckets: list[_Bucket] = []
        self.members: set[_AgentRec] = set()
        self.staffed = 0  # members in a staffed state, kept at every change of state


class _Bucket:
    """Waiting contacts of one queue with one requirement set, in queue order."""

    __slots__ = ("aging", "heap", "live", "queue_id")

    def __init__(self, queue_id: str, aging: float) -> None:
        self.queue_id = queue_id
        self.aging = aging
        self.heap: list[OrderKey] = []
        self.live = 0


class _AgentRec:
    __slots__ = (
        "agent_id",
        "buckets",
        "classes",
        "contact_id",
        "epoch",
        "idle_since",
        "placed",
        "skills",
        "state",
    )

    def __init__(self, agent: Agent, epoch: int) -> None:
        self.agent_id = agent.agent_id
        self.skills: Mapping[str, int] = agent.skills
        self.state = agent.state
        self.idle_since = agent.idle_since
        self.contact_id = agent.contact_id
        self.epoch = epoch
        self.placed = False
        self.classes: list[_Class] = []
        self.buckets: list[_Bucket] = []


class _ContactRec:
    __slots__ = ("bucket", "cls", "contact", "entry", "key", "placed")

    def __init__(
        self, contact: WaitingContact, key: OrderKey, cls: _Class, bucket: _Bucket
    ) -> None:
        self.contact = contact
        self.key = key
        self.cls = cls
        self.bucket = bucket
        self.entry: OrderKey | None = None
        self.placed = False


@dataclass(frozen=True, slots=True)
class _Held:
    """What the engine remembers of an assigned contact until the agent moves on."""

    contact: WaitingContact | None
    agent_id: str
    idle_since: float | None


class RoutingEngine:
    """Skills-based ACD with priority aging, longest-idle agents, overflow and callbacks.

    Parameters
    ----------
    queues:
        The queue configurations. Overflow targets must be among them.
    policy:
        How to choose among qualified available agents (see
        :class:`~escucha.routing.rules.AgentPolicy`).
    """

    def __init__(
        self,
        queues: Iterable[QueueConfig] = (),
        *,
        policy: AgentPolicy = AgentPolicy.LONGEST_IDLE,
    ) -> None:
        self._policy = AgentPolicy(policy)
        self._queues: dict[str, QueueConfig] = {}
        self._agents: dict[str, _AgentRec] = {}
        self._contacts: dict[str, _ContactRec] = {}
        self._held: dict[str, _Held] = {}
        self._classes: dict[Requirements, _Class] = {}
        self._buckets: dict[tuple[str, Requirements], _Bucket] = {}
        self._order: dict[str, list[OrderKey]] = {}
        self._overflow_heaps: dict[str, list[tuple[float, int, _ContactRec]]] = {}
        self._pending_contacts: list[_ContactRec] = []
        self._pending_agents: list[tuple[_AgentRec, int]] = []
        self._by_skill: dict[str, set[str]] = {}
        self._available = 0
        self._epoch = 0
        self._seq = 0
        configs = list(queues)
        for config in configs:
            if config.queue_id in self._queues:
                raise Conflict(f"queue {config.queue_id!r} is configured twice")
            self._queues[config.queue_id] = config
            self._order[config.queue_id] = []
        for config in configs:
            self._check_targets(config)
            if config.overflow_to is not None:
                self._overflow_heaps[config.queue_id] = []

    # --- construction and persistence -------------------------------------------------

    @classmethod
    def from_state(
        cls, state: EngineState, *, policy: AgentPolicy = AgentPolicy.LONGEST_IDLE
    ) -> RoutingEngine:
        """Rebuild an engine (at start, from the database, or from :meth:`snapshot`).

        Agents and contacts are loaded as pending changes: the first :meth:`match` pairs any
        available agent with a waiting contact it qualifies for.
        """
        engine = cls(state.queues, policy=policy)
        for agent in sorted(
            state.agents, key=lambda a: (a.idle_since is None, a.idle_since or 0.0, a.agent_id)
        ):
            engine.add_agent(agent)
        for contact in sorted(state.contacts, key=lambda c: (c.joined_at, c.contact_id)):
            engine.add_contact(contact)
        return engine

    def snapshot(self) -> EngineState:
        """Queues, agents and waiting contacts, enough for :meth:`from_state`."""
        agents = tuple(
            Agent(
                agent_id=rec.agent_id,
                skills=rec.skills,
                state=rec.state,
                idle_since=rec.idle_since,
                contact_id=rec.contact_id,
            )
            for rec in sorted(self._agents.values(), key=lambda r: r.agent_id)
        )
        contacts = tuple(
            rec.contact
            for rec in sorted(
                self._contacts.values(), key=lambda r: (r.contact.joined_at, r.contact.contact_id)
            )
        )
        return EngineState(tuple(self._queues.values()), agents, contacts)

    @property
    def policy(self) -> AgentPolicy:
        """The agent-choice policy."""
        return self._policy

    # --- queues -------------------------------------------------------------------------

    def _check_targets(self, config: QueueConfig) -> None:
        for target in (config.overflow_to, config.after_hours_queue):
            if target is not None and target not in self._queues:
                raise InvalidInput(
                    f"queue {config.queue_id!r}: target queue {target!r} is not configured"
                )

    def queue(self, queue_id: str) -> QueueConfig:
        """The configuration of a queue."""
        try:
            return self._queues[queue_id]
        except KeyError:
            raise NotFound(f"queue {queue_id!r} is not configured") from None

    def queues(self) -> list[QueueConfig]:
        """Every queue configuration."""
        return list(self._queues.values())

    def set_queue(self, config: QueueConfig) -> None:
        """Add a queue or change one; waiting contacts of a changed queue keep their order."""
        old = self._queues.get(config.queue_id)
        self._queues[config.queue_id] = config
        try:
            self._check_targets(config)
        except InvalidInput:
            if old is None:
                del self._queues[config.queue_id]
            else:
                self._queues[config.queue_id] = old
            raise
        if old is None:
            self._order[config.queue_id] = []
        for (queue_id, _), bucket in self._buckets.items():
            if queue_id == config.queue_id:
                bucket.aging = config.aging_per_s
        if config.overflow_to is None:
            self._overflow_heaps.pop(config.queue_id, None)
        if old is None or (old.skills == config.skills and old.aging_per_s == config.aging_per_s):
            if config.overflow_to is not None and config.queue_id not in self._overflow_heaps:
                self._overflow_heaps[config.queue_id] = []
                for key in self._order[config.queue_id]:
                    self._push_overflow(self._contacts[key[2]])
            return
        waiting = [self._contacts[key[2]] for key in self._order[config.queue_id]]
        for rec in waiting:
            self._drop_waiting(rec)
        if config.overflow_to is not None:
            self._overflow_heaps[config.queue_id] = []
        for rec in waiting:
            self._insert_contact(rec.contact)

    def remove_queue(self, queue_id: str) -> None:
        """Remove an empty queue that no other queue points to."""
        self.queue(queue_id)
        if self._order[queue_id]:
            raise Conflict(f"queue {queue_id!r} still has waiting contacts")
        for other in self._queues.values():
            if queue_id in (other.overflow_to, other.after_hours_queue):
                raise Conflict(f"queue {other.queue_id!r} sends contacts to {queue_id!r}")
        del self._queues[queue_id]
        del self._order[queue_id]
        self._overflow_heaps.pop(queue_id, None)

    # --- requirement sets -----------------------------------------------------------------

    def _class_for(self, reqs: Requirements) -> _Class:
        cls = self._classes.get(reqs)
        if cls is None:
            cls = _Class(reqs)
            self._classes[reqs] = cls
            if reqs:
                by_skill = self._by_skill
                pool = min((by_skill.get(skill, set()) for skill, _ in reqs), key=len)
                candidates = [self._agents[agent_id] for agent_id in sorted(pool)]
            else:
                candidates = list(self._agents.values())
            for rec in candidates:
                if qualifies(rec.skills, reqs):
                    rec.classes.append(cls)
                    cls.members.add(rec)
                    cls.staffed += rec.state in STAFFED_STATES
                    if rec.placed and rec.idle_since is not None:
                        heapq.heappush(cls.agents, self._agent_entry(rec, cls))
        return cls

    def _bucket_for(self, queue_id: str, cls: _Class) -> _Bucket:
        bucket = self._buckets.get((queue_id, cls.reqs))
        if bucket is None:
            bucket = _Bucket(queue_id, self._queues[queue_id].aging_per_s)
            self._buckets[(queue_id, cls.reqs)] = bucket
            cls.buckets.append(bucket)
            for rec in cls.members:
                rec.buckets.append(bucket)
        return bucket

    def _agent_entry(self, rec: _AgentRec, cls: _Class) -> _AgentEntry:
        idle = rec.idle_since if rec.idle_since is not None else 0.0
        score = skill_score(rec.skills, cls.reqs) if self._policy is AgentPolicy.BEST_SKILL else 0
        k1, k2, agent_id = agent_key(self._policy, idle, score, rec.agent_id)
        return (k1, k2, agent_id, rec.epoch)

    # --- agents -------------------------------------------------------------------------

    def _agent(self, agent_id: str) -> _AgentRec:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise NotFound(f"agent {agent_id!r} is not known to the router") from None

    def _next_epoch(self) -> int:
        self._epoch += 1
        return self._epoch

    def add_agent(self, agent: Agent) -> None:
        """Register an agent in whatever state it is (an available one joins at ``match``)."""
        if agent.agent_id in self._agents:
            raise Conflict(f"agent {agent.agent_id!r} is already known to the router")
        if agent.contact_id is not None:
            if agent.contact_id in self._contacts or agent.contact_id in self._held:
                raise Conflict(f"contact {agent.contact_id!r} already waits or has an agent")
            self._held[agent.contact_id] = _Held(None, agent.agent_id, None)
        rec = _AgentRec(agent, self._next_epoch())
        self._agents[agent.agent_id] = rec
        self._index_skills(rec, add=True)
        self._join_classes(rec)
        if rec.state is AgentState.AVAILABLE:
            self._pending_agents.append((rec, rec.epoch))

    def put_agent(self, agent: Agent) -> None:
        """Take ``agent`` as the truth about it (known or not), as ``remove_agent`` then
        ``add_agent`` would; with the same skills it keeps its place in the skill classes."""
        rec = self._agents.get(agent.agent_id)
        if rec is None or rec.skills != agent.skills:
            if rec is not None:
                self.remove_agent(agent.agent_id)
            self.add_agent(agent)
            return
        taken = agent.contact_id in self._contacts or agent.contact_id in self._held
        if agent.contact_id is not None and agent.contact_id != rec.contact_id and taken:
            raise Conflict(f"contact {agent.contact_id!r} already waits or has an agent")
        self._leave_available(rec)
        self._drop_link(rec)
        if agent.contact_id is not None:
            self._held[agent.contact_id] = _Held(None, agent.agent_id, None)
        self._set_state(rec, agent.state)
        rec.idle_since = agent.idle_since
        rec.contact_id = agent.contact_id
        rec.epoch = self._next_epoch()
        if rec.state is AgentState.AVAILABLE:
            self._pending_agents.append((rec, rec.epoch))

    def remove_agent(self, agent_id: str) -> Agent:
        """Forget an agent (a contact it was handling is forgotten too)."""
        rec = self._agent(agent_id)
        agent = self._agent_value(rec)
        self._leave_available(rec)
        self._drop_link(rec)
        self._index_skills(rec, add=False)
        self._leave_classes(rec)
        del self._agents[agent_id]
        return agent

    def _join_classes(self, rec: _AgentRec) -> None:
        rec.classes = [cls for cls in self._classes.values() if qualifies(rec.skills, cls.reqs)]
        staffed = rec.state in STAFFED_STATES
        for cls in rec.classes:
            cls.members.add(rec)
            cls.staffed += staffed
        rec.buckets = [bucket for cls in rec.classes for bucket in cls.buckets]

    def _leave_classes(self, rec: _AgentRec) -> None:
        staffed = rec.state in STAFFED_STATES
        for cls in rec.classes:
            cls.members.discard(rec)
            cls.staffed -= staffed
        rec.classes = []
        rec.buckets = []

    @staticmethod
    def _set_state(rec: _AgentRec, state: AgentState) -> None:
        """The one place an agent's state changes, keeping its classes' staffed counts."""
        change = (state in STAFFED_STATES) - (rec.state in STAFFED_STATES)
        rec.state = state
        if change:
            for cls in rec.classes:
                cls.staffed += change

    def _index_skills(self, rec: _AgentRec, *, add: bool) -> None:
        for skill in rec.skills:
            holders = self._by_skill.setdefault(skill, set())
            if add:
                holders.add(rec.agent_id)
            else:
                holders.discard(rec.agent_id)

    def agent(self, agent_id: str) -> Agent:
        """The current view of one agent."""
        return self._agent_value(self._agent(agent_id))

    def agents(self) -> list[Agent]:
        """Every agent, by id."""
        return [
            self._agent_value(r) for r in sorted(self._agents.values(), key=lambda r: r.agent_id)
        ]

    @staticmethod
    def _agent_value(rec: _AgentRec) -> Agent:
        return Agent(rec.agent_id, rec.skills, rec.state, rec.idle_since, rec.contact_id)

    def set_agent_state(self, agent_id: str, state: AgentState, now: float) -> None:
        """Move an agent to ``state`` at ``now``; setting the current state again does nothing.

        Becoming available starts the idle clock (``idle_since = now``). Leaving busy and
        wrap-up ends the link to the contact handled.
        """
        rec = self._agent(agent_id)
        state = AgentState(state)
        if state is rec.state:
            return
        if not is_allowed_transition(rec.state, state):
            raise Conflict(f"agent {agent_id!r} cannot go from {rec.state} to {state}")
        if rec.state is AgentState.AVAILABLE:
            self._leave_available(rec)
        if state not in (AgentState.BUSY, AgentState.WRAP_UP):
            self._drop_link(rec)
        self._set_state(rec, state)
        if state is AgentState.AVAILABLE:
            rec.idle_since = now
            rec.epoch = self._next_epoch()
            self._pending_agents.append((rec, rec.epoch))

    def set_agent_skills(self, agent_id: str, skills: Mapping[str, int]) -> None:
        """Change an agent's skills (an available agent is reconsidered at ``match``)."""
        rec = self._agent(agent_id)
        value = Agent(agent_id, skills)  # validates
        was_available = rec.state is AgentState.AVAILABLE
        if was_available:
            self._leave_available(rec)
        self._index_skills(rec, add=False)
        self._leave_classes(rec)
        rec.skills = value.skills
        self._index_skills(rec, add=True)
        self._join_classes(rec)
        if was_available:
            rec.epoch = self._next_epoch()
            self._pending_agents.append((rec, rec.epoch))

    def _leave_available(self, rec: _AgentRec) -> None:
        rec.epoch = self._next_epoch()
        if rec.placed:
            rec.placed = False
            self._available -= 1

    def _drop_link(self, rec: _AgentRec) -> None:
        if rec.contact_id is not None:
            self._held.pop(rec.contact_id, None)
            rec.contact_id = None

    def _place_agent(self, rec: _AgentRec) -> None:
        rec.placed = True
        self._available += 1
        limit = 2 * self._available + _COMPACT_SLACK
        for cls in rec.classes:
            heap = cls.agents
            heapq.heappush(heap, self._agent_entry(rec, cls))
            if len(heap) > limit:
                self._compact_agents(cls)

    def _compact_agents(self, cls: _Class) -> None:
        agents = self._agents
        live = []
        for entry in cls.agents:
            rec = agents.get(entry[2])
            if rec is not None and rec.placed and rec.epoch == entry[3]:
                live.append(entry)
        heapq.heapify(live)
        cls.agents = live

    def agents_staffed(self, queue_id: str) -> int:
        """Agents available, busy or in wrap-up who are qualified for the queue's skills.

        A count kept by the skill class of the queue's requirements at every change of an
        agent's state or skills: constant time, whatever the number of agents.
        """
        return self._class_for(merge_requirements(self.queue(queue_id).skills)).staffed

    # --- contacts -----------------------------------------------------------------------

    def _contact(self, contact_id: str) -> _ContactRec:
        try:
            return self._contacts[contact_id]
        except KeyError:
            raise NotFound(f"contact {contact_id!r} is not waiting") from None

    def add_contact(self, contact: WaitingContact) -> None:
        """A contact joins its queue (a live caller, a callback, or one sent back)."""
        self.queue(contact.queue)
        if contact.contact_id in self._contacts or contact.contact_id in self._held:
            raise Conflict(f"contact {contact.contact_id!r} already waits or has an agent")
        self._insert_contact(contact)

    def _insert_contact(self, contact: WaitingContact) -> _ContactRec:
        config = self._queues[contact.queue]
        reqs = merge_requirements(config.skills, contact.skills)
        cls = self._class_for(reqs)
        bucket = self._bucket_for(contact.queue, cls)
        rec = _ContactRec(contact, order_key(contact, config.aging_per_s), cls, bucket)
        self._contacts[contact.contact_id] = rec
        insort(self._order[contact.queue], rec.key)
        if contact.queue in self._overflow_heaps:
            self._push_overflow(rec)
        self._pending_contacts.append(rec)
        return rec

    def _push_overflow(self, rec: _ContactRec) -> None:
        self._seq += 1
        heapq.heappush(
            self._overflow_heaps[rec.contact.queue],
            (rec.contact.entered_queue_at, self._seq, rec),
        )

    def _drop_waiting(self, rec: _ContactRec) -> None:
        """Take a waiting contact out of every index (heap entries die lazily)."""
        del self._contacts[rec.contact.contact_id]
        order = self._order[rec.contact.queue]
        del order[bisect_left(order, rec.key)]
        if rec.entry is not None:
            rec.entry = None
            rec.bucket.live -= 1

    def remove_contact(self, contact_id: str) -> WaitingContact | None:
        """A contact leaves: hung up (abandoned), ended, or taken elsewhere.

        A waiting contact leaves its queue. For a contact already assigned, the engine forgets
        the link; the agent's state is the router's to set. Returns the contact, or ``None``
        for one assigned before the engine was rebuilt (its details were not kept).
        """
        rec = self._contacts.get(contact_id)
        if rec is not None:
            self._drop_waiting(rec)
            return rec.contact
        held = self._held.pop(contact_id, None)
        if held is None:
            raise NotFound(f"contact {contact_id!r} is not known to the router")
        agent = self._agents.get(held.agent_id)
        if agent is not None and agent.contact_id == contact_id:
            agent.contact_id = None
        return held.contact

    def convert_to_callback(
        self, contact_id: str, *, callback_id: str | None = None
    ) -> WaitingContact:
        """A waiting caller takes a callback that keeps their place (W2, P1).

        The callback keeps the queue, priority, requirements and original join time; with
        ``callback_id`` it waits under a new id (ties on the join time are then broken by it).
        """
        rec = self._contact(contact_id)
        new_id = contact_id if callback_id is None else callback_id
        if new_id != contact_id and (new_id in self._contacts or new_id in self._held):
            raise Conflict(f"contact {new_id!r} already waits or has an agent")
        callback = replace(rec.contact, contact_id=new_id, kind=ContactKind.CALLBACK)
        if new_id == contact_id:
            rec.contact = callback
            return callback
        placed = rec.placed
        self._drop_waiting(rec)
        new_rec = self._insert_contact(callback)
        if placed:  # it was already in line: no new decision is due for it
            self._pending_contacts.pop()
            self._place_contact(new_rec)
        return callback

    def contact(self, contact_id: str) -> WaitingContact:
        """A waiting contact."""
        return self._contact(contact_id).contact

    def is_waiting(self, contact_id: str) -> bool:
        """Whether the contact waits in a queue."""
        return contact_id in self._contacts

    def waiting(self, queue_id: str) -> list[WaitingContact]:
        """The waiting contacts of a queue, first to be served first."""
        self.queue(queue_id)
        return [self._contacts[key[2]].contact for key in self._order[queue_id]]

    @property
    def waiting_count(self) -> int:
        """Contacts waiting in all queues."""
        return len(self._contacts)

    def queue_length(self, queue_id: str) -> int:
        """Contacts waiting in a queue (callbacks included)."""
        self.queue(queue_id)
        return len(self._order[queue_id])

    def callers_ahead(self, contact_id: str) -> int:
        """How many contacts of the same queue will be served before this one (W1)."""
        rec = self._contact(contact_id)
        return bisect_left(self._order[rec.contact.queue], rec.key)

    def position(self, contact_id: str) -> int:
        """Place in line, 1 for the next to be served (``callers_ahead + 1``)."""
        return self.callers_ahead(contact_id) + 1

    def head_wait_s(self, queue_id: str, now: float) -> float | None:
        """How long the contact at the head of the queue has waited (the HOL delay)."""
        self.queue(queue_id)
        order = self._order[queue_id]
        if not order:
            return None
        return max(0.0, now - order[0][1])

    def _place_contact(self, rec: _ContactRec) -> None:
        rec.placed = True
        rec.entry = rec.key
        bucket = rec.bucket
        heapq.heappush(bucket.heap, rec.key)
        bucket.live += 1
        if len(bucket.heap) > 2 * bucket.live + _COMPACT_SLACK:
            contacts = self._contacts
            live = [
                e for e in bucket.heap if (c := contacts.get(e[2])) is not None and c.entry is e
            ]
            heapq.heapify(live)
            bucket.heap = live

    # --- decisions ------------------------------------------------------------------------

    def match(self, now: float) -> list[Assignment]:
        """Every assignment possible at ``now`` (see the module docstring for the order).

        The engine applies them at once (the agent becomes busy with the contact); persist them
        before acting, and call :meth:`undo` for any that could not be persisted.
        """
        out: list[Assignment] = []
        contacts = self._contacts
        agents = self._agents
        if self._pending_contacts:
            fresh = [
                rec
                for rec in self._pending_contacts
                if not rec.placed and contacts.get(rec.contact.contact_id) is rec
            ]
            self._pending_contacts = []
            for rec in fresh:
                self._place_contact(rec)
            if self._available:
                if len(fresh) > 1:
                    fresh.sort(key=lambda r: rank_at(r.key, r.bucket.aging, now))
                for rec in fresh:
                    if rec.entry is None:
                        continue
                    heap = rec.cls.agents
                    while heap:
                        entry = heap[0]
                        agent = agents.get(entry[2])
                        if agent is None or not agent.placed or agent.epoch != entry[3]:
                            heapq.heappop(heap)
                            continue
                        heapq.heappop(heap)
                        out.append(self._assign(rec, agent, now, MatchReason.CONTACT_ARRIVED))
                        break
        if self._pending_agents:
            ready = [
                rec
                for rec, epoch in self._pending_agents
                if rec.epoch == epoch
                and not rec.placed
                and rec.state is AgentState.AVAILABLE
                and agents.get(rec.agent_id) is rec
            ]
            self._pending_agents = []
            if len(ready) > 1:
                ready.sort(key=lambda r: (r.idle_since or 0.0, r.agent_id))
            for agent in ready:
                best = self._best_contact(agent, now)
                if best is None:
                    self._place_agent(agent)
                else:
                    out.append(self._assign(best, agent, now, MatchReason.AGENT_AVAILABLE))
        return out

    def _best_contact(self, agent: _AgentRec, now: float) -> _ContactRec | None:
        contacts = self._contacts
        best: _ContactRec | None = None
        best_rank: OrderKey | None = None
        for bucket in agent.buckets:
            heap = bucket.heap
            while heap:
                entry = heap[0]
                rec = contacts.get(entry[2])
                if rec is None or rec.entry is not entry:
                    heapq.heappop(heap)
                    continue
                rank = (entry[0] - bucket.aging * now, entry[1], entry[2])
                if best_rank is None or rank < best_rank:
                    best_rank = rank
                    best = rec
                break
        return best

    def _assign(
        self, rec: _ContactRec, agent: _AgentRec, now: float, reason: MatchReason
    ) -> Assignment:
        contact = rec.contact
        self._drop_waiting(rec)
        if agent.placed:
            agent.placed = False
            self._available -= 1
        agent.epoch = self._next_epoch()
        self._held[contact.contact_id] = _Held(contact, agent.agent_id, agent.idle_since)
        self._set_state(agent, AgentState.BUSY)
        agent.contact_id = contact.contact_id
        return Assignment(
            contact_id=contact.contact_id,
            agent_id=agent.agent_id,
            queue=contact.queue,
            decided_at=now,
            reason=reason,
            kind=contact.kind,
            waited_s=max(0.0, now - contact.joined_at),
        )

    def undo(self, assignment: Assignment) -> None:
        """Take back an assignment that could not be persisted: both sides as they were."""
        held = self._held.get(assignment.contact_id)
        agent = self._agents.get(assignment.agent_id)
        if (
            held is None
            or held.agent_id != assignment.agent_id
            or agent is None
            or agent.contact_id != assignment.contact_id
            or agent.state is not AgentState.BUSY
        ):
            raise Conflict(f"assignment of {assignment.contact_id!r} is no longer current")
        if held.contact is None:
            raise Conflict(f"contact {assignment.contact_id!r} was assigned before a restart")
        del self._held[assignment.contact_id]
        agent.contact_id = None
        self._set_state(agent, AgentState.AVAILABLE)
        agent.idle_since = held.idle_since
        agent.epoch = self._next_epoch()
        self._pending_agents.append((agent, agent.epoch))
        self._insert_contact(held.contact)

    def requeue(self, contact_id: str) -> WaitingContact:
        """The agent did not take the contact: it goes back to its place in line.

        The agent keeps its state (still busy): the router sets it (break, available...).
        """
        held = self._held.get(contact_id)
        if held is None:
            raise NotFound(f"contact {contact_id!r} is not assigned")
        if held.contact is None:
            raise Conflict(f"contact {contact_id!r} was assigned before a restart")
        del self._held[contact_id]
        agent = self._agents.get(held.agent_id)
        if agent is not None and agent.contact_id == contact_id:
            agent.contact_id = None
        self._insert_contact(held.contact)
        return held.contact

    # --- overflow -------------------------------------------------------------------------

    def overflow(self, now: float) -> list[Overflow]:
        """Move every contact that has waited ``overflow_after_s`` to its queue's target.

        The contact keeps its original join time (its place among earlier and later callers)
        and its own requirements; its overflow clock restarts in the new queue.
        """
        moved: list[Overflow] = []
        for queue_id, heap in self._overflow_heaps.items():
            config = self._queues[queue_id]
            target = config.overflow_to
            after = config.overflow_after_s
            if target is None or after is None:
                continue
            while heap and heap[0][0] + after <= now:
                entered, _, rec = heapq.heappop(heap)
                contact = rec.contact
                if self._contacts.get(contact.contact_id) is not rec:
                    continue
                self._drop_waiting(rec)
                self._insert_contact(replace(contact, queue=target, queued_at=now))
                moved.append(Overflow(contact.contact_id, queue_id, target, now, now - entered))
        return moved

    def next_overflow_at(self) -> float | None:
        """When the next overflow is due (for the router's timer), or ``None``."""
        due: float | None = None
        for queue_id, heap in self._overflow_heaps.items():
            after = self._queues[queue_id].overflow_after_s
            while heap and self._contacts.get(heap[0][2].contact.contact_id) is not heap[0][2]:
                heapq.heappop(heap)
            if heap and after is not None:
                at = heap[0][0] + after
                if due is None or at < due:
                    due = at
        return due
