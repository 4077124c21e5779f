"""The life of a contact as data: its states, the moves between them and their guards (ADR 13).

A contact is born by ``arrive`` (a call, an email...) in ``ivr``, or by ``await_callback`` (the
contact of a callback) in ``callback_waiting``, out of line until its slot or its next attempt.
Every move writes exactly one row of the event log, named by :attr:`Move.row`; a move whose
target is ``None`` leaves the state as it is (a step inside it: an IVR choice, an estimate told).
:func:`escucha.contacts.service.transition` is the only writer of ``Contact.state`` and asks
:func:`check` before it writes anything; :func:`escucha.contacts.service.transition_many` writes
a move on many contacts in one compare-and-set statement with the same table (ADR 11)::

    (new) -arrive-> ivr -enqueue-> queued -offer-> offered -answer-> connected
    connected -hold-> on_hold -resume-> connected
    ivr -finish-> ended        queued -abandon-> abandoned -close-> abandoned
    ivr -hang_up-> abandoned   queued|ivr -take_callback-> callback -close-> callback
    offered -decline-> queued  connected|on_hold -end_call-> wrap_up -wrap_up-> ended
    connected|on_hold -transfer-> queued       connected -hand_over-> connected (a warm transfer)
    (new) -await_callback-> callback_waiting -enqueue-> queued
    offered -no_answer-> callback_waiting      offered -give_up-> ended
    queued|callback_waiting -cancel-> ended
    steps inside a state: ivr (choose, transfer_out), queued (tell_estimate, offer_callback,
    overflow), on_hold (consult, end_consult: the agent talks to another agent first)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from escucha.errors import Conflict, InvalidInput

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules


class State(StrEnum):
    IVR = "ivr"  # in the IVR (menus, a closed queue's offer, recording a message)
    CALLBACK_WAITING = "callback_waiting"  # a callback out of line until its slot or next try
    QUEUED = "queued"  # in line for an agent
    OFFERED = "offered"  # given to an agent, not yet answered
    CONNECTED = "connected"  # talking with the agent
    ON_HOLD = "on_hold"  # put on hold by the agent
    WRAP_UP = "wrap_up"  # the conversation is over; the agent writes the outcome
    ENDED = "ended"  # closed
    ABANDONED = "abandoned"  # the caller hung up before reaching an agent
    CALLBACK = "callback"  # the caller left the line with a callback that keeps their place


STATES = tuple(s.value for s in State)
#: States a contact does not leave (``close`` only writes the end of the call in the log).
FINAL = frozenset({State.ENDED, State.ABANDONED, State.CALLBACK})
#: States in which a contact waits in line or for an agent to pick it up.
WAITING = frozenset({State.QUEUED, State.OFFERED})


@dataclass(frozen=True)
class Facts:
    """What the guards read of a contact."""

    callback: bool  # the contact of a callback (channel ``callback``)
    has_agent: bool  # an agent holds it
    closed: bool  # its end is written (``ended_at``)


@dataclass(frozen=True)
class Move:
    """One kind of transition: from any of ``sources`` to ``target`` (``None``: stays)."""

    name: str
    sources: frozenset[State | None]  # None: a contact not yet born
    target: State | None
    row: str  # the event written to the log
    requires: Mapping[str, bool] = field(default_factory=dict)  # guard: Facts field -> value
    closes: bool = False  # the move ends the contact (``ended_at`` is set when still empty)

    def to(self, source: State | None) -> State:
        target = self.target if self.target is not None else source
        if target is None:  # pragma: no cover - a birth always names its state
            raise InvalidInput(f"move {self.name!r} names no state")
        return target


def _m(
    name: str,
    sources: tuple[State | None, ...],
    target: State | None,
    row: str,
    *,
    closes: bool = False,
    **requires: bool,
) -> Move:
    return Move(name, frozenset(sources), target, row, dict(requires), closes)


S = State
MOVES: Mapping[str, Move] = {
    m.name: m
    for m in (
        _m("arrive", (None,), S.IVR, "arrived", callback=False),
        _m("await_callback", (None,), S.CALLBACK_WAITING, "arrived", callback=True),
        _m("choose", (S.IVR,), None, "ivr_choice"),
        _m("transfer_out", (S.IVR,), None, "transferred"),
        _m("finish", (S.IVR,), S.ENDED, "ended", closes=True),
        _m("hang_up", (S.IVR,), S.ABANDONED, "ended", closes=True),
        _m("enqueue", (S.IVR, S.CALLBACK_WAITING, S.QUEUED), S.QUEUED, "queued"),
        _m("tell_estimate", (S.QUEUED,), None, "estimate_given"),
        _m("offer_callback", (S.QUEUED,), None, "callback_offered"),
        _m("overflow", (S.QUEUED,), None, "transferred"),
        _m("offer", (S.QUEUED,), S.OFFERED, "offered", has_agent=False),
        _m("decline", (S.OFFERED,), S.QUEUED, "declined", has_agent=True),
        _m("answer", (S.OFFERED,), S.CONNECTED, "answered", has_agent=True),
        _m("hold", (S.CONNECTED,), S.ON_HOLD, "hold_started"),
        _m("resume", (S.ON_HOLD,), S.CONNECTED, "hold_ended"),
        _m("transfer", (S.CONNECTED, S.ON_HOLD), S.QUEUED, "transferred"),
        _m("consult", (S.ON_HOLD,), None, "consult_started", has_agent=True),
        _m("end_consult", (S.ON_HOLD,), None, "consult_ended", has_agent=True),
        _m("hand_over", (S.CONNECTED,), None, "transferred", has_agent=True),
        _m("end_call", (S.CONNECTED, S.ON_HOLD), S.WRAP_UP, "ended"),
        _m("wrap_up", (S.WRAP_UP,), S.ENDED, "wrapped_up", closes=True),
        _m("abandon", (S.QUEUED, S.OFFERED), S.ABANDONED, "abandoned"),
        _m("take_callback", (S.QUEUED, S.IVR), S.CALLBACK, "callback_requested"),
        _m("close", (S.ABANDONED, S.CALLBACK), None, "ended", closes=True, closed=False),
        _m("no_answer", (S.OFFERED,), S.CALLBACK_WAITING, "ended", callback=True),
        _m("give_up", (S.OFFERED,), S.ENDED, "ended", closes=True, callback=True),
        _m("cancel", (S.QUEUED, S.CALLBACK_WAITING), S.ENDED, "ended", closes=True),
    )
}
#: Every event the log holds is written by a move.
ROWS = tuple(sorted({m.row for m in MOVES.values()}))


def move(name: str) -> Move:
    try:
        return MOVES[name]
    except KeyError:
        raise InvalidInput(f"contact move {name!r} is not one of {', '.join(MOVES)}") from None


def state_of(value: str | None) -> State | None:
    if value is None:
        return None
    try:
        return State(value)
    except ValueError:
        raise InvalidInput(f"contact state {value!r} is not one of {', '.join(STATES)}") from None


def allowed(name: str, source: State | None, facts: Facts) -> bool:
    """Whether the move ``name`` may happen to a contact in ``source`` with these facts."""
    m = move(name)
    return source in m.sources and all(getattr(facts, k) is v for k, v in m.requires.items())


def check(name: str, source: str | None, facts: Facts, *, contact: object = "new") -> State:
    """The state after ``name``, or :class:`Conflict` saying which contact, from where, and why."""
    m = move(name)
    here = state_of(source)
    if here not in m.sources:
        froms = ", ".join(s.value if s is not None else "new" for s in sorted_states(m.sources))
        raise Conflict(
            f"contact {contact} is {here.value if here else 'new'}: it cannot {name} "
            f"(only from {froms})"
        )
    for key, want in m.requires.items():
        if getattr(facts, key) is not want:
            raise Conflict(f"contact {contact} cannot {name}: it needs {key}={want}")
    return m.to(here)


def sorted_states(states: frozenset[State | None]) -> list[State | None]:
    return sorted(states, key=lambda s: STATES.index(s.value) if s is not None else -1)


def moves_from(source: State | None, facts: Facts) -> list[str]:
    """The moves a contact in ``source`` may make (for tests and documentation)."""
    return [name for name in MOVES if allowed(name, source, facts)]
