"""Full-text search of cases, messages and customers in both databases (ADR 28).

SQLite: one FTS5 table, ``fts_cases``, holds for each case, message and customer a line of
*stems*: every word of the text is folded (lower case, no accents) and stemmed by the Snowball
stemmers for Spanish and English, and both stems are stored. A query is stemmed the same way, so
"reclamaciones" finds "reclamación" and "charged" finds "charges". The row id names the source
row (``id * 4 + kind``), so a write replaces its line in place; :mod:`escucha.tickets.search`
keeps the table in step on every flush, and :func:`backfill` fills it from the tables.

PostgreSQL: no extra table. GIN expression indexes on ``to_tsvector('spanish', ...)`` and
``to_tsvector('english', ...)`` of the same columns, which the queries repeat word for word.

Everything named ``fts_...`` is kept out of the models-versus-migrations comparison
(:func:`is_fulltext_name`): FTS5 makes shadow tables and expression indexes have no model.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from typing import Any

import snowballstemmer
from sqlalchemy import Connection, text

FTS_TABLE = "fts_cases"
KIND_TICKET, KIND_MESSAGE, KIND_CUSTOMER = 0, 1, 2
_KINDS = 4
_WORD = re.compile(r"\w+")
_MAX_WORDS = 20_000

#: The text searched, per table, as a PostgreSQL expression (repeated by the queries).
PG_TEXT = {
    "tickets": "coalesce(subject, '') || ' ' || coalesce(description, '')",
    "ticket_messages": "coalesce(body, '')",
    "customers": "coalesce(name, '') || ' ' || coalesce(email, '') || ' ' || coalesce(phone, '')",
}
LANGUAGES = ("spanish", "english")


def pg_vector(table: str, language: str, alias: str | None = None) -> str:
    """``to_tsvector('spanish', ...)`` of ``table``'s searched text, as its index has it."""
    expression = PG_TEXT[table]
    if alias is not None:
        for column in ("subject", "description", "body", "name", "email", "phone"):
            expression = expression.replace(f"({column},", f"({alias}.{column},")
    return f"to_tsvector('{language}'::regconfig, {expression})"


def pg_index_name(table: str, language: str) -> str:
    return f"fts_{table}_{language}"


def is_fulltext_name(name: str | None) -> bool:
    """Tables and indexes of full-text search, which have no model."""
    return bool(name) and str(name).startswith("fts_")


@cache
def _stemmer(language: str) -> Any:
    return snowballstemmer.stemmer(language)


def fold(value: str) -> list[str]:
    """The words of ``value``: lower case, accents removed (``Reclamación`` -> ``reclamacion``)."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _WORD.findall(plain)[:_MAX_WORDS]


def stems(word: str) -> set[str]:
    """The Spanish and English stems of one folded word (one, when they agree)."""
    return {_stemmer("spanish").stemWord(word), _stemmer("english").stemWord(word), word}


def _digits_tail(word: str) -> str | None:
    """The last nine digits of a phone number, so a number is found without its prefix."""
    return word[-9:] if word.isdigit() and len(word) > 9 else None


def document(*parts: str | None) -> str:
    """The line stored for a row: the stems of every word, in order (repeats count for rank)."""
    out: list[str] = []
    for part in parts:
        for word in fold(part or ""):
            out.extend(sorted(stems(word)))
            tail = _digits_tail(word)
            if tail is not None:
                out.append(tail)
    return " ".join(out)


def match_query(query: str) -> str | None:
    """An FTS5 ``MATCH`` expression: every word of ``query``, by any of its stems."""
    groups = []
    for word in fold(query)[:32]:
        alternatives = " OR ".join(f'"{s}"' for s in sorted(stems(word)))
        groups.append(f"({alternatives})")
    return " AND ".join(groups) or None


def rowid(kind: int, row_id: int) -> int:
    return row_id * _KINDS + kind


def put(
    conn: Connection,
    kind: int,
    row_id: int,
    *,
    ticket_id: int | None,
    customer_id: int | None,
    body: str,
) -> None:
    """Write (or replace) the line of one row."""
    key = rowid(kind, row_id)
    conn.execute(text("DELETE FROM fts_cases WHERE rowid = :r"), {"r": key})
    if body:
        conn.execute(
            text(
                "INSERT INTO fts_cases (rowid, body, ticket_id, customer_id) "
                "VALUES (:r, :b, :t, :c)"
            ),
            {"r": key, "b": body, "t": ticket_id, "c": customer_id},
        )


def drop(conn: Connection, kind: int, row_id: int) -> None:
    conn.execute(text("DELETE FROM fts_cases WHERE rowid = :r"), {"r": rowid(kind, row_id)})


def create(conn: Connection) -> None:
    """The search table or indexes of the connection's database."""
    if conn.dialect.name == "sqlite":
        conn.execute(
            text(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
                "body, ticket_id UNINDEXED, customer_id UNINDEXED, "
                "tokenize = 'unicode61 remove_diacritics 2')"
            )
        )
        return
    for table in PG_TEXT:
        for language in LANGUAGES:
            conn.execute(
                text(
                    f"CREATE INDEX IF NOT EXISTS {pg_index_name(table, language)} "
                    f"ON {table} USING gin ({pg_vector(table, language)})"
                )
            )


def remove(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.execute(text(f"DROP TABLE IF EXISTS {FTS_TABLE}"))
        return
    for table in PG_TEXT:
        for language in LANGUAGES:
            conn.execute(text(f"DROP INDEX IF EXISTS {pg_index_name(table, language)}"))


def _rows(conn: Connection, statement: str) -> Iterable[Any]:
    return conn.execute(text(statement))


def backfill(conn: Connection) -> int:
    """Index every case, message and customer again (SQLite); returns the rows written."""
    if conn.dialect.name != "sqlite":
        return 0
    conn.execute(text("DELETE FROM fts_cases"))
    written = 0
    for tid, cid, subject, description in _rows(
        conn, "SELECT id, customer_id, subject, description FROM tickets"
    ):
        put(
            conn,
            KIND_TICKET,
            tid,
            ticket_id=tid,
            customer_id=cid,
            body=document(subject, description),
        )
        written += 1
    for mid, tid, body in _rows(
        conn, "SELECT id, ticket_id, body FROM ticket_messages WHERE author_kind != 'system'"
    ):
        put(conn, KIND_MESSAGE, mid, ticket_id=tid, customer_id=None, body=document(body))
        written += 1
    for cid, name, email, phone in _rows(conn, "SELECT id, name, email, phone FROM customers"):
        put(
            conn,
            KIND_CUSTOMER,
            cid,
            ticket_id=None,
            customer_id=cid,
            body=document(name, email, phone),
        )
        written += 1
    return written
