"""Append to the audit trail and verify it.

Each event's hash is ``sha256(prev_hash + "\\n" + canonical JSON of the event)``, where the
canonical JSON holds the sequence number, time (UTC, microseconds), actor, action, subject and
data with sorted keys. The first event chains to 64 zeros. The single ``audit_head`` row holds
the last sequence number and hash; appending updates it first (``UPDATE ... RETURNING``), which
locks it until the transaction ends, so two app nodes can never fork the chain.

:func:`verify` recomputes every hash and checks that sequence numbers have no gaps, that each
event points at its predecessor, and that the head points at the last event: an edited field,
a deleted event or a cut-off tail are all found. Keep the head hash that ``escucha audit
verify`` prints somewhere else (a ticket in another system, a signed email) to detect a
rewrite of the whole chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from escucha.audit.models import AuditEvent, AuditHead

GENESIS = "0" * 64
_HEAD_ID = 1


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe copy: values that JSON cannot hold become strings."""
    result: dict[str, Any] = json.loads(json.dumps(data, default=str, ensure_ascii=False))
    return result


def canonical(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject_kind: str,
    subject_id: int | None,
    subject_ref: str,
    data: dict[str, Any],
) -> str:
    """The text that is hashed for one event."""
    return json.dumps(
        {
            "seq": seq,
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "subject_kind": subject_kind,
            "subject_id": subject_id,
            "subject_ref": subject_ref,
            "data": data,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def chain_hash(prev_hash: str, text: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{text}".encode()).hexdigest()


def _advance_head(session: Session) -> tuple[int, str]:
    """Take the next sequence number and the previous hash, locking the head row."""
    table = cast(Table, AuditHead.__table__)
    stmt = (
        update(table)
        .where(table.c.id == _HEAD_ID)
        .values(seq=table.c.seq + 1)
        .returning(table.c.seq, table.c.last_hash)
    )
    row = session.execute(stmt).first()
    if row is None:
        try:
            with session.begin_nested():
                session.execute(insert(table).values(id=_HEAD_ID, seq=0, last_hash=GENESIS))
        except IntegrityError:
            pass  # another node created it first
        row = session.execute(stmt).one()
    return int(row[0]), str(row[1])


def record(
    session: Session,
    *,
    action: str,
    actor: str,
    subject_kind: str,
    now: datetime,
    subject_id: int | None = None,
    subject_ref: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (it commits or rolls back with it).

    ``actor`` names who did it: ``user:<id>:<username>``, ``customer``, ``email:<address>``,
    ``system``.
    """
    at = now.astimezone(UTC)
    payload = _plain(data or {})
    seq, prev = _advance_head(session)
    text = canonical(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        subject_kind=subject_kind,
        subject_id=subject_id,
        subject_ref=subject_ref,
        data=payload,
    )
    digest = chain_hash(prev, text)
    ev = AuditEvent(
        seq=seq,
        at=at,
        actor=actor[:120],
        action=action[:60],
        subject_kind=subject_kind[:30],
        subject_id=subject_id,
        subject_ref=subject_ref[:40],
        data=payload,
        prev_hash=prev,
        hash=digest,
    )
    session.add(ev)
    table = cast(Table, AuditHead.__table__)
    session.execute(update(table).where(table.c.id == _HEAD_ID).values(last_hash=digest))
    session.flush()
    return ev


def events_for(session: Session, subject_kind: str, subject_id: int) -> list[AuditEvent]:
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.subject_kind == subject_kind, AuditEvent.subject_id == subject_id)
        .order_by(AuditEvent.seq)
    )
    return list(session.scalars(stmt))


@dataclass
class Verification:
    """The result of :func:`verify`: ``ok`` when the chain is intact."""

    events: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "problems": self.problems,
        }


_COLUMNS = (
    AuditEvent.seq,
    AuditEvent.at,
    AuditEvent.actor,
    AuditEvent.action,
    AuditEvent.subject_kind,
    AuditEvent.subject_id,
    AuditEvent.subject_ref,
    AuditEvent.data,
    AuditEvent.prev_hash,
    AuditEvent.hash,
)


def _iter_events(session: Session, batch: int = 1000) -> Iterator[Any]:
    """Rows (not ORM objects, so memory stays flat) in sequence order."""
    last = 0
    while True:
        rows = session.execute(
            select(*_COLUMNS).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(session: Session) -> Verification:
    """Recompute the chain; every edit, deletion or truncation is reported as a problem."""
    result = Verification()
    head = session.get(AuditHead, _HEAD_ID)
    expected_prev = GENESIS
    expected_seq = 1
    for ev in _iter_events(session):
        result.events += 1
        if ev.seq != expected_seq:
            result.problems.append(
                f"event {expected_seq}: missing (the next event is {ev.seq}); events were deleted"
            )
            expected_seq = ev.seq
        if ev.prev_hash != expected_prev:
            result.problems.append(
                f"event {ev.seq}: does not point at the event before it; the chain was changed"
            )
        text = canonical(
            seq=ev.seq,
            at=ev.at,
            actor=ev.actor,
            action=ev.action,
            subject_kind=ev.subject_kind,
            subject_id=ev.subject_id,
            subject_ref=ev.subject_ref,
            data=ev.data,
        )
        if chain_hash(ev.prev_hash, text) != ev.hash:
            result.problems.append(
                f"event {ev.seq} ({ev.action} {ev.subject_ref or ev.subject_id}): its content "
                "does not match its hash; it was edited"
            )
        expected_prev = ev.hash
        expected_seq = ev.seq + 1
    head_seq = head.seq if head is not None else 0
    head_hash = head.last_hash if head is not None else GENESIS
    result.head_seq, result.head_hash = head_seq, head_hash
    if head_seq != expected_seq - 1 or head_hash != expected_prev:
        result.problems.append(
            f"the head says {head_seq} events ending in {head_hash[:12]}, the table ends at "
            f"{expected_seq - 1} ({expected_prev[:12]}); the latest events were removed or changed"
        )
    return result
