"""IVR files in, reports out: loading, lint, journey tests, call-log paths, audio (C1).

Everything here reads files; the decisions live in :mod:`escucha.ivr.rules`,
:mod:`escucha.ivr.lint` and :mod:`escucha.ivr.journeys`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from escucha.errors import InvalidInput
from escucha.i18n import translator
from escucha.ivr import journeys
from escucha.ivr.audio import RenderedPrompt, durations_of, render_ivr
from escucha.ivr.journeys import CallLogReport, Journey, PathCount, Task
from escucha.ivr.lint import Finding, Message, Value, lint
from escucha.ivr.rules import Durations, IvrModel, Loc
from escucha.ivr.schemas import IvrSpec, TasksSpec, parse_ivr_document, task_problems
from escucha.yamlio import (
    YamlFileError,
    YamlProblem,
    dotted,
    line_of,
    load,
    load_text,
    validate,
)

EXAMPLES = ("banco", "telco", "agua", "malo")


@dataclass(frozen=True)
class IvrFile:
    """An IVR read from a file: the spec, the resolved model, and where it sits."""

    filename: str
    document: Any
    prefix: Loc
    spec: IvrSpec
    model: IvrModel

    def line(self, path: Loc) -> int | None:
        return line_of(self.document, (*self.prefix, *path))

    def dotted(self, path: Loc) -> str:
        return dotted((*self.prefix, *path))


def read_ivr_text(text: str, filename: str = "<text>") -> IvrFile:
    """Parse and validate an IVR (or an organisation file with an ``ivr:`` key)."""
    document = load_text(text, filename)
    spec, prefix = parse_ivr_document(document, filename)
    return IvrFile(filename, document, prefix, spec, spec.to_model())


def read_ivr(path: Path) -> IvrFile:
    """Read an IVR file; structural errors raise ``YamlFileError`` with ``file:line: path``."""
    document = load(path)
    spec, prefix = parse_ivr_document(document, str(path))
    return IvrFile(str(path), document, prefix, spec, spec.to_model())


def load_ivr(path: Path) -> IvrModel:
    """The resolved IVR model of a file (organisation YAML or IVR YAML)."""
    return read_ivr(path).model


def example_path(name: str) -> Path:
    """Path of a bundled example (``banco``, ``telco``, ``agua``, ``malo``) or its tasks."""
    return Path(str(resources.files("escucha.ivr") / "examples" / f"{name}.yaml"))


# --------------------------------------------------------------------------------------------
# Lint
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LintReport:
    file: str
    findings: tuple[Finding, ...]
    measured: bool

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def as_json(self, language: str = "es") -> dict[str, Any]:
        return {
            "file": self.file,
            "errors": self.errors,
            "warnings": self.warnings,
            "measured_audio": self.measured,
            "findings": [
                {
                    "rule": f.rule,
                    "severity": f.severity,
                    "file": f.file,
                    "line": f.line,
                    "path": dotted(f.path),
                    "message": say(f.message, language),
                    "fix": say(f.fix, language),
                }
                for f in self.findings
            ],
        }


def say(message: Message, language: str) -> str:
    """``message`` worded in ``language`` by the catalogs, its fields (messages too) filled."""

    def value(v: Value) -> str | int | float:
        return say(v, language) if isinstance(v, Message) else v

    return translator(language)(message.id, **{k: value(v) for k, v in message.fields.items()})


def lint_ivr(
    ivr: IvrFile, *, durations: Durations | None = None, recording: bool = False
) -> LintReport:
    """Lint a loaded IVR; findings carry the file, the line and the full YAML path.
    ``recording``: calls are recorded (each language then needs a recording notice)."""
    located = [
        replace(f, file=ivr.filename, line=ivr.line(f.path), path=(*ivr.prefix, *f.path))
        for f in lint(ivr.model, durations=durations, recording=recording)
    ]
    located.sort(key=lambda f: (f.severity != "error", f.line or 0, f.rule))
    return LintReport(ivr.filename, tuple(located), durations is not None)


def lint_file(
    path: Path,
    *,
    measure_audio: bool = False,
    cache_dir: Path | None = None,
    recording: bool = False,
) -> LintReport:
    """Lint an IVR file; with ``measure_audio`` prompt lengths come from espeak-ng audio."""
    ivr = read_ivr(path)
    durations = measure(ivr.model, cache_dir or default_cache_dir()) if measure_audio else None
    return lint_ivr(ivr, durations=durations, recording=recording)


# --------------------------------------------------------------------------------------------
# Audio
# --------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """Where rendered prompts are cached: ``$XDG_CACHE_HOME/escucha/ivr-audio``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "escucha" / "ivr-audio"


def measure(model: IvrModel, cache_dir: Path) -> dict[tuple[str, str], float]:
    """Durations of every prompt, measured from audio rendered with espeak-ng."""
    return durations_of(render_ivr(model, cache_dir=cache_dir))


def render_file(path: Path, *, cache_dir: Path | None = None) -> list[RenderedPrompt]:
    """Render every prompt of an IVR file to WAV (cached)."""
    return render_ivr(load_ivr(path), cache_dir=cache_dir or default_cache_dir())


# --------------------------------------------------------------------------------------------
# Journey tests and call logs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskFile:
    tasks: tuple[Task, ...]
    max_keys: int
    max_seconds: float


def read_tasks(path: Path, model: IvrModel) -> TaskFile:
    """Read a tasks file and check its goals against the IVR."""
    document = load(path)
    spec = validate(TasksSpec, document, str(path))
    found = task_problems(spec, model)
    if found:
        raise YamlFileError(
            [YamlProblem(str(path), line_of(document, loc), dotted(loc), msg) for loc, msg in found]
        )
    tasks = tuple(
        Task(
            name=t.name if isinstance(t.name, dict) else {model.default_language: t.name},
            goal=journeys.Goal(queue=t.goal.queue, node=t.goal.node),
            languages=tuple(t.languages),
            is_open=t.open,
            caller_known=t.known_caller,
            max_keys=t.max_keys,
            max_seconds=t.max_seconds,
        )
        for t in spec.tasks
    )
    return TaskFile(tasks, spec.max_keys, spec.max_seconds)


@dataclass(frozen=True)
class JourneyReport:
    file: str
    journeys: tuple[Journey, ...]
    calls: CallLogReport | None
    measured: bool

    @property
    def ok(self) -> bool:
        return all(j.passed for j in self.journeys)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file": self.file,
            "ok": self.ok,
            "measured_audio": self.measured,
            "tasks": [
                {
                    "task": j.task.title(j.language),
                    "language": j.language,
                    "goal": str(j.task.goal),
                    "found": j.found,
                    "keys": list(j.keys),
                    "path": j.path,
                    "seconds": round(j.seconds, 1),
                    "max_keys": j.max_keys,
                    "max_seconds": j.max_seconds,
                    "passed": j.passed,
                    "problems": list(j.problems),
                    "heard": [
                        {
                            "node": h.node,
                            "kind": h.kind,
                            "text": h.text,
                            "seconds": round(h.seconds, 1),
                        }
                        for h in j.heard
                    ],
                }
                for j in self.journeys
            ],
        }
        if self.calls is not None:
            c = self.calls
            out["calls"] = {
                "calls": c.calls,
                "zero_out_share": round(c.zero_out_share, 4),
                "hung_up_in_ivr_share": round(c.hung_up_share, 4),
                "outcomes": dict(c.outcomes),
                "paths": [
                    {
                        "path": p.path,
                        "calls": p.calls,
                        "share": round(p.share, 4),
                        "zero_out": p.zero_out,
                    }
                    for p in c.paths
                ],
            }
        return out


def journey_test_file(
    ivr_path: Path,
    tasks_path: Path,
    *,
    calls_path: Path | None = None,
    measure_audio: bool = False,
    cache_dir: Path | None = None,
) -> JourneyReport:
    """Run the tasks of ``tasks_path`` against an IVR; optionally summarise a call log."""
    ivr = read_ivr(ivr_path)
    task_file = read_tasks(tasks_path, ivr.model)
    durations = measure(ivr.model, cache_dir or default_cache_dir()) if measure_audio else None
    results = journeys.run_tasks(
        ivr.model,
        task_file.tasks,
        max_keys=task_file.max_keys,
        max_seconds=task_file.max_seconds,
        durations=durations,
    )
    calls = (
        journeys.analyse_paths(ivr.model, read_call_paths(calls_path))
        if calls_path is not None
        else None
    )
    return JourneyReport(ivr.filename, tuple(results), calls, durations is not None)


EVENT_LOG_HEADER = ("contact_id", "event", "at", "queue", "agent", "customer_id", "channel", "data")


def read_call_paths(path: Path) -> list[PathCount]:
    """Paths callers took, counted with DuckDB (the file is never loaded row by row).

    Reads either the escucha event log CSV (``ivr_choice`` events with ``{"node", "key"}``;
    ``abandoned``/``ended`` before ``queued`` is a hang-up in the IVR) or a simple CSV
    ``call_id,path,outcome``.
    """
    import duckdb

    header = _header(path)
    con = duckdb.connect()
    try:
        if set(EVENT_LOG_HEADER) <= set(header):
            rows = con.execute(_EVENT_LOG_SQL, [str(path)]).fetchall()
        elif {"call_id", "path", "outcome"} <= set(header):
            rows = con.execute(_SIMPLE_SQL, [str(path)]).fetchall()
        else:
            raise InvalidInput(
                f"{path}: not a call log: expected the escucha event log header "
                f"({','.join(EVENT_LOG_HEADER)}) or call_id,path,outcome; found {','.join(header)}"
            )
    except duckdb.Error as exc:
        raise InvalidInput(f"{path}: cannot read the call log: {exc}") from exc
    finally:
        con.close()
    return [PathCount(str(p or ""), str(o), int(n)) for p, o, n in rows]


def _header(path: Path) -> Sequence[str]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return [h.strip() for h in next(csv.reader(fh), [])]
    except OSError as exc:
        raise InvalidInput(f"{path}: {exc}") from exc


_SIMPLE_SQL = """
SELECT coalesce(path, '') AS path, coalesce(outcome, '') AS outcome, count(*) AS calls
FROM read_csv(?, header = true, all_varchar = true)
GROUP BY ALL
"""

_EVENT_LOG_SQL = """
WITH ev AS (
    SELECT contact_id, event, CAST("at" AS TIMESTAMPTZ) AS ts, queue, data
    FROM read_csv(?, header = true, all_varchar = true)
),
per_call AS (
    SELECT
        contact_id,
        string_agg(
            CASE WHEN event = 'ivr_choice'
                 THEN json_extract_string(data, '$.node') || '>'
                      || json_extract_string(data, '$.key')
            END,
            '>' ORDER BY ts
        ) AS path,
        min(ts) FILTER (WHERE event = 'queued') AS queued_at,
        arg_min(queue, ts) FILTER (WHERE event = 'queued') AS first_queue,
        min(ts) FILTER (WHERE event = 'callback_requested') AS callback_at,
        min(ts) FILTER (WHERE event IN ('abandoned', 'ended')) AS gone_at
    FROM ev
    GROUP BY contact_id
)
SELECT
    coalesce(path, '') AS path,
    CASE
        WHEN callback_at IS NOT NULL AND (queued_at IS NULL OR callback_at < queued_at)
            THEN 'callback'
        WHEN gone_at IS NOT NULL AND (queued_at IS NULL OR gone_at < queued_at)
            THEN 'hangup_in_ivr'
        WHEN queued_at IS NOT NULL THEN 'queued:' || coalesce(first_queue, '')
        ELSE 'in_ivr'
    END AS outcome,
    count(*) AS calls
FROM per_call
GROUP BY ALL
"""
