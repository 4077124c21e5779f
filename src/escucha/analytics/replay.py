"""Replay a call log through the wait predictors (W1): what each would have announced, and
what followed.

The log is replayed in time order. At each caller's arrival in a queue every predictor gives
the wait it would have announced, from what was known at that instant only:

* the callers ahead (those of the same queue who arrived earlier and had not yet left the
  line; first come, first served);
* the agents on duty: from the log's agent states when it has them (logged in and not
  paused, among the agents seen serving the queue before), else inferred from the calls: the
  agents who reached a caller of the queue in the last ``staffing_window_s`` seconds, plus
  those still talking to one;
* handling times, patience, the last waits and the safety margin, measured on the calls that
  had ended before that instant (:class:`~escucha.routing.estimate.QueueMeter`, the same
  class the live system fills from its contact table).

Predictors
----------
``escucha``
    Exactly what the live system tells a caller (``escucha.routing.service.tell_estimate``):
    :func:`~escucha.routing.estimate.estimate_wait` (queue length with abandonment, then its
    fallbacks), floored at the queue's default per caller when nobody is on duty, and the
    conservative bound of :func:`~escucha.routing.estimate.announce_bound` with the margin
    measured on this queue's past errors (:meth:`~escucha.routing.estimate.EstimateError.margin`).
``queue_length_no_abandon``
    The textbook queue-length predictor ``(n + 1) / (s * mu)``: no abandonment, nothing
    mixed in; with escucha's fallbacks until a handling time is measured.
``les``
    The wait of the last caller of the queue who had to wait and reached an agent.
``hol``
    How long the caller at the head of the line has waited; with nobody ahead, the last
    delay seen (LES), as a head-of-line system has no head to read then.
``asterisk_ema``
    Asterisk's per-queue hold time (``app_queue.c``, ``recalc_holdtime``): after every answered
    call of the queue, ``holdtime = (3 * holdtime + wait) / 4`` in whole seconds, rounded down;
    it starts at 0.

A predictor with nothing measured yet gives the queue's default wait, as escucha does.

Who is scored
-------------
Callers who joined a queue and were not answered at once (``wait_s > answered_at_once_s``):
those are the callers who hear an estimate. Callers who reached an agent are scored on the
error of each estimate; callers who hung up are censored (their wait would have been longer):
they are not in the errors, and count only for whether they had waited less than the bound
when they left. Callers who left otherwise (a queue timeout, a callback) are not scored.
Callers who arrive within ``warmup_s`` of the start of the log are not scored either (nothing
is known yet), but they are replayed.

Pure: standard library and :mod:`escucha.routing.estimate`; nothing reads the clock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from escucha.routing import estimate as est

__all__ = [
    "PREDICTORS",
    "AgentSpell",
    "ReplayCall",
    "ReplayOptions",
    "ReplayResult",
    "Score",
    "ScoredCaller",
    "replay",
]

PREDICTORS: tuple[str, ...] = (
    "escucha",
    "asterisk_ema",
    "hol",
    "les",
    "queue_length_no_abandon",
)
"""The predictors compared, in the order of the JSON document."""


@dataclass(frozen=True, slots=True)
class ReplayCall:
    """One call of the log, as the call-record table has it.

    ``arrived_s`` is when the caller joined the queue (Unix seconds); ``talk_s`` is from the
    answer to the end of the conversation (holds included); ``wrap_s`` the agent's wrap-up.
    """

    call_id: str
    queue: str
    arrived_s: float
    queued: bool
    wait_s: float
    answered: bool
    abandoned: bool
    talk_s: float = 0.0
    wrap_s: float = 0.0
    agent: str | None = None

    def __post_init__(self) -> None:
        for name in ("arrived_s", "wait_s", "talk_s", "wrap_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or (name != "arrived_s" and value < 0):
                raise ValueError(f"call {self.call_id}: {name} must be a finite number >= 0")


@dataclass(frozen=True, slots=True)
class AgentSpell:
    """An agent logged in and not paused from ``start_s`` to ``end_s`` (from the log)."""

    agent: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """How the replay infers what the log does not say.

    Attributes
    ----------
    staffing_window_s:
        Without agent states, an agent is on duty for a queue when they reached one of its
        callers within this many seconds (or are still talking to one).
    answered_at_once_s:
        A caller answered within this many seconds was connected at once and heard no
        estimate; they are replayed but not scored.
    warmup_s:
        Callers arriving this soon after the first call of the log are not scored.
    default_wait_s:
        The queue's default wait (``Queue.default_wait_s`` in the live system).
    meter_window:
        Calls the live system measures rates on (:class:`~escucha.routing.estimate.QueueMeter`).
    margin_window:
        Past estimates the live system measures its safety margin on.
    """

    staffing_window_s: float = 1800.0
    answered_at_once_s: float = 0.0
    warmup_s: float = 3600.0
    default_wait_s: float = 120.0
    meter_window: int = 500
    margin_window: int = 500

    def __post_init__(self) -> None:
        for name in ("staffing_window_s", "answered_at_once_s", "warmup_s"):
            value = getattr(self, name)
            if not value >= 0 or math.isinf(value):
                raise ValueError(f"{name} must be a finite number >= 0")
        if not self.default_wait_s > 0:
            raise ValueError("default_wait_s must be > 0")
        if self.meter_window < 1 or self.margin_window < 1:
            raise ValueError("meter_window and margin_window must be >= 1")


@dataclass(frozen=True, slots=True)
class ScoredCaller:
    """One scored caller: what each predictor said, the bound told, and what followed."""

    call_id: str
    queue: str
    arrived_s: float
    wait_s: float
    served: bool
    estimates: dict[str, float]
    bound_s: float
    chooser: str


@dataclass(frozen=True, slots=True)
class Score:
    """One predictor over a set of callers.

    ``callers`` reached an agent and are in the errors; ``mae_s``, ``within_25pct`` (share
    with ``|estimate - wait| <= 0.25 * wait``) and ``bias_s`` (mean of ``estimate - wait``,
    negative when callers waited longer than told) are ``None`` without any.
    """

    callers: int
    mae_s: float | None
    within_25pct: float | None
    bias_s: float | None


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """Scores of every predictor over the callers of a replay (see the module docstring)."""

    callers: int
    served: int
    abandoned: int
    scores: dict[str, Score]
    bound_kept: float | None
    abandoned_within_bound: float | None
    mean_wait_s: float | None
    chooser_share: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document: ``{"callers": N, "predictors": {name: {...}}}``."""
        predictors: dict[str, dict[str, float | None]] = {}
        for name in PREDICTORS:
            s = self.scores[name]
            row: dict[str, float | None] = {
                "mae_s": _round(s.mae_s, 2),
                "within_25pct": _round(s.within_25pct, 4),
                "bias_s": _round(s.bias_s, 2),
            }
            if name == "escucha":
                row["bound_kept"] = _round(self.bound_kept, 4)
            predictors[name] = row
        return {"callers": self.callers, "predictors": predictors}


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def score(callers: Iterable[ScoredCaller]) -> ReplayResult:
    """Scores of a set of replayed callers (all of them, or one queue's, or one week's)."""
    errors = {name: est.EstimateError() for name in PREDICTORS}
    n = served = abandoned = kept = left_in_time = 0
    wait_sum = 0.0
    chooser: dict[str, int] = {}
    for c in callers:
        n += 1
        chooser[c.chooser] = chooser.get(c.chooser, 0) + 1
        if c.served:
            served += 1
            wait_sum += c.wait_s
            kept += c.wait_s <= c.bound_s
            for name in PREDICTORS:
                errors[name].add(c.estimates[name], c.wait_s)
        else:
            abandoned += 1
            left_in_time += c.wait_s < c.bound_s
    scores = {name: Score(e.count, e.mae_s, e.within_25, e.bias_s) for name, e in errors.items()}
    return ReplayResult(
        callers=n,
        served=served,
        abandoned=abandoned,
        scores=scores,
        bound_kept=kept / served if served else None,
        abandoned_within_bound=left_in_time / abandoned if abandoned else None,
        mean_wait_s=wait_sum / served if served else None,
        chooser_share={k: v / n for k, v in sorted(chooser.items())} if n else {},
    )


def group_scores(
    callers: Sequence[ScoredCaller], key: Callable[[ScoredCaller], str]
) -> dict[str, ReplayResult]:
    """Scores per group (``key`` of each caller), groups in sorted order."""
    groups: dict[str, list[ScoredCaller]] = {}
    for c in callers:
        groups.setdefault(key(c), []).append(c)
    return {k: score(groups[k]) for k in sorted(groups)}


def week_of(zone: tzinfo = UTC) -> Callable[[ScoredCaller], str]:
    """Group key: the ISO week of the caller's arrival in ``zone`` (``2026-W49``)."""

    def key(c: ScoredCaller) -> str:
        year, week, _ = datetime.fromtimestamp(c.arrived_s, tz=zone).isocalendar()
        return f"{year}-W{week:02d}"

    return key


# --- the replay ----------------------------------------------------------------------------

# Event kinds, in the order they are taken at the same instant: what ended before a caller
# arrives is known to the estimate given to that caller.
_FREE = 0  # an agent finished wrap-up
_END = 1  # a conversation ended: one more handling time measured
_LEAVE = 2  # a caller left the line (answered, hung up, or otherwise)
_SPELL_END = 3  # an agent logged off or paused
_SPELL_START = 4  # an agent logged in or came back from a pause
_ARRIVE = 5  # a caller joined the line
_LEAVE_AT_ONCE = 6  # a caller who left the line the instant they joined
_FREE_AT_ONCE = 7  # an agent freed by a call of no length, after it was answered


@dataclass
class _Queue:
    meter: est.QueueMeter
    errors: est.EstimateError
    waiting: dict[int, float] = field(default_factory=dict)  # index -> arrival, in order
    asterisk_s: int = 0
    les_waited_s: float | None = None
    answers: deque[tuple[float, str]] = field(default_factory=deque)
    talking: dict[str, int] = field(default_factory=dict)
    members: set[str] = field(default_factory=set)


class _Replay:
    def __init__(
        self,
        calls: Sequence[ReplayCall],
        options: ReplayOptions,
        spells: Sequence[AgentSpell],
    ) -> None:
        self.calls = calls
        self.o = options
        self.queues: dict[str, _Queue] = {}
        self.on_duty: dict[str, int] = {}  # agent -> open spells
        self.has_spells = bool(spells)
        self.pending: dict[int, tuple[dict[str, float], float, str]] = {}
        self.scored: list[ScoredCaller] = []
        self.events: list[tuple[float, int, int, int]] = []
        self.spells = spells

    def queue(self, name: str) -> _Queue:
        q = self.queues.get(name)
        if q is None:
            q = _Queue(
                meter=est.QueueMeter(window=self.o.meter_window),
                errors=est.EstimateError(window=self.o.margin_window),
            )
            self.queues[name] = q
        return q

    def build(self) -> None:
        seq = 0
        push = self.events.append
        for i, c in enumerate(self.calls):
            leave = c.arrived_s + c.wait_s
            if c.queued:
                push((c.arrived_s, _ARRIVE, seq, i))
                seq += 1
                push((leave, _LEAVE if c.wait_s > 0 else _LEAVE_AT_ONCE, seq, i))
                seq += 1
            elif c.answered:
                push((leave, _LEAVE_AT_ONCE, seq, i))
                seq += 1
            if c.answered:
                push((leave + c.talk_s, _END, seq, i))
                seq += 1
                busy = c.talk_s + c.wrap_s
                push((leave + busy, _FREE if busy > 0 else _FREE_AT_ONCE, seq, i))
                seq += 1
        for k, s in enumerate(self.spells):
            if s.end_s > s.start_s:
                push((s.start_s, _SPELL_START, seq, k))
                push((s.end_s, _SPELL_END, seq + 1, k))
                seq += 2
        self.events.sort()

    def run(self) -> list[ScoredCaller]:
        self.build()
        start = self.events[0][0] if self.events else 0.0
        scored_from = start + self.o.warmup_s
        for t, kind, _, i in self.events:
            if kind == _ARRIVE:
                self.arrive(t, i, score=t >= scored_from)
            elif kind in (_LEAVE, _LEAVE_AT_ONCE):
                self.leave(t, i)
            elif kind == _END:
                c = self.calls[i]
                self.queue(c.queue).meter.record_service(c.talk_s)
            elif kind in (_FREE, _FREE_AT_ONCE):
                c = self.calls[i]
                if c.agent is not None:
                    q = self.queue(c.queue)
                    left = q.talking.get(c.agent, 0) - 1
                    if left > 0:
                        q.talking[c.agent] = left
                    else:
                        q.talking.pop(c.agent, None)
            elif kind == _SPELL_START:
                a = self.spells[i].agent
                self.on_duty[a] = self.on_duty.get(a, 0) + 1
            elif kind == _SPELL_END:
                a = self.spells[i].agent
                self.on_duty[a] = self.on_duty.get(a, 0) - 1
        return self.scored

    def staffed(self, q: _Queue, t: float) -> int:
        if self.has_spells:
            on = sum(1 for a in q.members if self.on_duty.get(a, 0) > 0)
            if on:
                return on
        horizon = t - self.o.staffing_window_s
        while q.answers and q.answers[0][0] < horizon:
            q.answers.popleft()
        seen = {a for _, a in q.answers}
        seen.update(q.talking)
        return len(seen)

    def arrive(self, t: float, i: int, *, score: bool) -> None:
        c = self.calls[i]
        q = self.queue(c.queue)
        ahead = len(q.waiting)
        if score and c.wait_s > self.o.answered_at_once_s and (c.answered or c.abandoned):
            self.pending[i] = self.predict(q, t, ahead)
        q.waiting[i] = t

    def predict(self, q: _Queue, t: float, ahead: int) -> tuple[dict[str, float], float, str]:
        o = self.o
        default = o.default_wait_s
        staffed = self.staffed(q, t)
        hol = t - next(iter(q.waiting.values())) if q.waiting else None
        meter = q.meter
        inputs = est.WaitInputs(
            callers_ahead=ahead,
            agents_staffed=staffed,
            queue_length=ahead + 1,
            mean_service_s=meter.mean_service_s,
            mean_patience_s=meter.mean_patience_s,
            les_wait_s=meter.les_wait_s,
            hol_wait_s=hol,
            default_s=default,
        )
        guess = est.estimate_wait(inputs)
        escucha = guess.estimate_s
        if staffed == 0:
            escucha = max(escucha, default * (ahead + 1))
        bound = est.announce_bound(escucha, callers_ahead=ahead, margin=q.errors.margin()).bound_s
        if guess.predictor is est.Predictor.QUEUE_LENGTH and meter.mean_service_s is not None:
            no_abandon = est.queue_length_predictor(ahead, staffed, meter.mean_service_s)
        else:
            no_abandon = guess.estimate_s
        if staffed == 0:
            no_abandon = max(no_abandon, default * (ahead + 1))
        les = q.les_waited_s
        les_value = default if les is None else est.les_predictor(les, ahead + 1, ahead + 1)
        if hol is not None and ahead >= 1:
            hol_value = est.hol_predictor(hol, ahead + 1, ahead + 1)
        else:
            hol_value = les_value
        estimates = {
            "escucha": escucha,
            "asterisk_ema": float(q.asterisk_s),
            "hol": hol_value,
            "les": les_value,
            "queue_length_no_abandon": no_abandon,
        }
        return estimates, bound, guess.predictor.value

    def leave(self, t: float, i: int) -> None:
        c = self.calls[i]
        q = self.queue(c.queue)
        q.waiting.pop(i, None)
        wait = c.wait_s if c.queued else 0.0
        if c.answered:
            q.meter.record_exit(wait, abandoned=False)
            # Asterisk: whole seconds, (3 * old + new) >> 2
            q.asterisk_s = (3 * q.asterisk_s + int(wait)) >> 2
            if c.queued and wait > self.o.answered_at_once_s:
                q.les_waited_s = wait
            if c.agent is not None:
                q.answers.append((t, c.agent))
                q.talking[c.agent] = q.talking.get(c.agent, 0) + 1
                q.members.add(c.agent)
        elif c.abandoned:
            q.meter.record_exit(wait, abandoned=True)
        told = self.pending.pop(i, None)
        if told is None:
            return
        estimates, bound, chooser = told
        if c.answered:
            q.errors.add(estimates["escucha"], wait)
        self.scored.append(
            ScoredCaller(
                call_id=c.call_id,
                queue=c.queue,
                arrived_s=c.arrived_s,
                wait_s=wait,
                served=c.answered,
                estimates=estimates,
                bound_s=bound,
                chooser=chooser,
            )
        )


def replay(
    calls: Sequence[ReplayCall],
    options: ReplayOptions | None = None,
    spells: Sequence[AgentSpell] = (),
) -> list[ScoredCaller]:
    """Replay ``calls`` (any order) and return the scored callers in the order they left."""
    return _Replay(calls, options or ReplayOptions(), spells).run()
