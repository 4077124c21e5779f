"""Customer records: their contact points, details, consent and notes, and finding them.

A customer is known by several phones and emails (:class:`CustomerPoint`), each owned by one
record. ``Customer.phone``/``Customer.email`` are the preferred ones, where messages go. Edits
are audited by the names of the fields changed, never their values: the audit trail cannot be
erased, personal data must be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from escucha import languages
from escucha.audit import service as audit
from escucha.contacts.models import POINT_KINDS, Customer, CustomerPoint
from escucha.contacts.service import normalise_phone, record_point
from escucha.errors import Conflict, InvalidInput, NotFound

LANGUAGES = languages.CODES
MAX_NAME = 200
MAX_NOTES = 10_000
MAX_LABEL = 40
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def normalise_email(raw: str) -> str:
    """``raw`` in lower case without spaces; a clear error when it is not an address."""
    email = raw.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise InvalidInput(f"email: {raw!r} is not an email address")
    return email


def normalise_point(kind: str, raw: str, region: str = "ES") -> str:
    if kind == "phone":
        return normalise_phone(raw, region)
    if kind == "email":
        return normalise_email(raw)
    raise InvalidInput(f"kind: one of {', '.join(POINT_KINDS)}")


def get_customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    return customer


def customer_of(session: Session, customer_id: int | None) -> Customer | None:
    """The customer a row names (a contact's, a ticket's, a survey's), or ``None`` when it
    names none."""
    return session.get(Customer, customer_id) if customer_id is not None else None


def points_of(session: Session, customer_id: int) -> list[CustomerPoint]:
    return list(
        session.scalars(
            select(CustomerPoint)
            .where(CustomerPoint.customer_id == customer_id)
            .order_by(CustomerPoint.kind.desc(), CustomerPoint.id)
        )
    )


def add_point(
    session: Session,
    customer: Customer,
    kind: str,
    raw: str,
    *,
    now: datetime,
    actor: str,
    label: str = "",
    region: str = "ES",
) -> CustomerPoint:
    """An agent adds a phone or email (unverified) to the record, audited."""
    value = normalise_point(kind, raw, region)
    point = record_point(session, customer, kind, value, now=now, verified=False, label=label)
    customer.updated_at = now
    _audit(session, customer, "customer.point_added", now=now, actor=actor, kind=kind)
    return point


def remove_point(
    session: Session, customer: Customer, point_id: int, *, now: datetime, actor: str
) -> None:
    """Take a phone or email off the record; another one becomes the preferred if needed."""
    point = session.get(CustomerPoint, point_id)
    if point is None or point.customer_id != customer.id:
        raise NotFound(f"contact point {point_id} not found on customer {customer.id}")
    session.delete(point)
    session.flush()
    rest = [p for p in points_of(session, customer.id) if p.kind == point.kind]
    if point.kind == "phone" and customer.phone == point.value:
        customer.phone = rest[0].value if rest else None
    if point.kind == "email" and customer.email == point.value:
        customer.email = rest[0].value if rest else None
    customer.updated_at = now
    _audit(session, customer, "customer.point_removed", now=now, actor=actor, kind=point.kind)


def prefer_point(
    session: Session, customer: Customer, point_id: int, *, now: datetime, actor: str
) -> None:
    """Make a point the one messages go to."""
    point = session.get(CustomerPoint, point_id)
    if point is None or point.customer_id != customer.id:
        raise NotFound(f"contact point {point_id} not found on customer {customer.id}")
    if point.kind == "phone":
        customer.phone = point.value
    else:
        customer.email = point.value
    customer.updated_at = now
    _audit(session, customer, "customer.point_preferred", now=now, actor=actor, kind=point.kind)


@dataclass(frozen=True)
class Details:
    """What an agent edits on a customer's record."""

    name: str
    language: str
    consent_sms: bool
    consent_email: bool
    notes: str


def update(
    session: Session, customer: Customer, details: Details, *, now: datetime, actor: str
) -> list[str]:
    """Change the record's details; the names of the fields changed are audited."""
    if customer.erased_at is not None:
        raise Conflict("this customer's data was erased; the record cannot be edited")
    if details.language not in LANGUAGES:
        raise InvalidInput(f"language: one of {', '.join(LANGUAGES)}")
    name = " ".join(details.name.split())
    if len(name) > MAX_NAME:
        raise InvalidInput(f"name: at most {MAX_NAME} characters")
    if len(details.notes) > MAX_NOTES:
        raise InvalidInput(f"notes: at most {MAX_NOTES} characters")
    wanted = {
        "name": name,
        "language": details.language,
        "consent_sms": details.consent_sms,
        "consent_email": details.consent_email,
        "notes": details.notes.strip(),
    }
    changed = [k for k, v in wanted.items() if getattr(customer, k) != v]
    for key in changed:
        setattr(customer, key, wanted[key])
    if changed:
        customer.updated_at = now
        _audit(session, customer, "customer.updated", now=now, actor=actor, fields=changed)
    return changed


def search(session: Session, text: str, *, limit: int = 50) -> list[Customer]:
    """Customers whose name, phone or email contains ``text`` (digits of a phone match
    however the number is written). Erased and merged records are left out."""
    words = text.strip()
    if not words:
        return list(
            session.scalars(
                select(Customer)
                .where(Customer.merged_into_id.is_(None), Customer.erased_at.is_(None))
                .order_by(Customer.id.desc())
                .limit(limit)
            )
        )
    like = f"%{_escape(words.lower())}%"
    conditions = [
        func.lower(Customer.name).like(like, escape="\\"),
        CustomerPoint.value.like(like, escape="\\"),
    ]
    digits = re.sub(r"\D", "", words)
    if len(digits) >= 3:
        conditions.append(CustomerPoint.value.like(f"%{digits}%"))
    ids = (
        select(Customer.id)
        .outerjoin(CustomerPoint, CustomerPoint.customer_id == Customer.id)
        .where(or_(*conditions))
    )
    return list(
        session.scalars(
            select(Customer)
            .where(
                Customer.id.in_(ids),
                Customer.merged_into_id.is_(None),
                Customer.erased_at.is_(None),
            )
            .order_by(Customer.name, Customer.id)
            .limit(limit)
        )
    )


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _audit(
    session: Session, customer: Customer, action: str, *, now: datetime, actor: str, **data: object
) -> None:
    audit.record(
        session,
        action=action,
        actor=actor,
        subject_kind="customer",
        subject_id=customer.id,
        now=now,
        data=dict(data),
    )
