"""Routing rules: the value types of the ACD and the orderings it applies (pure).

Requirements: W1 (position and estimate need a well-defined order), W2 (a callback keeps the
caller's place), W6 (after-hours and overflow), P1 (a callback is never lost: it waits in line
like a live caller).

This module imports only the standard library. It never reads the clock: every time is passed
in as **float seconds** on one scale (production uses POSIX seconds, ``datetime.timestamp()``;
:func:`to_seconds` and :func:`from_seconds` convert). All durations are seconds too.

The ordering rule
-----------------
Contacts in a queue are served by *effective priority*, then *original join time*, then
contact id (a deterministic tie-break that survives a restart)::

    effective_priority(t) = priority + aging_per_s * (t - joined_at)

Higher effective priority is served first. Because every contact of a queue ages at the same
rate, the difference between two contacts' effective priorities does not change with time, so
the order inside a queue is static and given by :func:`order_key`::

    order_key = (aging_per_s * joined_at - priority, joined_at, contact_id)   # ascending

A callback carries the time the caller first joined (``joined_at``), so it sits exactly where the
caller was among live callers (W2). Between queues (an agent qualified for several), contacts
are compared by effective priority at the time of the decision (:func:`rank_at`).

The agent rule
--------------
An agent may take a contact when, for every required skill, the agent's level is at least the
required level (:func:`qualifies`). Among qualified *available* agents the engine picks
(:class:`AgentPolicy`):

* ``LONGEST_IDLE`` (default): the agent available for the longest time (smallest
  ``idle_since``), then agent id;
* ``BEST_SKILL``: the highest sum of levels on the contact's required skills, then longest idle,
  then agent id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = [
    "ALLOWED_TRANSITIONS",
    "STAFFED_STATES",
    "AfterHours",
    "Agent",
    "AgentPolicy",
    "AgentState",
    "ArrivalAction",
    "ArrivalDecision",
    "Assignment",
    "ContactKind",
    "EngineState",
    "MatchReason",
    "Overflow",
    "QueueConfig",
    "Requirements",
    "WaitingContact",
    "agent_key",
    "arrival_decision",
    "effective_priority",
    "from_seconds",
    "is_allowed_transition",
    "merge_requirements",
    "order_key",
    "qualifies",
    "rank_at",
    "skill_score",
    "to_seconds",
]

Requirements = tuple[tuple[str, int], ...]
"""Skill requirements in canonical form: ``(skill, min_level)`` pairs sorted by skill."""

OrderKey = tuple[float, float, str]
"""``(aging_per_s * joined_at - priority, joined_at, contact_id)``; smaller is served first."""


class AgentState(StrEnum):
    """What an agent is doing. Only ``AVAILABLE`` agents are offered contacts."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    BREAK = "break"


STAFFED_STATES: frozenset[AgentState] = frozenset(
    {AgentState.AVAILABLE, AgentState.BUSY, AgentState.WRAP_UP}
)
"""States in which an agent counts as staffed (working the queues) for wait estimates."""

ALLOWED_TRANSITIONS: Mapping[AgentState, frozenset[AgentState]] = MappingProxyType(
    {
        AgentState.OFFLINE: frozenset({AgentState.OFFLINE, AgentState.AVAILABLE, AgentState.BREAK}),
        AgentState.AVAILABLE: frozenset(
            {AgentState.AVAILABLE, AgentState.BUSY, AgentState.BREAK, AgentState.OFFLINE}
        ),
        AgentState.BUSY: frozenset(
            {
                AgentState.BUSY,
                AgentState.WRAP_UP,
                AgentState.AVAILABLE,
                AgentState.BREAK,
                AgentState.OFFLINE,
            }
        ),
        AgentState.WRAP_UP: frozenset(
            {AgentState.WRAP_UP, AgentState.AVAILABLE, AgentState.BREAK, AgentState.OFFLINE}
        ),
        AgentState.BREAK: frozenset({AgentState.BREAK, AgentState.AVAILABLE, AgentState.OFFLINE}),
    }
)
"""Which state may follow which. Setting the current state again is always allowed (no-op).

``BUSY`` may be entered only from ``AVAILABLE`` (the engine's own assignments, or a direct or
outbound call the agent takes); ``WRAP_UP`` only follows ``BUSY``.
"""


def is_allowed_transition(current: AgentState, new: AgentState) -> bool:
    """Whether an agent in ``current`` may move to ``new``."""
    return new in ALLOWED_TRANSITIONS[current]


class ContactKind(StrEnum):
    """A live caller on the line, or a callback holding the caller's place (W2, P1)."""

    LIVE = "live"
    CALLBACK = "callback"


class AgentPolicy(StrEnum):
    """How the engine chooses among qualified available agents for a contact."""

    LONGEST_IDLE = "longest_idle"
    BEST_SKILL = "best_skill"


class MatchReason(StrEnum):
    """Why an assignment was made at that moment."""

    CONTACT_ARRIVED = "contact_arrived"
    """A contact (new, returned or overflowed) found a qualified agent already available."""
    AGENT_AVAILABLE = "agent_available"
    """An agent became available and took the first waiting contact it qualifies for."""


class AfterHours(StrEnum):
    """What a closed queue does with a new caller (W6)."""

    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    OVERFLOW = "overflow"


class ArrivalAction(StrEnum):
    """The outcome of :func:`arrival_decision`."""

    QUEUE = "queue"
    OFFER_CALLBACK = "offer_callback"
    OVERFLOW = "overflow"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"


def _canonical(skills: Mapping[str, int], what: str) -> Requirements:
    pairs: list[tuple[str, int]] = []
    for skill, level in skills.items():
        if not isinstance(skill, str) or not skill:
            raise ValueError(f"{what}: skill names must be non-empty strings, got {skill!r}")
        if isinstance(level, bool) or not isinstance(level, int) or level < 1:
            raise ValueError(f"{what}: level of skill {skill!r} must be an integer >= 1")
        pairs.append((skill, level))
    pairs.sort()
    return tuple(pairs)


def _frozen(skills: Mapping[str, int], what: str) -> Mapping[str, int]:
    return MappingProxyType(dict(_canonical(skills, what)))


def _finite(value: float, what: str) -> None:
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{what} must be a finite number, got {value!r}")


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """A queue: what its contacts require and how they age, overflow and close.

    ``skills`` are required of every agent serving the queue. ``aging_per_s`` is added to a
    contact's priority for each second waited. After ``overflow_after_s`` in this queue a
    contact moves to ``overflow_to``. When the queue is closed (the caller of
    :func:`arrival_decision` says so from the business calendar) new callers get
    ``after_hours``; with ``AfterHours.OVERFLOW`` they go to ``after_hours_queue``. A caller
    whose estimated wait exceeds ``callback_offer_s`` is offered a callback (W2).
    ``default_wait_s`` is the estimate used before anything has been measured.
    """

    queue_id: str
    skills: Mapping[str, int] = field(default_factory=dict)
    aging_per_s: float = 0.0
    overflow_after_s: float | None = None
    overflow_to: str | None = None
    after_hours: AfterHours = AfterHours.VOICEMAIL
    after_hours_queue: str | None = None
    callback_offer_s: float | None = None
    default_wait_s: float = 120.0

    def __post_init__(self) -> None:
        if not self.queue_id:
            raise ValueError("queue_id must not be empty")
        object.__setattr__(self, "skills", _frozen(self.skills, f"queue {self.queue_id}"))
        _finite(self.aging_per_s, "aging_per_s")
        if self.aging_per_s < 0:
            raise ValueError(f"queue {self.queue_id}: aging_per_s must be >= 0")
        if (self.overflow_after_s is None) != (self.overflow_to is None):
            raise ValueError(f"queue {self.queue_id}: overflow_after_s and overflow_to go together")
        if self.overflow_after_s is not None:
            _finite(self.overflow_after_s, "overflow_after_s")
            if self.overflow_after_s <= 0:
                raise ValueError(f"queue {self.queue_id}: overflow_after_s must be > 0")
        if self.overflow_to == self.queue_id:
            raise ValueError(f"queue {self.queue_id}: cannot overflow to itself")
        if (self.after_hours is AfterHours.OVERFLOW) != (self.after_hours_queue is not None):
            raise ValueError(
                f"queue {self.queue_id}: after_hours_queue is needed exactly when "
                "after_hours is 'overflow'"
            )
        if self.after_hours_queue == self.queue_id:
            raise ValueError(f"queue {self.queue_id}: after-hours target cannot be itself")
        if self.callback_offer_s is not None and not self.callback_offer_s > 0:
            raise ValueError(f"queue {self.queue_id}: callback_offer_s must be > 0")
        if not self.default_wait_s > 0:
            raise ValueError(f"queue {self.queue_id}: default_wait_s must be > 0")


@dataclass(frozen=True, slots=True)
class Agent:
    """An agent as the router sees it: skills with levels, state, and since when idle.

    ``idle_since`` is when the agent last became available (required while available);
    ``contact_id`` is the contact the agent is handling (busy or wrap-up). One contact at a time.
    """

    agent_id: str
    skills: Mapping[str, int] = field(default_factory=dict)
    state: AgentState = AgentState.OFFLINE
    idle_since: float | None = None
    contact_id: str | None = None

    def __post_init__(self) -> None:
        if not self.agent_id:
            raise ValueError("agent_id must not be empty")
        object.__setattr__(self, "skills", _frozen(self.skills, f"agent {self.agent_id}"))
        object.__setattr__(self, "state", AgentState(self.state))
        if self.state is AgentState.AVAILABLE and self.idle_since is None:
            raise ValueError(f"agent {self.agent_id}: an available agent needs idle_since")
        if self.idle_since is not None:
            _finite(self.idle_since, "idle_since")
        if self.contact_id is not None and self.state not in (
            AgentState.BUSY,
            AgentState.WRAP_UP,
        ):
            raise ValueError(
                f"agent {self.agent_id}: only a busy or wrap-up agent has a current contact"
            )


@dataclass(frozen=True, slots=True)
class WaitingContact:
    """A contact waiting in a queue.

    ``joined_at`` is when the caller first joined the line; a callback keeps it, so it keeps
    its place. ``skills`` are requirements of this contact beyond its queue's (a language, a
    product level); the engine serves it only by agents meeting both. ``queued_at`` is when it
    entered its current queue (overflow counts from there); it defaults to ``joined_at``.
    """

    contact_id: str
    queue: str
    joined_at: float
    priority: int = 0
    skills: Mapping[str, int] = field(default_factory=dict)
    kind: ContactKind = ContactKind.LIVE
    queued_at: float | None = None

    def __post_init__(self) -> None:
        if not self.contact_id:
            raise ValueError("contact_id must not be empty")
        if not self.queue:
            raise ValueError(f"contact {self.contact_id}: queue must not be empty")
        _finite(self.joined_at, "joined_at")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise ValueError(f"contact {self.contact_id}: priority must be an integer")
        object.__setattr__(self, "skills", _frozen(self.skills, f"contact {self.contact_id}"))
        object.__setattr__(self, "kind", ContactKind(self.kind))
        if self.queued_at is None:
            object.__setattr__(self, "queued_at", self.joined_at)
        else:
            _finite(self.queued_at, "queued_at")

    @property
    def entered_queue_at(self) -> float:
        """When the contact entered its current queue (``queued_at``, never ``None``)."""
        return self.joined_at if self.queued_at is None else self.queued_at


@dataclass(frozen=True, slots=True)
class Assignment:
    """A routing decision: ``contact_id`` is offered to ``agent_id``.

    The router persists it before acting on it; ``waited_s`` counts from ``joined_at`` (for a
    callback, from when the caller first joined).
    """

    contact_id: str
    agent_id: str
    queue: str
    decided_at: float
    reason: MatchReason
    kind: ContactKind
    waited_s: float


@dataclass(frozen=True, slots=True)
class Overflow:
    """A contact moved to another queue after waiting ``waited_s`` in ``from_queue``."""

    contact_id: str
    from_queue: str
    to_queue: str
    at: float
    waited_s: float


@dataclass(frozen=True, slots=True)
class EngineState:
    """Everything the engine needs to rebuild itself (from a snapshot or the database)."""

    queues: tuple[QueueConfig, ...]
    agents: tuple[Agent, ...]
    contacts: tuple[WaitingContact, ...]


@dataclass(frozen=True, slots=True)
class ArrivalDecision:
    """What to do with a new caller of ``queue``: ``action`` towards ``target_queue``."""

    action: ArrivalAction
    target_queue: str | None


# --- orderings ---------------------------------------------------------------------------


def merge_requirements(*parts: Mapping[str, int]) -> Requirements:
    """Join requirement maps, keeping the highest level asked for each skill."""
    merged: dict[str, int] = {}
    for part in parts:
        for skill, level in part.items():
            if level > merged.get(skill, 0):
                merged[skill] = level
    return tuple(sorted(merged.items()))


def qualifies(agent_skills: Mapping[str, int], requirements: Requirements) -> bool:
    """Whether an agent with ``agent_skills`` meets every ``(skill, min_level)``."""
    return all(agent_skills.get(skill, 0) >= level for skill, level in requirements)


def skill_score(agent_skills: Mapping[str, int], requirements: Requirements) -> int:
    """Sum of the agent's levels on the required skills (``BEST_SKILL`` policy)."""
    return sum(agent_skills.get(skill, 0) for skill, _ in requirements)


def order_key(contact: WaitingContact, aging_per_s: float) -> OrderKey:
    """The static order of a contact inside a queue that ages at ``aging_per_s``."""
    return (
        aging_per_s * contact.joined_at - contact.priority,
        contact.joined_at,
        contact.contact_id,
    )


def effective_priority(contact: WaitingContact, aging_per_s: float, now: float) -> float:
    """``priority + aging_per_s * (now - joined_at)``; higher is served first."""
    return contact.priority + aging_per_s * (now - contact.joined_at)


def rank_at(key: OrderKey, aging_per_s: float, now: float) -> OrderKey:
    """Rank of a contact with ``key`` at time ``now``, comparable across queues (smaller first).

    The first element is minus the effective priority at ``now``; inside one queue the ranks
    keep the order of the keys.
    """
    return (key[0] - aging_per_s * now, key[1], key[2])


def agent_key(
    policy: AgentPolicy, idle_since: float, score: int, agent_id: str
) -> tuple[float, float, str]:
    """Order of available agents for one requirement set (smaller is chosen first)."""
    if policy is AgentPolicy.BEST_SKILL:
        return (-float(score), idle_since, agent_id)
    return (idle_since, 0.0, agent_id)


# --- arrival and after-hours ------------------------------------------------------------


def arrival_decision(
    config: QueueConfig, *, is_open: bool, estimate_s: float | None = None
) -> ArrivalDecision:
    """What happens to a new caller of a queue (W2, W6).

    Closed: the queue's after-hours rule (voicemail, callback, or another queue). Open: the
    caller queues, and is offered a callback first when the estimated wait exceeds the queue's
    ``callback_offer_s``. Whoever acts on a voicemail or callback states a concrete time.
    """
    if not is_open:
        if config.after_hours is AfterHours.OVERFLOW:
            return ArrivalDecision(ArrivalAction.OVERFLOW, config.after_hours_queue)
        if config.after_hours is AfterHours.CALLBACK:
            return ArrivalDecision(ArrivalAction.CALLBACK, config.queue_id)
        return ArrivalDecision(ArrivalAction.VOICEMAIL, config.queue_id)
    if (
        config.callback_offer_s is not None
        and estimate_s is not None
        and estimate_s > config.callback_offer_s
    ):
        return ArrivalDecision(ArrivalAction.OFFER_CALLBACK, config.queue_id)
    return ArrivalDecision(ArrivalAction.QUEUE, config.queue_id)


# --- time ---------------------------------------------------------------------------------


def to_seconds(moment: datetime) -> float:
    """POSIX seconds of a timezone-aware datetime (the engine's time scale)."""
    if moment.tzinfo is None:
        raise ValueError("to_seconds needs a timezone-aware datetime")
    return moment.timestamp()


def from_seconds(seconds: float) -> datetime:
    """The UTC datetime of POSIX ``seconds``."""
    return datetime.fromtimestamp(seconds, tz=UTC)
