"""A customer's whole record across domains: who may see it, its history, merging two
records, and the data protection rights (export and erasure), ADR 27.

- **Reach** (ADR 17): supervisors and admins reach every customer; an agent reaches a customer
  with a contact in their reach (offered to them, or in their queues) or a case of their team.
- **Merge** moves everything of one record (contacts, cases, promises, surveys, callbacks,
  messages, contact points) to the other, which keeps its own details and takes the missing
  ones; the record merged away stays as a pointer to the one kept.
- **Erasure** removes the person's data: name, phones, emails, notes, recaps, transfer notes,
  survey comments, transcripts, recordings and files. A complaint must stay on record (number,
  dates, kind, status and what was said, anonymised): its texts are kept with addresses,
  numbers and the person's name replaced. The audit trail records both rights being exercised,
  never the data itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from escucha.audit import service as audit
from escucha.callbacks.models import Callback
from escucha.contacts import customers
from escucha.contacts.models import Contact, ContactEvent, Customer, CustomerPoint
from escucha.errors import Conflict, Forbidden
from escucha.notifications.models import Notification
from escucha.org.reach import Person, reach_of
from escucha.promises.models import Promise
from escucha.speech.models import SpeechTranscript
from escucha.surveys.models import FollowUp, Survey
from escucha.tickets import service as tickets
from escucha.tickets.models import Ticket, TicketAttachment, TicketMessage
from escucha.voice.models import VoiceRecording

#: Tables whose rows belong to a customer by a ``customer_id`` column.
OWNED: tuple[type[Any], ...] = (
    Contact,
    Ticket,
    Promise,
    Survey,
    FollowUp,
    Callback,
    Notification,
    CustomerPoint,
)

_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
_DIGITS = re.compile(r"\+?\d[\d\s().-]{5,}\d")
ERASED = "[…]"


# --- who may see it -------------------------------------------------------------------------------


def can_reach(session: Session, user: Person, customer_id: int) -> bool:
    """Whether ``user`` may open this customer's record (see module)."""
    scope = reach_of(session, user)
    if scope.everything:
        return True
    contact_rows = session.execute(
        select(Contact.queue, Contact.agent_id).where(Contact.customer_id == customer_id)
    ).all()
    if any(scope.contact(queue=q, agent_id=a) for q, a in contact_rows):
        return True
    ticket_rows = session.execute(
        select(Ticket.team_id, Ticket.assignee_id, Ticket.created_by_id).where(
            Ticket.customer_id == customer_id
        )
    ).all()
    return any(scope.ticket(team_id=t, assignee_id=a, created_by_id=c) for t, a, c in ticket_rows)


def check_reach(session: Session, user: Person, customer_id: int) -> Customer:
    """The customer, when ``user`` may see them; else :class:`Forbidden`."""
    customer = customers.get_customer(session, customer_id)
    if not can_reach(session, user, customer_id):
        raise Forbidden(
            "this customer has no contact or case in your reach; a supervisor can open it"
        )
    return customer


# --- the whole history ----------------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    contacts: list[Contact]
    tickets: list[Ticket]
    promises: list[Promise]
    surveys: list[Survey]
    recordings: list[VoiceRecording]
    callbacks: list[Callback]
    points: list[CustomerPoint]


def history(session: Session, customer_id: int) -> History:
    """Everything of the customer, newest first."""
    contact_ids = select(Contact.id).where(Contact.customer_id == customer_id)

    def newest(model: Any, where: Any, *order: Any) -> list[Any]:
        return list(session.scalars(select(model).where(where).order_by(*order)))

    return History(
        contacts=newest(
            Contact,
            Contact.customer_id == customer_id,
            Contact.arrived_at.desc(),
            Contact.id.desc(),
        ),
        tickets=newest(Ticket, Ticket.customer_id == customer_id, Ticket.created_at.desc()),
        promises=newest(Promise, Promise.customer_id == customer_id, Promise.due_at.desc()),
        surveys=newest(Survey, Survey.customer_id == customer_id, Survey.sent_at.desc()),
        recordings=newest(
            VoiceRecording,
            VoiceRecording.contact_id.in_(contact_ids),
            VoiceRecording.started_at.desc(),
        ),
        callbacks=newest(
            Callback, Callback.customer_id == customer_id, Callback.requested_at.desc()
        ),
        points=customers.points_of(session, customer_id),
    )


# --- merge ----------------------------------------------------------------------------------------


def merge(
    session: Session, keep: Customer, drop: Customer, *, now: datetime, actor: str
) -> dict[str, int]:
    """Move everything of ``drop`` to ``keep`` (see module); the rows moved, per table."""
    if keep.id == drop.id:
        raise Conflict("a customer cannot be merged with itself")
    for one in (keep, drop):
        if one.merged_into_id is not None:
            raise Conflict(f"customer {one.id} was already merged into {one.merged_into_id}")
        if one.erased_at is not None:
            raise Conflict(f"customer {one.id} was erased")
    moved: dict[str, int] = {}
    phone, email = drop.phone, drop.email
    drop.phone = drop.email = None  # the preferred phone is unique: free it first
    session.flush()
    for model in OWNED:
        result = session.execute(
            update(model)
            .where(model.customer_id == drop.id)
            .values(customer_id=keep.id)
            .execution_options(synchronize_session=False)
        )
        moved[model.__tablename__] = int(getattr(result, "rowcount", 0) or 0)
    keep.phone = keep.phone or phone
    keep.email = keep.email or email
    keep.name = keep.name or drop.name
    keep.consent_sms = keep.consent_sms or drop.consent_sms
    keep.consent_email = keep.consent_email or drop.consent_email
    if drop.notes:
        keep.notes = f"{keep.notes}\n\n{drop.notes}".strip()
    keep.updated_at = drop.updated_at = now
    drop.merged_into_id = keep.id
    drop.name = ""
    drop.notes = ""
    session.flush()
    session.expire_all()
    audit.record(
        session,
        action="customer.merged",
        actor=actor,
        subject_kind="customer",
        subject_id=keep.id,
        now=now,
        data={"kept": keep.id, "merged": drop.id, "moved": moved},
    )
    return moved


# --- export ---------------------------------------------------------------------------------------


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def export(session: Session, customer: Customer, *, now: datetime, actor: str) -> dict[str, Any]:
    """Every piece of the customer's personal data, as JSON-ready values; audited."""
    whole = history(session, customer.id)
    ticket_ids = [t.id for t in whole.tickets]
    messages = session.scalars(
        select(TicketMessage)
        .where(TicketMessage.ticket_id.in_(ticket_ids), TicketMessage.visibility == "customer")
        .order_by(TicketMessage.id)
    ).all()
    files = session.execute(
        select(TicketAttachment.ticket_id, TicketAttachment.filename, TicketAttachment.sha256)
        .where(TicketAttachment.ticket_id.in_(ticket_ids))
        .order_by(TicketAttachment.id)
    ).all()
    notes = session.scalars(
        select(Notification)
        .where(Notification.customer_id == customer.id)
        .order_by(Notification.id)
    ).all()
    data: dict[str, Any] = {
        "exported_at": now.isoformat(),
        "customer": {
            "id": customer.id,
            "name": customer.name,
            "phone": customer.phone,
            "email": customer.email,
            "language": customer.language,
            "timezone": customer.timezone,
            "consent_sms": customer.consent_sms,
            "consent_email": customer.consent_email,
            "notes": customer.notes,
            "created_at": _iso(customer.created_at),
        },
        "contact_points": [
            {"kind": p.kind, "value": p.value, "label": p.label, "verified": p.verified}
            for p in whole.points
        ],
        "contacts": [
            {
                "id": c.id,
                "channel": c.channel,
                "arrived_at": _iso(c.arrived_at),
                "ended_at": _iso(c.ended_at),
                "queue": c.queue,
                "outcome": c.outcome,
                "resolved": c.resolved,
                "recap": c.recap,
                "notes": c.notes,
                "caller_number": c.caller_number,
            }
            for c in whole.contacts
        ],
        "cases": [
            {
                "number": t.number,
                "kind": t.kind,
                "status": t.status,
                "created_at": _iso(t.created_at),
                "resolved_at": _iso(t.resolved_at),
                "subject": t.subject,
                "description": t.description,
                "resolution": t.resolution,
                "messages": [
                    {
                        "at": _iso(m.created_at),
                        "direction": m.direction,
                        "subject": m.subject,
                        "body": m.body,
                    }
                    for m in messages
                    if m.ticket_id == t.id
                ],
                "files": [
                    {"filename": name, "sha256": digest}
                    for tid, name, digest in files
                    if tid == t.id
                ],
            }
            for t in whole.tickets
        ],
        "promises": [
            {
                "kind": p.kind,
                "state": p.state,
                "due_at": _iso(p.due_at),
                "settled_at": _iso(p.settled_at),
                "told": p.told,
            }
            for p in whole.promises
        ],
        "surveys": [
            {
                "sent_at": _iso(s.sent_at),
                "responded_at": _iso(s.responded_at),
                "csat": s.csat,
                "ces": s.ces,
                "nps": s.nps,
                "comment": s.comment,
            }
            for s in whole.surveys
        ],
        "recordings": [
            {
                "contact_id": r.contact_id,
                "leg": r.leg,
                "started_at": _iso(r.started_at),
                "bytes": r.bytes,
                "deleted_at": _iso(r.deleted_at),
            }
            for r in whole.recordings
        ],
        "callbacks": [
            {"phone": c.phone, "requested_at": _iso(c.requested_at), "state": c.state}
            for c in whole.callbacks
        ],
        "messages_sent": [
            {
                "channel": n.channel,
                "to": n.to_address,
                "at": _iso(n.created_at),
                "subject": n.subject,
                "body": n.body,
            }
            for n in notes
        ],
    }
    audit.record(
        session,
        action="customer.exported",
        actor=actor,
        subject_kind="customer",
        subject_id=customer.id,
        now=now,
        data={"cases": len(whole.tickets), "contacts": len(whole.contacts)},
    )
    return data


# --- erasure --------------------------------------------------------------------------------------


def anonymise(text: str | None, names: list[str]) -> str:
    """``text`` with email addresses, phone-like numbers and the given names replaced."""
    if not text:
        return ""
    out = _EMAIL.sub("[email]", text)
    out = _DIGITS.sub("[número]", out)
    for name in names:
        if len(name) >= 3:
            out = re.sub(rf"\b{re.escape(name)}\b", "[nombre]", out, flags=re.IGNORECASE)
    return out


@dataclass
class Erasure:
    """What an erasure did; ``folders`` are recordings to delete once it is committed."""

    customer_id: int
    kept_complaints: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    folders: list[str] = field(default_factory=list)


def erase(
    session: Session, customer: Customer, *, now: datetime, actor: str, recordings_dir: Path
) -> Erasure:
    """Erase the customer's personal data (see module). Complaints keep their number, dates
    and anonymised texts; other cases keep their number and dates only."""
    if customer.erased_at is not None:
        raise Conflict(f"customer {customer.id} was already erased")
    names = [w for w in customer.name.split() if w]
    addresses = [p.value for p in customers.points_of(session, customer.id)]
    report = Erasure(customer.id)
    counts = report.counts

    def scrub(text: str | None) -> str:
        out = anonymise(text, names)
        for value in addresses:
            out = out.replace(value, ERASED)
        return out

    whole = history(session, customer.id)
    for c in whole.contacts:
        c.recap = scrub(c.recap) or None
        c.notes = None
        c.caller_number = None
    counts["contacts"] = len(whole.contacts)
    ticket_ids = [t.id for t in whole.tickets]
    for t in whole.tickets:
        complaint = t.kind == "complaint"
        t.subject = scrub(t.subject) if complaint else ""
        t.description = scrub(t.description) if complaint else ""
        t.resolution = scrub(t.resolution) if complaint and t.resolution else None
        t.contact_note = None
        t.hint_phrases = []
        if complaint:
            report.kept_complaints.append(t.number)
    counts["cases"] = len(whole.tickets)
    complaint_ids = {t.id for t in whole.tickets if t.kind == "complaint"}
    messages = session.scalars(
        select(TicketMessage).where(TicketMessage.ticket_id.in_(ticket_ids))
    ).all()
    for m in messages:
        keep = m.ticket_id in complaint_ids
        m.body = scrub(m.body) if keep else ERASED
        m.subject = scrub(m.subject) if keep else ""
        m.from_address = None
    counts["messages"] = len(messages)
    files = session.scalars(
        select(TicketAttachment).where(TicketAttachment.ticket_id.in_(ticket_ids))
    ).all()
    for f in files:
        whole_text = f.filename == tickets.FULL_TEXT_FILE or f.filename.startswith("message-")
        if f.ticket_id in complaint_ids and whole_text:
            data = scrub(f.data.decode("utf-8", "replace")).encode("utf-8")
            f.data, f.size_bytes = data, len(data)
        else:
            session.delete(f)
    counts["files"] = len(files)
    sent = session.scalars(select(Notification).where(Notification.customer_id == customer.id))
    for n in sent:
        n.to_address = ERASED
        n.subject = scrub(n.subject)
        n.body = scrub(n.body)
        if n.status == "pending":
            n.status, n.last_error = "failed", "the customer's data was erased"
    for s in whole.surveys:
        s.comment = None
    session.execute(
        update(FollowUp)
        .where(FollowUp.customer_id == customer.id)
        .values(note="")
        .execution_options(synchronize_session=False)
    )
    for cb in whole.callbacks:
        cb.phone = ""
    for r in whole.recordings:
        if r.deleted_at is None:
            r.deleted_at = now
            report.folders.append(str(recordings_dir / str(r.contact_id)))
    counts["recordings"] = len(report.folders)
    contact_ids = [c.id for c in whole.contacts]
    transcripts = session.scalars(
        select(SpeechTranscript).where(SpeechTranscript.contact_id.in_(contact_ids))
    ).all()
    for tr in transcripts:
        tr.turns = []
    noted = session.scalars(
        select(ContactEvent).where(
            ContactEvent.contact_id.in_(contact_ids), ContactEvent.event == "transferred"
        )
    ).all()
    for ev in noted:
        if ev.data.get("note"):
            ev.data = {**ev.data, "note": ""}  # what the agent told the next one
    for p in whole.points:
        session.delete(p)
    customer.name = ""
    customer.phone = None
    customer.email = None
    customer.notes = ""
    customer.consent_sms = customer.consent_email = False
    customer.erased_at = customer.updated_at = now
    session.flush()
    audit.record(
        session,
        action="customer.erased",
        actor=actor,
        subject_kind="customer",
        subject_id=customer.id,
        now=now,
        data={"counts": counts, "kept_complaints": report.kept_complaints},
    )
    return report


def merged_target(session: Session, customer: Customer) -> Customer:
    """The record a merged customer now lives in (itself when not merged)."""
    seen = {customer.id}
    current = customer
    while current.merged_into_id is not None and current.merged_into_id not in seen:
        seen.add(current.merged_into_id)
        current = customers.get_customer(session, current.merged_into_id)
    return current


def duplicates_of(session: Session, customer: Customer, *, limit: int = 5) -> list[Customer]:
    """Other records with the same name (a hint for merging), never erased or merged ones."""
    if not customer.name:
        return []
    return list(
        session.scalars(
            select(Customer)
            .where(
                Customer.id != customer.id,
                Customer.name == customer.name,
                Customer.merged_into_id.is_(None),
                Customer.erased_at.is_(None),
            )
            .limit(limit)
        )
    )
