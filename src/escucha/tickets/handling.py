"""Working a case: answering the customer, notes, the customer writing again, reassigning,
moving its status, resolving and telling the resolution, appeals, a change of kind, a promised
time moved and a follow-up cleared. Each is audited and keeps, cancels or plans the promises it
touches.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.contacts.models import Customer
from escucha.errors import InvalidInput, NotFound
from escucha.notifications import service as notifications
from escucha.notifications.messages import find_vague_phrases, when_phrase
from escucha.notifications.models import Notification
from escucha.org import models as org
from escucha.promises import rules as prules
from escucha.promises import service as promises
from escucha.promises.models import Promise
from escucha.tickets import profiles as tprofiles
from escucha.tickets import rules as trules
from escucha.tickets.models import Ticket, TicketMessage
from escucha.tickets.opening import acknowledge
from escucha.tickets.planning import (
    fulfil_pending,
    legal_calendar,
    org_context,
    pending_promises,
    plan_for,
    promise_label,
    record_promises,
    route,
    schedule_jobs,
    team_calendar,
)
from escucha.tickets.rules import TicketKind, TicketStatus
from escucha.tickets.service import (
    MAX_SUBJECT,
    WRITTEN_CHANNELS,
    actor_of,
    add_message,
    audit_case,
    aware_utc,
    customer_of,
    keep_whole_text,
    one_line,
    safe_text,
    shown_part,
    status_url,
    system_event,
    tell_customer,
)

REPLY_PROMISES = ("first_response", "update")
RESOLVING_PROMISES = ("first_response", "update", "resolution", "repair")


def _move_status(ticket: Ticket, new: TicketStatus, *, now: datetime) -> None:
    ticket.status = trules.check_transition(ticket.status, new, ticket.kind).value
    ticket.updated_at = now


def _reopen_for_work(ticket: Ticket, *, now: datetime) -> None:
    if ticket.status in (TicketStatus.NEW, TicketStatus.REOPENED, TicketStatus.APPEALED):
        _move_status(ticket, TicketStatus.OPEN, now=now)


def _outgoing(
    session: Session,
    ticket: Ticket,
    customer: Customer,
    *,
    channel: str,
    subject: str,
    body: str,
    now: datetime,
    key: str,
) -> Notification:
    """A free-text message to the customer, written to the outbox with its send job."""
    address = customer.email if channel == "email" else customer.phone
    if not address:
        raise InvalidInput(
            f"channel: the customer has no {'email' if channel == 'email' else 'phone'}"
        )
    return notifications.write_outbox(
        session,
        customer,
        channel=channel,
        address=address,
        kind="ticket_reply",
        subject=subject[:300],
        body=body,
        key=key,
        now=now,
        ticket_id=ticket.id,
    )


def _reply_text(ticket: Ticket, customer: Customer, body: str, channel: str, base_url: str) -> str:
    english = customer.language.startswith("en")
    if channel == "sms":
        return f"{body} ({'Case' if english else 'Caso'} {ticket.number})"
    footer = (
        f"Case {ticket.number}. Status: {status_url(base_url, ticket.number)}"
        if english
        else f"Caso {ticket.number}. Estado: {status_url(base_url, ticket.number)}"
    )
    return f"{body}\n\n--\n{footer}\n"


def reply_subject(ticket: Ticket, lang: str) -> str:
    title = ticket.subject or ("Your case" if lang.startswith("en") else "Su caso")
    return f"Re: {title} [{ticket.number}]"


def reply_to_customer(
    session: Session,
    ticket: Ticket,
    body: str,
    *,
    user: User,
    now: datetime,
    base_url: str,
    channel: str = "email",
    work_s: float | None = None,
) -> TicketMessage:
    """Answer the customer by email or SMS from the thread; keeps first-response promises.

    The text must not promise without a time ("lo antes posible", "shortly"): say when.
    ``work_s`` is the time the agent spent on the reply, which measures handling time for
    the written queue's estimate.
    """
    text = trules.clean_text(safe_text(body))
    if not text:
        raise InvalidInput("body: write the answer to the customer")
    vague = find_vague_phrases(text)
    if vague:
        raise InvalidInput(
            f"body: promises no time ({', '.join(vague)}); say the date and time instead"
        )
    if channel not in ("email", "sms"):
        raise InvalidInput("channel: email or sms")
    customer = customer_of(session, ticket)
    if customer is None:
        raise InvalidInput("channel: the ticket has no customer to write to; call or note it")
    if not (customer.email if channel == "email" else customer.phone):
        raise InvalidInput(
            f"channel: the customer has no {'email' if channel == 'email' else 'phone'}"
        )
    msg = add_message(
        session,
        ticket,
        now=now,
        direction="out",
        visibility="customer",
        author_kind="agent",
        author=user,
        channel=channel,
        subject=reply_subject(ticket, customer.language),
        body=text,
        work_s=max(0.0, min(float(work_s), 4 * 3600.0)) if work_s is not None else None,
    )
    note = _outgoing(
        session,
        ticket,
        customer,
        channel=channel,
        subject=msg.subject,
        body=_reply_text(ticket, customer, text, channel, base_url),
        now=now,
        key=f"ticket:{ticket.id}:message:{msg.id}",
    )
    msg.notification_id = note.id
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    _reopen_for_work(ticket, now=now)
    if ticket.assignee_id is None:
        ticket.assignee_id = user.id
    fulfil_pending(session, ticket, REPLY_PROMISES, now=now)
    audit_case(
        session,
        ticket,
        "ticket.replied",
        now=now,
        actor=actor_of(user),
        channel=channel,
        notification_id=note.id,
        chars=len(text),
    )
    session.flush()
    return msg


def add_note(
    session: Session, ticket: Ticket, body: str, *, user: User, now: datetime
) -> TicketMessage:
    """An internal note: agents see it, the customer never does."""
    text = trules.clean_text(safe_text(body))
    if not text:
        raise InvalidInput("body: write the note")
    msg = add_message(
        session,
        ticket,
        now=now,
        direction="note",
        visibility="internal",
        author_kind="agent",
        author=user,
        channel="note",
        body=text,
    )
    audit_case(session, ticket, "ticket.noted", now=now, actor=actor_of(user), chars=len(text))
    return msg


def add_customer_message(
    session: Session,
    ticket: Ticket,
    body: str,
    *,
    now: datetime,
    channel: str,
    subject: str = "",
    from_address: str | None = None,
    message_id: str | None = None,
    actor: str = "customer",
) -> TicketMessage:
    """The customer wrote again (email reply, status page): the ticket goes back to the team.
    A text over :data:`MAX_DESCRIPTION` is shown cut and attached whole."""
    whole = trules.clean_text(safe_text(body))
    text = shown_part(whole)
    msg = add_message(
        session,
        ticket,
        now=now,
        direction="in",
        visibility="customer",
        author_kind="customer",
        channel=channel,
        subject=one_line(subject, MAX_SUBJECT),
        body=text,
        from_address=from_address,
        message_id=message_id,
    )
    if whole != text:
        keep_whole_text(session, ticket, msg, whole, now=now, filename=f"message-{msg.id}.txt")
    if ticket.description_missing and text:
        ticket.description = text
        ticket.description_missing = False
    if ticket.status == TicketStatus.WAITING_CUSTOMER:
        _move_status(ticket, TicketStatus.OPEN, now=now)
    elif ticket.status == TicketStatus.RESOLVED:
        _move_status(ticket, TicketStatus.REOPENED, now=now)
    audit_case(session, ticket, "ticket.customer_wrote", now=now, actor=actor, channel=channel)
    return msg


def reassign(
    session: Session,
    ticket: Ticket,
    *,
    user: User,
    now: datetime,
    team_id: int | None = None,
    assignee_id: int | None = None,
) -> Ticket:
    """Move the ticket to another team and/or agent; pending promises follow the team."""
    changes: dict[str, Any] = {}
    if team_id is not None and team_id != ticket.team_id:
        if session.get(org.Team, team_id) is None:
            raise InvalidInput(f"team: {team_id} does not exist")
        changes["team_id"] = [ticket.team_id, team_id]
        ticket.team_id = team_id
        for p in pending_promises(session, ticket.id):
            p.team = str(team_id)
    if assignee_id is not None and assignee_id != ticket.assignee_id:
        agent = session.get(User, assignee_id)
        if agent is None or not agent.active:
            raise InvalidInput(f"assignee: user {assignee_id} does not exist or is inactive")
        changes["assignee_id"] = [ticket.assignee_id, assignee_id]
        ticket.assignee_id = assignee_id
    if changes:
        ticket.updated_at = now
        system_event(session, ticket, "reassigned", now=now, detail=repr(changes))
        audit_case(session, ticket, "ticket.reassigned", now=now, actor=actor_of(user), **changes)
    return ticket


def change_status(
    session: Session, ticket: Ticket, new: str, *, user: User, now: datetime
) -> Ticket:
    """Move along the status machine; resolving goes through :func:`resolve`."""
    try:
        target = TicketStatus(new)
    except ValueError:
        raise InvalidInput(f"status: one of {', '.join(s.value for s in TicketStatus)}") from None
    if target is TicketStatus.RESOLVED:
        raise InvalidInput("status: resolve with the resolution text (the customer is told)")
    if target is TicketStatus.APPEALED:
        raise InvalidInput("status: an appeal is filed with its text")
    old = ticket.status
    try:
        _move_status(ticket, target, now=now)
    except trules.InvalidTransitionError as exc:
        raise InvalidInput(f"status: {exc}") from None
    if target is TicketStatus.CLOSED:
        ticket.closed_at = now
    system_event(session, ticket, f"status:{target.value}", now=now, customer_visible=True)
    audit_case(
        session, ticket, "ticket.status", now=now, actor=actor_of(user), old=old, new=target.value
    )
    return ticket


def resolve(
    session: Session,
    ticket: Ticket,
    resolution: str,
    *,
    user: User,
    now: datetime,
    base_url: str,
    channel: str | None = "email",
) -> Ticket:
    """Resolve with the answer; it is sent to the customer (``channel``) when possible.

    Resolution, repair and reply promises are kept (or counted broken if late); promises that
    start at resolution (the regulatory notification) are planned, and kept at once when the
    answer goes out now.
    """
    text = trules.clean_text(safe_text(resolution))
    if not text:
        raise InvalidInput("resolution: say how it was resolved; the customer is told")
    vague = find_vague_phrases(text)
    if vague:
        raise InvalidInput(f"resolution: promises no time ({', '.join(vague)})")
    was_appealed = ticket.status == TicketStatus.APPEALED
    try:
        _move_status(ticket, TicketStatus.RESOLVED, now=now)
    except trules.InvalidTransitionError as exc:
        raise InvalidInput(f"status: {exc}") from None
    ticket.resolution = text
    ticket.resolved_at = now
    kinds = (*RESOLVING_PROMISES, "appeal_resolution") if was_appealed else RESOLVING_PROMISES
    fulfil_pending(session, ticket, kinds, now=now)
    ctx = org_context(session)
    team = session.get(org.Team, ticket.team_id) if ticket.team_id else None
    customer = customer_of(session, ticket)
    planned, cal = plan_for(session, ticket, team, ctx, at=now, anchor="resolved")
    record_promises(session, ticket, planned, now=now, cal=cal, customer=customer, ctx=ctx)
    system_event(session, ticket, "resolved", now=now, customer_visible=True, detail=text)
    audit_case(session, ticket, "ticket.resolved", now=now, actor=actor_of(user), chars=len(text))
    if (
        channel
        and customer is not None
        and (customer.email if channel == "email" else customer.phone)
    ):
        reply_to_customer(
            session, ticket, text, user=user, now=now, base_url=base_url, channel=channel
        )
        ticket.status = TicketStatus.RESOLVED.value  # the reply does not reopen it
        mark_notified(session, ticket, user=user, now=now, how=channel)
    return ticket


def mark_notified(
    session: Session, ticket: Ticket, *, user: User | None, now: datetime, how: str
) -> Ticket:
    """The customer was told the resolution (``how``: email, sms, letter, phone)."""
    if ticket.resolved_at is None:
        raise InvalidInput("the ticket is not resolved yet")
    ticket.notified_at = now
    fulfil_pending(session, ticket, ("notification",), now=now)
    audit_case(session, ticket, "ticket.notified", now=now, actor=actor_of(user), how=how)
    return ticket


def appeal(
    session: Session,
    ticket: Ticket,
    text: str,
    *,
    now: datetime,
    base_url: str,
    actor: str = "customer",
) -> Ticket:
    """The customer appeals the answer to a complaint; the appeal's promises are planned.

    An appeal after the profile's window is still registered (with a note for the team).
    """
    if ticket.kind != TicketKind.COMPLAINT:
        raise InvalidInput("appeal: only the answer to a complaint can be appealed")
    try:
        _move_status(ticket, TicketStatus.APPEALED, now=now)
    except trules.InvalidTransitionError:
        raise InvalidInput("appeal: the complaint has no answer to appeal yet") from None
    ctx = org_context(session)
    team = session.get(org.Team, ticket.team_id) if ticket.team_id else None
    cal = team_calendar(session, team, ctx, now)
    notified = ticket.notified_at or ticket.resolved_at
    deadline = None
    if notified is not None:
        deadline = tprofiles.appeal_deadline(
            ctx.profile, notified_at=notified, calendar=cal, legal=legal_calendar(ctx, now)
        )
    ticket.appealed_at = now
    add_customer_message(
        session, ticket, text or "", now=now, channel="web", subject="appeal", actor=actor
    )
    ticket.status = TicketStatus.APPEALED.value
    if deadline is not None and now > deadline:
        system_event(session, ticket, "appeal_late", now=now, detail=deadline.isoformat())
    system_event(session, ticket, "appealed", now=now, customer_visible=True)
    customer = customer_of(session, ticket)
    planned, cal = plan_for(session, ticket, team, ctx, at=now, anchor="appealed")
    made = record_promises(session, ticket, planned, now=now, cal=cal, customer=customer, ctx=ctx)
    audit_case(
        session,
        ticket,
        "ticket.appealed",
        now=now,
        actor=actor,
        deadline=deadline.isoformat() if deadline else None,
    )
    pending = [p.due_at for p in made if p.state == "pending"]
    if customer is not None and pending and (customer.email or customer.phone):
        lang = customer.language
        to = ctx.profile.appeal.to.get(lang) if ctx.profile.appeal is not None else None
        tell_customer(
            session,
            ticket,
            customer,
            "appeal_received",
            now=now,
            key=f"ticket:{ticket.id}:appeal:{int(now.timestamp())}",
            in_thread=False,
            ticket_id=ticket.id,
            number=ticket.number,
            due=min(pending),
            status_url=status_url(base_url, ticket.number),
            appeal_to=to,
            name=customer.name or None,
        )
    return ticket


def change_kind(
    session: Session,
    ticket: Ticket,
    new_kind: str,
    *,
    now: datetime,
    base_url: str,
    user: User | None = None,
    topic: str | None = None,
    actor: str | None = None,
) -> Ticket:
    """Change the kind, keeping the number. A ticket that becomes a complaint goes to the
    complaints team with the complaint's promises from now, and the customer is told."""
    try:
        target = TicketKind(new_kind)
    except ValueError:
        raise InvalidInput(f"kind: one of {', '.join(k.value for k in TicketKind)}") from None
    if target.value == ticket.kind:
        return ticket
    if not trules.can_change_kind(ticket.kind, target):
        raise InvalidInput("kind: a complaint stays a complaint")
    old = ticket.kind
    ticket.kind = target.value
    if topic:
        ticket.topic = topic[:40]
    ticket.updated_at = now
    who = actor or actor_of(user)
    system_event(session, ticket, "kind_changed", now=now, detail=f"{old} -> {target.value}")
    audit_case(
        session, ticket, "ticket.kind_changed", now=now, actor=who, old=old, new=target.value
    )
    for p in pending_promises(session, ticket.id):
        p.subject_kind = target.value
    if target is not TicketKind.COMPLAINT:
        return ticket
    ctx = org_context(session)
    team, policy = route(session, target.value, ticket.channel)
    if team is not None:
        ticket.team_id = team.id
    planned, cal = plan_for(session, ticket, team, ctx, at=now, policy=policy)
    planned = [p for p in planned if p.kind is not prules.PromiseKind.ACKNOWLEDGMENT]
    replaced = {p.kind.value for p in planned} | {"resolution", "repair"}
    for p in pending_promises(session, ticket.id):
        if p.kind in replaced:
            promises.cancel(session, p, now=now, reason=f"the {old} became a complaint")
    customer = customer_of(session, ticket)
    made = record_promises(session, ticket, planned, now=now, cal=cal, customer=customer, ctx=ctx)
    acknowledge(
        session,
        ticket,
        customer,
        made,
        now=now,
        base_url=base_url,
        key_suffix=f"complaint:{int(now.timestamp())}",
        message_kind="complaint_ack",
    )
    return ticket


def reschedule_promise(
    session: Session,
    ticket: Ticket,
    promise_id: int,
    new_due: datetime,
    *,
    reason: str,
    user: User,
    now: datetime,
    base_url: str,
) -> Promise:
    """Change a promised time; the reason is told to the customer with the new time."""
    old = session.get(Promise, promise_id)
    if old is None or old.ticket_id != ticket.id:
        raise NotFound(f"promise {promise_id} not found on ticket {ticket.number}")
    if old.state != "pending":
        raise InvalidInput(f"promise: it is already {old.state}")
    due = aware_utc(new_due, "due")
    if due <= now:
        raise InvalidInput("due: the new time must be in the future")
    why = one_line(reason, 500)
    if not why:
        raise InvalidInput("reason: say why the promised time changes; the customer is told")
    vague = find_vague_phrases(why)
    if vague:
        raise InvalidInput(f"reason: promises no time ({', '.join(vague)})")
    customer = customer_of(session, ticket)
    ctx = org_context(session)
    tz = customer.timezone if customer is not None else ctx.timezone
    lang = customer.language if customer is not None else ticket.language
    previous = old.due_at
    label = promise_label(old.kind, lang)
    new = promises.reschedule(
        session,
        old,
        due,
        now=now,
        reason=why,
        told=f"{label}: {when_phrase(due, now=now, tz=tz, lang=lang)}",
    )
    team = session.get(org.Team, ticket.team_id) if ticket.team_id else None
    cal = team_calendar(session, team, ctx, now)
    new.escalate_at = prules.escalation_times(cal, now, due, (0.75,))[0]
    schedule_jobs(session, new, [new.escalate_at], tprofiles.BreachAction.ESCALATE, now=now)
    system_event(
        session,
        ticket,
        "promise_changed",
        now=now,
        customer_visible=True,
        detail=f"{old.kind}|{previous.isoformat()}|{due.isoformat()}|{why}",
    )
    audit_case(
        session,
        ticket,
        "promise.rescheduled",
        now=now,
        actor=actor_of(user),
        promise=old.kind,
        old_due=previous.isoformat(),
        new_due=due.isoformat(),
        reason=why,
    )
    if customer is not None and (customer.email or customer.phone):
        tell_customer(
            session,
            ticket,
            customer,
            "promise_changed",
            now=now,
            key=f"promise:{new.id}:changed",
            channel="email" if ticket.channel in WRITTEN_CHANNELS else "sms",
            ticket_id=ticket.id,
            number=ticket.number,
            due=due,
            previous_due=previous,
            reason=why,
            label=label.lower(),
            status_url=status_url(base_url, ticket.number),
            name=customer.name or None,
        )
    return new


def clear_follow_up(session: Session, ticket: Ticket, *, user: User, now: datetime) -> Ticket:
    if ticket.follow_up_reason is not None:
        audit_case(
            session,
            ticket,
            "ticket.follow_up_done",
            now=now,
            actor=actor_of(user),
            reason=ticket.follow_up_reason,
        )
        ticket.follow_up_reason = None
        ticket.follow_up_at = None
    return ticket
