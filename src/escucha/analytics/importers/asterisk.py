"""Asterisk ``queue_log``: ``time|callid|queue|agent|event|data1|data2|data3|data4|data5``.

Call events (the data fields as Asterisk writes them):

==================  =====================================================================
ENTERQUEUE          url, callerid, position
CONNECT             holdtime (s), bridged channel id, ringtime
COMPLETEAGENT       holdtime, calltime (talk, s), original position  (agent hung up)
COMPLETECALLER      holdtime, calltime, original position            (caller hung up)
ABANDON             position, original position, waittime (s)        (caller hung up waiting)
EXITWITHTIMEOUT     position, original position, waittime            (queue timeout)
EXITWITHKEY         key, position, original position, waittime       (caller pressed a key)
EXITEMPTY           position, original position, waittime            (no agents)
TRANSFER            extension, context, holdtime, calltime
BLINDTRANSFER       extension, context, holdtime, calltime, original position
ATTENDEDTRANSFER    method, target, holdtime, calltime, original position
RINGNOANSWER        ringtime (ms)                                    (agent did not pick up)
==================  =====================================================================

Agent events (ADDMEMBER, REMOVEMEMBER, AGENTLOGIN, AGENTLOGOFF, PAUSE, UNPAUSE, PAUSEALL,
UNPAUSEALL) give each agent's logged-in and paused time, from which occupancy is computed.
QUEUESTART, CONFIGRELOAD, SYSCOMPAT, DID, INFO, RINGCANCELED, AGENTDUMP and PENALTY lines are
valid but carry nothing the reports use; they are counted, not checked further.

A PAUSE/UNPAUSE pair that carries a call id (Asterisk writes ``NONE`` there for agent pauses)
marks a hold within that call, as escucha's own queue_log export writes it: it counts as a
hold, its time as hold time (taken out of the call's talk time), and not as an agent pause.

Only ``ABANDON`` counts as an abandonment. A caller removed by a timeout, by an empty queue, or
who pressed a key to leave is neither answered nor abandoned: for patience they are censored
at their wait (they had not given up). Older Asterisk versions leave out the waittime field;
the wait is then the time since ENTERQUEUE. Times are Unix seconds (UTC).
"""

from __future__ import annotations

import re

from escucha.analytics.importers._base import (
    Check,
    ImportContext,
    Source,
    count_rows,
    drop_tables,
    fetch_one,
    load_raw,
    not_number,
    not_uint,
    sql_in,
    sql_str,
    validate,
)
from escucha.analytics.schemas import ImportSummary

MAX_UNIX_S = 253_402_300_799  # 9999-12-31T23:59:59Z, the last time a timestamp holds
ANSWERS = ("CONNECT",)
COMPLETES = ("COMPLETEAGENT", "COMPLETECALLER")
TRANSFERS = ("TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER")
EXITS = ("EXITWITHTIMEOUT", "EXITEMPTY")
CALL_EVENTS = (
    "ENTERQUEUE",
    *ANSWERS,
    *COMPLETES,
    *TRANSFERS,
    "ABANDON",
    *EXITS,
    "EXITWITHKEY",
    "RINGNOANSWER",
)
LOGINS = ("ADDMEMBER", "AGENTLOGIN", "AGENTCALLBACKLOGIN")
LOGOFFS = ("REMOVEMEMBER", "AGENTLOGOFF", "AGENTCALLBACKLOGOFF")
PAUSES = ("PAUSE", "PAUSEALL")
UNPAUSES = ("UNPAUSE", "UNPAUSEALL")
AGENT_EVENTS = (*LOGINS, *LOGOFFS, *PAUSES, *UNPAUSES)
IGNORED_EVENTS = (
    "QUEUESTART",
    "CONFIGRELOAD",
    "SYSCOMPAT",
    "DID",
    "INFO",
    "RINGCANCELED",
    "AGENTDUMP",
    "PENALTY",
)
KNOWN_EVENTS = (*CALL_EVENTS, *AGENT_EVENTS, *IGNORED_EVENTS)

# (events, data field number, name, required): whole-second (or ms) fields to check.
NUMBER_FIELDS: tuple[tuple[tuple[str, ...], int, str, bool], ...] = (
    (ANSWERS, 1, "holdtime", True),
    (COMPLETES, 1, "holdtime", True),
    (COMPLETES, 2, "calltime", True),
    (("TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER"), 3, "holdtime", True),
    (("TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER"), 4, "calltime", True),
    (("ABANDON", *EXITS), 3, "waittime", False),
    (("EXITWITHKEY",), 4, "waittime", False),
    (("RINGNOANSWER",), 1, "ringtime", False),
)

_LINE_RE = re.compile(rb"^\d{9,11}(\.\d+)?\|[^|\n]*\|[^|\n]*\|[^|\n]*\|[A-Z_]+")


def looks_like(head: bytes) -> bool:
    """True when the first non-blank line looks like a queue_log line."""
    for line in head.splitlines():
        if line.strip():
            return bool(_LINE_RE.match(line.lstrip(b"\xef\xbb\xbf")))
    return False


def import_asterisk(ctx: ImportContext, source: Source) -> ImportSummary:
    """Import one queue_log into ``calls_rows``, ``agent_states`` and ``agent_ring_no_answer``."""
    src = ctx.new_src()
    _ = ctx.text
    summary = ImportSummary(file=source.name, format="asterisk")
    raw = load_raw(
        ctx,
        source,
        src,
        table="ast_raw",
        delimiter="|",
        quoted=False,
        ncols=10,
        has_header=False,
    )
    ev = "trim(c4)"
    call_ev = f"{ev} IN {sql_in(CALL_EVENTS)}"
    checks = [
        Check(
            "time",
            f"{not_number('c0')} OR TRY_CAST(trim(c0) AS DOUBLE) > {MAX_UNIX_S}",
            sql_str(_("not a Unix time") + ": ") + " || shown(c0)",
        ),
        Check("event", f"{ev} = ''", sql_str(_("empty"))),
        Check(
            "event",
            f"{ev} <> '' AND {ev} NOT IN {sql_in(KNOWN_EVENTS)}",
            sql_str(_("unknown event") + ": ") + " || shown(c4)",
        ),
        Check(
            "callid",
            f"{call_ev} AND trim(c1) IN ('', 'NONE')",
            sql_str(_("a call event needs a call id")),
        ),
        Check(
            "queue",
            f"{call_ev} AND trim(c2) IN ('', 'NONE')",
            sql_str(_("a call event needs a queue")),
        ),
        Check(
            "agent",
            f"{ev} IN {sql_in((*AGENT_EVENTS, *ANSWERS, 'RINGNOANSWER'))} "
            "AND trim(c3) IN ('', 'NONE')",
            sql_str(_("the agent is missing")),
        ),
    ]
    for events, k, name, required in NUMBER_FIELDS:
        col = f"c{4 + k}"
        missing = f"coalesce(trim({col}), '') = ''"
        bad = f"{ev} IN {sql_in(events)} AND "
        bad += (
            f"({missing} OR {not_uint(col)})" if required else f"NOT {missing} AND {not_uint(col)}"
        )
        checks.append(
            Check(
                f"{name} (data{k})",
                bad,
                sql_str(_("not a whole number") + ": ") + f" || shown({col})",
            )
        )
    validate(
        ctx,
        source,
        src,
        raw,
        checks,
        shape_ok="nf BETWEEN 5 AND 10",
        shape_reason=sql_str(
            _("expected 5 to 10 fields (time|callid|queue|agent|event|data...), found") + " "
        )
        + " || nf",
        ok_table="ast_ok",
    )
    con = ctx.con
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ast_ev AS
        SELECT line, CAST(trim(c0) AS DOUBLE) AS t, trim(c1) AS callid, trim(c2) AS queue,
               trim(c3) AS agent, trim(c4) AS event,
               NULLIF(trim(c5), '') AS d1, NULLIF(trim(c6), '') AS d2,
               NULLIF(trim(c7), '') AS d3, NULLIF(trim(c8), '') AS d4
        FROM ast_ok
        """
    )
    f = "FILTER (WHERE event"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE ast_calls AS
        SELECT callid, queue,
            min(t) {f} = 'ENTERQUEUE') AS enter_t,
            arg_min(d2, t) {f} = 'ENTERQUEUE') AS callerid,
            min(t) {f} IN {sql_in(ANSWERS)}) AS connect_t,
            arg_min(TRY_CAST(d1 AS DOUBLE), t) {f} IN {sql_in(ANSWERS)}) AS connect_wait,
            arg_min(agent, t) {f} IN {sql_in(ANSWERS)}) AS connect_agent,
            max(t) {f} IN {sql_in(COMPLETES)}) AS complete_t,
            arg_max(TRY_CAST(d1 AS DOUBLE), t) {f} IN {sql_in(COMPLETES)}) AS complete_wait,
            arg_max(TRY_CAST(d2 AS DOUBLE), t) {f} IN {sql_in(COMPLETES)}) AS complete_talk,
            arg_max(agent, t) {f} IN {sql_in(COMPLETES)}) AS complete_agent,
            count(*) {f} IN {sql_in(TRANSFERS)}) AS transfers,
            arg_max(TRY_CAST(d3 AS DOUBLE), t) {f} IN {sql_in(TRANSFERS)}) AS transfer_wait,
            arg_max(TRY_CAST(d4 AS DOUBLE), t) {f} IN {sql_in(TRANSFERS)}) AS transfer_talk,
            arg_max(agent, t) {f} IN {sql_in(TRANSFERS)}) AS transfer_agent,
            min(t) {f} = 'ABANDON') AS abandon_t,
            arg_min(TRY_CAST(d3 AS DOUBLE), t) {f} = 'ABANDON') AS abandon_wait,
            min(t) {f} IN {sql_in(EXITS)}) AS exit_t,
            arg_min(TRY_CAST(d3 AS DOUBLE), t) {f} IN {sql_in(EXITS)}) AS exit_wait,
            min(t) {f} = 'EXITWITHKEY') AS key_t,
            arg_min(TRY_CAST(d4 AS DOUBLE), t) {f} = 'EXITWITHKEY') AS key_wait,
            count(*) {f} = 'PAUSE') AS holds,
            CASE WHEN count(*) {f} = 'PAUSE') = count(*) {f} = 'UNPAUSE')
                 THEN coalesce(sum(t) {f} = 'UNPAUSE'), 0) - coalesce(sum(t) {f} = 'PAUSE'), 0)
                 ELSE 0 END AS hold_s
        FROM ast_ev
        WHERE (event IN {sql_in(CALL_EVENTS)} AND event <> 'RINGNOANSWER')
           OR (event IN ('PAUSE', 'UNPAUSE') AND callid NOT IN ('', 'NONE'))
        GROUP BY callid, queue
        """  # noqa: S608
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ast_out AS
        SELECT *,
            CASE
                WHEN answered THEN coalesce(connect_wait, complete_wait, transfer_wait,
                                            connect_t - enter_t)
                WHEN abandon_t IS NOT NULL THEN coalesce(abandon_wait, abandon_t - enter_t)
                WHEN key_t IS NOT NULL THEN coalesce(key_wait, key_t - enter_t)
                WHEN exit_t IS NOT NULL THEN coalesce(exit_wait, exit_t - enter_t)
            END AS wait,
            coalesce(connect_t, abandon_t, key_t, exit_t) AS outcome_t
        FROM (
            SELECT *,
                connect_t IS NOT NULL OR complete_t IS NOT NULL OR transfers > 0 AS answered
            FROM ast_calls
        )
        """
    )
    con.execute(
        """
        INSERT INTO calls_rows BY NAME
        SELECT
            callid AS call_id,
            queue,
            CASE WHEN lower(coalesce(callerid, '')) IN ('', 'unknown', 'anonymous')
                 THEN NULL ELSE callerid END AS customer_id,
            NULL AS call_type,
            to_timestamp(coalesce(enter_t, coalesce(outcome_t, complete_t) - wait)) AS arrived_at,
            true AS queued,
            wait AS wait_s,
            NOT answered AND abandon_t IS NOT NULL AS abandoned,
            answered,
            CASE WHEN answered
                 THEN greatest(coalesce(complete_talk, transfer_talk) - greatest(hold_s, 0), 0)
                 ELSE 0 END AS service_s,
            greatest(hold_s, 0) AS hold_s, holds, 0.0 AS wrap_s,
            CASE WHEN answered THEN coalesce(connect_agent, complete_agent, transfer_agent)
                 END AS agent,
            transfers,
            false AS callback
        FROM ast_out
        WHERE wait IS NOT NULL AND coalesce(enter_t, outcome_t, complete_t) IS NOT NULL
        """
    )
    counts = fetch_one(
        con,
        """
        SELECT count(*) FILTER (WHERE wait IS NOT NULL
                                AND coalesce(enter_t, outcome_t, complete_t) IS NOT NULL),
               count(*) FILTER (WHERE outcome_t IS NULL AND complete_t IS NULL
                                AND transfers = 0),
               count(*) FILTER (WHERE outcome_t IS NOT NULL AND wait IS NULL),
               count(*) FILTER (WHERE answered AND complete_talk IS NULL
                                AND transfer_talk IS NULL)
        FROM ast_out
        """,
    )
    calls, waiting, unknown_wait, open_talk = (int(x) for x in counts)
    con.execute(
        """
        INSERT INTO agent_ring_no_answer
        SELECT agent, count(*) FROM ast_ev WHERE event = 'RINGNOANSWER' GROUP BY agent
        """
    )
    _agent_states(ctx)
    ignored = con.execute(
        f"SELECT event, count(*) FROM ast_ev WHERE event IN {sql_in(IGNORED_EVENTS)} "  # noqa: S608
        "GROUP BY event ORDER BY event"
    ).fetchall()
    count_rows(ctx, summary, src, raw, calls=calls)
    if waiting:
        summary.notes.append(
            _(
                "{waiting} calls with no outcome by the end of the log (still queued) left out",
                waiting=waiting,
            )
        )
    if unknown_wait:
        summary.notes.append(
            _(
                "{unknown_wait} calls with neither ENTERQUEUE nor a wait time left out",
                unknown_wait=unknown_wait,
            )
        )
    if open_talk:
        summary.notes.append(
            _(
                "{open_talk} answered calls with no recorded end (talk time unknown)",
                open_talk=open_talk,
            )
        )
    if ignored:
        listed = ", ".join(f"{e} {n}" for e, n in ignored)
        summary.notes.append(_("valid lines the report does not use: {listed}", listed=listed))
    drop_tables(ctx, "ast_raw", "ast_ok", "ast_ev", "ast_calls", "ast_out")
    return summary


def _agent_states(ctx: ImportContext) -> None:
    """Logged-in intervals of each agent, ``available`` or ``paused``, from agent events.

    Membership is counted per agent (+1 on ADDMEMBER/AGENTLOGIN, -1 on REMOVEMEMBER/LOGOFF),
    taking the lowest count seen as "logged out", so a log that starts with agents already
    logged in still works; an agent with pause events only (a static member) is logged in
    from their first to their last event.
    """
    ctx.con.execute(
        f"""
        INSERT INTO agent_states
        WITH ev AS (
            SELECT agent, t, line, event FROM ast_ev
            WHERE event IN {sql_in(AGENT_EVENTS)} AND callid IN ('', 'NONE')
        ), st AS (
            SELECT agent, t,
                sum(CASE WHEN event IN {sql_in(LOGINS)} THEN 1
                         WHEN event IN {sql_in(LOGOFFS)} THEN -1 ELSE 0 END) OVER w AS members,
                last_value(CASE WHEN event IN {sql_in(PAUSES)} THEN 1
                                WHEN event IN {sql_in(UNPAUSES)} THEN 0 END IGNORE NULLS)
                    OVER w AS paused,
                lead(t) OVER (PARTITION BY agent ORDER BY t, line) AS t_next,
                count(*) FILTER (WHERE event IN {sql_in((*LOGINS, *LOGOFFS))})
                    OVER (PARTITION BY agent) AS n_membership
            FROM ev
            WINDOW w AS (PARTITION BY agent ORDER BY t, line ROWS UNBOUNDED PRECEDING)
        ), st2 AS (
            SELECT *, min(members) OVER (PARTITION BY agent) AS base FROM st
        )
        SELECT agent, CASE WHEN coalesce(paused, 0) = 1 THEN 'paused' ELSE 'available' END,
               t, t_next
        FROM st2
        WHERE t_next IS NOT NULL AND t_next > t
          AND (n_membership = 0 OR members > least(base, 0))
        """  # noqa: S608
    )
