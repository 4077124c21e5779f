"""Full-text search of cases against a plain ``LIKE`` scan, on SQLite and PostgreSQL (ADR 28).

Fills a fresh, migrated database with ``--cases`` cases of generated Spanish and English text
(each with two thread messages), builds the search index, then times the same queries through
:func:`escucha.tickets.search.search` and through ``LIKE '%word%'`` over subject, description
and message bodies (which finds neither other word forms nor words without their accents).
Prints the median time per query, the ratio, what each found, and the load average.

Usage::

    python benchmarks/search.py [--cases 20000] [--pg postgresql://postgres@127.0.0.1/bench]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, or_, select, text
from sqlalchemy.orm import Session

from escucha.db import fulltext, migrate
from escucha.db.engine import make_engine
from escucha.tickets.models import Ticket, TicketMessage
from escucha.tickets.search import search

WORDS = [
    "factura",
    "cobro",
    "cobrado",
    "recibo",
    "contador",
    "lectura",
    "fuga",
    "agua",
    "corte",
    "suministro",
    "presión",
    "tubería",
    "avería",
    "reclamación",
    "devolución",
    "tarifa",
    "cambio",
    "titular",
    "domiciliación",
    "pago",
    "retraso",
    "aviso",
    "bill",
    "charged",
    "charges",
    "meter",
    "reading",
    "leak",
    "water",
    "outage",
    "refund",
    "payment",
    "late",
    "notice",
    "account",
]
QUERIES = ("fuga", "cobros", "charges", "reclamacion", "contador lectura", "refunds late")
NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


FILLER = [
    f"{a}{b}{c}"
    for a in ("ca", "lo", "mi", "te", "su", "ra")
    for b in ("ben", "dor", "mal", "sit", "per", "van", "gul")
    for c in ("as", "o", "es", "ido", "ando", "ar")
]


def _text(rng: random.Random, n: int) -> str:
    """``n`` words: common filler words (skewed like real text) and one or two subject words."""
    words = [FILLER[min(int(rng.paretovariate(1.2)) - 1, len(FILLER) - 1)] for _ in range(n)]
    for _ in range(rng.randint(1, 2)):
        words[rng.randrange(n)] = rng.choice(WORDS)
    return " ".join(words)


def _fill(engine: Engine, cases: int) -> float:
    rng = random.Random(7)
    started = time.perf_counter()
    with engine.begin() as conn:
        tickets = [
            {
                "id": i,
                "number": f"2026-{i:07d}-0",
                "year": 2026,
                "sequence": i,
                "kind": "query",
                "status": "open",
                "channel": "web",
                "subject": _text(rng, 4),
                "description": _text(rng, 40),
                "description_missing": False,
                "language": "es",
                "verification_code": "AAAAAA",
                "hint_score": 0.0,
                "hint_phrases": [],
                "regulatory_profile": "generic",
                "created_at": NOW,
                "updated_at": NOW,
                "deemed_accepted": False,
                "priority": "normal",
            }
            for i in range(1, cases + 1)
        ]
        conn.execute(insert(Ticket), tickets)
        messages = [
            {
                "ticket_id": i,
                "created_at": NOW,
                "direction": "in",
                "visibility": "customer",
                "author_kind": "customer",
                "channel": "web",
                "subject": "",
                "body": _text(rng, 30),
            }
            for i in range(1, cases + 1)
            for _ in range(2)
        ]
        conn.execute(insert(TicketMessage), messages)
        fulltext.backfill(conn)
        if conn.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _like(session: Session, query: str) -> int:
    clauses = []
    for word in query.split():
        pattern = f"%{word}%"
        in_thread = select(TicketMessage.ticket_id).where(TicketMessage.body.like(pattern))
        clauses.append(
            or_(
                Ticket.subject.like(pattern),
                Ticket.description.like(pattern),
                Ticket.id.in_(in_thread),
            )
        )
    return len(session.scalars(select(Ticket.id).where(*clauses)).all())


def _time(fn: object, rounds: int = 5) -> tuple[float, int]:
    times, found = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        found = fn()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times), found


def run(url: str, cases: int) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    filled = _fill(engine, cases)
    print(
        f"\n{engine.dialect.name}: {cases} cases, {2 * cases} messages, filled and indexed in "
        f"{filled:.1f} s"
    )
    print(f"{'query':<20} {'search ms':>10} {'found':>7} {'LIKE ms':>9} {'found':>7} {'ratio':>7}")
    with Session(engine) as session:
        for q in QUERIES:
            fts_s, fts_n = _time(lambda q=q: len(search(session, q)))
            like_s, like_n = _time(lambda q=q: _like(session, q))
            print(
                f"{q:<20} {fts_s * 1000:>10.1f} {fts_n:>7} {like_s * 1000:>9.1f} {like_n:>7} "
                f"{like_s / fts_s:>6.1f}x"
            )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20000)
    parser.add_argument("--pg", default="", help="an empty PostgreSQL database to fill")
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as folder:
        run(f"sqlite:///{folder}/bench.db", args.cases)
    if args.pg:
        run(args.pg, args.cases)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
