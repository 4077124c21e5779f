"""The voice of the customer on the database (M3, M4).

* :func:`voc_report` gathers survey comments and complaint texts of a period, groups them into
  themes (:func:`escucha.surveys.themes.find_themes`) with the labels people wrote
  (:class:`~escucha.surveys.models.VocLabel`) and keeps the link from every text to its
  contact and customer for the drill-down. Agents' names are stop words: themes point at
  processes, never at people.
* :func:`customers_at_risk` gathers each customer's facts (longest wait from the contact
  events, broken promises, lowest survey answers, open complaints, repeat contacts) and applies
  :func:`escucha.surveys.rules.assess_risk`.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.contacts.models import Contact, ContactEvent, Customer
from escucha.errors import InvalidInput
from escucha.surveys import rules
from escucha.surveys.models import Survey, VocLabel
from escucha.surveys.themes import Comment, ThemeReport, find_themes

MAX_LABEL = 200
REPEAT_WINDOW = timedelta(days=7)
OPEN_TICKET_STATUSES = ("new", "open", "waiting_customer", "reopened", "appealed")


@dataclass(frozen=True)
class VocText:
    """A customer's text: ``id`` is ``s<survey id>`` or ``t<ticket id>``."""

    id: str
    source: str  # survey or complaint
    text: str
    at: datetime
    contact_id: int | None
    customer_id: int | None
    ticket_number: str | None = None


def _complaint_texts(session: Session, since: datetime, until: datetime) -> list[VocText]:
    try:
        from escucha.tickets.models import Ticket
    except ImportError:  # pragma: no cover - the tickets domain is optional
        return []
    rows = session.scalars(
        select(Ticket)
        .where(Ticket.kind == "complaint", Ticket.created_at >= since, Ticket.created_at < until)
        .order_by(Ticket.id)
    )
    out = []
    for t in rows:
        text = (t.description or "").strip() or (t.subject or "").strip()
        if text.strip():
            out.append(
                VocText(
                    f"t{t.id}",
                    "complaint",
                    text,
                    t.created_at,
                    t.origin_contact_id,
                    t.customer_id,
                    t.number,
                )
            )
    return out


def voc_texts(session: Session, *, since: datetime, until: datetime) -> list[VocText]:
    """Survey comments answered and complaints opened in ``[since, until)``."""
    surveys = session.scalars(
        select(Survey)
        .where(
            Survey.comment.is_not(None),
            Survey.responded_at >= since,
            Survey.responded_at < until,
        )
        .order_by(Survey.id)
    )
    out = [
        VocText(f"s{s.id}", "survey", s.comment or "", s.responded_at, s.contact_id, s.customer_id)
        for s in surveys
        if s.responded_at is not None and (s.comment or "").strip()
    ]
    return out + _complaint_texts(session, since, until)


def labels(session: Session) -> dict[str, str]:
    return dict(session.execute(select(VocLabel.theme_key, VocLabel.label)).all())


def set_theme_label(
    session: Session, key: str, label: str, *, user_id: int | None, now: datetime
) -> VocLabel | None:
    """Name a theme; an empty label goes back to the theme's top terms."""
    key = key.strip()
    label = " ".join(label.split())
    if not key or len(key) > 200:
        raise InvalidInput("theme: unknown theme key")
    if len(label) > MAX_LABEL:
        raise InvalidInput(f"label: at most {MAX_LABEL} characters")
    row = session.scalar(select(VocLabel).where(VocLabel.theme_key == key))
    if not label:
        if row is not None:
            session.delete(row)
            session.flush()
        return None
    if row is None:
        row = VocLabel(theme_key=key, label=label, updated_by_id=user_id, updated_at=now)
        session.add(row)
    else:
        row.label = label
        row.updated_by_id = user_id
        row.updated_at = now
    session.flush()
    return row


def agent_words(session: Session) -> list[str]:
    """Names of everyone who uses escucha, kept out of the themes."""
    words: list[str] = []
    for username, display in session.execute(select(User.username, User.display_name)):
        words.append(username)
        words.extend(display.split())
    return words


@dataclass(frozen=True)
class VocReport:
    themes: ThemeReport
    texts: dict[str, VocText]


def voc_report(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    k: int | None = None,
    seed: int = 0,
) -> VocReport:
    texts = voc_texts(session, since=since, until=until)
    comments = [Comment(t.id, t.text, t.at, t.source) for t in texts]
    report = find_themes(
        comments,
        k=k,
        seed=seed,
        labels=labels(session),
        extra_stop_words=agent_words(session),
    )
    return VocReport(report, {t.id: t for t in texts})


# --- customers at risk (M4) ---------------------------------------------------------------


@dataclass(frozen=True)
class RiskRow:
    customer_id: int
    name: str
    phone: str | None
    email: str | None
    reasons: tuple[str, ...]
    facts: rules.CustomerFacts
    last_contact_id: int | None


def _lowest(current: int | None, value: int | None) -> int | None:
    if value is None:
        return current
    return value if current is None else min(current, value)


def _open_complaints(session: Session) -> dict[int, int]:
    try:
        from escucha.tickets.models import Ticket
    except ImportError:  # pragma: no cover - the tickets domain is optional
        return {}
    out: dict[int, int] = defaultdict(int)
    for customer_id in session.scalars(
        select(Ticket.customer_id).where(
            Ticket.kind == "complaint",
            Ticket.customer_id.is_not(None),
            Ticket.status.in_(OPEN_TICKET_STATUSES),
        )
    ):
        if customer_id is not None:
            out[customer_id] += 1
    return out


def customer_facts(
    session: Session, *, since: datetime, now: datetime
) -> dict[int, rules.CustomerFacts]:
    """Facts per customer about their experience since ``since``."""
    waits: dict[int, float] = {}
    for customer_id, data in session.execute(
        select(Contact.customer_id, ContactEvent.data)
        .join(Contact, Contact.id == ContactEvent.contact_id)
        .where(
            Contact.customer_id.is_not(None),
            ContactEvent.event.in_(("answered", "abandoned")),
            ContactEvent.at >= since,
            ContactEvent.at <= now,
        )
    ):
        wait = float((data or {}).get("wait_s") or 0.0)
        if customer_id is not None:
            waits[customer_id] = max(waits.get(customer_id, 0.0), wait)
    broken: dict[int, int] = defaultdict(int)
    from escucha.promises.models import Promise

    for (customer_id,) in session.execute(
        select(Promise.customer_id).where(
            Promise.state == "broken",
            Promise.customer_id.is_not(None),
            Promise.due_at >= since,
        )
    ):
        if customer_id is not None:
            broken[customer_id] += 1
    scores: dict[int, list[int | None]] = {}
    for s in session.scalars(
        select(Survey).where(
            Survey.customer_id.is_not(None),
            Survey.responded_at.is_not(None),
            Survey.responded_at >= since,
        )
    ):
        if s.customer_id is None:
            continue
        low = scores.setdefault(s.customer_id, [None, None, None])
        low[0] = _lowest(low[0], s.csat)
        low[1] = _lowest(low[1], s.ces)
        low[2] = _lowest(low[2], s.nps)
    complaints = _open_complaints(session)
    repeats: dict[int, int] = defaultdict(int)
    arrivals: dict[int, list[datetime]] = defaultdict(list)
    for customer_id, arrived in session.execute(
        select(Contact.customer_id, Contact.arrived_at)
        .where(
            Contact.customer_id.is_not(None),
            Contact.arrived_at >= since - REPEAT_WINDOW,
            Contact.arrived_at <= now,
        )
        .order_by(Contact.arrived_at)
    ):
        if customer_id is not None:
            arrivals[customer_id].append(arrived)
    for customer_id, times in arrivals.items():
        for previous, current in itertools.pairwise(times):
            if current >= since and current - previous <= REPEAT_WINDOW:
                repeats[customer_id] += 1
    ids = set(waits) | set(broken) | set(scores) | set(complaints) | set(repeats)
    return {
        cid: rules.CustomerFacts(
            customer_id=str(cid),
            longest_wait_s=waits.get(cid),
            broken_promises=broken.get(cid, 0),
            open_complaints=complaints.get(cid, 0),
            lowest_csat=scores.get(cid, [None, None, None])[0],
            lowest_ces=scores.get(cid, [None, None, None])[1],
            lowest_nps=scores.get(cid, [None, None, None])[2],
            repeat_contacts=repeats.get(cid, 0),
        )
        for cid in sorted(ids)
    }


def customers_at_risk(
    session: Session,
    *,
    since: datetime,
    now: datetime,
    policy: rules.RiskPolicy | None = None,
    limit: int = 200,
) -> list[RiskRow]:
    """Customers to follow up, most reasons first, with their latest contact."""
    facts = customer_facts(session, since=since, now=now)
    flagged = rules.customers_at_risk(list(facts.values()), policy)[:limit]
    ids = [int(a.customer_id) for a in flagged]
    customers = {
        c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids))).all()
    }
    last: dict[int, int] = {}
    for customer_id, contact_id in session.execute(
        select(Contact.customer_id, Contact.id)
        .where(Contact.customer_id.in_(ids))
        .order_by(Contact.arrived_at, Contact.id)
    ):
        if customer_id is not None:
            last[customer_id] = contact_id
    out = []
    for a in flagged:
        cid = int(a.customer_id)
        customer = customers.get(cid)
        out.append(
            RiskRow(
                customer_id=cid,
                name=customer.name if customer else "",
                phone=customer.phone if customer else None,
                email=customer.email if customer else None,
                reasons=a.reasons,
                facts=facts[cid],
                last_contact_id=last.get(cid),
            )
        )
    return out


def contacts_for(session: Session, texts: list[VocText]) -> dict[int, Contact]:
    """The contacts behind texts, for the drill-down."""
    ids = {t.contact_id for t in texts if t.contact_id is not None}
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(ids)))}
