"""Generic CSV call logs, read through a column-mapping file.

A mapping file (YAML) says which source column holds each call-record column::

    delimiter: ";"              # default ","
    columns:
      call_id: CallId
      queue: Skill
      arrived_at: {column: Start, format: "%d/%m/%Y %H:%M:%S"}   # or iso, epoch, epoch_ms
      wait_s: {column: WaitMs, unit: ms}                        # s (default), ms or min
      abandoned: {column: Result, true_values: [ABANDONED]}
      answered: {column: Result, true_values: [ANSWERED]}
      service_s: Talk
      queued: {value: true}                                     # a constant

Only ``wait_s`` and one of ``abandoned``/``answered`` are required. Missing columns take
defaults: ``call_id`` = ``file:line``, ``queue`` = ``default``, ``queued`` = true,
``abandoned`` = queued and not answered, ``answered`` = not abandoned, durations and counts 0,
the rest null. Booleans without ``true_values`` accept true/false, 1/0, yes/no, sí/no.
Times without a zone are UTC.

A CSV whose header already uses call-record column names (for example ``wait_s,abandoned``,
or a whole call table) needs no mapping file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from escucha import yamlio
from escucha.analytics.importers._base import (
    Check,
    ImportContext,
    Source,
    count_rows,
    drop_tables,
    fetch_one,
    load_raw,
    sql_str,
    validate_fields,
)
from escucha.analytics.schemas import DUCKDB_TYPES, EXTRA_COLUMNS, ImportSummary
from escucha.errors import InvalidInput

TRUE_WORDS = ("true", "1", "yes", "y", "t", "si", "sí", "s")
FALSE_WORDS = ("false", "0", "no", "n", "f")
UNIT_FACTOR = {"s": 1.0, "ms": 0.001, "min": 60.0}


class ColumnSpec(BaseModel):
    """Where one call-record column comes from: a source ``column`` or a constant ``value``."""

    model_config = ConfigDict(extra="forbid")

    column: str | None = None
    value: str | float | bool | None = None
    true_values: list[str] | None = None
    unit: Literal["s", "ms", "min"] = "s"
    format: str = "iso"

    @model_validator(mode="after")
    def _one_source(self) -> ColumnSpec:
        if (self.column is None) == (self.value is None):
            raise ValueError("give either 'column' or 'value'")
        return self


class CsvMapping(BaseModel):
    """A column-mapping file."""

    model_config = ConfigDict(extra="forbid")

    delimiter: str = ","
    columns: dict[str, str | ColumnSpec]

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError("the delimiter must be one character")
        return value

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, str | ColumnSpec]) -> dict[str, str | ColumnSpec]:
        unknown = sorted(set(value) - set(DUCKDB_TYPES))
        if unknown:
            raise ValueError(
                f"unknown call-record columns {unknown}; known: {', '.join(DUCKDB_TYPES)}"
            )
        if "wait_s" not in value:
            raise ValueError("wait_s must be mapped")
        if "abandoned" not in value and "answered" not in value:
            raise ValueError("abandoned or answered must be mapped")
        return value

    def spec(self, name: str) -> ColumnSpec | None:
        raw = self.columns.get(name)
        if raw is None or isinstance(raw, ColumnSpec):
            return raw
        return ColumnSpec(column=raw)


class LoadedMapping(BaseModel):
    """A mapping with the file it came from (to point at the line of a wrong column)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    mapping: CsvMapping
    filename: str | None = None
    document: Any = None

    def line_of(self, name: str) -> str:
        if self.filename is None:
            return "<mapping>"
        line = yamlio.line_of(self.document, ["columns", name])
        return f"{self.filename}:{line}" if line is not None else self.filename


def load_mapping(path: Path) -> LoadedMapping:
    """Read and check a mapping file (errors as ``file:line: path: reason``)."""
    document = yamlio.load(path)
    mapping = yamlio.validate(CsvMapping, document, str(path))
    return LoadedMapping(mapping=mapping, filename=str(path), document=document)


def identity_mapping(header: list[str]) -> CsvMapping | None:
    """The mapping of a CSV whose header uses call-record names, or None if it does not."""
    names = [h for h in header if h in DUCKDB_TYPES]
    if "wait_s" not in names or not ({"abandoned", "answered"} & set(names)):
        return None
    return CsvMapping(columns={n: n for n in names})


def header_of(source: Source, delimiter: str = ",") -> list[str]:
    first = source.head(65536).split(b"\n", 1)[0].decode("utf-8", "replace")
    return [h.strip().strip('"') for h in first.lstrip("\ufeff").strip().split(delimiter)]


def _literal(name: str, value: str | float | bool) -> str:
    typ = DUCKDB_TYPES[name]
    if typ == "BOOLEAN":
        return "true" if value in (True, "true", "1", 1) else "false"
    if isinstance(value, str):
        return f"CAST({sql_str(value)} AS {typ})"
    return f"CAST({value!r} AS {typ})"


def import_csv(ctx: ImportContext, source: Source, mapping: LoadedMapping | None) -> ImportSummary:
    """Import one CSV file into ``calls_rows`` through ``mapping`` (or its own header names)."""
    src = ctx.new_src()
    _ = ctx.text
    delimiter = mapping.mapping.delimiter if mapping is not None else ","
    summary = ImportSummary(file=source.name, format="csv")
    raw = load_raw(
        ctx,
        source,
        src,
        table="csv_raw",
        delimiter=delimiter,
        quoted=True,
        ncols=None,
        has_header=True,
    )
    header = raw.header or []
    if mapping is None:
        found = identity_mapping(header)
        if found is None:
            raise InvalidInput(
                _(
                    "{name}: the header does not use call-record column names "
                    "(wait_s and abandoned or answered); give a mapping file with --mapping",
                    name=source.name,
                )
            )
        mapping = LoadedMapping(mapping=found)
    m = mapping.mapping
    index = {h: i for i, h in enumerate(header)}
    exprs: dict[str, str] = {}
    checks: list[Check] = []
    for name, typ in DUCKDB_TYPES.items():
        spec = m.spec(name)
        if spec is None:
            continue
        if spec.value is not None:
            exprs[name] = _literal(name, spec.value)
            continue
        if spec.column is None or spec.column not in index:
            raise InvalidInput(
                f"{mapping.line_of(name)}: columns.{name}: "
                + _(
                    "column {column!r} is not in the header of {name}",
                    column=spec.column,
                    name=source.name,
                )
            )
        col = f"c{index[spec.column]}"
        value = f"NULLIF(trim({col}), '')"
        label = spec.column
        if typ == "VARCHAR":
            exprs[name] = value
        elif typ in ("DOUBLE", "INTEGER"):
            factor = UNIT_FACTOR[spec.unit]
            num = f"TRY_CAST({value} AS DOUBLE)"
            if typ == "DOUBLE":
                exprs[name] = f"{num} * {factor}"
            else:
                exprs[name] = f"CAST({num} AS INTEGER)"
            bad = f"{value} IS NOT NULL AND ({num} IS NULL OR NOT isfinite({num}) OR {num} < 0"
            bad += f" OR {num} <> floor({num}))" if typ == "INTEGER" else ")"
            checks.append(
                Check(
                    label,
                    bad,
                    sql_str(
                        _("not a non-negative number") + ": "
                        if typ == "DOUBLE"
                        else _("not a whole number") + ": "
                    )
                    + f" || shown({col})",
                )
            )
            if name == "wait_s":
                checks.append(Check(label, f"{value} IS NULL", sql_str(_("empty"))))
        elif typ == "BOOLEAN":
            if spec.true_values is not None:
                trues = "(" + ", ".join(sql_str(v) for v in spec.true_values) + ")"
                exprs[name] = f"coalesce(trim({col}) IN {trues}, false)"
            else:
                words = "(" + ", ".join(sql_str(w) for w in (*TRUE_WORDS, *FALSE_WORDS)) + ")"
                truths = "(" + ", ".join(sql_str(w) for w in TRUE_WORDS) + ")"
                exprs[name] = f"coalesce(lower({value}) IN {truths}, false)"
                checks.append(
                    Check(
                        label,
                        f"{value} IS NOT NULL AND lower({value}) NOT IN {words}",
                        sql_str(_("not yes/no or true/false") + ": ") + f" || shown({col})",
                    )
                )
        else:  # TIMESTAMPTZ
            fmt = spec.format
            if fmt == "iso":
                ts = f"TRY_CAST({value} AS TIMESTAMPTZ)"
            elif fmt in ("epoch", "epoch_ms"):
                div = 1000.0 if fmt == "epoch_ms" else 1.0
                ts = f"to_timestamp(TRY_CAST({value} AS DOUBLE) / {div})"
            else:
                ts = f"CAST(TRY_STRPTIME({value}, {sql_str(fmt)}) AS TIMESTAMPTZ)"
            exprs[name] = ts
            checks.append(
                Check(
                    label,
                    f"{value} IS NULL OR {ts} IS NULL",
                    sql_str(_("not a time ({format})", format=fmt) + ": ") + f" || shown({col})",
                )
            )
    if "abandoned" in exprs and "answered" in exprs:
        checks.append(
            Check(
                "abandoned/answered",
                f"({exprs['abandoned']}) AND ({exprs['answered']})",
                sql_str(_("both abandoned and answered")),
            )
        )
    ctx.extras.update(c for c in EXTRA_COLUMNS if c in exprs)
    validate_fields(ctx, source, src, raw, checks, fields=raw.ncols, ok_table="csv_ok")
    defaults = {
        "call_id": f"{sql_str(source.name + ':')} || line",
        "queue": "'default'",
        "queued": "true",
        "service_s": "0.0",
        "hold_s": "0.0",
        "wrap_s": "0.0",
        "holds": "0",
        "transfers": "0",
        "callback": "false",
    }
    first = [f"{exprs.get(n, defaults.get(n, 'NULL'))} AS {n}" for n in DUCKDB_TYPES]
    second = []
    for n in DUCKDB_TYPES:
        if n == "abandoned" and n not in exprs:
            second.append("queued AND NOT answered AS abandoned")
        elif n == "answered" and n not in exprs:
            second.append("NOT abandoned AS answered")
        elif n in ("service_s", "hold_s", "wrap_s", "holds", "transfers") and n in exprs:
            second.append(f"coalesce({n}, {defaults[n]}) AS {n}")
        else:
            second.append(n)
    ctx.con.execute(
        f"INSERT INTO calls_rows BY NAME SELECT {', '.join(second)} "  # noqa: S608
        f"FROM (SELECT {', '.join(first)} FROM csv_ok)"
    )
    row = fetch_one(ctx.con, "SELECT count(*) FROM csv_ok")
    count_rows(ctx, summary, src, raw, calls=int(row[0]))
    drop_tables(ctx, "csv_raw", "csv_ok")
    return summary
