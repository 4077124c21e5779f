"""Shared machinery of the importers: sources, raw line tables, row checks, the calls table.

Every importer follows the same path, so that a bad row is always reported the same way and
never stops the import:

1. :func:`load_raw` streams the file line by line into a DuckDB table of text fields
   (``line``, ``nf`` = number of fields, ``c0`` ... ``cN``), a batch at a time, so no more than
   one batch of Python objects exists at once;
2. :func:`validate` runs declarative :class:`Check` rules in SQL and writes every failure to the
   ``bad_rows`` table as ``file:line: column: reason``;
3. the importer turns the remaining rows into call records with SQL (``INSERT INTO calls_rows``).

SQL text in the importers is assembled from internal constants (table names, column numbers,
fixed word lists); what comes from a file reaches SQL only as data, as a bound parameter or a
literal quoted by :func:`sql_str`. That is why the ``S608`` lint is waived line by line.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import duckdb
import numpy as np
import pyarrow as pa

from escucha.analytics.schemas import DUCKDB_TYPES, BadRow, ImportSummary
from escucha.errors import InvalidInput
from escucha.i18n import translator

BATCH_ROWS = 50_000

ProgressFn = Callable[[int], None]
"""Called with the number of bytes just read."""


@dataclass(frozen=True)
class Source:
    """One input: a file on disk, or text handed over in memory (a web page upload)."""

    name: str
    path: Path | None = None
    data: bytes | None = None

    @classmethod
    def from_path(cls, path: Path) -> Source:
        return cls(name=str(path), path=path)

    @classmethod
    def from_text(cls, text: str, name: str = "<event-log>") -> Source:
        return cls(name=name, data=text.encode("utf-8"))

    def open(self) -> IO[bytes]:
        if self.data is not None:
            stream = io.BytesIO(self.data)
            stream.name = self.name  # as a file has: errors name it
            return stream
        if self.path is None:
            raise InvalidInput(f"{self.name}: nothing to read")
        try:
            return self.path.open("rb")
        except OSError as exc:
            raise InvalidInput(f"{self.name}: {exc.strerror or exc}") from exc

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        if self.path is None:
            return 0
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def head(self, n_bytes: int = 4096) -> bytes:
        with self.open() as f:
            return f.read(n_bytes)

    def first_hole(self) -> int | None:
        """Offset of the first hole of a sparse file (bytes never written, read as zeros), or
        None: a text call log has none."""
        if self.path is None or not hasattr(os, "SEEK_HOLE"):
            return None
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return None
        try:
            size = os.fstat(fd).st_size
            hole = os.lseek(fd, 0, os.SEEK_HOLE)
        except OSError:  # a file system that cannot tell
            return None
        finally:
            os.close(fd)
        return hole if hole < size else None


#: How much of a file is looked at before reading it for NUL bytes (binary data).
SNIFF_BYTES = 64 * 1024
#: The longest line a text call log may have.
MAX_LINE_BYTES = 1 << 20


def _binary_at(lang: str, name: str, offset: int) -> InvalidInput:
    _ = translator(lang)
    return InvalidInput(
        _(
            "{name}: the file is binary (NUL byte at offset {offset}), not a text call log; "
            "if it is UTF-16 text, save it as UTF-8",
            name=name,
            offset=offset,
        )
    )


def refuse_binary(source: Source, lang: str) -> None:
    """Refuse a binary or sparse file from its first kilobytes, before reading it all.

    Call logs are text: a NUL byte in the first :data:`SNIFF_BYTES`, or a hole anywhere in a
    sparse file (a gigabyte of zeros costs no disk), means it is not one.
    """
    _ = translator(lang)
    nul = source.head(SNIFF_BYTES).find(b"\0")
    if nul >= 0:
        raise _binary_at(lang, source.name, nul)
    hole = source.first_hole()
    if hole is not None:
        raise InvalidInput(
            _(
                "{name}: the file has a hole of zeros at offset {hole} (a sparse or binary file), "
                "not a text call log",
                name=source.name,
                hole=hole,
            )
        )


@dataclass
class ImportContext:
    """A DuckDB connection being filled with ``calls_rows``, ``bad_rows`` and ``agent_states``."""

    con: duckdb.DuckDBPyConnection
    lang: str = "es"
    progress: ProgressFn | None = None
    parquet_views: list[str] = field(default_factory=list)
    extras: set[str] = field(default_factory=set)
    """Optional call columns (``EXTRA_COLUMNS``) that some imported source provides."""
    _next_src: int = 0

    def __post_init__(self) -> None:
        cols = ", ".join(f'"{n}" {t}' for n, t in DUCKDB_TYPES.items())
        self.con.execute(f"CREATE TEMP TABLE calls_rows ({cols})")
        self.con.execute(
            "CREATE TEMP TABLE bad_rows (src INTEGER, file VARCHAR, line BIGINT, "
            "col VARCHAR, reason VARCHAR)"
        )
        self.con.execute(
            "CREATE TEMP TABLE agent_states (agent VARCHAR, state VARCHAR, "
            "start_s DOUBLE, end_s DOUBLE)"
        )
        self.con.execute("CREATE TEMP TABLE agent_ring_no_answer (agent VARCHAR, n BIGINT)")
        self.con.execute(
            "CREATE OR REPLACE TEMP MACRO shown(x) AS '''' || left(coalesce(x, ''), 60) || ''''"
        )

    @property
    def text(self) -> Callable[..., str]:
        """``_(message, **fields)``: the Babel catalog's wording in the report's language."""
        return translator(self.lang)

    def new_src(self) -> int:
        self._next_src += 1
        return self._next_src

    def add_bad(self, src: int, rows: Sequence[BadRow]) -> None:
        if rows:
            self.con.executemany(
                "INSERT INTO bad_rows VALUES (?, ?, ?, ?, ?)",
                [(src, b.file, b.line, b.column, b.reason) for b in rows],
            )

    def bad_count(self, src: int) -> int:
        row = fetch_one(self.con, "SELECT count(DISTINCT line) FROM bad_rows WHERE src = ?", [src])
        return int(row[0])


def fetch_one(
    con: duckdb.DuckDBPyConnection, query: str, params: Sequence[Any] = ()
) -> tuple[Any, ...]:
    """The single row an aggregate query returns (fetched to the end, so the connection is
    free for the next statement)."""
    rows = con.execute(query, list(params)).fetchall()
    if not rows:  # pragma: no cover - aggregates always return a row
        raise RuntimeError("the query returned no row")
    return tuple(rows[0])


def sql_str(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


# --------------------------------------------------------------------------------------------
# Reading lines
# --------------------------------------------------------------------------------------------


CHUNK_BYTES = 8 << 20


def _line_chunks(
    stream: IO[bytes], ctx: ImportContext, bad: list[tuple[int, str, str]]
) -> Iterator[tuple[int, list[str]]]:
    """``(number of the first line, lines)`` a few megabytes at a time, decoded as UTF-8.

    A chunk is decoded in one go; only a chunk that is not valid UTF-8 is decoded line by
    line, and each undecodable line is reported in ``bad`` and replaced by a blank line.
    """
    line_no = 1
    rest = b""
    first = True
    offset = 0
    name = str(getattr(stream, "name", "<input>"))
    while True:
        block = stream.read(CHUNK_BYTES)
        if block and ctx.progress is not None:
            ctx.progress(len(block))
        nul = block.find(b"\0")
        if nul >= 0:
            raise _binary_at(ctx.lang, name, offset + nul)
        offset += len(block)
        if block:
            data = rest + block
            cut = data.rfind(b"\n")
            rest = data if cut < 0 else data[cut + 1 :]
            if len(rest) > MAX_LINE_BYTES:
                at = line_no + (data.count(b"\n") if cut >= 0 else 0)
                raise InvalidInput(
                    ctx.text(
                        "{name}:{at}: more than {limit} bytes without an end of line; "
                        "this does not look like a text call log",
                        name=name,
                        at=at,
                        limit=MAX_LINE_BYTES,
                    )
                )
            if cut < 0:
                continue
            data = data[: cut + 1]
        elif rest:
            data, rest = rest + b"\n", b""
        else:
            return
        if first:
            data = data.removeprefix(b"\xef\xbb\xbf")
            first = False
        try:
            lines = data.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            lines = []
            for k, raw in enumerate(data.split(b"\n")):
                try:
                    lines.append(raw.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    reason = ctx.text("not valid UTF-8") + f" ({exc})"
                    bad.append((line_no + k, "<line>", reason))
                    lines.append("")
        lines.pop()  # the empty string after the last newline
        yield line_no, lines
        line_no += len(lines)


def _csv_records(
    stream: IO[bytes], ctx: ImportContext, bad: list[tuple[int, str, str]], delimiter: str
) -> Iterator[tuple[int, list[str]]]:
    """``(first line number, fields)`` of each non-blank CSV record (quotes understood)."""

    def lines() -> Iterator[str]:
        for _, chunk in _line_chunks(stream, ctx, bad):
            for line in chunk:
                yield line + "\n"

    reader = csv.reader(lines(), delimiter=delimiter, strict=True)
    previous = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            bad.append((previous + 1, "<line>", ctx.text("unreadable CSV") + f": {exc}"))
            previous = reader.line_num
            continue
        start = previous + 1
        previous = reader.line_num
        if row and any(f.strip() for f in row):
            yield start, row


@dataclass
class RawTable:
    """A loaded raw table: its name, header (if any) and number of data rows."""

    table: str
    header: list[str] | None
    header_line: int
    rows: int
    ncols: int


def _insert_arrow(ctx: ImportContext, table: str, select: str, data: pa.Table) -> None:
    ctx.con.register("_raw_batch", data)
    try:
        ctx.con.execute(f"INSERT INTO {table} SELECT {select} FROM _raw_batch")  # noqa: S608
    finally:
        ctx.con.unregister("_raw_batch")


def load_raw(
    ctx: ImportContext,
    source: Source,
    src: int,
    *,
    table: str,
    delimiter: str,
    quoted: bool,
    ncols: int | None,
    has_header: bool,
    check_header: Callable[[list[str], int], None] | None = None,
) -> RawTable:
    """Stream ``source`` into the table ``table(line, nf, c0, ..., c{ncols-1})``.

    ``ncols`` None takes the number of header fields. Fields past ``ncols`` are dropped (the
    row is then bad through its ``nf``); missing ones are NULL. Blank lines are not rows.
    Without quotes, lines travel to DuckDB as text and are split there; with quotes (CSV),
    Python's ``csv`` module splits them a batch at a time.
    """
    bad: list[tuple[int, str, str]] = []
    with source.open() as stream:
        if quoted:
            raw = _load_quoted(ctx, stream, table, delimiter, ncols, has_header, check_header, bad)
        else:
            raw = _load_unquoted(
                ctx, stream, table, delimiter, ncols, has_header, check_header, bad
            )
    if has_header and raw.header is None:
        raise InvalidInput(ctx.text("{name}: the file is empty", name=source.name))
    ctx.add_bad(src, [BadRow(source.name, line, col, reason) for line, col, reason in bad])
    # Lines that could not even be read are rows too (reported above).
    raw.rows += len(bad)
    return raw


def _fields_sql(width: int) -> str:
    return ", ".join(f"f[{i + 1}] AS c{i}" for i in range(width))


def _load_unquoted(
    ctx: ImportContext,
    stream: IO[bytes],
    table: str,
    delimiter: str,
    ncols: int | None,
    has_header: bool,
    check_header: Callable[[list[str], int], None] | None,
    bad: list[tuple[int, str, str]],
) -> RawTable:
    lines_table = f"{table}_lines"
    ctx.con.execute(f"CREATE OR REPLACE TEMP TABLE {lines_table} (line BIGINT, text VARCHAR)")
    header: list[str] | None = None
    header_line = 0
    for start, lines in _line_chunks(stream, ctx, bad):
        if has_header and header is None:
            for k, line in enumerate(lines):
                if line.strip():
                    header = [f.strip() for f in line.rstrip("\r").split(delimiter)]
                    header_line = start + k
                    if check_header is not None:
                        check_header(header, header_line)
                    break
        numbers = np.arange(start, start + len(lines), dtype=np.int64)
        _insert_arrow(
            ctx,
            lines_table,
            "*",
            pa.table({"line": numbers, "text": pa.array(lines, pa.string())}),
        )
    width = ncols if ncols is not None else len(header or [])
    blank = "chr(9) || chr(13) || chr(32)"
    ctx.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT line, CAST(len(f) AS INTEGER) AS nf, {_fields_sql(width)}
        FROM (
            SELECT line, string_split(rtrim(text, chr(13)), {sql_str(delimiter)}) AS f
            FROM {lines_table}
            WHERE line > {header_line} AND trim(text, {blank}) <> ''
        )
        """  # noqa: S608
    )
    ctx.con.execute(f"DROP TABLE {lines_table}")
    rows = fetch_one(ctx.con, f"SELECT count(*) FROM {table}")[0]  # noqa: S608
    return RawTable(table, header, header_line, int(rows), width)


def _load_quoted(
    ctx: ImportContext,
    stream: IO[bytes],
    table: str,
    delimiter: str,
    ncols: int | None,
    has_header: bool,
    check_header: Callable[[list[str], int], None] | None,
    bad: list[tuple[int, str, str]],
) -> RawTable:
    header: list[str] | None = None
    header_line = 0
    width = ncols or 0
    n_rows = 0
    created = False
    numbers: list[int] = []
    records: list[list[str]] = []

    def flush() -> None:
        nonlocal created
        if not created:
            cols = ", ".join(f"c{i} VARCHAR" for i in range(width))
            ctx.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} (line BIGINT, nf INTEGER, {cols})"
            )
            created = True
        if records:
            data = pa.table(
                {
                    "line": pa.array(numbers, pa.int64()),
                    "f": pa.array(records, pa.list_(pa.string())),
                }
            )
            _insert_arrow(ctx, table, f"line, CAST(len(f) AS INTEGER), {_fields_sql(width)}", data)
            numbers.clear()
            records.clear()

    for line_no, fields in _csv_records(stream, ctx, bad, delimiter):
        if has_header and header is None:
            header = [f.strip() for f in fields]
            header_line = line_no
            if check_header is not None:
                check_header(header, line_no)
            if ncols is None:
                width = len(header)
            continue
        numbers.append(line_no)
        records.append(fields)
        n_rows += 1
        if len(records) >= BATCH_ROWS:
            flush()
    flush()
    return RawTable(table, header, header_line, n_rows, width)


# --------------------------------------------------------------------------------------------
# Checking rows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """A row rule: the row is bad in ``column`` when the SQL ``bad_when`` is true.

    ``reason`` is a SQL string expression (it may quote the offending value with
    ``shown(cN)``). NULL ``bad_when`` counts as good.
    """

    column: str
    bad_when: str
    reason: str


def validate(
    ctx: ImportContext,
    source: Source,
    src: int,
    raw: RawTable,
    checks: Sequence[Check],
    *,
    shape_ok: str,
    shape_reason: str,
    ok_table: str,
) -> None:
    """Record every failed check in ``bad_rows`` and keep the good rows in ``ok_table``."""
    parts = [
        f"SELECT line, '<row>' AS col, {shape_reason} AS reason FROM {raw.table} "  # noqa: S608
        f"WHERE NOT coalesce({shape_ok}, false)"
    ]
    for chk in checks:
        parts.append(
            f"SELECT line, {sql_str(chk.column)}, {chk.reason} FROM {raw.table} "  # noqa: S608
            f"WHERE coalesce({shape_ok}, false) AND coalesce({chk.bad_when}, false)"
        )
    union = " UNION ALL ".join(parts)
    ctx.con.execute(
        f"INSERT INTO bad_rows SELECT ?, ?, line, col, reason FROM ({union})",  # noqa: S608
        [src, source.name],
    )
    ctx.con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ok_table} AS SELECT r.* FROM {raw.table} r "  # noqa: S608
        f"ANTI JOIN (SELECT line FROM bad_rows WHERE src = {src}) b USING (line)"
    )


def count_rows(
    ctx: ImportContext, summary: ImportSummary, src: int, raw: RawTable, *, calls: int
) -> None:
    """Fill in what every import reports: rows read, rows refused, calls kept."""
    summary.rows_read = raw.rows
    summary.bad_rows = ctx.bad_count(src)
    summary.calls = calls


def validate_fields(
    ctx: ImportContext,
    source: Source,
    src: int,
    raw: RawTable,
    checks: Sequence[Check],
    *,
    fields: int,
    ok_table: str,
) -> None:
    """:func:`validate` for a file whose every row has exactly ``fields`` fields."""
    validate(
        ctx,
        source,
        src,
        raw,
        checks,
        shape_ok=f"nf = {fields}",
        shape_reason=sql_str(ctx.text("expected {fields} fields, found", fields=fields) + " ")
        + " || nf",
        ok_table=ok_table,
    )


# SQL snippets shared by the checks.
def sql_in(values: Sequence[str]) -> str:
    """``('a', 'b')``: the SQL list of ``values`` for ``IN``."""
    return "(" + ", ".join(sql_str(v) for v in values) + ")"


def not_uint(col: str) -> str:
    """True when ``col`` is not a non-negative whole number."""
    return f"NOT regexp_full_match(trim({col}), '[0-9]+')"


def not_number(col: str) -> str:
    """True when ``col`` is not a finite non-negative number."""
    return (
        f"(TRY_CAST(trim({col}) AS DOUBLE) IS NULL OR NOT isfinite(TRY_CAST(trim({col}) AS DOUBLE))"
        f" OR TRY_CAST(trim({col}) AS DOUBLE) < 0)"
    )


def drop_tables(ctx: ImportContext, *tables: str) -> None:
    for t in tables:
        ctx.con.execute(f"DROP TABLE IF EXISTS {t}")
