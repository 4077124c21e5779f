"""The Technion "Anonymous Bank" call-center data (a public research data set).

Tab-separated, one line per call, header::

    vru+line call_id customer_id priority type date vru_entry vru_exit vru_time
    q_start q_exit q_time outcome ser_start ser_exit ser_time server

``date`` is ``YYMMDD``; the ``*_entry``/``*_exit``/``*_start`` fields are times of day
``H:MM:SS`` (``0:00:00`` meaning none); ``*_time`` fields are whole seconds; ``outcome`` is
``AGENT`` (served), ``HANG`` (hung up) or ``PHANTOM`` (a record of no real call, left out);
``server`` is the agent's name or ``NO_SERVER``.

Mapping to call records: ``queue`` = ``type`` (the service: PS, PE, IN, NE, NW, TT),
``call_type`` = ``priority``, ``customer_id`` = ``customer_id`` (``0`` = unknown),
``queued`` when ``q_start`` is not ``0:00:00``, ``wait_s`` = ``q_time``,
``abandoned`` = queued and ``HANG``, ``answered`` = ``AGENT``, ``service_s`` = ``ser_time``,
``arrived_at`` = ``date`` + ``q_start`` (``vru_entry`` when not queued), taken as UTC; a
``q_start`` earlier in the day than ``vru_entry`` is on the next day.

Reference: Mandelbaum, A. *Call Centers (Centres): Research Bibliography with Abstracts*, and
the data documentation of the Technion Service Enterprise Engineering Center.
"""

from __future__ import annotations

from escucha.analytics.importers._base import (
    Check,
    ImportContext,
    Source,
    count_rows,
    drop_tables,
    fetch_one,
    load_raw,
    not_uint,
    sql_str,
    validate_fields,
)
from escucha.analytics.schemas import ImportSummary
from escucha.errors import InvalidInput

HEADER: tuple[str, ...] = (
    "vru+line",
    "call_id",
    "customer_id",
    "priority",
    "type",
    "date",
    "vru_entry",
    "vru_exit",
    "vru_time",
    "q_start",
    "q_exit",
    "q_time",
    "outcome",
    "ser_start",
    "ser_exit",
    "ser_time",
    "server",
)
COL = {name: f"c{i}" for i, name in enumerate(HEADER)}
TIME_FIELDS = ("vru_entry", "vru_exit", "q_start", "q_exit", "ser_start", "ser_exit")
SECONDS_FIELDS = ("vru_time", "q_time", "ser_time")
TIME_RE = "[0-9]{1,2}:[0-5][0-9]:[0-5][0-9]"


def looks_like(head: bytes) -> bool:
    """True when the first line is the Anonymous Bank header."""
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").lstrip("\ufeff")
    return tuple(first.split()) == HEADER


def _secs(col: str) -> str:
    """Seconds since midnight of an ``H:MM:SS`` field."""
    parts = f"string_split(trim({col}), ':')"
    return (
        f"(CAST({parts}[1] AS INTEGER) * 3600 + CAST({parts}[2] AS INTEGER) * 60"
        f" + CAST({parts}[3] AS INTEGER))"
    )


def import_anonymous_bank(ctx: ImportContext, source: Source) -> ImportSummary:
    """Import one Anonymous Bank file into ``calls_rows``."""
    src = ctx.new_src()
    summary = ImportSummary(file=source.name, format="anonymous-bank")

    def check_header(header: list[str], line: int) -> None:
        fields = tuple(" ".join(header).split())
        if fields != HEADER:
            raise InvalidInput(
                f"{source.name}:{line}: header: "
                + ctx.text("expected the header")
                + " "
                + " ".join(HEADER)
            )

    raw = load_raw(
        ctx,
        source,
        src,
        table="ab_raw",
        delimiter="\t",
        quoted=False,
        ncols=len(HEADER),
        has_header=True,
        check_header=check_header,
    )
    c = COL
    _ = ctx.text
    checks = [
        Check("call_id", f"trim({c['call_id']}) = ''", sql_str(_("empty"))),
        Check(
            "customer_id",
            not_uint(c["customer_id"]),
            sql_str(_("not a whole number") + ": ") + f" || shown({c['customer_id']})",
        ),
        Check(
            "priority",
            f"trim({c['priority']}) NOT IN ('0', '1', '2')",
            sql_str(_("not 0, 1 or 2") + ": ") + f" || shown({c['priority']})",
        ),
        Check("type", f"trim({c['type']}) = ''", sql_str(_("empty"))),
        Check(
            "date",
            f"NOT regexp_full_match(trim({c['date']}), '[0-9]{{6}}') "
            f"OR TRY_STRPTIME(trim({c['date']}), '%y%m%d') IS NULL",
            sql_str(_("not a date YYMMDD") + ": ") + f" || shown({c['date']})",
        ),
    ]
    for name in TIME_FIELDS:
        col = c[name]
        checks.append(
            Check(
                name,
                f"NOT regexp_full_match(trim({col}), '{TIME_RE}') "
                f"OR TRY_CAST(split_part(trim({col}), ':', 1) AS INTEGER) > 23",
                sql_str(_("not a time H:MM:SS") + ": ") + f" || shown({col})",
            )
        )
    for name in SECONDS_FIELDS:
        col = c[name]
        checks.append(
            Check(
                name,
                not_uint(col),
                sql_str(_("not whole seconds") + ": ") + f" || shown({col})",
            )
        )
    checks += [
        Check(
            "outcome",
            f"trim({c['outcome']}) NOT IN ('AGENT', 'HANG', 'PHANTOM')",
            sql_str(_("not AGENT, HANG or PHANTOM") + ": ") + f" || shown({c['outcome']})",
        ),
        Check(
            "ser_start",
            f"trim({c['outcome']}) = 'AGENT' AND regexp_full_match(trim({c['ser_start']}), "
            f"'0?0:00:00')",
            sql_str(_("an answered (AGENT) call has no service start")),
        ),
        Check("server", f"trim({c['server']}) = ''", sql_str(_("empty"))),
    ]
    validate_fields(ctx, source, src, raw, checks, fields=len(HEADER), ok_table="ab_ok")
    queued = f"NOT regexp_full_match(trim({c['q_start']}), '0?0:00:00')"
    start = f"CASE WHEN {queued} THEN {_secs(c['q_start'])} ELSE {_secs(c['vru_entry'])} END"
    day_shift = (
        f"CASE WHEN {queued} AND {_secs(c['q_start'])} < {_secs(c['vru_entry'])} "
        f"THEN 86400 ELSE 0 END"
    )
    ctx.con.execute(
        f"""
        INSERT INTO calls_rows BY NAME
        SELECT
            trim({c["call_id"]}) AS call_id,
            trim({c["type"]}) AS queue,
            NULLIF(trim({c["customer_id"]}), '0') AS customer_id,
            trim({c["priority"]}) AS call_type,
            to_timestamp(epoch(strptime(trim({c["date"]}), '%y%m%d'))
                + {start} + {day_shift}) AS arrived_at,
            {queued} AS queued,
            CASE WHEN {queued} THEN CAST(trim({c["q_time"]}) AS DOUBLE) ELSE 0 END AS wait_s,
            {queued} AND trim({c["outcome"]}) = 'HANG' AS abandoned,
            trim({c["outcome"]}) = 'AGENT' AS answered,
            CASE WHEN trim({c["outcome"]}) = 'AGENT'
                 THEN CAST(trim({c["ser_time"]}) AS DOUBLE) ELSE 0 END AS service_s,
            0.0 AS hold_s, 0 AS holds, 0.0 AS wrap_s,
            CASE WHEN trim({c["outcome"]}) = 'AGENT' AND trim({c["server"]}) <> 'NO_SERVER'
                 THEN trim({c["server"]}) END AS agent,
            0 AS transfers, false AS callback
        FROM ab_ok
        WHERE trim({c["outcome"]}) <> 'PHANTOM'
        """  # noqa: S608
    )
    counts = fetch_one(
        ctx.con,
        f"SELECT count(*) FILTER (WHERE trim({c['outcome']}) = 'PHANTOM'), "  # noqa: S608
        f"count(*) FILTER (WHERE trim({c['outcome']}) <> 'PHANTOM') FROM ab_ok",
    )
    phantom, calls = int(counts[0]), int(counts[1])
    count_rows(ctx, summary, src, raw, calls=calls)
    if phantom:
        summary.notes.append(
            _("{phantom} PHANTOM rows (records of no real call) left out", phantom=phantom)
        )
    drop_tables(ctx, "ab_raw", "ab_ok")
    return summary
