"""The audit trail is append-only and hash-chained: any edit is found (P5)."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from escucha.audit import service
from escucha.audit.models import AppendOnlyError, AuditEvent
from tests.conftest import START


def _trail(session: Session, n: int = 4) -> list[AuditEvent]:
    events = [
        service.record(
            session,
            action="ticket.created" if i == 0 else "ticket.noted",
            actor=f"user:{i}:ana",
            subject_kind="ticket",
            subject_id=7,
            subject_ref="2026-0000007-6",
            now=START + timedelta(minutes=i),
            data={"i": i, "text": "reclamación ñ"},
        )
        for i in range(n)
    ]
    session.commit()
    return events


def test_events_chain_each_to_the_one_before(session: Session) -> None:
    events = _trail(session)
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert events[0].prev_hash == service.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    result = service.verify(session)
    assert result.ok
    assert result.events == 4
    assert result.head_hash == events[-1].hash
    assert [e.seq for e in service.events_for(session, "ticket", 7)] == [1, 2, 3, 4]


def test_the_orm_refuses_to_change_or_delete_an_event(session: Session) -> None:
    events = _trail(session, 2)
    events[0].actor = "someone else"
    with pytest.raises(AppendOnlyError):
        session.flush()
    session.rollback()
    session.delete(events[1])
    with pytest.raises(AppendOnlyError):
        session.flush()


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("UPDATE audit_events SET actor = 'user:9:mallory' WHERE seq = 2", "event 2"),
        ("UPDATE audit_events SET data = '{\"i\": 1}' WHERE seq = 2", "event 2"),
        ("UPDATE audit_events SET at = '2026-11-24 09:00:00' WHERE seq = 3", "event 3"),
        ("DELETE FROM audit_events WHERE seq = 2", "event 2: missing"),
        ("DELETE FROM audit_events WHERE seq = 4", "latest events"),
        ("UPDATE audit_events SET prev_hash = hash WHERE seq = 3", "event 3"),
    ],
)
def test_verify_finds_any_edit_made_behind_the_application(
    session: Session, sql: str, expected: str
) -> None:
    _trail(session)
    session.execute(text(sql))
    session.commit()
    result = service.verify(session)
    assert not result.ok
    assert any(expected in p for p in result.problems), result.problems


def test_recomputing_one_hash_still_breaks_the_next_link(session: Session) -> None:
    events = _trail(session)
    forged = service.canonical(
        seq=2,
        at=events[1].at,
        actor="user:9:mallory",
        action=events[1].action,
        subject_kind="ticket",
        subject_id=7,
        subject_ref=events[1].subject_ref,
        data=events[1].data,
    )
    new_hash = service.chain_hash(events[1].prev_hash, forged)
    session.execute(
        text("UPDATE audit_events SET actor = 'user:9:mallory', hash = :h WHERE seq = 2"),
        {"h": new_hash},
    )
    session.commit()
    problems = service.verify(session).problems
    assert problems == ["event 3: does not point at the event before it; the chain was changed"]


def test_concurrent_writers_never_fork_the_chain(session_factory: sessionmaker[Session]) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(5):
                with session_factory() as s:
                    service.record(
                        s,
                        action="ticket.noted",
                        actor=f"user:{n}:w",
                        subject_kind="ticket",
                        subject_id=n,
                        now=START + timedelta(seconds=i),
                    )
                    s.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_factory() as s:
        result = service.verify(s)
    assert result.ok, result.problems
    assert result.events == 20
