"""What the case screens read beside a case that the case itself does not carry: the cases
named by number in a thread, and one attachment of a case."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.tickets.models import Ticket, TicketAttachment


def ids_by_number(session: Session, numbers: Iterable[str]) -> dict[str, int]:
    """The id of each case number given that exists (unknown numbers are left out)."""
    wanted = set(numbers)
    if not wanted:
        return {}
    rows = session.execute(select(Ticket.number, Ticket.id).where(Ticket.number.in_(wanted)))
    return {str(number): int(tid) for number, tid in rows}


def attachment_of(session: Session, ticket_id: int, attachment_id: int) -> TicketAttachment | None:
    """The attachment, when it belongs to that case (``None`` otherwise)."""
    att = session.get(TicketAttachment, attachment_id)
    return att if att is not None and att.ticket_id == ticket_id else None
