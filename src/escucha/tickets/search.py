"""Full-text search over cases, their messages and their customers, ranked (ADR 28).

:func:`search` answers with the cases that match, best first, each with what matched (the
case's own text, a message of its thread, or its customer). SQLite reads the FTS5 table of
:mod:`escucha.db.fulltext`, which :func:`install` keeps in step with every flush; PostgreSQL
reads its own full-text indexes with the Spanish and English configurations. Who may see which
case is decided by the caller (:mod:`escucha.tickets.views` applies the agent's reach).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, inspect, select, text
from sqlalchemy.orm import Session, UOWTransaction

from escucha.contacts.models import Customer
from escucha.db import fulltext
from escucha.tickets import rules as trules
from escucha.tickets.models import Ticket, TicketMessage

MAX_HITS = 500
MAX_WORDS = 8
_WORD_HITS = 5000
_MESSAGE_WEIGHT = 0.8
_EXACT = 1000.0
_DIGITS = re.compile(r"\D")


@dataclass(frozen=True)
class Hit:
    ticket_id: int
    score: float  # higher is better
    via: str  # case, message, customer, number


def _best(hits: Iterable[Hit]) -> list[Hit]:
    best: dict[int, Hit] = {}
    for h in hits:
        if h.ticket_id not in best or h.score > best[h.ticket_id].score:
            best[h.ticket_id] = h
    return sorted(best.values(), key=lambda h: (-h.score, -h.ticket_id))


def _sqlite_hits(session: Session, query: str) -> list[Hit]:
    match = fulltext.match_query(query)
    if match is None:
        return []
    rows = session.execute(
        text(
            "SELECT rowid, ticket_id, customer_id, bm25(fts_cases) AS r "
            "FROM fts_cases WHERE fts_cases MATCH :q ORDER BY r LIMIT :n"
        ),
        {"q": match, "n": _WORD_HITS},
    ).all()
    hits: list[Hit] = []
    customers: dict[int, float] = {}
    for rowid, ticket_id, customer_id, rank in rows:
        score = -float(rank)
        kind = int(rowid) % 4
        if kind == fulltext.KIND_CUSTOMER and customer_id is not None:
            customers[int(customer_id)] = max(score, customers.get(int(customer_id), score))
        elif ticket_id is not None:
            weight = _MESSAGE_WEIGHT if kind == fulltext.KIND_MESSAGE else 1.0
            via = "message" if kind == fulltext.KIND_MESSAGE else "case"
            hits.append(Hit(int(ticket_id), score * weight, via))
    hits.extend(_customer_cases(session, customers))
    return hits


def _customer_cases(session: Session, customers: dict[int, float]) -> list[Hit]:
    if not customers:
        return []
    rows = session.execute(
        select(Ticket.id, Ticket.customer_id).where(Ticket.customer_id.in_(customers))
    )
    return [Hit(int(tid), customers[cid], "customer") for tid, cid in rows if cid is not None]


def _pg_hits(session: Session, query: str) -> list[Hit]:
    if not fulltext.fold(query):
        return []
    q = "websearch_to_tsquery('{lang}'::regconfig, :q)"
    es, en = q.format(lang="spanish"), q.format(lang="english")

    def rank(alias: str) -> tuple[str, str]:
        v_es = f"{alias}.{fulltext.pg_column('spanish')}"
        v_en = f"{alias}.{fulltext.pg_column('english')}"
        return (
            f"greatest(ts_rank({v_es}, {es}), ts_rank({v_en}, {en}))",
            f"({v_es} @@ {es} OR {v_en} @@ {en})",
        )

    t_rank, t_match = rank("t")
    m_rank, m_match = rank("m")
    c_rank, c_match = rank("c")
    # Built from the constant expressions above; the query text is a bound parameter.
    statement = (
        f"SELECT t.id, {t_rank}, 'case' FROM tickets t WHERE {t_match} "  # noqa: S608
        f"UNION ALL SELECT m.ticket_id, {m_rank} * {_MESSAGE_WEIGHT}, 'message' "
        f"FROM ticket_messages m WHERE m.author_kind != 'system' AND {m_match} "
        f"UNION ALL SELECT t.id, {c_rank}, 'customer' FROM customers c "
        f"JOIN tickets t ON t.customer_id = c.id WHERE {c_match} "
        "ORDER BY 2 DESC LIMIT :n"
    )
    rows = session.execute(text(statement), {"q": query, "n": _WORD_HITS})
    return [Hit(int(tid), float(score) * 100, str(via)) for tid, score, via in rows]


def _exact_hits(session: Session, query: str) -> list[Hit]:
    """A case number, an email address or a phone number as typed: found whatever the index."""
    q = query.strip()
    hits: list[Hit] = []
    try:
        number = str(trules.parse_ticket_number(q))
    except (trules.InvalidTicketNumberError, ValueError):
        number = None
    if number is not None:
        hits += [
            Hit(i, _EXACT, "number")
            for i in session.scalars(select(Ticket.id).where(Ticket.number == number))
        ]
    customers = None
    if "@" in q and " " not in q:
        customers = select(Customer.id).where(func.lower(Customer.email) == q.lower())
    else:
        digits = _DIGITS.sub("", q)
        if len(digits) >= 6 and len(digits) * 2 >= len(q.replace(" ", "")):
            customers = select(Customer.id).where(Customer.phone.like(f"%{digits[-9:]}"))
    if customers is not None:
        ids = {int(i): _EXACT / 2 for i in session.scalars(customers.limit(50))}
        hits += _customer_cases(session, ids)
    return hits


def _word_hits(session: Session, word: str) -> dict[int, Hit]:
    if session.get_bind().dialect.name == "sqlite":
        found = _sqlite_hits(session, word)
    else:
        found = _pg_hits(session, word)
    return {h.ticket_id: h for h in _best(found)}


def search(session: Session, query: str) -> list[Hit]:
    """Cases matching ``query``, best first: every word, in any of its forms (stems), somewhere
    in the case, its thread or its customer ("rosa factura" finds Rosa's case about a bill)."""
    query = query.strip()[:200]
    words = list(dict.fromkeys(fulltext.fold(query)))[:MAX_WORDS]
    found: dict[int, Hit] = {}
    for n, word in enumerate(words):
        hits = _word_hits(session, word)
        if n == 0:
            found = hits
            continue
        found = {
            tid: Hit(
                tid,
                h.score + hits[tid].score,
                h.via if h.score >= hits[tid].score else hits[tid].via,
            )
            for tid, h in found.items()
            if tid in hits
        }
    exact = _exact_hits(session, query) if query else []
    return _best([*found.values(), *exact])[:MAX_HITS]


# --- keeping the SQLite index in step ------------------------------------------------------------

_WATCHED = {
    Ticket: ("subject", "description", "customer_id"),
    TicketMessage: ("body", "ticket_id"),
    Customer: ("name", "email", "phone"),
}


def _changed(obj: Any, attributes: Iterable[str]) -> bool:
    state = inspect(obj)
    return any(state.attrs[a].history.has_changes() for a in attributes)


def _write(conn: Any, obj: Any) -> None:
    if isinstance(obj, Ticket):
        body = fulltext.document(obj.subject, obj.description)
        fulltext.put(
            conn,
            fulltext.KIND_TICKET,
            obj.id,
            ticket_id=obj.id,
            customer_id=obj.customer_id,
            body=body,
        )
    elif isinstance(obj, TicketMessage):
        body = fulltext.document(obj.body) if obj.author_kind != "system" else ""
        fulltext.put(
            conn,
            fulltext.KIND_MESSAGE,
            obj.id,
            ticket_id=obj.ticket_id,
            customer_id=None,
            body=body,
        )
    elif isinstance(obj, Customer):
        body = fulltext.document(obj.name, obj.email, obj.phone)
        fulltext.put(
            conn, fulltext.KIND_CUSTOMER, obj.id, ticket_id=None, customer_id=obj.id, body=body
        )


_KIND_OF = {
    Ticket: fulltext.KIND_TICKET,
    TicketMessage: fulltext.KIND_MESSAGE,
    Customer: fulltext.KIND_CUSTOMER,
}


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    """Write the search lines of the cases, messages and customers this flush changed."""
    touched = [o for o in (*session.new, *session.dirty) if type(o) in _WATCHED]
    gone = [o for o in session.deleted if type(o) in _WATCHED]
    if not touched and not gone:
        return
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return
    for obj in touched:
        if obj in session.new or _changed(obj, _WATCHED[type(obj)]):
            _write(conn, obj)
    for obj in gone:
        fulltext.drop(conn, _KIND_OF[type(obj)], obj.id)


_INSTALLED = False


def install() -> None:
    """Listen to every session's flushes (once per process)."""
    global _INSTALLED
    if not _INSTALLED:
        event.listen(Session, "after_flush", _after_flush)
        _INSTALLED = True
