"""``escucha qa``: automatic quality assurance of transcripts (C4, C5).

* ``escucha qa score TRANSCRIPT [--lang es|en] [--format auto|json|text|vtt] [--json]``
* ``escucha qa metrics LABELS.csv|FOLDER [--split NAME] [--json]``
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from escucha.cli.common import words
from escucha.errors import EscuchaError

if TYPE_CHECKING:
    # Imported when the command runs, so the CLI starts fast.
    from escucha.qa import service


class LangOption(StrEnum):
    es = "es"
    en = "en"


class FormatOption(StrEnum):
    auto = "auto"
    json = "json"
    text = "text"
    vtt = "vtt"


qa_app = typer.Typer(
    name="qa",
    help="Calidad: evaluación automática de transcripciones / Quality: automatic QA.",
    no_args_is_help=True,
)

_MARK = {True: "✓", False: "✗", None: "—"}


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@qa_app.command("score")
def score(
    transcript: Annotated[
        Path, typer.Argument(help="Transcript (JSON, text or WebVTT) or recording (WAV).")
    ],
    lang: Annotated[
        LangOption | None, typer.Option("--lang", help="Language; detected when omitted.")
    ] = None,
    fmt: Annotated[FormatOption, typer.Option("--format", help="File format.")] = (
        FormatOption.auto
    ),
    scorecard: Annotated[
        Path | None, typer.Option("--scorecard", help="Scorecard YAML (default: built-in).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")] = False,
) -> None:
    """Check a transcript, or a recorded call (WAV: channel 0 the agent, 1 the customer),
    against the scorecard's criteria."""
    # Imported when the command runs, so the CLI starts fast.
    from escucha.qa import service

    extra: dict[str, Any] = {}
    try:
        card = service.load_scorecard(scorecard)
        parsed, findings, extra = _read(transcript, fmt, lang)
        result = service.score_transcript(
            parsed,
            lang=None if lang is None else lang.value,
            scorecard=card,
            extra_findings=findings,
        )
    except EscuchaError as exc:
        raise _fail(exc.message) from exc
    if as_json:
        typer.echo(json.dumps(result.model_dump() | extra, ensure_ascii=False, indent=2))
        return
    lang_code = result.lang
    by_detector = {c.detector: c for c in card.criteria() if c.detector}
    table = Table(title=str(transcript))
    _ = words(lang_code)
    for column in (_("criterion"), "", _("turns")):
        table.add_column(column)
    for name, finding in result.criteria.items():
        criterion = by_detector.get(name)
        label = criterion.label.in_lang(lang_code) if criterion else name
        table.add_row(label, _MARK[finding.met], ", ".join(str(i) for i in finding.evidence))
    console = Console(soft_wrap=True)
    console.print(table)
    rate = result.agent_words_per_minute
    console.print(
        f"lang={result.lang} turns={result.turn_count} holds={result.hold_count} "
        f"agent_talk_share={result.agent_talk_share:.2f} "
        f"longest_agent_monologue_words={result.longest_agent_monologue_words} "
        f"agent_wpm={'-' if rate is None else f'{rate:.0f}'} "
        f"score={'-' if result.score is None else f'{result.score:.1f}'}"
    )


def _read(
    path: Path, fmt: FormatOption, lang: LangOption | None
) -> tuple[Any, dict[str, Any] | None, dict[str, Any]]:
    """A transcript file, or a recording transcribed (with what its audio detectors found)."""
    # Imported when the command runs, so the CLI starts fast.
    from escucha.qa import service
    from escucha.speech import service as speech

    if not speech.is_audio_file(path):
        return service.read_transcript(path, fmt.value), None, {}
    # Imported when the command runs, so the CLI starts fast.
    from escucha.config import load_settings
    from escucha.speech import transcribe as T

    recording, findings, events = speech.transcribe_file(
        path, load_settings(), lang=None if lang is None else lang.value
    )
    extra = {
        "transcript": recording.transcript_json(),
        "audio": speech.audio_summary(recording, events),
    }
    return T.qa_transcript(recording), findings, extra


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _metrics_json(evaluation: service.DetectorEvaluation) -> dict[str, Any]:
    return {
        "turns": evaluation.turns,
        "transcripts": evaluation.transcripts,
        "detectors": {
            lang: {
                name: {
                    "n": m.n,
                    "accuracy": m.accuracy,
                    "fail_precision": m.fail_precision,
                    "fail_recall": m.fail_recall,
                    "met_precision": m.met_precision,
                    "met_recall": m.met_recall,
                    "support_fail": m.support_fail,
                    "support_met": m.support_met,
                    "support_na": m.support_na,
                }
                for name, m in by_name.items()
            }
            for lang, by_name in evaluation.metrics.items()
        },
        "misses": [
            {"file": f, "detector": d, "predicted": p, "labelled": g}
            for f, d, p, g in evaluation.misses
        ],
    }


@qa_app.command("metrics")
def metrics(
    labels: Annotated[
        Path, typer.Argument(help="labels.csv of a labelled set, or the folder holding it.")
    ],
    split: Annotated[
        str | None, typer.Option("--split", help="Only transcripts of this split.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")] = False,
) -> None:
    """Precision and recall of each detector per language against human labels."""
    # Imported when the command runs, so the CLI starts fast.
    from escucha.qa import rules, service

    labels_csv = labels / "labels.csv" if labels.is_dir() else labels
    try:
        evaluation = service.evaluate_detectors(labels_csv, split=split)
    except EscuchaError as exc:
        raise _fail(exc.message) from exc
    if as_json:
        typer.echo(json.dumps(_metrics_json(evaluation), ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{labels_csv}" + (f" ({split})" if split else ""))
    for column in ("lang", "detector", "n", "fail P", "fail R", "met P", "met R", "accuracy"):
        table.add_column(column, overflow="fold")
    for lang in sorted(evaluation.metrics):
        for name in rules.DETECTORS:
            m = evaluation.metrics[lang].get(name)
            if m is None:
                continue
            table.add_row(
                lang,
                name,
                str(m.n),
                _fmt(m.fail_precision),
                _fmt(m.fail_recall),
                _fmt(m.met_precision),
                _fmt(m.met_recall),
                _fmt(m.accuracy),
            )
    console = Console(soft_wrap=True)
    console.print(table)
    counts = ", ".join(
        f"{lang}: {evaluation.transcripts[lang]} transcripts, {evaluation.turns[lang]} turns"
        for lang in sorted(evaluation.turns)
    )
    console.print(counts)


def register(app: typer.Typer) -> None:
    """Add the ``qa`` group to the root command."""
    app.add_typer(qa_app, name="qa")
