"""Call-log importers: each reads one format into the call-record table (see ``_base``).

Formats: ``escucha`` (the contact event log), ``asterisk`` (``queue_log``), ``anonymous-bank``
(the Technion research data set), ``csv`` (any CSV through a column-mapping file, or one whose
header uses call-record names) and ``calls`` (the call-record table as Parquet).
Bad rows are reported as ``file:line: column: reason`` and never stop an import.
"""

from __future__ import annotations

from escucha.analytics.importers import anonymous_bank, asterisk, escucha_log
from escucha.analytics.importers._base import ImportContext, Source, refuse_binary
from escucha.analytics.importers.calls_table import import_parquet
from escucha.analytics.importers.csv_mapping import (
    CsvMapping,
    LoadedMapping,
    header_of,
    identity_mapping,
    import_csv,
    load_mapping,
)
from escucha.analytics.schemas import DUCKDB_TYPES, FORMATS, ImportSummary
from escucha.errors import InvalidInput

__all__ = [
    "CsvMapping",
    "ImportContext",
    "LoadedMapping",
    "Source",
    "detect_format",
    "finish_calls_view",
    "import_source",
    "load_mapping",
    "refuse_non_text",
]

PARQUET_MAGIC = b"PAR1"


def refuse_non_text(source: Source, lang: str) -> None:
    """Refuse a binary or sparse source (Parquet aside) before anything reads a line of it."""
    if not source.head(len(PARQUET_MAGIC)).startswith(PARQUET_MAGIC):
        refuse_binary(source, lang)


def detect_format(source: Source, *, has_mapping: bool = False) -> str:
    """Tell the format of a source from its name and first bytes."""
    head = source.head()
    if head.startswith(PARQUET_MAGIC) or source.name.lower().endswith(".parquet"):
        return "calls"
    if escucha_log.looks_like(head):
        return "escucha"
    if anonymous_bank.looks_like(head):
        return "anonymous-bank"
    if asterisk.looks_like(head):
        return "asterisk"
    if has_mapping or identity_mapping(header_of(source)) is not None:
        return "csv"
    raise InvalidInput(
        f"{source.name}: no se reconoce el formato; indique --format "
        f"({', '.join(FORMATS)}) / cannot tell the format; give --format"
    )


def import_source(
    ctx: ImportContext, source: Source, fmt: str, mapping: LoadedMapping | None = None
) -> ImportSummary:
    """Import one source of a known format (``auto`` detects it)."""
    if fmt == "auto":
        fmt = detect_format(source, has_mapping=mapping is not None)
    if fmt == "escucha":
        return escucha_log.import_escucha_log(ctx, source)
    if fmt == "asterisk":
        return asterisk.import_asterisk(ctx, source)
    if fmt == "anonymous-bank":
        return anonymous_bank.import_anonymous_bank(ctx, source)
    if fmt == "csv":
        return import_csv(ctx, source, mapping)
    if fmt == "calls":
        if source.head().startswith(PARQUET_MAGIC):
            return import_parquet(ctx, source)
        summary = import_csv(ctx, source, None)
        summary.format = "calls"
        return summary
    raise InvalidInput(f"unknown format {fmt!r}; known: auto, {', '.join(FORMATS)}")


def finish_calls_view(ctx: ImportContext) -> None:
    """Create the ``calls`` view: imported rows plus every Parquet view."""
    names = ", ".join(DUCKDB_TYPES)
    parts = [f"SELECT {names} FROM calls_rows"]  # noqa: S608
    parts += [f"SELECT {names} FROM {view}" for view in ctx.parquet_views]  # noqa: S608
    ctx.con.execute(f"CREATE OR REPLACE TEMP VIEW calls AS {' UNION ALL '.join(parts)}")
