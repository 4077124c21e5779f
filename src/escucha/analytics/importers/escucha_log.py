"""escucha's own contact event log (the CSV export of the live system).

Header ``contact_id,event,at,queue,agent,customer_id,channel,data``; ``at`` is ISO 8601 UTC;
``data`` is a JSON object or empty. One contact becomes one call record:

* ``arrived_at``: the first ``queued`` event (else ``arrived``, else the first event);
* ``wait_s``: from ``queued`` to the first of ``answered``, ``abandoned``,
  ``callback_requested`` (the caller left the line but kept their place) or ``ended``;
* ``abandoned``: an ``abandoned`` event before any answer; ``answered``: an ``answered`` event,
  whose agent is the call's agent;
* holds: ``hold_started``/``hold_ended`` pairs (a hold still open ends with the contact);
  ``holds_unannounced`` counts ``hold_started`` with ``{"announced": false}`` (W5);
* ``service_s`` (talk): from the answer to the end of the conversation, minus holds; the
  conversation ends at ``ended`` or at ``wrapped_up`` minus its ``wrap_s``, whichever is first;
* ``wrap_s``, ``resolved``: from ``wrapped_up``; ``transfers``: ``transferred`` events;
* ``estimate_s``: the first ``estimate_given`` (the wait announced to the caller);
* ``callback``: a ``callback_requested``; ``callback_kept``: the caller was answered again
  (same contact, or a ``callback`` channel contact of the same customer) at or before the
  promised ``due_at``; false once the due time passed without that, null while still due;
* ``call_type``: the channel.

Contacts still waiting at the end of the log are left out and counted.
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
    sql_in,
    sql_str,
    validate_fields,
)
from escucha.analytics.schemas import EXTRA_COLUMNS, ImportSummary
from escucha.csvsafe import FORMULA_STARTS
from escucha.errors import InvalidInput

HEADER: tuple[str, ...] = (
    "contact_id",
    "event",
    "at",
    "queue",
    "agent",
    "customer_id",
    "channel",
    "data",
)
EVENTS: tuple[str, ...] = (
    "arrived",
    "ivr_choice",
    "queued",
    "estimate_given",
    "callback_offered",
    "callback_requested",
    "abandoned",
    "offered",
    "answered",
    "hold_started",
    "hold_ended",
    "transferred",
    "wrapped_up",
    "ended",
)


def _restored(expr: str) -> str:
    """SQL for the text of a cell escucha defused for spreadsheets (``escucha.csvsafe``)."""
    starts = ", ".join(f"chr({ord(c)})" for c in FORMULA_STARTS)
    return (
        f"CASE WHEN left({expr}, 1) = chr(39) AND substr({expr}, 2, 1) IN ({starts}) "
        f"THEN substr({expr}, 2) ELSE {expr} END"
    )


def looks_like(head: bytes) -> bool:
    """True when the first line is the event-log header."""
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").lstrip("\ufeff").strip()
    return tuple(f.strip() for f in first.split(",")) == HEADER


def import_escucha_log(ctx: ImportContext, source: Source) -> ImportSummary:
    """Import one contact event log into ``calls_rows``."""
    src = ctx.new_src()
    _ = ctx.text
    summary = ImportSummary(file=source.name, format="escucha")

    def check_header(header: list[str], line: int) -> None:
        if tuple(header) != HEADER:
            raise InvalidInput(
                f"{source.name}:{line}: header: "
                + _("expected the header")
                + " "
                + ",".join(HEADER)
            )

    raw = load_raw(
        ctx,
        source,
        src,
        table="esc_raw",
        delimiter=",",
        quoted=True,
        ncols=len(HEADER),
        has_header=True,
        check_header=check_header,
    )
    # CASE keeps the JSON functions away from text that is not JSON (they raise on it).
    data_ok = (
        "(CASE WHEN trim(c7) <> '' AND json_valid(c7) THEN json_type(c7) = 'OBJECT' ELSE false END)"
    )

    def field(key: str) -> str:
        return f"CASE WHEN {data_ok} THEN json_extract_string(c7, '$.{key}') END"

    def jtype(key: str) -> str:
        return f"CASE WHEN {data_ok} THEN json_type(c7, '$.{key}') END"

    ev = "trim(c1)"
    checks = [
        Check("contact_id", "trim(c0) = ''", sql_str(_("empty"))),
        Check(
            "event",
            f"{ev} NOT IN {sql_in(EVENTS)}",
            sql_str(_("unknown event") + ": ") + " || shown(c1)",
        ),
        Check(
            "at",
            "TRY_CAST(trim(c2) AS TIMESTAMPTZ) IS NULL",
            sql_str(_("not an ISO 8601 time") + ": ") + " || shown(c2)",
        ),
        Check(
            "data",
            f"trim(c7) <> '' AND NOT {data_ok}",
            sql_str(_("not a JSON object") + ": ") + " || shown(c7)",
        ),
        Check(
            "data",
            f"{ev} = 'estimate_given' AND (TRY_CAST({field('estimate_s')} AS DOUBLE) IS NULL "
            f"OR TRY_CAST({field('estimate_s')} AS DOUBLE) < 0)",
            sql_str(_("estimate_given needs estimate_s (seconds)")),
        ),
        Check(
            "data",
            f"{ev} = 'wrapped_up' AND {jtype('wrap_s')} IS NOT NULL AND "
            f"(TRY_CAST({field('wrap_s')} AS DOUBLE) IS NULL "
            f"OR TRY_CAST({field('wrap_s')} AS DOUBLE) < 0)",
            sql_str(_("wrap_s is not seconds")),
        ),
        Check(
            "data",
            f"{ev} = 'wrapped_up' AND {jtype('resolved')} IS NOT NULL "
            f"AND {jtype('resolved')} <> 'BOOLEAN'",
            sql_str(_("resolved is not true/false")),
        ),
        Check(
            "data",
            f"{ev} = 'hold_started' AND {jtype('announced')} IS NOT NULL "
            f"AND {jtype('announced')} <> 'BOOLEAN'",
            sql_str(_("announced is not true/false")),
        ),
        Check(
            "data",
            f"{ev} = 'callback_requested' AND {jtype('due_at')} IS NOT NULL "
            f"AND TRY_CAST({field('due_at')} AS TIMESTAMPTZ) IS NULL",
            sql_str(_("due_at is not an ISO 8601 time")),
        ),
    ]
    validate_fields(ctx, source, src, raw, checks, fields=len(HEADER), ok_table="esc_ok")
    con = ctx.con
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE esc_ev AS
        SELECT line, trim(c0) AS cid, trim(c1) AS event,
               epoch(CAST(trim(c2) AS TIMESTAMPTZ)) AS t,
               NULLIF({_restored("trim(c3)")}, '') AS queue, NULLIF(trim(c4), '') AS agent,
               NULLIF(trim(c5), '') AS customer_id, NULLIF(trim(c6), '') AS channel,
               CASE WHEN {data_ok} THEN c7 END AS data
        FROM esc_ok
        """  # noqa: S608
    )
    f = "FILTER (WHERE event"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE esc_per AS
        SELECT cid,
            arg_min(queue, t) FILTER (WHERE queue IS NOT NULL) AS queue,
            arg_min(customer_id, t) FILTER (WHERE customer_id IS NOT NULL) AS customer_id,
            arg_min(channel, t) FILTER (WHERE channel IS NOT NULL) AS channel,
            min(t) AS first_t,
            min(t) {f} = 'arrived') AS arrived_t,
            min(t) {f} = 'queued') AS queued_t,
            min(t) {f} = 'answered') AS answered_t,
            arg_min(agent, t) {f} = 'answered') AS agent,
            min(t) {f} = 'abandoned') AS abandoned_t,
            min(t) {f} = 'callback_requested') AS cb_t,
            arg_min(epoch(TRY_CAST(json_extract_string(data, '$.due_at') AS TIMESTAMPTZ)), t)
                {f} = 'callback_requested') AS cb_due,
            min(t) {f} = 'ended') AS ended_t,
            max(t) {f} = 'wrapped_up') AS wrapped_t,
            sum(coalesce(TRY_CAST(json_extract_string(data, '$.wrap_s') AS DOUBLE), 0))
                {f} = 'wrapped_up') AS wrap_s,
            arg_max(TRY_CAST(json_extract_string(data, '$.resolved') AS BOOLEAN), t)
                {f} = 'wrapped_up') AS resolved,
            arg_min(TRY_CAST(json_extract_string(data, '$.estimate_s') AS DOUBLE), t)
                {f} = 'estimate_given') AS estimate_s,
            count(*) {f} = 'transferred') AS transfers,
            count(*) {f} = 'hold_started') AS holds,
            count(*) {f} = 'hold_started'
                AND json_extract_string(data, '$.announced') = 'false') AS holds_unannounced
        FROM esc_ev
        GROUP BY cid
        """  # noqa: S608
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE esc_hold AS
        WITH hs AS (
            SELECT cid, t, row_number() OVER (PARTITION BY cid ORDER BY t, line) AS k
            FROM esc_ev WHERE event = 'hold_started'
        ), he AS (
            SELECT cid, t, row_number() OVER (PARTITION BY cid ORDER BY t, line) AS k
            FROM esc_ev WHERE event = 'hold_ended'
        )
        SELECT hs.cid, sum(greatest(coalesce(he.t, p.ended_t, hs.t) - hs.t, 0)) AS hold_s
        FROM hs LEFT JOIN he USING (cid, k) JOIN esc_per p ON p.cid = hs.cid
        GROUP BY hs.cid
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE esc_cb AS
        WITH log_end AS (SELECT max(t) AS t_end FROM esc_ev),
        same AS (
            SELECT p.cid, min(e.t) AS answer_t
            FROM esc_per p JOIN esc_ev e ON e.cid = p.cid
            WHERE p.cb_t IS NOT NULL AND e.event = 'answered' AND e.t >= p.cb_t
            GROUP BY p.cid
        ), other AS (
            SELECT p.cid, min(q.answered_t) AS answer_t
            FROM esc_per p JOIN esc_per q
              ON q.customer_id = p.customer_id AND q.cid <> p.cid AND q.channel = 'callback'
             AND q.answered_t >= p.cb_t
            WHERE p.cb_t IS NOT NULL
            GROUP BY p.cid
        )
        SELECT p.cid,
            CASE
                WHEN least(same.answer_t, other.answer_t) IS NOT NULL
                     AND (p.cb_due IS NULL OR least(same.answer_t, other.answer_t) <= p.cb_due)
                    THEN true
                WHEN p.cb_due IS NOT NULL AND p.cb_due <= (SELECT t_end FROM log_end)
                    THEN false
            END AS kept
        FROM esc_per p LEFT JOIN same USING (cid) LEFT JOIN other USING (cid)
        WHERE p.cb_t IS NOT NULL
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE esc_out AS
        SELECT p.*, coalesce(h.hold_s, 0) AS hold_total_s, cb.kept AS callback_kept,
            p.queued_t IS NOT NULL AS is_queued,
            CASE WHEN p.queued_t IS NULL THEN 0.0
                 ELSE least(p.answered_t, p.abandoned_t, p.cb_t, p.ended_t) - p.queued_t
            END AS wait,
            least(p.ended_t, p.wrapped_t - p.wrap_s) AS talk_end_t
        FROM esc_per p LEFT JOIN esc_hold h USING (cid) LEFT JOIN esc_cb cb USING (cid)
        """
    )
    con.execute(
        """
        INSERT INTO calls_rows BY NAME
        SELECT
            cid AS call_id,
            coalesce(queue, 'default') AS queue,
            customer_id,
            channel AS call_type,
            to_timestamp(coalesce(queued_t, arrived_t, first_t)) AS arrived_at,
            is_queued AS queued,
            greatest(wait, 0) AS wait_s,
            is_queued AND abandoned_t IS NOT NULL
                AND (answered_t IS NULL OR abandoned_t < answered_t) AS abandoned,
            answered_t IS NOT NULL AS answered,
            CASE WHEN answered_t IS NULL THEN 0.0
                 WHEN talk_end_t IS NULL THEN NULL
                 ELSE greatest(talk_end_t - answered_t - hold_total_s, 0) END AS service_s,
            hold_total_s AS hold_s,
            holds,
            coalesce(wrap_s, 0) AS wrap_s,
            agent,
            transfers,
            cb_t IS NOT NULL AS callback,
            estimate_s,
            holds_unannounced,
            resolved,
            callback_kept
        FROM esc_out
        WHERE wait IS NOT NULL
        """
    )
    ctx.extras.update(EXTRA_COLUMNS)
    counts = fetch_one(
        con,
        "SELECT count(*) FILTER (WHERE wait IS NOT NULL), count(*) FILTER (WHERE wait IS NULL) "
        "FROM esc_out",
    )
    calls, waiting = int(counts[0]), int(counts[1])
    count_rows(ctx, summary, src, raw, calls=calls)
    if waiting:
        summary.notes.append(
            _("{waiting} contacts still queued at the end of the log left out", waiting=waiting)
        )
    drop_tables(ctx, "esc_raw", "esc_ok", "esc_ev", "esc_per", "esc_hold", "esc_cb", "esc_out")
    return summary
