"""``@job`` and ``@periodic``: named, idempotent units of work run by the worker.

Jobs are named ``"domain.verb"``, carry ids (never objects) in a JSON payload, and run in one
transaction each: the handler's writes and the job's completion commit together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from escucha.config import Settings
from escucha.discovery import domain_modules, import_all


@dataclass
class JobContext:
    """What a handler may use besides the session."""

    now: datetime
    settings: Settings
    job_id: int
    attempt: int
    extras: dict[str, Any] = field(default_factory=dict)


class Handler(Protocol):
    def __call__(self, session: Session, payload: dict[str, Any], ctx: JobContext) -> None: ...


@dataclass(frozen=True)
class JobSpec:
    name: str
    handler: Handler
    max_attempts: int
    backoff_base_s: float
    backoff_max_s: float


@dataclass(frozen=True)
class PeriodicSpec:
    name: str
    every_s: float


JOBS: dict[str, JobSpec] = {}
PERIODIC: dict[str, PeriodicSpec] = {}


def job(
    name: str, *, max_attempts: int = 8, backoff_base_s: float = 10.0, backoff_max_s: float = 3600
) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler of jobs named ``name``."""
    if "." not in name:
        raise ValueError(f"job names are 'domain.verb', got {name!r}")

    def decorate(fn: Handler) -> Handler:
        JOBS[name] = JobSpec(name, fn, max_attempts, backoff_base_s, backoff_max_s)
        return fn

    return decorate


def periodic(name: str, *, every_s: float, max_attempts: int = 3) -> Callable[[Handler], Handler]:
    """Register a job the worker enqueues every ``every_s`` seconds (once per period)."""

    def decorate(fn: Handler) -> Handler:
        job(name, max_attempts=max_attempts, backoff_base_s=every_s / 4)(fn)
        PERIODIC[name] = PeriodicSpec(name, every_s)
        return fn

    return decorate


def backoff_s(spec: JobSpec, attempt: int) -> float:
    """Exponential backoff: base * 2^(attempt-1), capped."""
    return float(min(spec.backoff_max_s, spec.backoff_base_s * 2 ** max(0, attempt - 1)))


def load_jobs() -> None:
    """Import every domain's ``jobs`` module so its handlers are registered."""
    import_all(domain_modules("jobs"))
