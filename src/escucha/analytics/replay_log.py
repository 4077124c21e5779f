"""``escucha estimate replay`` and the Reports page: a call log through the wait predictors.

Any log the importers read (escucha's event log, Asterisk ``queue_log``, the Anonymous Bank
data set, CSV through a mapping) becomes the call-record table, then
:func:`escucha.analytics.replay.replay` replays it. Agent states, when the log has them
(Asterisk's logins and pauses), give the agents on duty; otherwise they are inferred.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any

import duckdb

from escucha.analytics.importers import (
    ImportContext,
    LoadedMapping,
    Source,
    finish_calls_view,
    import_source,
    load_mapping,
)
from escucha.analytics.replay import (
    AgentSpell,
    ReplayCall,
    ReplayOptions,
    ReplayResult,
    ScoredCaller,
    group_scores,
    replay,
    score,
    week_of,
)
from escucha.analytics.schemas import BadRow, ImportSummary
from escucha.errors import InvalidInput

__all__ = ["ReplayReport", "replay_event_rows", "replay_files", "replay_sources"]


@dataclass(frozen=True)
class ReplayReport:
    """A replayed log: overall scores, by queue and by week, and what the import made of it."""

    overall: ReplayResult
    by_queue: dict[str, ReplayResult]
    by_week: dict[str, ReplayResult]
    imports: list[ImportSummary]
    bad_rows: list[BadRow]
    bad_row_count: int
    staffing: str
    """``"agent states"`` when the log says who was logged in, else ``"inferred"``."""
    options: ReplayOptions

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` contract (see :meth:`ReplayResult.to_json`)."""
        return self.overall.to_json()


def _calls(con: duckdb.DuckDBPyConnection) -> list[ReplayCall]:
    rows = con.execute(
        """
        SELECT call_id, coalesce(queue, ''), epoch(arrived_at), queued, wait_s, answered,
               abandoned, service_s + hold_s, wrap_s, agent
        FROM calls
        WHERE arrived_at IS NOT NULL AND wait_s IS NOT NULL
        ORDER BY arrived_at, call_id
        """
    ).fetchall()
    return [
        ReplayCall(
            call_id=str(cid),
            queue=str(queue),
            arrived_s=float(at),
            queued=bool(queued),
            wait_s=max(0.0, float(wait)),
            answered=bool(answered),
            abandoned=bool(abandoned) and not bool(answered),
            talk_s=max(0.0, float(talk or 0.0)),
            wrap_s=max(0.0, float(wrap or 0.0)),
            agent=None if agent is None else str(agent),
        )
        for cid, queue, at, queued, wait, answered, abandoned, talk, wrap, agent in rows
    ]


def _spells(con: duckdb.DuckDBPyConnection) -> list[AgentSpell]:
    rows = con.execute(
        "SELECT agent, start_s, end_s FROM agent_states "
        "WHERE state = 'available' AND end_s > start_s ORDER BY start_s"
    ).fetchall()
    return [AgentSpell(str(a), float(s), float(e)) for a, s, e in rows]


def report_of(
    scored: Sequence[ScoredCaller],
    *,
    options: ReplayOptions,
    imports: list[ImportSummary],
    bad_rows: list[BadRow],
    bad_row_count: int,
    staffing: str,
    zone: tzinfo = UTC,
) -> ReplayReport:
    """Overall, per-queue and per-week scores of replayed callers."""
    return ReplayReport(
        overall=score(scored),
        by_queue=group_scores(scored, lambda c: c.queue),
        by_week=group_scores(scored, week_of(zone)),
        imports=imports,
        bad_rows=bad_rows,
        bad_row_count=bad_row_count,
        staffing=staffing,
        options=options,
    )


def replay_sources(
    sources: Sequence[Source],
    fmt: str = "auto",
    *,
    mapping: LoadedMapping | None = None,
    options: ReplayOptions | None = None,
    lang: str = "es",
    zone: tzinfo = UTC,
    max_bad_rows: int = 1000,
) -> ReplayReport:
    """Import ``sources`` into one call table and replay it."""
    o = options or ReplayOptions()
    tmp = tempfile.mkdtemp(prefix="escucha-replay-")
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET temp_directory = ?", [tmp])
        ctx = ImportContext(con, lang="en" if lang == "en" else "es")
        imports = [import_source(ctx, s, fmt, mapping) for s in sources]
        finish_calls_view(ctx)
        calls = _calls(con)
        spells = _spells(con)
        bad_count = int(con.execute("SELECT count(*) FROM bad_rows").fetchall()[0][0])
        bad = [
            BadRow(str(f), int(line), str(col), str(reason))
            for f, line, col, reason in con.execute(
                "SELECT file, line, col, reason FROM bad_rows ORDER BY src, line, col LIMIT ?",
                [max_bad_rows],
            ).fetchall()
        ]
    finally:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)
    scored = replay(calls, o, spells)
    return report_of(
        scored,
        options=o,
        imports=imports,
        bad_rows=bad,
        bad_row_count=bad_count,
        staffing="agent states" if spells else "inferred",
        zone=zone,
    )


def replay_files(
    paths: Sequence[Path | str],
    fmt: str = "auto",
    *,
    mapping: Path | LoadedMapping | None = None,
    options: ReplayOptions | None = None,
    lang: str = "es",
) -> ReplayReport:
    """Replay call-log files (all of one format, or ``auto`` to detect each)."""
    if not paths:
        raise InvalidInput("no hay ficheros que reproducir / no files to replay")
    sources = [Source.from_path(Path(p)) for p in paths]
    for s in sources:
        if s.path is not None and not s.path.is_file():
            raise InvalidInput(f"{s.name}: no existe / does not exist")
    loaded = load_mapping(mapping) if isinstance(mapping, Path) else mapping
    return replay_sources(sources, fmt, mapping=loaded, options=options, lang=lang)


def replay_event_rows(
    csv_text: str,
    *,
    options: ReplayOptions | None = None,
    name: str = "<event-log>",
    lang: str = "es",
    zone: tzinfo = UTC,
) -> ReplayReport:
    """Replay the CSV text of escucha's contact event log, as the Reports page does."""
    return replay_sources(
        [Source.from_text(csv_text, name)], "escucha", options=options, lang=lang, zone=zone
    )
