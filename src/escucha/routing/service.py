"""The ACD on the database: agents' states, routing decisions and wait estimates.

Routing is rebuilt from the database inside the transaction of the change that calls for it
(a caller queued, an agent available) and every assignment is written with compare-and-set
updates before anything acts on it, so no agent gets two contacts and no contact two agents,
even with several nodes. On PostgreSQL a transaction-scoped advisory lock makes one routing
pass run at a time across nodes; a node that dies releases it with its connection.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import case, insert, literal_column, select, update
from sqlalchemy.orm import Session

from escucha.callbacks.models import Callback
from escucha.contacts import lifecycle
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact, ContactEvent, Estimate
from escucha.db import changes as live
from escucha.errors import Conflict, InvalidInput, NotFound
from escucha.jobs.service import enqueue
from escucha.org import models as org
from escucha.routing import cache
from escucha.routing import estimate as est
from escucha.routing.engine import RoutingEngine
from escucha.routing.floor import agent_value as agent_value  # re-exported: public before
from escucha.routing.floor import queue_configs as queue_configs
from escucha.routing.floor import waiting_value as waiting_value
from escucha.routing.models import AgentStatus, RoutingDecision
from escucha.routing.rules import AgentState, Assignment, is_allowed_transition
from escucha.workforce.models import AgentStateChange
from escucha.workforce.service import record_state_change

NODE = socket.gethostname()
_T = TypeVar("_T")


def _ts(at: datetime) -> float:
    return at.timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True)
class Offer:
    contact_id: int
    agent_id: int
    queue: str


def dispatch(session: Session, *, now: datetime) -> list[Offer]:
    """Move overflowing contacts and give every contact that can be served to an agent."""
    session.flush()
    engine = cache.sync(session)
    t = _ts(now)
    for moved in engine.overflow(t):
        contact = session.get(Contact, int(moved.contact_id))
        if contact is not None and contact.state == "queued":
            contact.queue = moved.to_queue
            contact.queued_at = now
            contacts.transition(
                session,
                contact,
                "overflow",
                at=now,
                to=moved.to_queue,
                overflow_from=moved.from_queue,
            )
            contacts.transition(
                session, contact, "enqueue", at=now, queue=moved.to_queue, overflow=True
            )
    matches = engine.match(t)
    offers = _persist(session, matches, now=now) if matches else []
    session.flush()
    return offers


def _int_case(mapping: dict[int, int], key: Any) -> Any:
    """``CASE key WHEN k THEN v ...`` with the integers written into the statement: one short
    parameter list whatever the number of pairs (ints only, so nothing can be injected)."""
    return case({int(k): literal_column(str(int(v))) for k, v in mapping.items()}, value=key)


def _claim(
    session: Session, entity: type[_T], ours: Any, free: tuple[Any, ...], values: dict[str, Any]
) -> list[_T]:
    """Compare-and-set on many rows in one statement: the rows ``ours`` that are still
    ``free`` take ``values``; returns those that did, reloaded in the session."""
    return list(
        session.scalars(
            update(entity)
            .where(ours, *free)
            .values(values)
            .returning(entity)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
    )


def _persist(session: Session, matches: list[Assignment], *, now: datetime) -> list[Offer]:
    """Write a routing pass's assignments, set-based: a few statements whatever their number.

    Compare-and-set: an agent is taken only if still available with no contact, a contact only
    if still queued with no agent; a pair that loses either side is undone and this process's
    engine rebuilt (it believed in a state the database does not have).
    """
    pairs = {int(a.agent_id): int(a.contact_id) for a in matches}
    # set-based writes the session's flushes do not see: name what they change for the desks
    live.touch(
        session, "floor", *(f"agent:{a}" for a in pairs), *(f"contact:{c}" for c in pairs.values())
    )
    got_agents = {
        status.user_id: status
        for status in _claim(
            session,
            AgentStatus,
            AgentStatus.user_id.in_(pairs),
            (AgentStatus.state == "available", AgentStatus.contact_id.is_(None)),
            {"state": "busy", "since": now, "contact_id": _int_case(pairs, AgentStatus.user_id)},
        )
    }
    wanted = {cid: aid for aid, cid in pairs.items() if aid in got_agents}
    kinds = {int(a.contact_id): {"kind": a.kind.value} for a in matches}
    taken = {
        contact.id: contact
        for contact in contacts.transition_many(
            session,
            "offer",
            wanted,
            at=now,
            values={"offered_at": now, "agent_id": _int_case(wanted, Contact.id)},
            data=kinds,
        )
    }
    lost = [aid for cid, aid in wanted.items() if cid not in taken]
    if lost:
        session.execute(
            update(AgentStatus)
            .where(AgentStatus.user_id.in_(lost))
            .values(state="available", contact_id=None)
            .execution_options(synchronize_session=False)
        )
        for aid in lost:
            session.expire(got_agents[aid])
    if lost or len(got_agents) < len(pairs):
        cache.invalidate(session)
    offers: list[Offer] = []
    callbacks: list[int] = []
    decisions: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for a in matches:
        if int(a.contact_id) not in taken:
            continue
        contact = taken[int(a.contact_id)]
        aid = contact.agent_id or 0
        decisions.append(
            {
                "contact_id": contact.id,
                "agent_id": aid,
                "queue": a.queue,
                "kind": a.kind.value,
                "reason": a.reason.value,
                "waited_s": a.waited_s,
                "decided_at": now,
                "node": NODE,
            }
        )
        # The compare-and-set proved the agent was available: this is a change of state.
        changes.append({"user_id": aid, "state": "busy", "at": now})
        if contact.channel == "callback":
            callbacks.append(contact.id)
        elif contact.provider == "twilio":  # the caller's line waits in silence: wake it
            enqueue(session, "telephony.wake", {"contact_id": contact.id}, now=now)
        offers.append(Offer(contact.id, aid, a.queue))
    if offers:  # appended in one round trip each (executemany), not object by object
        session.execute(insert(RoutingDecision), decisions)
        session.execute(insert(AgentStateChange), changes)
    if callbacks:
        session.execute(
            update(Callback)
            .where(Callback.contact_id.in_(callbacks))
            .values(state="offered")
            .execution_options(synchronize_session=False)
        )
    return offers


# --- agents ---------------------------------------------------------------------------------


def status_of(session: Session, user_id: int) -> AgentStatus | None:
    """The agent's state row as it is (``None`` before their first state: offline)."""
    return session.get(AgentStatus, user_id)


def agent_status(session: Session, user_id: int, *, now: datetime) -> AgentStatus:
    status = session.get(AgentStatus, user_id)
    if status is None:
        status = AgentStatus(user_id=user_id, state="offline", since=now)
        session.add(status)
        session.flush()
    return status


def _move_agent(session: Session, status: AgentStatus, new: AgentState, *, now: datetime) -> None:
    """The one writer of an agent's state row by row (a routing pass claims agents set-based in
    :func:`_persist`): checked against the agents' table (``routing.rules``), the time of the
    change kept, and the change recorded in the agent's history."""
    current = AgentState(status.state)
    if not is_allowed_transition(current, new):
        raise Conflict(f"an agent cannot go from {current} to {new}")
    if new != current:
        status.state = new.value
        status.since = now
        if new is AgentState.AVAILABLE:
            status.idle_since = now
    record_state_change(session, status.user_id, new.value, now=now)


def seed_agents(session: Session, user_ids: list[int], *, state: AgentState, now: datetime) -> None:
    """Agents' state rows written at once, without history or routing (a benchmark's floor)."""
    session.execute(
        insert(AgentStatus),
        [{"user_id": u, "state": state.value, "since": now, "idle_since": None} for u in user_ids],
    )


def make_available(session: Session, user_ids: list[int], *, now: datetime) -> None:
    """Agents become available together, without a routing pass each (a benchmark's burst;
    the pass that follows gives them contacts)."""
    for uid in user_ids:
        status = agent_status(session, uid, now=now)
        _move_agent(session, status, AgentState.AVAILABLE, now=now)
        status.since = status.idle_since = now


def seed_agent_states(session: Session, states: Mapping[int, str], *, now: datetime) -> None:
    """Agents who have no status yet, each in its state since ``now``, in one ``INSERT`` (a
    benchmark's floor; their history starts there)."""
    if states:
        session.execute(
            insert(AgentStatus),
            [{"user_id": uid, "state": state, "since": now} for uid, state in states.items()],
        )


def set_agent_state(session: Session, user_id: int, state: str, *, now: datetime) -> AgentStatus:
    """Agent changes state (available, break, offline...). Becoming available routes at once."""
    try:
        new = AgentState(state)
    except ValueError:
        raise InvalidInput(f"state: one of {', '.join(s.value for s in AgentState)}") from None
    status = agent_status(session, user_id, now=now)
    current = AgentState(status.state)
    if new is AgentState.BUSY:
        raise InvalidInput("an agent becomes busy by taking a contact")
    if status.contact_id is not None and new is not AgentState.WRAP_UP:
        raise Conflict("finish the current contact first (wrap it up)")
    if not is_allowed_transition(current, new):
        raise Conflict(f"an agent cannot go from {current} to {new}")
    _move_agent(session, status, new, now=now)
    session.flush()
    if new is AgentState.AVAILABLE:
        dispatch(session, now=now)  # reloads the agent's row if the pass gave it a contact
    return status


def release_agent(
    session: Session, user_id: int, contact_id: int, *, now: datetime, state: str
) -> None:
    status = session.get(AgentStatus, user_id)
    if status is None or status.contact_id != contact_id:
        return
    status.contact_id = None
    _move_agent(session, status, AgentState(state), now=now)


# --- what the agent does with an offered contact -----------------------------------------


def _agent_contact(
    session: Session, user_id: int, contact_id: int, states: tuple[str, ...]
) -> Contact:
    contact = contacts.get_contact(session, contact_id)
    if contact.agent_id != user_id:
        raise Conflict(f"contact {contact_id} is not yours")
    if contact.state not in states:
        raise Conflict(f"contact {contact_id} is {contact.state}")
    return contact


def answer(session: Session, user_id: int, contact_id: int, *, now: datetime) -> Contact:
    """The agent takes the contact offered to them. A callback's customer is reached by the
    flow that answers (:func:`escucha.flows.calls.answer`), not from here."""
    contact = _agent_contact(session, user_id, contact_id, ("offered",))
    contact.answered_at = now
    contacts.transition(session, contact, "answer", at=now, wait_s=contacts.wait_s(contact, now))
    settle_estimates(session, contact, now=now, outcome="answered")
    return contact


def decline(session: Session, user_id: int, contact_id: int, *, now: datetime) -> Contact:
    """The agent did not take it: back to its place in line; the agent goes on a break."""
    contact = _agent_contact(session, user_id, contact_id, ("offered",))
    contacts.transition(session, contact, "decline", at=now)
    contact.agent_id = None
    release_agent(session, user_id, contact.id, now=now, state="break")
    session.flush()
    dispatch(session, now=now)
    return contact


def hold(
    session: Session, user_id: int, contact_id: int, *, now: datetime, announced: bool
) -> Contact:
    contact = _agent_contact(session, user_id, contact_id, ("connected",))
    contacts.transition(session, contact, "hold", at=now, announced=announced)
    if contact.provider == "twilio":  # the phone line plays the hold (telephony.hold_line)
        enqueue(session, "telephony.hold", {"contact_id": contact.id}, now=now)
    return contact


def resume(session: Session, user_id: int, contact_id: int, *, now: datetime) -> Contact:
    contact = _agent_contact(session, user_id, contact_id, ("on_hold",))
    started = session.scalar(
        select(ContactEvent.at)
        .where(
            ContactEvent.contact_id == contact.id,
            ContactEvent.event == "hold_started",
        )
        .order_by(ContactEvent.id.desc())
        .limit(1)
    )
    held = (now - started).total_seconds() if started else 0.0
    contacts.transition(session, contact, "resume", at=now, hold_s=held)
    if contact.provider == "twilio":  # the line rings the agent's desk again
        enqueue(session, "telephony.hold", {"contact_id": contact.id}, now=now)
    return contact


def transfer(
    session: Session, user_id: int, contact_id: int, queue: str, *, now: datetime, note: str = ""
) -> Contact:
    """Send the contact to another queue with its whole context; the next agent sees it all."""
    contact = _agent_contact(session, user_id, contact_id, ("connected", "on_hold"))
    if session.scalar(select(org.Queue).where(org.Queue.name == queue)) is None:
        raise NotFound(f"queue {queue!r} not found")
    contacts.transition(session, contact, "transfer", at=now, to=queue, note=note)
    if note:
        contact.notes = ((contact.notes or "") + f"\n{note}").strip()
    release_agent(session, user_id, contact.id, now=now, state="wrap_up")
    contact.agent_id = None
    contacts.enqueue(
        session,
        contact,
        queue,
        now=now,
        skills=contact.skills,
        priority=max(contact.priority, 5),  # a transferred caller has waited already
        transfer=True,
    )
    session.flush()
    dispatch(session, now=now)
    return contact


def reserve_for_consult(session: Session, user_id: int, *, now: datetime) -> AgentStatus:
    """An available agent is asked to talk to a colleague first (a warm transfer): busy, so no
    contact is offered to them meanwhile."""
    status = agent_status(session, user_id, now=now)
    if status.state != AgentState.AVAILABLE.value or status.contact_id is not None:
        raise Conflict("that agent is not available now")
    _move_agent(session, status, AgentState.BUSY, now=now)
    return status


def end_reservation(session: Session, user_id: int, *, now: datetime) -> None:
    """The consult ended without a hand-over: the agent is available again."""
    status = agent_status(session, user_id, now=now)
    if status.contact_id is None and status.state == AgentState.BUSY.value:
        _move_agent(session, status, AgentState.AVAILABLE, now=now)
        session.flush()
        dispatch(session, now=now)


def hand_over(
    session: Session, user_id: int, contact_id: int, to_user_id: int, *, now: datetime, note: str
) -> Contact:
    """A warm transfer: the agent hands the customer to the colleague they have just talked to
    (reserved by :func:`reserve_for_consult`). The customer comes off hold with the colleague;
    the first agent goes to wrap-up."""
    contact = _agent_contact(session, user_id, contact_id, ("connected", "on_hold"))
    target = agent_status(session, to_user_id, now=now)
    if target.state != AgentState.BUSY.value or target.contact_id is not None:
        raise Conflict("the colleague is no longer free to take the customer")
    if contact.state == "on_hold":
        resume(session, user_id, contact_id, now=now)
    contacts.transition(
        session,
        contact,
        "hand_over",
        at=now,
        agent_id=user_id,
        to=contact.queue or "",
        to_agent=to_user_id,
        warm=True,
        note=note,
    )
    if note:
        contact.notes = ((contact.notes or "") + f"\n{note}").strip()
    release_agent(session, user_id, contact.id, now=now, state="wrap_up")
    contact.agent_id = to_user_id
    target.contact_id = contact.id
    session.flush()
    return contact


def end_call(
    session: Session, user_id: int, contact_id: int, *, now: datetime, ended_by: str
) -> Contact:
    """The conversation ends; the agent goes to wrap-up (never timed, never cut)."""
    contact = _agent_contact(session, user_id, contact_id, ("connected", "on_hold"))
    contacts.transition(session, contact, "end_call", at=now, ended_by=ended_by)
    _move_agent(session, agent_status(session, user_id, now=now), AgentState.WRAP_UP, now=now)
    return contact


def wrap_up(
    session: Session,
    user_id: int,
    contact_id: int,
    *,
    now: datetime,
    outcome: str,
    resolved: bool,
    recap: str,
    next_state: str = "available",
) -> Contact:
    """Close the contact with its outcome and recap; the agent chooses when to be available."""
    contact = _agent_contact(session, user_id, contact_id, ("wrap_up", "connected", "on_hold"))
    if contact.state != "wrap_up":
        end_call(session, user_id, contact_id, now=now, ended_by="agent")
    ended = session.scalar(
        select(ContactEvent.at)
        .where(ContactEvent.contact_id == contact.id, ContactEvent.event == "ended")
        .order_by(ContactEvent.id.desc())
        .limit(1)
    )
    contact.outcome = outcome
    contact.resolved = resolved
    contact.recap = recap
    contact.ended_at = ended or now
    contacts.transition(
        session,
        contact,
        "wrap_up",
        at=now,
        outcome=outcome,
        resolved=resolved,
        wrap_s=(now - (ended or now)).total_seconds(),
        ended_by="agent",
    )
    if next_state not in ("available", "break", "offline"):
        raise InvalidInput("next_state: available, break or offline")
    release_agent(session, user_id, contact.id, now=now, state=next_state)
    session.flush()
    if next_state == "available":
        dispatch(session, now=now)
    return contact


def abandon(
    session: Session, contact: Contact, *, now: datetime, dedupe_key: str | None = None
) -> None:
    """The caller hung up while waiting (or in the IVR); an agent it was offered to is free."""
    if contact.state in lifecycle.FINAL:
        return
    if contact.state not in lifecycle.WAITING:
        contacts.transition(session, contact, "hang_up", at=now, reason="caller_hung_up")
        settle_estimates(session, contact, now=now, outcome="abandoned")
        return
    if contact.agent_id is not None:
        release_agent(session, contact.agent_id, contact.id, now=now, state="available")
        contact.agent_id = None
    waited = contacts.wait_s(contact, now)
    if contacts.transition(
        session, contact, "abandon", at=now, dedupe_key=dedupe_key, wait_s=waited
    ):
        contacts.transition(session, contact, "close", at=now, reason="caller_hung_up")
    settle_estimates(session, contact, now=now, outcome="abandoned")


# --- estimates ------------------------------------------------------------------------------


def wait_inputs(
    engine: RoutingEngine, meter: est.QueueMeter, contact: Contact, *, now: datetime
) -> est.WaitInputs:
    """The predictors' inputs for a waiting caller: each a constant-time read of the engine
    (a binary search for the callers ahead, kept counts for the rest) and of the meter."""
    queue = contact.queue or ""
    cid = str(contact.id)
    ahead = engine.callers_ahead(cid) if engine.is_waiting(cid) else 0
    return est.WaitInputs(
        callers_ahead=ahead,
        agents_staffed=engine.agents_staffed(queue),
        queue_length=max(engine.queue_length(queue), ahead + 1),
        mean_service_s=meter.mean_service_s,
        mean_patience_s=meter.mean_patience_s,
        les_wait_s=meter.les_wait_s,
        hol_wait_s=engine.head_wait_s(queue, _ts(now)),
        default_s=engine.queue(queue).default_wait_s,
    )


@dataclass(frozen=True)
class Told:
    estimate: Estimate
    text: str
    callback_offered: bool


def tell_estimate(session: Session, contact: Contact, *, now: datetime) -> Told:
    """Estimate the caller's wait, store it, and return the sentence they hear (W1)."""
    if contact.state != "queued" or not contact.queue:
        raise Conflict(f"contact {contact.id} is not waiting in a queue")
    engine = cache.sync(session)  # the floor kept in memory, in step with this transaction
    meter, margin = cache.rates(session, contact.queue)
    inputs = wait_inputs(engine, meter, contact, now=now)
    ahead, config = inputs.callers_ahead, engine.queue(contact.queue)
    guess = est.estimate_wait(inputs)
    estimate_s = guess.estimate_s
    if inputs.agents_staffed == 0:
        # Nobody is on duty for this queue: the line does not move, whatever the last waits
        # were. Never promise a short wait then; the queue's default per caller is the floor.
        estimate_s = max(estimate_s, config.default_wait_s * (ahead + 1))
    said = est.announce_bound(estimate_s, contact.language, callers_ahead=ahead, margin=margin)
    row = Estimate(
        contact_id=contact.id,
        queue=contact.queue,
        given_at=now,
        position=ahead + 1,
        estimate_s=estimate_s,
        bound_s=said.bound_s,
        predictor=guess.predictor.value,
    )
    session.add(row)
    contacts.transition(
        session,
        contact,
        "tell_estimate",
        at=now,
        estimate_s=round(estimate_s, 1),
        position=ahead + 1,
        predictor=guess.predictor.value,
        bound_s=said.bound_s,
    )
    offer = config.callback_offer_s is not None and estimate_s >= config.callback_offer_s
    if offer:
        contacts.transition(
            session, contact, "offer_callback", at=now, estimate_s=round(estimate_s, 1)
        )
    session.flush()
    return Told(row, said.text, offer)


def settle_estimates(session: Session, contact: Contact, *, now: datetime, outcome: str) -> None:
    """Store the wait that followed each estimate told to this caller."""
    for e in session.scalars(
        select(Estimate).where(Estimate.contact_id == contact.id, Estimate.outcome.is_(None))
    ):
        e.actual_wait_s = max(0.0, (now - e.given_at).total_seconds())
        e.outcome = outcome


@dataclass(frozen=True)
class EstimateReport:
    queue: str
    count: int
    mae_s: float | None
    within_25: float | None
    bias_s: float | None


def estimate_errors(session: Session) -> list[EstimateReport]:
    """Per queue: mean absolute error and share within 25% of the estimates of answered callers."""
    out = []
    for (queue,) in session.execute(select(Estimate.queue).distinct().order_by(Estimate.queue)):
        acc = est.EstimateError()
        for e, actual in session.execute(
            select(Estimate.estimate_s, Estimate.actual_wait_s).where(
                Estimate.queue == queue, Estimate.outcome == "answered"
            )
        ):
            if actual is not None:
                acc.add(e, actual)
        out.append(
            EstimateReport(
                queue=queue,
                count=acc.count,
                mae_s=acc.mae_s,
                within_25=acc.within_25,
                bias_s=acc.bias_s,
            )
        )
    return out
