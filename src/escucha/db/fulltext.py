"""Full-text search of cases, messages and customers in both databases (ADR 28).

SQLite: one FTS5 table, ``fts_cases``, holds for each case, message and customer a line of
*stems*: every word of the text is folded (lower case, no accents) and stemmed by the Snowball
stemmers for Spanish and English, and both stems are stored. A query is stemmed the same way, so
"reclamaciones" finds "reclamación" and "charged" finds "charges". The row id names the source
row (``id * 4 + kind``), so a write replaces its line in place; :mod:`escucha.tickets.search`
keeps the table in step on every flush, and :func:`backfill` fills it from the tables.

PostgreSQL: no extra table. Each searched table has two generated ``tsvector`` columns,
``fts_spanish`` and ``fts_english`` (the text in lower case without accents, as :func:`fold`
makes a query), each with a GIN index.

Everything named ``fts_...`` is kept out of the models-versus-migrations comparison
(:func:`is_fulltext_name`): FTS5 makes shadow tables, and the generated columns have no model.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache, lru_cache
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


_ACCENTED, _PLAIN = "áàâäãéèêëíìîïóòôöõúùûüñç", "aaaaaeeeeiiiiooooouuuunc"


def pg_vector(table: str, language: str) -> str:
    """``to_tsvector('spanish', ...)`` of ``table``'s searched text, lower case and without
    accents (as :func:`fold` makes a query), for the generated column."""
    plain = f"translate(lower({PG_TEXT[table]}), '{_ACCENTED}', '{_PLAIN}')"
    return f"to_tsvector('{language}'::regconfig, {plain})"


def pg_column(language: str) -> str:
    """The generated ``tsvector`` column of one language (PostgreSQL only, no model)."""
    return f"fts_{language}"


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


@lru_cache(maxsize=100_000)
def stems(word: str) -> tuple[str, ...]:
    """The word and its Spanish and English stems, each once (remembered: words repeat)."""
    found = {_stemmer("spanish").stemWord(word), _stemmer("english").stemWord(word), word}
    return tuple(sorted(found))


def _digits_tail(word: str) -> str | None:
    """The last nine digits of a phone number, so a number is found without its prefix."""
    return word[-9:] if word.isdigit() and len(word) > 9 else None


def document(*parts: str | None) -> str:
    """The line stored for a row: the stems of every word, in order (repeats count for rank)."""
    out: list[str] = []
    for part in parts:
        for word in fold(part or ""):
            out.extend(stems(word))
            tail = _digits_tail(word)
            if tail is not None:
                out.append(tail)
    return " ".join(out)


def match_query(query: str) -> str | None:
    """An FTS5 ``MATCH`` expression: every word of ``query``, by any of its stems."""
    groups = []
    for word in fold(query)[:32]:
        alternatives = " OR ".join(f'"{s}"' for s in stems(word))
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
            column = pg_column(language)
            conn.execute(
                text(
                    f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} tsvector "
                    f"GENERATED ALWAYS AS ({pg_vector(table, language)}) STORED"
                )
            )
            conn.execute(
                text(
                    f"CREATE INDEX IF NOT EXISTS {pg_index_name(table, language)} "
                    f"ON {table} USING gin ({column})"
                )
            )


def remove(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.execute(text(f"DROP TABLE IF EXISTS {FTS_TABLE}"))
        return
    for table in PG_TEXT:
        for language in LANGUAGES:
            conn.execute(text(f"DROP INDEX IF EXISTS {pg_index_name(table, language)}"))
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {pg_column(language)}"))


def _rows(conn: Connection, statement: str) -> Iterable[Any]:
    return conn.execute(text(statement)).fetchall()


def backfill(conn: Connection) -> int:
    """Index every case, message and customer again (SQLite); returns the rows written."""
    if conn.dialect.name != "sqlite":
        return 0
    conn.execute(text("DELETE FROM fts_cases"))
    sources = (
        (KIND_TICKET, "SELECT id, id, customer_id, subject, description, '' FROM tickets"),
        (
            KIND_MESSAGE,
            "SELECT id, ticket_id, NULL, body, '', '' FROM ticket_messages "
            "WHERE author_kind != 'system'",
        ),
        (KIND_CUSTOMER, "SELECT id, NULL, id, name, email, phone FROM customers"),
    )
    insert = text(
        "INSERT INTO fts_cases (rowid, body, ticket_id, customer_id) VALUES (:r, :b, :t, :c)"
    )
    written = 0
    for kind, statement in sources:
        batch: list[dict[str, Any]] = []
        for row_id, ticket_id, customer_id, *parts in _rows(conn, statement):
            body = document(*parts)
            if body:
                batch.append(
                    {"r": rowid(kind, row_id), "b": body, "t": ticket_id, "c": customer_id}
                )
            if len(batch) >= 1000:
                conn.execute(insert, batch)
                written, batch = written + len(batch), []
        if batch:
            conn.execute(insert, batch)
            written += len(batch)
    return written
