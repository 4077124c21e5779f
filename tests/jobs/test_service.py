from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.db.session import transaction
from escucha.errors import InvalidInput
from escucha.jobs import models as m
from escucha.jobs import service
from escucha.jobs.registry import JOBS, JobContext, backoff_s, job, periodic

CALLS: list[tuple[str, dict[str, Any], int]] = []


@job("tests.record")
def _record(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    CALLS.append(("record", payload, ctx.attempt))


@job("tests.flaky", max_attempts=3, backoff_base_s=10)
def _flaky(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    CALLS.append(("flaky", payload, ctx.attempt))
    if ctx.attempt < payload["succeed_on"]:
        raise RuntimeError(f"attempt {ctx.attempt} failed")


@job("tests.writes_then_fails", max_attempts=1)
def _writes_then_fails(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    service.enqueue(session, "tests.record", {"from": "inside"}, now=ctx.now)
    raise RuntimeError("boom")


@periodic("tests.tick", every_s=60)
def _tick(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    CALLS.append(("tick", payload, ctx.attempt))


@pytest.fixture(autouse=True)
def _reset() -> None:
    CALLS.clear()


def _enqueue(factory: sessionmaker[Session], clock: FrozenClock, name: str, **kw: Any) -> int:
    with transaction(factory) as s:
        return service.enqueue(s, name, kw.pop("payload", {}), now=clock.now(), **kw).id


def test_a_job_runs_once_and_is_marked_done(
    session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    job_id = _enqueue(session_factory, clock, "tests.record", payload={"ticket_id": 7})
    assert service.run_due(session_factory, settings, clock) == 1
    assert CALLS == [("record", {"ticket_id": 7}, 1)]
    assert service.run_due(session_factory, settings, clock) == 0
    with transaction(session_factory) as s:
        job_row = s.get(m.Job, job_id)
        assert job_row is not None
        assert job_row.status == m.DONE
        assert job_row.finished_at == clock.now()


def test_jobs_wait_for_their_time(
    session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    _enqueue(session_factory, clock, "tests.record", run_at=clock.now() + timedelta(minutes=5))
    assert service.run_due(session_factory, settings, clock) == 0
    clock.advance(300)
    assert service.run_due(session_factory, settings, clock) == 1


def test_failures_back_off_exponentially_then_succeed(
    session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    job_id = _enqueue(session_factory, clock, "tests.flaky", payload={"succeed_on": 3})
    assert service.run_due(session_factory, settings, clock) == 1
    with transaction(session_factory) as s:
        row = s.get(m.Job, job_id)
        assert row is not None
        assert (row.status, row.attempts) == (m.QUEUED, 1)
        assert row.run_at == clock.now() + timedelta(seconds=10)
        assert "attempt 1 failed" in (row.last_error or "")
    clock.advance(10)
    service.run_due(session_factory, settings, clock)
    with transaction(session_factory) as s:
        row = s.get(m.Job, job_id)
        assert row is not None
        assert row.run_at == clock.now() + timedelta(seconds=20)
    clock.advance(20)
    service.run_due(session_factory, settings, clock)
    assert [c[2] for c in CALLS] == [1, 2, 3]
    with transaction(session_factory) as s:
        row = s.get(m.Job, job_id)
        assert row is not None
        assert row.status == m.DONE


def test_a_job_that_runs_out_of_attempts_is_failed_and_can_be_retried(
    session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    job_id = _enqueue(session_factory, clock, "tests.flaky", payload={"succeed_on": 99})
    for _ in range(3):
        service.run_due(session_factory, settings, clock)
        clock.advance(3600)
    with transaction(session_factory) as s:
        assert [v.id for v in service.list_jobs(s, status="failed")] == [job_id]
    with transaction(session_factory) as s:
        service.retry_job(s, job_id, now=clock.now())
    with transaction(session_factory) as s, pytest.raises(InvalidInput):
        service.retry_job(s, job_id, now=clock.now())
    service.run_due(session_factory, settings, clock)
    assert [c[2] for c in CALLS] == [1, 2, 3, 4]


def test_a_failing_handler_leaves_none_of_its_writes(
    session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    _enqueue(session_factory, clock, "tests.writes_then_fails")
    service.run_due(session_factory, settings, clock)
    with transaction(session_factory) as s:
        names = s.scalars(select(m.Job.name)).all()
    assert names == ["tests.writes_then_fails"]


def test_idempotency_key_gives_back_the_first_job(
    session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    a = _enqueue(session_factory, clock, "tests.record", idempotency_key="sms:1")
    b = _enqueue(session_factory, clock, "tests.record", idempotency_key="sms:1")
    with transaction(session_factory) as s:
        c = service.enqueue(s, "tests.record", now=clock.now(), idempotency_key="sms:1").id
        d = service.enqueue(s, "tests.record", now=clock.now(), idempotency_key="sms:2").id
    assert a == b == c != d


def test_unknown_job_names_are_refused(
    session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    with transaction(session_factory) as s, pytest.raises(InvalidInput, match="unknown job"):
        service.enqueue(s, "nobody.knows", now=clock.now())


def test_a_job_held_by_a_dead_worker_is_taken_again(
    session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    job_id = _enqueue(session_factory, clock, "tests.record")
    assert service._claim(session_factory, "dead-worker", clock.now()) == (job_id, 1)
    assert service.run_due(session_factory, settings, clock) == 0
    clock.advance(service.LOCK_S + 1)
    assert service.run_due(session_factory, settings, clock) == 1
    assert CALLS == [("record", {}, 2)]


def test_a_live_worker_keeps_its_job_and_a_dead_one_loses_it(
    session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    alive = _enqueue(session_factory, clock, "tests.record", payload={"who": "alive"})
    assert service._claim(session_factory, "alive", clock.now(), 30) == (alive, 1)
    dead = _enqueue(session_factory, clock, "tests.record", payload={"who": "dead"})
    assert service._claim(session_factory, "dead", clock.now(), 30) == (dead, 1)
    for _ in range(4):  # 40 s: the live worker renews every 10 s, the dead one never
        clock.advance(10)
        assert service.renew_locks(session_factory, "alive", clock.now(), 30) == 1
    assert service.renew_locks(session_factory, "nobody", clock.now(), 30) == 0
    assert service.run_due(session_factory, settings, clock) == 1
    assert CALLS == [("record", {"who": "dead"}, 2)]
    with transaction(session_factory) as s:
        assert s.get(m.Job, alive).status == m.RUNNING  # type: ignore[union-attr]


def test_a_worker_heartbeat_renews_its_locks(
    session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    from escucha.jobs.worker import Worker

    fast = settings.model_copy(update={"job_lock_s": 0.3, "worker_poll_s": 60})
    worker = Worker(session_factory, fast, clock, "t")
    other = Worker(session_factory, fast, clock, "t")
    assert worker.name != other.name  # every process and thread of workers is told apart
    job_id = _enqueue(session_factory, clock, "tests.record")
    assert service._claim(session_factory, worker.name, clock.now(), 0.3) == (job_id, 1)
    clock.advance(5)
    thread = threading.Thread(target=worker.heartbeat_forever)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with transaction(session_factory) as s:
                locked_until = s.get(m.Job, job_id).locked_until  # type: ignore[union-attr]
            if locked_until is not None and locked_until.replace(tzinfo=None) > clock.now().replace(
                tzinfo=None
            ):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the heartbeat never renewed the lock")
    finally:
        worker.stop_event.set()
        thread.join(5)
    assert service.run_due(session_factory, settings, clock) == 0


def test_periodic_jobs_are_enqueued_once_per_period(
    session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    service.enqueue_periodic(session_factory, clock)
    service.enqueue_periodic(session_factory, clock)
    service.run_due(session_factory, settings, clock)
    assert [c[0] for c in CALLS].count("tick") == 1
    clock.advance(60)
    service.enqueue_periodic(session_factory, clock)
    service.run_due(session_factory, settings, clock)
    assert [c[0] for c in CALLS].count("tick") == 2


def test_backoff_is_capped() -> None:
    spec = JOBS["tests.flaky"]
    assert backoff_s(spec, 1) == 10
    assert backoff_s(spec, 4) == 80
    assert backoff_s(spec, 40) == spec.backoff_max_s


def test_job_names_must_name_a_domain() -> None:
    with pytest.raises(ValueError, match=r"domain\.verb"):
        job("nodot")


def test_finished_jobs_are_pruned_after_their_retention_failed_ones_are_kept(
    session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    old_done = [_enqueue(session_factory, clock, "tests.record") for _ in range(3)]
    failed = _enqueue(session_factory, clock, "tests.writes_then_fails")
    assert service.run_due(session_factory, settings, clock) == 4
    clock.advance(timedelta(days=8))
    recent_done = _enqueue(session_factory, clock, "tests.record")
    assert service.run_due(session_factory, settings, clock) == 1
    waiting = _enqueue(session_factory, clock, "tests.record", run_at=clock.now() + timedelta(1))
    with transaction(session_factory) as s:
        assert service.prune_finished(s, now=clock.now(), keep_days=7, batch=2) == 2
    with transaction(session_factory) as s:
        assert service.prune_finished(s, now=clock.now(), keep_days=7) == 1
        assert service.prune_finished(s, now=clock.now(), keep_days=7) == 0
    with transaction(session_factory) as s:
        left = set(s.scalars(select(m.Job.id)))
    assert left == {failed, recent_done, waiting}
    assert not left & set(old_done)


def test_the_job_table_prunes_itself_every_hour() -> None:
    from escucha.jobs.registry import PERIODIC, load_jobs

    load_jobs()
    assert PERIODIC["jobs.prune"].every_s == 3600


def test_the_admin_list_can_leave_out_routine_jobs_that_ran_well(
    session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    tick = _enqueue(session_factory, clock, "tests.tick")
    pending_tick = _enqueue(
        session_factory, clock, "tests.tick", run_at=clock.now() + timedelta(hours=1)
    )
    record = _enqueue(session_factory, clock, "tests.record")
    service.run_due(session_factory, settings, clock)
    with transaction(session_factory) as s:
        everything = [v.id for v in service.list_jobs(s)]
        worth_seeing = [v.id for v in service.list_jobs(s, routine=False)]
    assert everything == [record, pending_tick, tick]
    assert worth_seeing == [record, pending_tick]  # a tick that ran well is routine
