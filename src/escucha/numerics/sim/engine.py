"""Event-driven contact-centre simulator: several queues, skill groups, shifts, breaks, callbacks.

The model (W2, C6)
------------------
* Each **queue** has Poisson arrivals (constant or one rate per interval), a handle-time
  distribution, an optional patience distribution and an optional **callback** policy: when the
  estimated wait on arrival is above a threshold the caller is offered a callback, and a share of
  them accept. A callback keeps the caller's place in line: it stays in the queue at its arrival
  position, never hangs up, and is served (called back) when its turn comes.
* Each **agent group** has skills (queue names, in the order its agents prefer them) and agents
  that are present all the time (``count``) or follow **shifts** with **breaks**. A break or the
  end of a shift starts when the agent finishes the call in hand; a break lasts its full length.
* Routing: a new call goes to the eligible agent who has been idle longest; a freed agent takes
  the oldest call of its first skill with calls waiting (first come, first served per queue).
* The estimated wait offered to callers is ``(waiting ahead + 1) x mean handle time / agents on
  duty with the skill`` (the classic queue-length predictor).

Events are kept in one binary heap; arrivals are generated in advance, merged in time order and
read sequentially. Abandonments are events; a call answered before its patience ran out leaves
a stale event that is ignored.

Reference: A. M. Law, *Simulation Modeling and Analysis* (5th ed.), ch. 1-2 (next-event
time advance).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from escucha.numerics.sim.arrivals import arrival_times
from escucha.numerics.sim.distributions import Distribution
from escucha.numerics.sim.log import CallLog

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = ["AgentGroup", "CallbackPolicy", "Model", "QueueSpec", "Shift", "simulate"]


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    """Offer a callback when the estimated wait exceeds ``offer_above_s``.

    ``accept_share`` of the callers offered one accept it.
    """

    offer_above_s: float
    accept_share: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.offer_above_s) and self.offer_above_s >= 0.0):
            raise ValueError("offer_above_s must be finite and >= 0")
        if not 0.0 <= self.accept_share <= 1.0:
            raise ValueError("accept_share must be in [0, 1]")


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """One queue: arrivals, handle time, patience and callback policy."""

    name: str
    arrivals_per_h: float | tuple[float, ...]
    service: Distribution
    patience: Distribution | None = None
    callback: CallbackPolicy | None = None


@dataclass(frozen=True, slots=True)
class Shift:
    """One agent's working time, in seconds from the start, with ``(start_s, length_s)`` breaks."""

    start_s: float
    end_s: float
    breaks: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        if not (0.0 <= self.start_s < self.end_s):
            raise ValueError("a shift needs 0 <= start_s < end_s")
        for start, length in self.breaks:
            if not (self.start_s <= start < self.end_s and length > 0.0):
                raise ValueError("breaks must start inside the shift and last > 0 s")


@dataclass(frozen=True, slots=True)
class AgentGroup:
    """Agents with the same skills: ``count`` present throughout, plus one agent per shift."""

    name: str
    skills: tuple[str, ...]
    count: int = 0
    shifts: tuple[Shift, ...] = ()

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError("count must be >= 0")
        if not self.skills:
            raise ValueError("an agent group needs at least one skill")


@dataclass(frozen=True, slots=True)
class Model:
    """Queues, agent groups and the length of the arrival-rate intervals."""

    queues: tuple[QueueSpec, ...]
    groups: tuple[AgentGroup, ...]
    interval_s: float = 1800.0

    def __post_init__(self) -> None:
        names = [q.name for q in self.queues]
        if not names or len(set(names)) != len(names):
            raise ValueError("queues need distinct names")
        unknown = {s for g in self.groups for s in g.skills} - set(names)
        if unknown:
            raise ValueError(f"agent skills name unknown queues: {sorted(unknown)}")


# Agent states and event kinds.
_OFF, _IDLE, _BUSY, _BREAK = 0, 1, 2, 3
_END, _ABANDON, _SHIFT_START, _SHIFT_END, _BREAK_START, _BREAK_END = range(6)
_WAITING, _DONE = 0, 1


def simulate(model: Model, *, rng: np.random.Generator, horizon_s: float) -> CallLog:
    """Run the model for the calls arriving in ``[0, horizon_s)``, to the end of the last call.

    Parameters
    ----------
    model : queues and agent groups
    rng : the random generator (the only source of randomness)
    horizon_s : arrivals stop at this time; calls in progress finish after it

    Returns
    -------
    CallLog
        Calls still waiting when no agent will ever come back are neither answered nor
        abandoned; their ``wait_s`` runs to the time of the last event.
    """
    if not (math.isfinite(horizon_s) and horizon_s >= 0.0):
        raise ValueError("horizon_s must be finite and >= 0")
    queues = model.queues
    qn = len(queues)
    qindex = {q.name: i for i, q in enumerate(queues)}

    # --- calls: arrivals of all queues merged in time order, attributes drawn up front.
    times_parts, q_parts, svc_parts, pat_parts, accept_parts = [], [], [], [], []
    for i, spec in enumerate(queues):
        rate = spec.arrivals_per_h
        t = arrival_times(
            rng,
            rate if isinstance(rate, (int, float)) else list(rate),
            interval_s=model.interval_s,
            horizon_s=horizon_s,
        )
        times_parts.append(t)
        q_parts.append(np.full(t.size, i, dtype=np.int32))
        svc_parts.append(spec.service.sample(rng, t.size))
        pat_parts.append(
            np.full(t.size, np.inf) if spec.patience is None else spec.patience.sample(rng, t.size)
        )
        accept_parts.append(rng.random(t.size))
    arrival = np.concatenate(times_parts)
    order = np.argsort(arrival, kind="stable")
    arrival = arrival[order]
    call_queue = np.concatenate(q_parts)[order]
    service = np.concatenate(svc_parts)[order]
    patience = np.concatenate(pat_parts)[order]
    accept_draw = np.concatenate(accept_parts)[order]
    size = arrival.size

    # --- agents.
    agent_names: list[str] = []
    agent_group: list[int] = []
    events: list[tuple[float, int, int, int, float]] = []
    seq = 0
    always: list[int] = []
    for g, group in enumerate(model.groups):
        for k in range(group.count):
            agent_names.append(f"{group.name}-{k + 1}")
            agent_group.append(g)
            always.append(len(agent_names) - 1)
        for k, shift in enumerate(group.shifts):
            a = len(agent_names)
            agent_names.append(f"{group.name}-shift-{k + 1}")
            agent_group.append(g)
            events.append((shift.start_s, seq, _SHIFT_START, a, 0.0))
            events.append((shift.end_s, seq + 1, _SHIFT_END, a, 0.0))
            seq += 2
            for break_at, length in shift.breaks:
                events.append((break_at, seq, _BREAK_START, a, length))
                seq += 1
    heapq.heapify(events)
    n_agents = len(agent_names)
    state = [_OFF] * n_agents
    pending = [0.0] * n_agents  # length of a break waiting for the call in hand to end
    going_off = [False] * n_agents
    token = [0] * n_agents
    idle_since = [0.0] * n_agents
    current = [-1] * n_agents
    group_skills = [tuple(qindex[s] for s in g.skills) for g in model.groups]
    groups_for_queue: list[list[int]] = [[] for _ in range(qn)]
    for g, skills in enumerate(group_skills):
        for qi in skills:
            groups_for_queue[qi].append(g)
    idle: list[deque[tuple[int, int]]] = [deque() for _ in model.groups]
    on_duty = [0] * len(model.groups)
    mean_service = [spec.service.mean_s for spec in queues]
    callback_policy = [spec.callback for spec in queues]

    # --- per-call results.
    status = bytearray(size)
    wait = np.zeros(size)
    answered = np.zeros(size, dtype=np.bool_)
    abandoned = np.zeros(size, dtype=np.bool_)
    callback = np.zeros(size, dtype=np.bool_)
    agent_of = np.full(size, -1, dtype=np.int32)
    waiting: list[deque[int]] = [deque() for _ in range(qn)]
    live = [0] * qn

    arr_l = arrival.tolist()
    svc_l = service.tolist()
    pat_l = patience.tolist()
    q_l = call_queue.tolist()
    push, pop = heapq.heappush, heapq.heappop

    def serve(a: int, c: int, now: float) -> None:
        nonlocal seq
        state[a] = _BUSY
        current[a] = c
        status[c] = _DONE
        answered[c] = True
        agent_of[c] = a
        wait[c] = now - arr_l[c]
        push(events, (now + svc_l[c], seq, _END, a, 0.0))
        seq += 1

    def free(a: int, now: float) -> None:
        """Agent ``a`` is ready: take the oldest call of its first skill with calls waiting."""
        g = agent_group[a]
        for qi in group_skills[g]:
            line = waiting[qi]
            while line:
                c = line.popleft()
                if status[c] == _WAITING:
                    live[qi] -= 1
                    serve(a, c, now)
                    return
        state[a] = _IDLE
        idle_since[a] = now
        token[a] += 1
        idle[g].append((a, token[a]))

    def begin_break(a: int, now: float) -> None:
        nonlocal seq
        state[a] = _BREAK
        on_duty[agent_group[a]] -= 1
        push(events, (now + pending[a], seq, _BREAK_END, a, 0.0))
        seq += 1
        pending[a] = 0.0

    def take_idle(qi: int) -> int:
        """The eligible agent idle longest, removed from its idle line; -1 if none."""
        best_g, best_t = -1, math.inf
        for g in groups_for_queue[qi]:
            line = idle[g]
            while line and (state[line[0][0]] != _IDLE or token[line[0][0]] != line[0][1]):
                line.popleft()
            if line and idle_since[line[0][0]] < best_t:
                best_g, best_t = g, idle_since[line[0][0]]
        if best_g < 0:
            return -1
        return idle[best_g].popleft()[0]

    for a in always:
        on_duty[agent_group[a]] += 1
        free(a, 0.0)

    nxt = 0
    now = 0.0
    while nxt < size or events:
        if nxt < size and (not events or arr_l[nxt] <= events[0][0]):
            c = nxt
            nxt += 1
            now = arr_l[c]
            qi = q_l[c]
            a = take_idle(qi)
            if a >= 0:
                serve(a, c, now)
                continue
            policy = callback_policy[qi]
            if policy is not None:
                staff = sum(on_duty[g] for g in groups_for_queue[qi])
                estimate = (live[qi] + 1) * mean_service[qi] / max(staff, 1)
                if estimate > policy.offer_above_s and accept_draw[c] < policy.accept_share:
                    callback[c] = True
            waiting[qi].append(c)
            live[qi] += 1
            if not callback[c] and pat_l[c] != math.inf:
                push(events, (now + pat_l[c], seq, _ABANDON, c, 0.0))
                seq += 1
            continue
        now, _, kind, who, length = pop(events)
        if kind == _END:
            current[who] = -1
            if going_off[who]:
                going_off[who] = False
                state[who] = _OFF
                on_duty[agent_group[who]] -= 1
            elif pending[who] > 0.0:
                begin_break(who, now)
            else:
                free(who, now)
        elif kind == _ABANDON:
            if status[who] == _WAITING:
                status[who] = _DONE
                abandoned[who] = True
                wait[who] = pat_l[who]
                live[q_l[who]] -= 1
        elif kind == _SHIFT_START:
            on_duty[agent_group[who]] += 1
            free(who, now)
        elif kind == _SHIFT_END:
            if state[who] == _BUSY:
                going_off[who] = True
                pending[who] = 0.0
            elif state[who] == _IDLE:
                state[who] = _OFF
                on_duty[agent_group[who]] -= 1
            else:  # on a break: leave when it ends
                going_off[who] = True
        elif kind == _BREAK_START:
            if state[who] == _BUSY and not going_off[who]:
                pending[who] = length
            elif state[who] == _IDLE:
                pending[who] = length
                begin_break(who, now)
        else:  # _BREAK_END
            if going_off[who]:
                going_off[who] = False
                state[who] = _OFF
            else:
                on_duty[agent_group[who]] += 1
                free(who, now)

    for qi in range(qn):
        for c in waiting[qi]:
            if status[c] == _WAITING:
                wait[c] = max(0.0, now - arr_l[c])
    return CallLog(
        queue_names=tuple(q.name for q in queues),
        agent_names=tuple(agent_names),
        call_id=np.arange(size, dtype=np.int64),
        queue=call_queue,
        arrival_s=arrival,
        wait_s=wait,
        abandoned=abandoned,
        answered=answered,
        service_s=np.where(answered, service, 0.0),
        agent=agent_of,
        callback=callback,
    )
