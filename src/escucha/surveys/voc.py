"""The voice of the customer on the database (M3, M4).

* :func:`voc_report` gathers survey comments and complaint texts of a period, groups them into
  themes (:func:`escucha.surveys.themes.find_themes`) with the labels people wrote
  (:class:`~escucha.surveys.models.VocLabel`) and keeps the link from every text to its
  contact and customer for the drill-down. Agents' names are stop words: themes point at
  processes, never at people.
* :func:`customers_at_risk` gathers each customer's facts (longest wait from the contact
  events, broken promises, lowest survey answers, open complaints, repeat contacts), applies
  :func:`escucha.surveys.rules.assess_risk` and tells apart the customers still to follow up
  from those already followed up (:func:`escucha.surveys.rules.follow_up_status`).
* :func:`record_follow_up` records that a supervisor followed a customer up
  (:class:`~escucha.surveys.models.FollowUp`), with the reasons they were flagged for.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from escucha.auth.models import User
from escucha.contacts.models import Contact, ContactEvent, Customer
from escucha.errors import InvalidInput, NotFound
from escucha.promises.models import Promise
from escucha.surveys import rules
from escucha.surveys.models import FollowUp, Survey, VocLabel
from escucha.surveys.themes import Comment, ThemeReport, find_themes
from escucha.tickets.models import Ticket

MAX_LABEL = 200
REPEAT_WINDOW = timedelta(days=7)
OPEN_TICKET_STATUSES = ("new", "open", "waiting_customer", "reopened", "appealed")
#: The period whose facts are kept with a follow-up when none is given (as on ``/voc``).
RISK_DAYS = 28


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
class FollowUpView:
    """A recorded follow-up, with the name of the person who recorded it."""

    id: int
    customer_id: int
    outcome: str
    note: str
    reasons: tuple[str, ...]
    recorded_by_id: int
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class RiskRow:
    """A customer at risk. ``follow_up`` is their latest follow-up in the period;
    ``attempts`` the follow-ups in a row that did not reach them since their latest contact;
    ``contacted_since`` that they contacted us after the latest follow-up."""

    customer_id: int
    name: str
    phone: str | None
    email: str | None
    reasons: tuple[str, ...]
    facts: rules.CustomerFacts
    last_contact_id: int | None
    follow_up: FollowUpView | None = None
    attempts: int = 0
    contacted_since: bool = False


@dataclass(frozen=True)
class AtRisk:
    """Customers still to follow up (most reasons first) and customers followed up in the
    period (latest follow-up first)."""

    to_follow_up: list[RiskRow]
    followed_up: list[RiskRow]


def _of(column: InstrumentedAttribute[int | None], customer_id: int | None) -> ColumnElement[bool]:
    """Rows of one customer, or of everyone when ``customer_id`` is ``None``."""
    return true() if customer_id is None else column == customer_id


def _lowest(current: int | None, value: int | None) -> int | None:
    if value is None:
        return current
    return value if current is None else min(current, value)


def _open_complaints(session: Session, customer_id: int | None = None) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for cid in session.scalars(
        select(Ticket.customer_id).where(
            Ticket.kind == "complaint",
            Ticket.customer_id.is_not(None),
            Ticket.status.in_(OPEN_TICKET_STATUSES),
            _of(Ticket.customer_id, customer_id),
        )
    ):
        if cid is not None:
            out[cid] += 1
    return out


def customer_facts(
    session: Session, *, since: datetime, now: datetime, customer_id: int | None = None
) -> dict[int, rules.CustomerFacts]:
    """Facts per customer about their experience since ``since`` (of one customer when
    ``customer_id`` is given)."""
    waits: dict[int, float] = {}
    for cid, data in session.execute(
        select(Contact.customer_id, ContactEvent.data)
        .join(Contact, Contact.id == ContactEvent.contact_id)
        .where(
            Contact.customer_id.is_not(None),
            _of(Contact.customer_id, customer_id),
            ContactEvent.event.in_(("answered", "abandoned")),
            ContactEvent.at >= since,
            ContactEvent.at <= now,
        )
    ):
        wait = float((data or {}).get("wait_s") or 0.0)
        if cid is not None:
            waits[cid] = max(waits.get(cid, 0.0), wait)
    broken: dict[int, int] = defaultdict(int)
    for (cid,) in session.execute(
        select(Promise.customer_id).where(
            Promise.state == "broken",
            Promise.customer_id.is_not(None),
            _of(Promise.customer_id, customer_id),
            Promise.due_at >= since,
        )
    ):
        if cid is not None:
            broken[cid] += 1
    scores: dict[int, list[int | None]] = {}
    for s in session.scalars(
        select(Survey).where(
            Survey.customer_id.is_not(None),
            _of(Survey.customer_id, customer_id),
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
    complaints = _open_complaints(session, customer_id)
    repeats: dict[int, int] = defaultdict(int)
    arrivals: dict[int, list[datetime]] = defaultdict(list)
    for cid, arrived in session.execute(
        select(Contact.customer_id, Contact.arrived_at)
        .where(
            Contact.customer_id.is_not(None),
            _of(Contact.customer_id, customer_id),
            Contact.arrived_at >= since - REPEAT_WINDOW,
            Contact.arrived_at <= now,
        )
        .order_by(Contact.arrived_at)
    ):
        if cid is not None:
            arrivals[cid].append(arrived)
    for cid, times in arrivals.items():
        for previous, current in itertools.pairwise(times):
            if current >= since and current - previous <= REPEAT_WINDOW:
                repeats[cid] += 1
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


def record_follow_up(
    session: Session,
    customer_id: int,
    *,
    outcome: str,
    note: str | None,
    user_id: int,
    now: datetime,
    since: datetime | None = None,
    policy: rules.RiskPolicy | None = None,
) -> FollowUp:
    """Record that ``user_id`` followed the customer up (M4); flushes, never commits.

    ``outcome`` is ``reached`` (spoke to the customer), ``message_left`` or ``not_reached``.
    The note is cleaned (:func:`escucha.surveys.rules.clean_note`), at most
    :data:`~escucha.surveys.rules.MAX_FOLLOW_UP_NOTE` characters, and required when the
    customer was reached: what they said and what was agreed is what the next person needs.
    The reasons the customer is flagged for in ``[since, now]`` (by default the last
    :data:`RISK_DAYS` days) are kept with it. Nothing is written when the input is refused.
    """
    if outcome not in rules.FOLLOW_UP_OUTCOMES:
        raise InvalidInput("outcome: one of " + ", ".join(rules.FOLLOW_UP_OUTCOMES))
    text = rules.clean_note(note)
    if len(text) > rules.MAX_FOLLOW_UP_NOTE:
        raise InvalidInput(f"note: at most {rules.MAX_FOLLOW_UP_NOTE} characters")
    if outcome == "reached" and not text:
        raise InvalidInput("note: say what the customer told you and what was agreed")
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"customer {customer_id} not found")
    if session.get(User, user_id) is None:
        raise NotFound(f"user {user_id} not found")
    start = now - timedelta(days=RISK_DAYS) if since is None else since
    facts = customer_facts(session, since=start, now=now, customer_id=customer_id)
    reasons = rules.assess_risk(facts[customer_id], policy).reasons if facts else ()
    row = FollowUp(
        customer_id=customer_id,
        reasons=list(reasons),
        outcome=outcome,
        note=text,
        recorded_by_id=user_id,
        recorded_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _follow_ups(session: Session, *, since: datetime, now: datetime) -> dict[int, list[FollowUp]]:
    out: dict[int, list[FollowUp]] = defaultdict(list)
    for row in session.scalars(
        select(FollowUp)
        .where(FollowUp.recorded_at >= since, FollowUp.recorded_at <= now)
        .order_by(FollowUp.recorded_at, FollowUp.id)
    ):
        out[row.customer_id].append(row)
    return out


def _last_contacts(
    session: Session, ids: set[int], *, since: datetime, now: datetime
) -> dict[int, datetime]:
    """Each customer's latest contact in ``[since, now]``: a contact that arrived, a ticket
    opened, or a promise to them broken (its due time)."""
    if not ids:
        return {}
    queries: list[Select[int | None, datetime]] = [
        select(Contact.customer_id, Contact.arrived_at).where(
            Contact.customer_id.in_(ids), Contact.arrived_at >= since, Contact.arrived_at <= now
        ),
        select(Promise.customer_id, Promise.due_at).where(
            Promise.customer_id.in_(ids),
            Promise.state == "broken",
            Promise.due_at >= since,
            Promise.due_at <= now,
        ),
    ]
    queries.append(
        select(Ticket.customer_id, Ticket.created_at).where(
            Ticket.customer_id.in_(ids), Ticket.created_at >= since, Ticket.created_at <= now
        )
    )
    out: dict[int, datetime] = {}
    for query in queries:
        for cid, at in session.execute(query):
            if cid is not None and (cid not in out or at > out[cid]):
                out[cid] = at
    return out


def _view(row: FollowUp, names: dict[int, str]) -> FollowUpView:
    return FollowUpView(
        id=row.id,
        customer_id=row.customer_id,
        outcome=row.outcome,
        note=row.note,
        reasons=tuple(str(r) for r in row.reasons),
        recorded_by_id=row.recorded_by_id,
        recorded_by=names.get(row.recorded_by_id, ""),
        recorded_at=row.recorded_at,
    )


def customers_at_risk(
    session: Session,
    *,
    since: datetime,
    now: datetime,
    policy: rules.RiskPolicy | None = None,
    limit: int = 200,
) -> AtRisk:
    """Customers to follow up, most reasons first, and customers followed up in the period,
    latest first; each with their latest contact and follow-up (at most ``limit`` of each).

    A customer is followed up when their latest follow-up in ``[since, now]`` reached them
    or left a message and they have not contacted us since
    (:func:`escucha.surveys.rules.follow_up_status`); they are listed whether or not they are
    still flagged, with the reasons kept on the follow-up.
    """
    facts = customer_facts(session, since=since, now=now)
    flagged = rules.customers_at_risk(list(facts.values()), policy)
    follow_ups = _follow_ups(session, since=since, now=now)
    last_seen = _last_contacts(session, set(follow_ups), since=since, now=now)
    status = {
        cid: rules.follow_up_status(
            [rules.FollowUpFact(f.id, f.recorded_at, f.outcome) for f in rows], last_seen.get(cid)
        )
        for cid, rows in follow_ups.items()
    }
    todo = [
        a
        for a in flagged
        if not (int(a.customer_id) in status and status[int(a.customer_id)].followed_up)
    ][:limit]
    done = sorted(
        (cid for cid, s in status.items() if s.followed_up),
        key=lambda cid: (follow_ups[cid][-1].recorded_at, follow_ups[cid][-1].id),
        reverse=True,
    )[:limit]
    reasons = {int(a.customer_id): a.reasons for a in flagged}
    ids = [int(a.customer_id) for a in todo] + done
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
    shown = set(ids)
    latest = {cid: rows[-1] for cid, rows in follow_ups.items() if cid in shown}
    recorders = {f.recorded_by_id for f in latest.values()}
    names: dict[int, str] = {}
    if recorders:
        for uid, display_name in session.execute(
            select(User.id, User.display_name).where(User.id.in_(recorders))
        ):
            names[uid] = display_name

    def row(cid: int) -> RiskRow:
        customer = customers.get(cid)
        s = status.get(cid)
        return RiskRow(
            customer_id=cid,
            name=customer.name if customer else "",
            phone=customer.phone if customer else None,
            email=customer.email if customer else None,
            reasons=reasons.get(cid, ()),
            facts=facts.get(cid) or rules.CustomerFacts(str(cid)),
            last_contact_id=last.get(cid),
            follow_up=_view(latest[cid], names) if cid in latest else None,
            attempts=s.attempts if s else 0,
            contacted_since=s.contacted_since if s else False,
        )

    return AtRisk(
        to_follow_up=[row(int(a.customer_id)) for a in todo],
        followed_up=[row(cid) for cid in done],
    )


def contacts_for(session: Session, texts: list[VocText]) -> dict[int, Contact]:
    """The contacts behind texts, for the drill-down."""
    ids = {t.contact_id for t in texts if t.contact_id is not None}
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(ids)))}
