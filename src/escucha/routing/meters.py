"""A queue's measured rates kept in step with every change, so a wait estimate reads them in
constant time (ADR 25).

The live estimate measures a queue over its latest rows: the last 500 callers who left its line
(handling time, patience, the last wait) and the last 500 estimates whose callers reached an
agent (the safety margin). :class:`Latest` holds exactly the rows ``ORDER BY id DESC LIMIT
size`` would return, told of each row that changes; the values are replayed from it only after
it changed, in the order the query gives them, so they are the same numbers as a fresh read.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from datetime import datetime
from typing import Generic, TypeVar

from escucha.routing import estimate as est

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

_S = TypeVar("_S")

WINDOW = 500
"""Rows a queue's rates are measured over (callers who left, estimates settled)."""

Exit = tuple[float | None, bool, float | None]
"""A caller who left the line: the wait before leaving (``None``: not yet known), whether
they hung up, and the handling time (``None`` until the call ended)."""

Pair = tuple[float, float]
"""An estimate told and the wait that followed."""


class Latest(Generic[_S]):
    """The samples of the latest ``size`` rows by id, kept as rows change.

    ``stale`` turns true when a full window loses a row: an older row the window never held
    may belong to it now, so its owner reads it again.
    """

    __slots__ = ("_ids", "_samples", "size", "stale", "version")

    def __init__(self, rows: Iterable[tuple[int, _S]], *, size: int = WINDOW) -> None:
        self.size = size
        self._samples: dict[int, _S] = dict(rows)
        self._ids = sorted(self._samples)
        if len(self._ids) > size:
            raise ValueError(f"{len(self._ids)} rows given for a window of {size}")
        self.stale = False
        self.version = 0

    def put(self, row_id: int, sample: _S | None) -> None:
        """Row ``row_id`` now has ``sample`` (``None``: it is not one of the measured rows)."""
        ids = self._ids
        if row_id in self._samples:
            if sample is None:
                full = len(ids) == self.size
                del self._samples[row_id]
                del ids[bisect_left(ids, row_id)]
                self.stale = self.stale or full
            elif self._samples[row_id] == sample:
                return
            else:
                self._samples[row_id] = sample
        elif sample is None:
            return
        elif len(ids) < self.size:
            self._samples[row_id] = sample
            insort(ids, row_id)
        elif row_id > ids[0]:
            del self._samples[ids.pop(0)]
            self._samples[row_id] = sample
            insort(ids, row_id)
        else:
            return  # older than every row of a full window: not measured
        self.version += 1

    def samples(self) -> list[_S]:
        """The samples, oldest row first."""
        return [self._samples[i] for i in self._ids]


def exit_of(
    state: str,
    queued_at: datetime | None,
    answered_at: datetime | None,
    ended_at: datetime | None,
) -> Exit | None:
    """What a contact tells of its queue's rates (``None``: it has not left the line)."""
    if queued_at is None or state in ("queued", "offered"):
        return None
    if answered_at is not None:
        service = None
        if ended_at is not None:
            service = max(0.0, (ended_at - answered_at).total_seconds())
        return ((answered_at - queued_at).total_seconds(), False, service)
    if state != "abandoned":
        return None
    return ((ended_at - queued_at).total_seconds() if ended_at else None, True, None)


def pair_of(outcome: str | None, estimate_s: float, actual_s: float | None) -> Pair | None:
    """What a stored estimate tells of the margin (``None``: its caller did not reach an agent
    or has not yet)."""
    if outcome != "answered" or actual_s is None:
        return None
    return (estimate_s, actual_s)


def meter_of(exits: Iterable[Exit], *, window: int = WINDOW) -> est.QueueMeter:
    """The queue's meter from its callers who left, oldest first (as the estimate reads it)."""
    meter = est.QueueMeter(window=window)
    for wait_s, abandoned, service_s in exits:
        if wait_s is not None:
            meter.record_exit(wait_s, abandoned=abandoned)
        if service_s is not None:
            meter.record_service(service_s)
    return meter


def margin_of(pairs: Iterable[Pair]) -> float | None:
    """The safety margin from the estimates settled, oldest first."""
    errors = est.EstimateError()
    for estimate_s, actual_s in pairs:
        errors.add(estimate_s, actual_s)
    return errors.margin()
