"""QA services that need no database: read transcripts and scorecards, score a transcript
automatically, and measure the detectors against a labelled set (C4, C5)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Literal

from escucha.errors import InvalidInput, NotFound
from escucha.qa import rules
from escucha.qa.schemas import (
    CriterionFinding,
    Scorecard,
    TranscriptQA,
    load_scorecard_file,
)

DEFAULT_SCORECARD = Path(__file__).with_name("scorecards") / "default.yaml"


def parse_transcript_text(
    text: str, fmt: rules.Format | Literal["auto"] = "auto", source: str = "<transcript>"
) -> rules.Transcript:
    """Parse transcript text; errors name the source and where in it."""
    try:
        return rules.parse_transcript(text, fmt)
    except rules.TranscriptError as exc:
        raise InvalidInput(f"{source}: {exc}") from exc


def read_transcript(path: Path, fmt: rules.Format | Literal["auto"] = "auto") -> rules.Transcript:
    """Read a transcript file (JSON, plain text or WebVTT)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise NotFound(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read: {exc}") from exc
    return parse_transcript_text(text, fmt, str(path))


@cache
def default_scorecard() -> Scorecard:
    """The scorecard shipped with escucha (``qa/scorecards/default.yaml``)."""
    return load_scorecard_file(DEFAULT_SCORECARD)


def load_scorecard(path: Path | None = None) -> Scorecard:
    """A scorecard file, or the default one."""
    return default_scorecard() if path is None else load_scorecard_file(path)


def combine_findings(first: rules.Finding, second: rules.Finding) -> rules.Finding:
    """Two detectors of one criterion: not met if either says so (its evidence kept), met if
    either says so otherwise, else does not apply."""
    if first.met is False or second.met is False:
        evidence = [f.evidence for f in (first, second) if f.met is False]
        return rules.Finding(False, tuple(sorted({i for e in evidence for i in e})))
    if first.met or second.met:
        evidence = [f.evidence for f in (first, second) if f.met]
        return rules.Finding(True, tuple(sorted({i for e in evidence for i in e})))
    return rules.Finding(None, ())


def auto_answers(scorecard: Scorecard, analysis: rules.Analysis) -> dict[str, str | None]:
    """Answers to the scorecard criteria that have a detector."""
    answers: dict[str, str | None] = {}
    for criterion in scorecard.criteria():
        if criterion.detector is None:
            continue
        finding = analysis.findings[criterion.detector]
        answers[criterion.id] = scorecard.answer_for_finding(criterion.id, finding.met)
    return answers


def score_transcript(
    transcript: rules.Transcript,
    *,
    lang: rules.Lang | None = None,
    scorecard: Scorecard | None = None,
    thresholds: rules.Thresholds | None = None,
    extra_findings: dict[str, rules.Finding] | None = None,
) -> TranscriptQA:
    """Automatic QA of a transcript: every detector, talk measures and a provisional score.

    ``criteria`` is keyed by detector id (``greeting``, ``early_empathy``, ...).
    ``extra_findings`` (from detectors that hear the recording, keyed by the same ids) are
    combined with the text detectors' with :func:`combine_findings`.
    """
    card = scorecard or default_scorecard()
    analysis = rules.analyse(transcript, lang, thresholds)
    if extra_findings:
        merged = dict(analysis.findings)
        for name, extra in extra_findings.items():
            if name in merged:
                merged[name] = combine_findings(merged[name], extra)
        analysis = replace(analysis, findings=merged)
    review = card.score(auto_answers(card, analysis))
    return TranscriptQA(
        criteria={
            name: CriterionFinding(met=f.met, evidence=list(f.evidence))
            for name, f in analysis.findings.items()
        },
        agent_talk_share=round(analysis.stats.agent_talk_share, 4),
        longest_agent_monologue_words=analysis.stats.longest_agent_monologue_words,
        agent_words_per_minute=(
            None
            if analysis.stats.agent_words_per_minute is None
            else round(analysis.stats.agent_words_per_minute, 1)
        ),
        lang=analysis.lang,
        turn_count=analysis.turn_count,
        hold_count=analysis.hold_count,
        scorecard=card.id,
        score=None if review.score is None else round(review.score, 1),
        critical_failures=list(review.critical_failures),
    )


# --- The labelled set ---------------------------------------------------------------------------

_LABELS = {"1": True, "0": False, "na": None, "": None}


@dataclass(frozen=True)
class LabelledTranscript:
    """A transcript with a reviewer's answer per detector (``None`` = does not apply)."""

    file: Path
    lang: rules.Lang
    split: str
    labels: dict[str, bool | None]


def load_labelled_set(labels_csv: Path) -> list[LabelledTranscript]:
    """Read ``labels.csv``: ``file,lang,split,<detector>...`` with answers ``1``/``0``/``na``.

    ``file`` is relative to the CSV's folder. Detector columns may be a subset of
    :data:`escucha.qa.rules.DETECTORS`.
    """
    if not labels_csv.is_file():
        raise NotFound(f"{labels_csv}: no such file")
    out: list[LabelledTranscript] = []
    with labels_csv.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        missing = [c for c in ("file", "lang", "split") if c not in columns]
        if missing:
            raise InvalidInput(f"{labels_csv}: missing columns {', '.join(missing)}")
        detectors = [c for c in columns if c in rules.DETECTORS]
        unknown = [c for c in columns if c not in (*rules.DETECTORS, "file", "lang", "split")]
        if unknown:
            raise InvalidInput(f"{labels_csv}: unknown columns {', '.join(unknown)}")
        for line, row in enumerate(reader, start=2):
            where = f"{labels_csv}:{line}"
            lang = row["lang"]
            if lang not in rules.LANGS:
                raise InvalidInput(f"{where}: lang must be es or en, got {lang!r}")
            labels: dict[str, bool | None] = {}
            for name in detectors:
                value = (row[name] or "").strip().lower()
                if value not in _LABELS:
                    raise InvalidInput(f"{where}: {name} must be 1, 0 or na, got {value!r}")
                labels[name] = _LABELS[value]
            out.append(
                LabelledTranscript(
                    file=labels_csv.parent / row["file"],
                    lang=lang,  # validated above
                    split=row["split"],
                    labels=labels,
                )
            )
    return out


@dataclass(frozen=True)
class DetectorEvaluation:
    """Metrics per language and detector, and the transcripts each detector got wrong."""

    metrics: dict[rules.Lang, dict[str, rules.DetectorMetrics]]
    turns: dict[rules.Lang, int]
    transcripts: dict[rules.Lang, int]
    misses: list[tuple[str, str, bool | None, bool | None]]


def evaluate_detectors(
    labels_csv: Path,
    *,
    split: str | None = None,
    thresholds: rules.Thresholds | None = None,
) -> DetectorEvaluation:
    """Run the detectors on every labelled transcript (of ``split``, if given) and compare.

    Each transcript is analysed in its labelled language. ``turns`` counts all turns
    (holds included) per language.
    """
    pairs: dict[rules.Lang, dict[str, list[tuple[bool | None, bool | None]]]] = {}
    turns: dict[rules.Lang, int] = {}
    transcripts: dict[rules.Lang, int] = {}
    misses: list[tuple[str, str, bool | None, bool | None]] = []
    for item in load_labelled_set(labels_csv):
        if split is not None and item.split != split:
            continue
        transcript = read_transcript(item.file)
        analysis = rules.analyse(transcript, item.lang, thresholds)
        turns[item.lang] = turns.get(item.lang, 0) + analysis.turn_count
        transcripts[item.lang] = transcripts.get(item.lang, 0) + 1
        for name, gold in item.labels.items():
            predicted = analysis.findings[name].met
            pairs.setdefault(item.lang, {}).setdefault(name, []).append((predicted, gold))
            if predicted is not gold:
                misses.append((str(item.file), name, predicted, gold))
    metrics = {
        lang: {name: rules.detector_metrics(p) for name, p in by_name.items()}
        for lang, by_name in pairs.items()
    }
    return DetectorEvaluation(metrics, turns, transcripts, misses)
