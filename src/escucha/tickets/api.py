"""The tickets API: ``POST /api/v1/complaints`` and ``/api/v1/tickets/...`` (P3, P5, P6).

``POST /complaints`` is public: an integration (a partner website, a chatbot, a CRM) calls it
with an API token (``Authorization: Bearer ...``), a browser page with its session's CSRF
header. It answers 201 with the number and verification code, or a clear 4xx (the only
refusal a complaint can get is a description over the limit, with nothing written).

Send an ``Idempotency-Key`` header to retry safely. A key belongs to its caller (the API
token, the signed-in user, or the anonymous browser session): the same caller sending the
same key with the same fields gets the first answer back (``created: false``); the same key
with other fields is a 409 ``idempotency_key_reused`` and nothing is written (send it again
without the key or with a new one); another caller's key is never seen.

``acknowledgment`` says whether the customer was sent the acknowledgment and, when not, why
(``email_unusable``, ``phone_unusable``, ``no_contact``, ``not_sent``): the complaint is
registered all the same, and the integration should give the number to the customer itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from escucha.auth.api import DB, AgentCaller, Caller, ClockDep, Public, SupervisorCaller
from escucha.errors import InvalidInput
from escucha.org import reach
from escucha.promises.models import Promise
from escucha.tickets import handling, idempotency, opening, planning, reporting, service
from escucha.tickets.models import Ticket

router = APIRouter(tags=["tickets"])


def _ticket(db: Session, caller: Caller, ref: str, *, lock: bool = False) -> Ticket:
    """The ticket, when the caller may read and change it: an agent only a ticket of their
    team, assigned to them or opened by them (ADR 17)."""
    ticket = service.get_ticket(db, ref, lock=lock)
    reach.check_ticket(
        db,
        caller.need_user(),
        team_id=ticket.team_id,
        assignee_id=ticket.assignee_id,
        created_by_id=ticket.created_by_id,
    )
    return ticket


Channel = Literal["voice", "callback", "email", "web", "sms", "voicemail", "in_person"]
Kind = Literal["query", "fault", "request", "complaint"]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ComplaintIn(_In):
    """A complaint. Every field may be empty: an empty description is asked for later."""

    description: str | None = None
    subject: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    language: str | None = None
    channel: Channel = "web"
    topic: str | None = None
    area: Literal["urban", "rural"] | None = None


class TicketIn(ComplaintIn):
    kind: Kind | None = Field(default=None, description="Empty: from the complaint hint.")


class ProblemOut(BaseModel):
    code: str
    field: str
    message_es: str
    message_en: str


class PromiseOut(BaseModel):
    id: int
    kind: str
    state: str
    due_at: datetime
    told: str
    escalated: bool


class AcknowledgmentOut(BaseModel):
    """Whether the customer was sent the acknowledgment (number, code, promised date)."""

    sent: bool
    channel: str | None = Field(description="email or sms when sent")
    reason: str | None = Field(
        description="Why not: email_unusable, phone_unusable, no_contact or not_sent."
    )
    detail: str = ""


class OpenedOut(BaseModel):
    id: int
    number: str
    verification_code: str
    kind: str
    status: str
    team_id: int | None
    status_url: str
    next_due: datetime | None
    promises: list[PromiseOut]
    problems: list[ProblemOut]
    acknowledged_by: str | None
    acknowledgment: AcknowledgmentOut
    created: bool


class MessageOut(BaseModel):
    id: int
    created_at: datetime
    direction: str
    visibility: str
    author_kind: str
    channel: str
    subject: str
    body: str
    delivery: str | None


class TicketOut(BaseModel):
    id: int
    number: str
    kind: str
    topic: str | None
    status: str
    channel: str
    subject: str
    description: str
    description_missing: bool
    team_id: int | None
    assignee_id: int | None
    customer_id: int | None
    kind_hint: str | None
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    notified_at: datetime | None
    follow_up_reason: str | None
    promises: list[PromiseOut]
    messages: list[MessageOut] = []


class InboxOut(BaseModel):
    id: int
    number: str
    kind: str
    status: str
    channel: str
    subject: str
    team: str
    customer: str
    next_due: datetime | None
    next_promise: str | None
    at_risk: bool


class MessageIn(_In):
    body: str
    visibility: Literal["customer", "internal"] = "customer"
    channel: Literal["email", "sms"] = "email"
    work_s: float | None = Field(default=None, ge=0)


class AssignIn(_In):
    team_id: int | None = None
    assignee_id: int | None = None


class StatusIn(_In):
    status: str


class ResolveIn(_In):
    resolution: str
    channel: Literal["email", "sms"] | None = "email"


class KindIn(_In):
    kind: Kind
    topic: str | None = None


class RescheduleIn(_In):
    due_at: datetime
    reason: str


class RateOut(BaseModel):
    team: str
    subject_kind: str
    channel: str
    kept: int
    broken: int
    pending: int
    rate: float | None


class TeamPromisesOut(BaseModel):
    team: str
    at_risk: list[PromiseOut]
    broken: list[PromiseOut]


class OverviewOut(BaseModel):
    teams: list[TeamPromisesOut]
    rates: list[RateOut]
    follow_up: list[str]


def _promise_out(p: Promise) -> PromiseOut:
    return PromiseOut(
        id=p.id,
        kind=p.kind,
        state=p.state,
        due_at=p.due_at,
        told=p.told,
        escalated=p.escalated_at is not None,
    )


def _opened_out(request: Request, db: Session, opened: opening.Opened) -> OpenedOut:
    t = opened.ticket
    note = opened.notification
    reason, why = opening.acknowledgment_state(db, t, note)
    return OpenedOut(
        id=t.id,
        number=t.number,
        verification_code=t.verification_code,
        kind=t.kind,
        status=t.status,
        team_id=t.team_id,
        status_url=service.status_url(request.app.state.settings.public_url, t.number),
        next_due=opened.next_due,
        promises=[_promise_out(p) for p in opened.promises],
        problems=[
            ProblemOut(code=p.code, field=p.field, message_es=p.message_es, message_en=p.message_en)
            for p in opened.problems
        ],
        acknowledged_by=note.channel if note else None,
        acknowledgment=AcknowledgmentOut(
            sent=note is not None,
            channel=note.channel if note else None,
            reason=reason,
            detail=why,
        ),
        created=opened.created,
    )


def _ticket_out(db: Session, t: Ticket, *, messages: bool = False) -> TicketOut:
    delivery = {n.id: n.status for n in service.delivery_states(db, t.id)}
    return TicketOut(
        id=t.id,
        number=t.number,
        kind=t.kind,
        topic=t.topic,
        status=t.status,
        channel=t.channel,
        subject=t.subject,
        description=t.description,
        description_missing=t.description_missing,
        team_id=t.team_id,
        assignee_id=t.assignee_id,
        customer_id=t.customer_id,
        kind_hint=t.kind_hint,
        created_at=t.created_at,
        first_response_at=t.first_response_at,
        resolved_at=t.resolved_at,
        notified_at=t.notified_at,
        follow_up_reason=t.follow_up_reason,
        promises=[_promise_out(p) for p in planning.promises_of(db, t.id)],
        messages=[
            MessageOut(
                id=m.id,
                created_at=m.created_at,
                direction=m.direction,
                visibility=m.visibility,
                author_kind=m.author_kind,
                channel=m.channel,
                subject=m.subject,
                body=m.body,
                delivery=delivery.get(m.notification_id) if m.notification_id else None,
            )
            for m in service.thread(db, t.id)
        ]
        if messages
        else [],
    )


def _intake(
    request: Request, caller: Caller, data: ComplaintIn, kind: str | None, key: str | None
) -> opening.Intake:
    request_key = request_hash = None
    if key:
        scope = idempotency.caller_scope(
            via=caller.via,
            user_id=caller.user.id if caller.user is not None else None,
            authorization=request.headers.get("authorization", ""),
            session=request.session,
        )
        request_key = idempotency.scoped_key("api", scope, key)
        fields = data.model_dump(mode="json", exclude={"kind"})
        request_hash = idempotency.request_hash({**fields, "kind": kind})
    return opening.Intake(
        channel=data.channel,
        description=data.description,
        kind=kind,
        subject=data.subject or "",
        name=data.name or "",
        email=data.email,
        phone=data.phone,
        language=data.language,
        topic=data.topic,
        area=data.area,
        request_key=request_key,
        request_hash=request_hash,
    )


@router.post("/complaints", response_model=OpenedOut, status_code=201)
def create_complaint(
    data: ComplaintIn,
    request: Request,
    caller: Public,
    db: DB,
    clock: ClockDep,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> OpenedOut:
    """Register a complaint and give its number at once (P5). Never refused for its content."""
    opened = opening.file_complaint(
        db,
        _intake(request, caller, data, "complaint", idempotency_key),
        now=clock.now(),
        base_url=request.app.state.settings.public_url,
        user=caller.user,
        actor=service.actor_of(caller.user, "api"),
    )
    return _opened_out(request, db, opened)


@router.get("/tickets", response_model=list[InboxOut])
def list_tickets(
    caller: AgentCaller,
    db: DB,
    clock: ClockDep,
    team_id: int | None = None,
    kind: Kind | None = None,
    channel: Channel | None = None,
    at_risk: bool = False,
    status: str = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[InboxOut]:
    """Tickets ordered by the next promise due, with the inbox filters (an agent sees those of
    their team, assigned to them or opened by them)."""
    rows = service.inbox(
        db,
        now=clock.now(),
        reach=reach.reach_of(db, caller.need_user()),
        team_id=team_id,
        kind=kind,
        channel=channel,
        at_risk=at_risk,
        status=status,
        limit=limit,
    )
    return [
        InboxOut(
            id=r.ticket.id,
            number=r.ticket.number,
            kind=r.ticket.kind,
            status=r.ticket.status,
            channel=r.ticket.channel,
            subject=r.ticket.subject,
            team=r.team,
            customer=r.customer,
            next_due=r.next_due,
            next_promise=r.next_kind,
            at_risk=r.at_risk,
        )
        for r in rows
    ]


@router.post("/tickets", response_model=OpenedOut, status_code=201)
def create_ticket(
    data: TicketIn,
    request: Request,
    caller: AgentCaller,
    db: DB,
    clock: ClockDep,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> OpenedOut:
    """Open a ticket of any kind for a customer."""
    opened = opening.open_ticket(
        db,
        _intake(request, caller, data, data.kind, idempotency_key),
        now=clock.now(),
        base_url=request.app.state.settings.public_url,
        user=caller.need_user(),
    )
    return _opened_out(request, db, opened)


@router.get("/tickets/promises", response_model=OverviewOut)
def promises_overview(_caller: SupervisorCaller, db: DB, clock: ClockDep) -> OverviewOut:
    """Promises at risk and broken (last 30 days) by team; kept rates; follow-ups (M4)."""
    now = clock.now()
    teams, rates, follow = reporting.promise_overview(db, now=now, since=now - timedelta(days=30))
    return OverviewOut(
        teams=[
            TeamPromisesOut(
                team=t.team,
                at_risk=[_promise_out(r.promise) for r in t.at_risk],
                broken=[_promise_out(r.promise) for r in t.broken],
            )
            for t in teams
        ],
        rates=[RateOut(**r.__dict__) for r in rates],
        follow_up=[t.number for t in follow],
    )


@router.get("/tickets/{ref}", response_model=TicketOut)
def get_ticket(ref: str, caller: AgentCaller, db: DB) -> TicketOut:
    """A ticket by id or number, with its promises and thread."""
    return _ticket_out(db, _ticket(db, caller, ref), messages=True)


@router.post("/tickets/{ref}/messages", response_model=MessageOut, status_code=201)
def post_message(
    ref: str, data: MessageIn, request: Request, caller: AgentCaller, db: DB, clock: ClockDep
) -> MessageOut:
    """Reply to the customer (email or SMS) or add an internal note."""
    ticket = _ticket(db, caller, ref, lock=True)
    user = caller.need_user()
    if data.visibility == "internal":
        msg = handling.add_note(db, ticket, data.body, user=user, now=clock.now())
    else:
        msg = handling.reply_to_customer(
            db,
            ticket,
            data.body,
            user=user,
            now=clock.now(),
            base_url=request.app.state.settings.public_url,
            channel=data.channel,
            work_s=data.work_s,
        )
    return MessageOut(
        id=msg.id,
        created_at=msg.created_at,
        direction=msg.direction,
        visibility=msg.visibility,
        author_kind=msg.author_kind,
        channel=msg.channel,
        subject=msg.subject,
        body=msg.body,
        delivery="pending" if msg.notification_id else None,
    )


@router.post("/tickets/{ref}/assign", response_model=TicketOut)
def assign(ref: str, data: AssignIn, caller: AgentCaller, db: DB, clock: ClockDep) -> TicketOut:
    ticket = _ticket(db, caller, ref, lock=True)
    handling.reassign(
        db,
        ticket,
        user=caller.need_user(),
        now=clock.now(),
        team_id=data.team_id,
        assignee_id=data.assignee_id,
    )
    return _ticket_out(db, ticket)


@router.post("/tickets/{ref}/status", response_model=TicketOut)
def set_status(ref: str, data: StatusIn, caller: AgentCaller, db: DB, clock: ClockDep) -> TicketOut:
    ticket = _ticket(db, caller, ref, lock=True)
    handling.change_status(db, ticket, data.status, user=caller.need_user(), now=clock.now())
    return _ticket_out(db, ticket)


@router.post("/tickets/{ref}/resolve", response_model=TicketOut)
def resolve(
    ref: str, data: ResolveIn, request: Request, caller: AgentCaller, db: DB, clock: ClockDep
) -> TicketOut:
    """Resolve with the answer, sent to the customer by ``channel`` (none: told otherwise)."""
    ticket = _ticket(db, caller, ref, lock=True)
    handling.resolve(
        db,
        ticket,
        data.resolution,
        user=caller.need_user(),
        now=clock.now(),
        base_url=request.app.state.settings.public_url,
        channel=data.channel,
    )
    return _ticket_out(db, ticket)


@router.post("/tickets/{ref}/kind", response_model=TicketOut)
def set_kind(
    ref: str, data: KindIn, request: Request, caller: AgentCaller, db: DB, clock: ClockDep
) -> TicketOut:
    """Change the kind (keeping the number); a complaint stays a complaint."""
    ticket = _ticket(db, caller, ref, lock=True)
    handling.change_kind(
        db,
        ticket,
        data.kind,
        now=clock.now(),
        base_url=request.app.state.settings.public_url,
        user=caller.need_user(),
        topic=data.topic,
    )
    return _ticket_out(db, ticket)


@router.post("/tickets/{ref}/promises/{promise_id}/reschedule", response_model=PromiseOut)
def reschedule(
    ref: str,
    promise_id: int,
    data: RescheduleIn,
    request: Request,
    caller: AgentCaller,
    db: DB,
    clock: ClockDep,
) -> PromiseOut:
    """A new promised time with the reason; the customer is told both."""
    if data.due_at.tzinfo is None:
        raise InvalidInput("due_at: give the time zone, e.g. 2026-11-30T12:00:00+01:00")
    ticket = _ticket(db, caller, ref, lock=True)
    new = handling.reschedule_promise(
        db,
        ticket,
        promise_id,
        data.due_at,
        reason=data.reason,
        user=caller.need_user(),
        now=clock.now(),
        base_url=request.app.state.settings.public_url,
    )
    return _promise_out(new)
