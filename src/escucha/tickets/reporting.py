"""The supervisor's view of promises (at risk, broken, kept rates, cases to follow up; M4) and
the complaints register a regulator asks for (P5), as rows and as CSV.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.csvsafe import SafeDictWriter
from escucha.errors import InvalidInput
from escucha.org import models as org
from escucha.promises import service as promises
from escucha.promises.models import Promise
from escucha.tickets.models import Ticket
from escucha.tickets.rules import TicketKind
from escucha.tickets.service import AT_RISK_WITHIN, aware_utc

# --- supervisor view ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromiseRow:
    promise: Promise
    ticket_id: int | None
    number: str
    subject_kind: str


@dataclass
class TeamPromises:
    team: str
    at_risk: list[PromiseRow] = field(default_factory=list)
    broken: list[PromiseRow] = field(default_factory=list)


@dataclass(frozen=True)
class RateRow:
    team: str
    subject_kind: str
    channel: str
    kept: int
    broken: int
    pending: int
    rate: float | None


def _team_names(session: Session) -> dict[str, str]:
    return {str(t.id): t.display_name for t in session.scalars(select(org.Team))}


def promise_overview(
    session: Session, *, now: datetime, since: datetime
) -> tuple[list[TeamPromises], list[RateRow], list[Ticket]]:
    """Promises at risk and broken (since ``since``) by team, kept rates by team, kind and
    channel, and tickets flagged for follow-up (M4)."""
    names = _team_names(session)
    risky = promises.at_risk(session, now=now, within=AT_RISK_WITHIN)
    broken = list(
        session.scalars(
            select(Promise)
            .where(Promise.state == "broken", Promise.due_at >= since)
            .order_by(Promise.due_at.desc())
            .limit(500)
        )
    )
    ids = {p.ticket_id for p in (*risky, *broken) if p.ticket_id is not None}
    numbers = (
        dict(session.execute(select(Ticket.id, Ticket.number).where(Ticket.id.in_(ids))).all())
        if ids
        else {}
    )
    teams: dict[str, TeamPromises] = {}

    def row(p: Promise) -> tuple[TeamPromises, PromiseRow]:
        name = names.get(p.team or "", p.team or "-")
        group = teams.setdefault(name, TeamPromises(name))
        number = str(numbers.get(p.ticket_id, "")) if p.ticket_id is not None else ""
        return group, PromiseRow(p, p.ticket_id, number, p.subject_kind)

    for p in risky:
        group, r = row(p)
        group.at_risk.append(r)
    for p in broken:
        group, r = row(p)
        group.broken.append(r)
    rates = [
        RateRow(
            team=names.get(k.group[0], k.group[0]),
            subject_kind=k.group[1],
            channel=k.group[2],
            kept=k.kept,
            broken=k.broken,
            pending=k.pending,
            rate=k.rate,
        )
        for k in promises.kept_rates(session, since=since, by=("team", "subject_kind", "channel"))
    ]
    follow = list(
        session.scalars(
            select(Ticket)
            .where(Ticket.follow_up_reason.is_not(None))
            .order_by(Ticket.follow_up_at.desc())
            .limit(200)
        )
    )
    return sorted(teams.values(), key=lambda t: t.team), rates, follow


# --- complaints register --------------------------------------------------------------------------

REGISTER_COLUMNS = (
    "code",
    "received_at",
    "channel",
    "kind",
    "topic",
    "status",
    "team",
    "deadline",
    "resolved_at",
    "resolution",
    "notified_at",
    "appealed_at",
    "deemed_accepted",
)


def complaints_register(
    session: Session, *, start: datetime, end: datetime
) -> list[dict[str, str]]:
    """Complaints received in ``[start, end)``: the register a regulator asks for (P5).

    ``deadline`` is the due time of the complaint's current resolution promise.
    """
    start, end = aware_utc(start, "from"), aware_utc(end, "to")
    if end <= start:
        raise InvalidInput("to: must be after from")
    tickets = list(
        session.scalars(
            select(Ticket)
            .where(
                Ticket.kind == TicketKind.COMPLAINT.value,
                Ticket.created_at >= start,
                Ticket.created_at < end,
            )
            .order_by(Ticket.created_at, Ticket.id)
        )
    )
    ids = [t.id for t in tickets]
    deadlines: dict[int, datetime] = {}
    if ids:
        for p in session.scalars(
            select(Promise)
            .where(
                Promise.ticket_id.in_(ids),
                Promise.kind == "resolution",
                Promise.state != "cancelled",
            )
            .order_by(Promise.created_at, Promise.id)
        ):
            if p.ticket_id is not None:
                deadlines[p.ticket_id] = p.due_at
    names = _team_names(session)

    def iso(value: datetime | None) -> str:
        return value.astimezone(UTC).isoformat(timespec="seconds") if value else ""

    return [
        {
            "code": t.number,
            "received_at": iso(t.created_at),
            "channel": t.channel,
            "kind": t.kind,
            "topic": t.topic or "",
            "status": t.status,
            "team": names.get(str(t.team_id), ""),
            "deadline": iso(deadlines.get(t.id)),
            "resolved_at": iso(t.resolved_at),
            "resolution": t.resolution or "",
            "notified_at": iso(t.notified_at),
            "appealed_at": iso(t.appealed_at),
            "deemed_accepted": "yes" if t.deemed_accepted else "no",
        }
        for t in tickets
    ]


def register_csv(rows: Iterable[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = SafeDictWriter(out, REGISTER_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()
