"""The call-record table itself, as Parquet (what the simulator and exports write).

The file is never copied: a DuckDB view reads it in place, casting each contract column to its
type and filling missing optional columns with defaults, and leaves out bad rows. Bad rows are
reported with their 1-based row number in the file.
"""

from __future__ import annotations

from escucha.analytics.importers._base import ImportContext, Source, fetch_one, sql_str
from escucha.analytics.schemas import CALL_COLUMNS, DUCKDB_TYPES, EXTRA_COLUMNS, ImportSummary
from escucha.errors import InvalidInput

REQUIRED = ("wait_s", "abandoned", "answered", "queued")
DEFAULTS = {
    "call_id": "CAST(file_row_number + 1 AS VARCHAR)",
    "queue": "'default'",
    "service_s": "0.0",
    "hold_s": "0.0",
    "wrap_s": "0.0",
    "holds": "0",
    "transfers": "0",
    "callback": "false",
}


def import_parquet(ctx: ImportContext, source: Source) -> ImportSummary:
    """Register one Parquet call table as a view ``pq_<n>`` of good rows."""
    if source.path is None:
        raise InvalidInput(f"{source.name}: Parquet must be a file")
    src = ctx.new_src()
    _ = ctx.text
    summary = ImportSummary(file=source.name, format="calls")
    scan = f"read_parquet({sql_str(str(source.path))}, file_row_number = true)"
    try:
        described = ctx.con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()  # noqa: S608
    except Exception as exc:  # duckdb raises IOException/InvalidInputException for bad files
        raise InvalidInput(
            f"{source.name}: " + _("not a readable Parquet file") + f" ({exc})"
        ) from exc
    present = {str(r[0]) for r in described}
    missing = [c for c in REQUIRED if c not in present]
    if missing:
        raise InvalidInput(
            f"{source.name}: " + _("missing call-table columns") + ": " + ", ".join(missing)
        )
    exprs = []
    for name, typ in DUCKDB_TYPES.items():
        if name in present:
            exprs.append(f'CAST("{name}" AS {typ}) AS {name}')
        else:
            exprs.append(f"CAST({DEFAULTS.get(name, 'NULL')} AS {typ}) AS {name}")
    selected = ", ".join(exprs)
    rules: list[tuple[str, str, str]] = [
        (
            "wait_s",
            "wait_s IS NULL OR NOT isfinite(wait_s) OR wait_s < 0",
            _("missing or negative"),
        ),
        ("queued", "queued IS NULL", _("missing")),
        ("abandoned", "abandoned IS NULL", _("missing")),
        ("answered", "answered IS NULL", _("missing")),
        (
            "abandoned/answered",
            "abandoned AND answered",
            _("both abandoned and answered"),
        ),
        (
            "service_s",
            "service_s < 0 OR hold_s < 0 OR wrap_s < 0",
            _("negative duration"),
        ),
    ]
    typed = f"(SELECT file_row_number, {selected} FROM {scan})"  # noqa: S608
    checked = "wait_s, queued, abandoned, answered, service_s, hold_s, wrap_s"
    any_bad = " OR ".join(f"coalesce({cond}, false)" for _, cond, _ in rules)
    parts = [
        f"SELECT file_row_number + 1 AS line, {sql_str(col)} AS col, {sql_str(reason)} AS reason "  # noqa: S608
        f"FROM pq_bad WHERE coalesce({cond}, false)"
        for col, cond, reason in rules
    ]
    try:
        # One scan finds the (usually few) bad rows; the reasons come from that small table.
        ctx.con.execute(
            f"CREATE OR REPLACE TEMP TABLE pq_bad AS SELECT file_row_number, {checked} "  # noqa: S608
            f"FROM {typed} WHERE {any_bad}"
        )
        union = " UNION ALL ".join(parts)
        ctx.con.execute(
            f"INSERT INTO bad_rows SELECT ?, ?, line, col, reason FROM ({union})",  # noqa: S608
            [src, source.name],
        )
        ctx.con.execute("DROP TABLE pq_bad")
    except Exception as exc:  # a column of a type that does not cast
        raise InvalidInput(
            f"{source.name}: " + _("columns of unexpected types") + f" ({exc})"
        ) from exc
    view = f"pq_{src}"
    names = ", ".join(DUCKDB_TYPES)
    # A clean file (the usual case) needs no filter in every later scan.
    where = f"WHERE NOT ({any_bad})" if ctx.bad_count(src) else ""
    ctx.con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {names} FROM {typed} {where}"  # noqa: S608
    )
    ctx.parquet_views.append(view)
    ctx.extras.update(c for c in EXTRA_COLUMNS if c in present)
    if ctx.progress is not None:
        ctx.progress(source.size)
    total = fetch_one(ctx.con, f"SELECT count(*) FROM read_parquet({sql_str(str(source.path))})")  # noqa: S608
    summary.rows_read = int(total[0])
    summary.bad_rows = ctx.bad_count(src)
    summary.calls = summary.rows_read - summary.bad_rows
    absent = [c for c in CALL_COLUMNS if c not in present and c not in REQUIRED]
    if absent:
        summary.notes.append(_("absent columns, defaulted") + ": " + ", ".join(absent))
    return summary
