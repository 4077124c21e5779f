"""The ACD over HTTP: contacts, events, estimates, callbacks, agents' states and actions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha.auth.api import DB, AgentCaller, Caller, ClockDep, SupervisorCaller
from escucha.auth.models import User
from escucha.callbacks import service as callbacks
from escucha.callbacks.models import Callback
from escucha.contacts import service
from escucha.contacts.models import Contact, Customer
from escucha.errors import Conflict, Forbidden, NotFound
from escucha.flows import calls
from escucha.org import reach
from escucha.org.models import Queue
from escucha.org.schemas import Language
from escucha.routing import service as routing
from escucha.routing.models import AgentStatus

router = APIRouter(tags=["acd"])


def _reachable(db: Session, caller: Caller, contact_id: int) -> Contact:
    """The contact, when the caller may act on it: an agent only on a contact offered or
    assigned to them, waiting in one of their queues, or still in the IVR (ADR 17)."""
    contact = service.get_contact(db, contact_id)
    reach.check_contact(db, caller.need_user(), queue=contact.queue, agent_id=contact.agent_id)
    return contact


class ContactIn(BaseModel):
    channel: Literal["voice", "web", "sms", "voicemail", "email"] = "voice"
    phone: str | None = Field(default=None, description="Caller's number, any common form")
    email: str | None = None
    language: Language | None = None
    provider_ref: str | None = Field(default=None, max_length=100)


class ContactOut(BaseModel):
    id: int
    channel: str
    state: str
    queue: str | None
    language: str
    customer_id: int | None
    agent_id: int | None
    ivr_path: list[Any]
    arrived_at: datetime
    joined_at: datetime | None


def _out(c: Contact) -> ContactOut:
    return ContactOut(
        id=c.id,
        channel=c.channel,
        state=c.state,
        queue=c.queue,
        language=c.language,
        customer_id=c.customer_id,
        agent_id=c.agent_id,
        ivr_path=c.ivr_path,
        arrived_at=c.arrived_at,
        joined_at=c.joined_at,
    )


@router.post("/contacts", response_model=ContactOut, status_code=201)
def start_contact(data: ContactIn, _caller: AgentCaller, db: DB, clock: ClockDep) -> ContactOut:
    """A contact arrives (idempotent on ``provider_ref``): the same reference with the same
    channel and customer gives back the first contact; a reference that already names a
    contact of another provider, channel or customer is a 409, never that contact."""
    now = clock.now()
    customer = None
    if data.phone or data.email:
        customer = service.find_or_create_customer(
            db, now=now, phone=data.phone, email=data.email, language=data.language
        )
    if data.provider_ref:
        known = db.scalar(select(Contact).where(Contact.provider_ref == data.provider_ref))
        if known is not None and (
            known.provider != "api"
            or known.channel != data.channel
            or known.customer_id != (customer.id if customer is not None else None)
        ):
            raise Conflict(
                "provider_ref: already names another contact; nothing was started, send "
                "again with the reference of this contact"
            )
    contact = service.start_contact(
        db,
        channel=data.channel,
        now=now,
        customer=customer,
        provider="api",
        provider_ref=data.provider_ref,
        language=data.language,
    )
    return _out(contact)


@router.get("/contacts/{contact_id}", response_model=ContactOut)
def get_contact(contact_id: int, caller: AgentCaller, db: DB) -> ContactOut:
    return _out(_reachable(db, caller, contact_id))


class EventOut(BaseModel):
    event: str
    at: datetime
    queue: str | None
    agent_id: int | None
    data: dict[str, Any]


@router.get("/contacts/{contact_id}/events", response_model=list[EventOut])
def contact_events(contact_id: int, caller: AgentCaller, db: DB) -> list[EventOut]:
    """The contact's timeline."""
    _reachable(db, caller, contact_id)
    return [
        EventOut(event=e.event, at=e.at, queue=e.queue, agent_id=e.agent_id, data=e.data)
        for e in service.events_of(db, contact_id)
    ]


class IvrChoiceIn(BaseModel):
    node: str = Field(min_length=1, max_length=80)
    key: str = Field(min_length=1, max_length=40)


@router.post("/contacts/{contact_id}/ivr", response_model=ContactOut)
def ivr_choice(
    contact_id: int, data: IvrChoiceIn, caller: AgentCaller, db: DB, clock: ClockDep
) -> ContactOut:
    """Record a choice in the IVR (kept on the contact and shown to the agent)."""
    contact = _reachable(db, caller, contact_id)
    service.ivr_choice(db, contact, node=data.node, key=data.key, now=clock.now())
    return _out(contact)


class QueueIn(BaseModel):
    queue: str
    skills: dict[str, int] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=0, le=100)


class EstimateOut(BaseModel):
    contact_id: int
    position: int
    estimate_s: float
    bound_s: float
    predictor: str
    said: str
    callback_offered: bool


def _told(t: routing.Told) -> EstimateOut:
    e = t.estimate
    return EstimateOut(
        contact_id=e.contact_id,
        position=e.position,
        estimate_s=round(e.estimate_s, 1),
        bound_s=e.bound_s,
        predictor=e.predictor,
        said=t.text,
        callback_offered=t.callback_offered,
    )


@router.post("/contacts/{contact_id}/queue", response_model=EstimateOut | ContactOut)
def queue_contact(
    contact_id: int, data: QueueIn, caller: AgentCaller, db: DB, clock: ClockDep
) -> EstimateOut | ContactOut:
    """Put the contact in line; the answer is what the caller hears (position and a bound),
    or the contact itself when an agent took it at once."""
    now = clock.now()
    contact = _reachable(db, caller, contact_id)
    q = db.scalar(select(Queue).where(Queue.name == data.queue))
    if q is None:
        raise NotFound(f"queue {data.queue!r} not found")
    service.enqueue(
        db,
        contact,
        data.queue,
        now=now,
        skills=data.skills or q.skills,
        priority=data.priority or q.priority,
    )
    routing.dispatch(db, now=now)
    db.refresh(contact)
    if contact.state != "queued":
        return _out(contact)
    return _told(routing.tell_estimate(db, contact, now=now))


@router.post("/contacts/{contact_id}/estimate", response_model=EstimateOut)
def estimate(contact_id: int, caller: AgentCaller, db: DB, clock: ClockDep) -> EstimateOut:
    """Tell the waiting caller their position and wait again (stored with the wait that follows)."""
    return _told(routing.tell_estimate(db, _reachable(db, caller, contact_id), now=clock.now()))


@router.post("/contacts/{contact_id}/abandon", response_model=ContactOut)
def abandon(contact_id: int, caller: AgentCaller, db: DB, clock: ClockDep) -> ContactOut:
    """The caller hung up."""
    contact = _reachable(db, caller, contact_id)
    routing.abandon(db, contact, now=clock.now())
    return _out(contact)


class CallbackIn(BaseModel):
    phone: str | None = None
    slot_start: datetime | None = None
    slot_end: datetime | None = None


class CallbackOut(BaseModel):
    id: int
    contact_id: int
    queue: str
    mode: str
    state: str
    joined_at: datetime
    due_at: datetime
    attempts: int


def _cb(cb: Callback) -> CallbackOut:
    return CallbackOut(
        id=cb.id,
        contact_id=cb.contact_id,
        queue=cb.queue,
        mode=cb.mode,
        state=cb.state,
        joined_at=cb.joined_at,
        due_at=cb.due_at,
        attempts=cb.attempts,
    )


@router.post("/contacts/{contact_id}/callback", response_model=CallbackOut, status_code=201)
def take_callback(
    contact_id: int, data: CallbackIn, caller: AgentCaller, db: DB, clock: ClockDep
) -> CallbackOut:
    """The waiting caller takes a callback: it keeps their place, and a confirmation with a
    concrete time is sent."""
    contact = _reachable(db, caller, contact_id)
    if contact.customer_id is None or contact.queue is None:
        raise NotFound("the contact has no customer or queue to call back for")
    customer = db.get(Customer, contact.customer_id)
    if customer is None:
        raise NotFound("customer not found")
    cb = callbacks.request_callback(
        db,
        now=clock.now(),
        queue=contact.queue,
        customer=customer,
        phone=data.phone,
        contact=contact,
        slot_start=data.slot_start,
        slot_end=data.slot_end,
    )
    return _cb(cb)


@router.get("/callbacks", response_model=list[CallbackOut])
def list_callbacks(_caller: SupervisorCaller, db: DB) -> list[CallbackOut]:
    """Callbacks not yet made, soonest due first."""
    return [_cb(cb) for cb in callbacks.pending(db)]


class SlotOut(BaseModel):
    start: datetime
    end: datetime


@router.get("/callbacks/slots", response_model=list[SlotOut])
def callback_slots(queue: str, _caller: AgentCaller, db: DB, clock: ClockDep) -> list[SlotOut]:
    """Slots a customer can choose for a callback, inside business hours."""
    return [SlotOut(start=s.start, end=s.end) for s in callbacks.slots(db, queue, now=clock.now())]


class AgentStateIn(BaseModel):
    state: Literal["available", "break", "offline", "wrap_up"]


class AgentOut(BaseModel):
    user_id: int
    state: str
    since: datetime
    contact_id: int | None


@router.get("/agents", response_model=list[AgentOut])
def list_agents(_caller: SupervisorCaller, db: DB) -> list[AgentOut]:
    return [
        AgentOut(user_id=a.user_id, state=a.state, since=a.since, contact_id=a.contact_id)
        for a in db.scalars(select(AgentStatus).order_by(AgentStatus.user_id))
    ]


@router.get("/agents/me", response_model=AgentOut)
def my_state(caller: AgentCaller, db: DB, clock: ClockDep) -> AgentOut:
    """The calling agent's state and current contact (what the desktop shows after a reload)."""
    a = routing.agent_status(db, caller.need_user().id, now=clock.now())
    return AgentOut(user_id=a.user_id, state=a.state, since=a.since, contact_id=a.contact_id)


@router.put("/agents/{user_id}/state", response_model=AgentOut)
def set_state(
    user_id: int, data: AgentStateIn, caller: AgentCaller, db: DB, clock: ClockDep
) -> AgentOut:
    """An agent sets their own state; a supervisor may set anyone's."""
    me = caller.need_user()
    if me.id != user_id and me.role == "agent":
        raise Forbidden("agents set only their own state")
    if db.get(User, user_id) is None:
        raise NotFound(f"user {user_id} not found")
    a = routing.set_agent_state(db, user_id, data.state, now=clock.now())
    return AgentOut(user_id=a.user_id, state=a.state, since=a.since, contact_id=a.contact_id)


class ActionIn(BaseModel):
    action: Literal[
        "answer", "decline", "hold", "resume", "transfer", "end", "wrap_up", "no_answer"
    ]
    announced: bool = False
    queue: str | None = None
    note: str = ""
    outcome: str = "solved"
    resolved: bool = True
    recap: str = ""
    next_state: Literal["available", "break", "offline"] = "available"


@router.post("/agent/contacts/{contact_id}", response_model=ContactOut)
def agent_action(
    contact_id: int, data: ActionIn, caller: AgentCaller, db: DB, clock: ClockDep
) -> ContactOut:
    """What the agent does with their contact. Handle time is measured, never enforced."""
    uid, now = caller.need_user().id, clock.now()
    if data.action == "answer":
        calls.answer(db, uid, contact_id, now=now)
    elif data.action == "decline":
        routing.decline(db, uid, contact_id, now=now)
    elif data.action == "hold":
        routing.hold(db, uid, contact_id, now=now, announced=data.announced)
    elif data.action == "resume":
        routing.resume(db, uid, contact_id, now=now)
    elif data.action == "transfer":
        if not data.queue:
            raise NotFound("transfer needs a queue")
        routing.transfer(db, uid, contact_id, data.queue, now=now, note=data.note)
    elif data.action == "end":
        routing.end_call(db, uid, contact_id, now=now, ended_by="agent")
    elif data.action == "wrap_up":
        routing.wrap_up(
            db,
            uid,
            contact_id,
            now=now,
            outcome=data.outcome,
            resolved=data.resolved,
            recap=data.recap,
            next_state=data.next_state,
        )
    else:
        callbacks.no_answer(db, uid, contact_id, now=now)
    return _out(service.get_contact(db, contact_id))


class QueueStatusOut(BaseModel):
    queue: str
    waiting: int
    longest_wait_s: float | None


@router.get("/queues/status", response_model=list[QueueStatusOut])
def queue_status(_caller: AgentCaller, db: DB, clock: ClockDep) -> list[QueueStatusOut]:
    now = clock.now()
    rows = db.execute(
        select(Contact.queue, func.count(), func.min(Contact.queued_at))
        .where(Contact.state == "queued")
        .group_by(Contact.queue)
    ).all()
    return [
        QueueStatusOut(
            queue=q or "",
            waiting=n,
            longest_wait_s=(now - oldest).total_seconds() if oldest else None,
        )
        for q, n, oldest in rows
    ]


class EstimateErrorOut(BaseModel):
    queue: str
    count: int
    mae_s: float | None
    within_25: float | None
    bias_s: float | None


@router.get("/estimates/errors", response_model=list[EstimateErrorOut])
def estimate_errors(_caller: SupervisorCaller, db: DB) -> list[EstimateErrorOut]:
    """How honest the wait estimates were, per queue (answered callers)."""
    return [EstimateErrorOut(**vars(r)) for r in routing.estimate_errors(db)]


def _utc(value: datetime | None) -> datetime | None:
    """A query's time: one without a zone is read as UTC, never a 500."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _stream(lines: Iterator[str], media: str, name: str) -> StreamingResponse:
    return StreamingResponse(
        lines, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get(
    "/events.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def events_csv(
    _caller: SupervisorCaller, db: DB, since: datetime | None = None, until: datetime | None = None
) -> StreamingResponse:
    """The contact event log as CSV (``escucha analyze --format escucha`` reads it).

    ``since`` and ``until`` are ISO 8601 times; a time without a zone is read as UTC."""
    rows = service.iter_events(db, since=_utc(since), until=_utc(until))
    lines = list(service.export_csv(rows))
    return _stream(iter(lines), "text/csv; charset=utf-8", "escucha-events.csv")


@router.get(
    "/events.queue_log",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def events_queue_log(
    _caller: SupervisorCaller, db: DB, since: datetime | None = None, until: datetime | None = None
) -> StreamingResponse:
    """The contact event log as Asterisk ``queue_log`` lines (times without a zone: UTC)."""
    rows = service.iter_events(db, since=_utc(since), until=_utc(until))
    lines = list(service.export_queue_log(rows))
    return _stream(iter(lines), "text/plain; charset=utf-8", "queue_log")
