"""What the promise jobs do (M4): a promise at an escalation time is flagged for the team; a
promise past its due time is broken, the case flagged for follow-up and the profile's
consequence applied (a fault becomes a complaint, a complaint answered late is deemed accepted).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from escucha.promises import service as promises
from escucha.promises.models import Promise
from escucha.tickets import profiles as tprofiles
from escucha.tickets.handling import change_kind
from escucha.tickets.models import Ticket
from escucha.tickets.planning import org_context
from escucha.tickets.rules import TicketKind
from escucha.tickets.service import OPEN_STATUSES, audit_case, system_event


def escalate_promise(session: Session, promise_id: int, *, now: datetime) -> bool:
    """A promise reached an escalation time while still pending: flag it and tell the team."""
    p = session.get(Promise, promise_id)
    if p is None or p.state != "pending":
        return False
    if p.escalated_at is None:
        p.escalated_at = now
    if p.ticket_id is not None:
        ticket = session.get(Ticket, p.ticket_id)
        if ticket is not None:
            system_event(
                session,
                ticket,
                "promise_at_risk",
                now=now,
                detail=f"{p.kind}|{p.due_at.isoformat()}",
            )
            audit_case(
                session,
                ticket,
                "promise.escalated",
                now=now,
                actor="system",
                promise=p.kind,
                due=p.due_at.isoformat(),
            )
    session.flush()
    return True


def handle_breach(
    session: Session, promise_id: int, on_breach: str, *, now: datetime, base_url: str
) -> bool:
    """After a promise's due time: count it broken, flag the customer for follow-up (M4) and
    apply the profile's consequence (a fault becomes a complaint; a complaint answered late is
    deemed accepted)."""
    p = session.get(Promise, promise_id)
    if p is None:
        return False
    if p.state == "pending" and p.due_at < now:
        promises.sweep(session, now=now)
    if p.state != "broken" or p.ticket_id is None:
        return False
    ticket = session.get(Ticket, p.ticket_id)
    if ticket is None:
        return False
    ticket.follow_up_reason = f"broken promise: {p.kind}"
    ticket.follow_up_at = now
    system_event(
        session, ticket, "promise_broken", now=now, detail=f"{p.kind}|{p.due_at.isoformat()}"
    )
    audit_case(session, ticket, "promise.broken", now=now, actor="system", promise=p.kind)
    try:
        action = tprofiles.BreachAction(on_breach)
    except ValueError:
        action = tprofiles.BreachAction.ESCALATE
    profile = org_context(session).profile
    if action is tprofiles.BreachAction.CONVERT_TO_COMPLAINT:
        converted = tprofiles.kind_after_breach(profile, ticket.kind, action)
        if converted is not None and ticket.status in OPEN_STATUSES:
            change_kind(
                session,
                ticket,
                converted[0].value,
                now=now,
                base_url=base_url,
                topic=converted[1],
                actor="system",
            )
    elif (
        action is tprofiles.BreachAction.DEEMED_ACCEPTED
        and ticket.kind == TicketKind.COMPLAINT
        and not ticket.deemed_accepted
        and ticket.status in OPEN_STATUSES
    ):
        ticket.deemed_accepted = True
        system_event(session, ticket, "deemed_accepted", now=now, customer_visible=True)
        audit_case(session, ticket, "ticket.deemed_accepted", now=now, actor="system")
    session.flush()
    return True
