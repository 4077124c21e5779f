"""Call your own IVR (requirement C1): journeys for common tasks, and real paths from a log.

:func:`shortest_journey` drives the real runtime (:mod:`escucha.ivr.rules`) to find, for a
customer task such as "pagar una factura" -> queue ``billing``, the path with the fewest keys
(then the fewest seconds listened), the prompts heard on the way and how long they take.
:func:`analyse_paths` summarises the paths callers really took: the distribution, the share
who zero out to a person and the share who hang up inside the IVR.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from escucha.ivr.rules import (
    Durations,
    IvrModel,
    Keys,
    Step,
    advance,
    is_key,
    speech_seconds,
    split_path,
    start,
)

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules


@dataclass(frozen=True)
class Goal:
    """Where a task ends: a queue (or a callback for it), or a node."""

    queue: str | None = None
    node: str | None = None

    def reached(self, step: Step) -> bool:
        if self.queue is not None:
            return step.status in ("queue", "callback") and step.queue == self.queue
        return self.node is not None and self.node in step.state.path

    def __str__(self) -> str:
        return f"queue {self.queue}" if self.queue is not None else f"node {self.node}"


@dataclass(frozen=True)
class Task:
    """A customer task to try, e.g. ``{"es": "pagar una factura"}`` -> queue ``billing``."""

    name: Mapping[str, str]
    goal: Goal
    languages: tuple[str, ...] = ()  # empty: every language of the IVR
    is_open: bool = True
    caller_known: bool = False
    max_keys: int | None = None
    max_seconds: float | None = None

    def title(self, language: str) -> str:
        return self.name.get(language) or next(iter(self.name.values()), str(self.goal))


@dataclass(frozen=True)
class Heard:
    """One prompt heard on a journey and its length."""

    node: str
    kind: str
    text: str
    seconds: float


@dataclass(frozen=True)
class Journey:
    """The shortest way to do a task in one language, and whether it is short enough."""

    task: Task
    language: str
    found: bool
    keys: tuple[str, ...]
    path: str
    heard: tuple[Heard, ...]
    seconds: float
    max_keys: int
    max_seconds: float
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not self.problems


def _heard(model: IvrModel, step: Step, durations: Durations | None, goal: Goal) -> list[Heard]:
    """What the caller hears in ``step``; a journey to a node stops at that node."""
    out = []
    for u in step.say:
        out.append(
            Heard(u.node, u.kind, u.text, speech_seconds(model, u.language, u.text, durations)[0])
        )
        if goal.node is not None and u.node == goal.node and u.kind == "message":
            break
    return out


def _choices(step: Step, model: IvrModel) -> list[str]:
    node = model.nodes[step.state.node]
    keys = [o.key for o in node.options]
    if node.agent_key is not None and node.agent_goto is not None:
        keys.append(node.agent_key)
    return keys


def shortest_journey(
    model: IvrModel,
    task: Task,
    language: str,
    *,
    max_keys: int = 3,
    max_seconds: float = 60.0,
    durations: Durations | None = None,
) -> Journey:
    """The path with the fewest keys, then the fewest seconds, that completes ``task``.

    Seconds count every prompt heard in full (a first-time caller listens to the whole menu),
    measured from audio when ``durations`` has the text, otherwise estimated.
    """
    limit_keys = task.max_keys if task.max_keys is not None else max_keys
    limit_s = task.max_seconds if task.max_seconds is not None else max_seconds
    first = start(model, language=language, caller_known=task.caller_known, is_open=task.is_open)
    counter = itertools.count()
    heap: list[tuple[int, float, int, Step, tuple[str, ...], tuple[Heard, ...]]] = []
    heard0 = tuple(_heard(model, first, durations, task.goal))
    heapq.heappush(heap, (0, sum(h.seconds for h in heard0), next(counter), first, (), heard0))
    settled: set[tuple[str, str]] = set()
    while heap:
        n_keys, seconds, _, step, keys, heard = heapq.heappop(heap)
        if task.goal.reached(step):
            problems = []
            if n_keys > limit_keys:
                problems.append(f"{n_keys} keys > {limit_keys}")
            if seconds > limit_s:
                problems.append(f"{seconds:.1f} s > {limit_s:g} s")
            return Journey(
                task, language, True, keys, step.path_text, heard, seconds, limit_keys, limit_s,
                tuple(problems),
            )  # fmt: skip
        if step.status != "menu":
            continue
        where = (step.state.node, step.state.language)
        if where in settled:
            continue
        settled.add(where)
        for key in _choices(step, model):
            nxt = advance(model, step, Keys(key), is_open=task.is_open)
            more = tuple(_heard(model, nxt, durations, task.goal))
            heapq.heappush(
                heap,
                (
                    n_keys + 1,
                    seconds + sum(h.seconds for h in more),
                    next(counter),
                    nxt,
                    (*keys, key),
                    heard + more,
                ),
            )
    return Journey(
        task, language, False, (), "", (), 0.0, limit_keys, limit_s,
        (f"{task.goal} cannot be reached",),
    )  # fmt: skip


def run_tasks(
    model: IvrModel,
    tasks: Iterable[Task],
    *,
    max_keys: int = 3,
    max_seconds: float = 60.0,
    durations: Durations | None = None,
) -> list[Journey]:
    """:func:`shortest_journey` for every task in each of its languages."""
    out = []
    for task in tasks:
        for language in task.languages or model.languages:
            out.append(
                shortest_journey(
                    model,
                    task,
                    language,
                    max_keys=max_keys,
                    max_seconds=max_seconds,
                    durations=durations,
                )
            )
    return out


# --------------------------------------------------------------------------------------------
# Real paths from a call log
# --------------------------------------------------------------------------------------------

#: Outcomes that mean the caller hung up (or was cut off) inside the IVR.
DEFAULT_AGENT_KEY = "0"

HUNG_UP_OUTCOMES: frozenset[str] = frozenset(
    {"hangup_in_ivr", "hangup", "hung_up", "abandoned", "abandoned_in_ivr", "ended"}
)


@dataclass(frozen=True)
class PathCount:
    """How many calls took ``path`` (``main>1>billing``) and ended with ``outcome``."""

    path: str
    outcome: str
    calls: int


@dataclass(frozen=True)
class PathShare:
    path: str
    calls: int
    share: float
    zero_out: bool


@dataclass(frozen=True)
class CallLogReport:
    """What callers really did in the IVR."""

    calls: int
    paths: tuple[PathShare, ...]
    outcomes: Mapping[str, int]
    zero_out_calls: int
    hung_up_calls: int

    @property
    def zero_out_share(self) -> float:
        return self.zero_out_calls / self.calls if self.calls else 0.0

    @property
    def hung_up_share(self) -> float:
        return self.hung_up_calls / self.calls if self.calls else 0.0


def zeroed_out(model: IvrModel | None, path: str) -> bool:
    """Whether a path pressed a menu's agent key (``0`` when no model is given)."""
    node: str | None = None
    for part in split_path(path):
        if not is_key(part):
            node = part
            continue
        if model is None or node is None or node not in model.nodes:
            if part == DEFAULT_AGENT_KEY:
                return True
            continue
        menu = model.nodes[node]
        if menu.agent_goto is not None and part == menu.agent_key:
            return True
    return False


def analyse_paths(
    model: IvrModel | None, rows: Iterable[PathCount], *, top: int = 20
) -> CallLogReport:
    """Path distribution (most common first), zero-out share and hang-up-in-IVR share."""
    by_path: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    zero = hung = total = 0
    for row in rows:
        total += row.calls
        by_path[row.path] += row.calls
        outcomes[row.outcome] += row.calls
        if zeroed_out(model, row.path):
            zero += row.calls
        if row.outcome in HUNG_UP_OUTCOMES:
            hung += row.calls
    shares = tuple(
        PathShare(path, calls, calls / total if total else 0.0, zeroed_out(model, path))
        for path, calls in sorted(by_path.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    )
    return CallLogReport(total, shares, dict(outcomes), zero, hung)
