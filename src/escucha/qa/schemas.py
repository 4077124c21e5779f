"""Shapes of QA data: transcripts, scorecards and automatic QA results (C4, C5).

Scorecards are YAML files read through :mod:`escucha.yamlio`, so a mistake is reported as
``file:line: path: reason``. The pure dataclasses the rules work on live in
:mod:`escucha.qa.rules`; these models convert to them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from escucha import yamlio
from escucha.qa import rules

_ID = r"^[a-z][a-z0-9_]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- Transcripts ------------------------------------------------------------------------------


class Turn(_Model):
    """A spoken turn."""

    speaker: Literal["agent", "customer"]
    text: str = Field(min_length=1)
    start_s: float | None = Field(default=None, ge=0)
    end_s: float | None = Field(default=None, ge=0)


class Hold(_Model):
    """A hold: the customer waits while the agent is away. It counts as a turn."""

    speaker: Literal["hold"] = "hold"
    start_s: float | None = Field(default=None, ge=0)
    end_s: float | None = Field(default=None, ge=0)


class Transcript(_Model):
    """A conversation: spoken turns and holds in order (turn indexes count both)."""

    lang: Literal["es", "en"] | None = None
    turns: list[Annotated[Turn | Hold, Field(discriminator="speaker")]] = Field(min_length=1)

    def to_rules(self) -> rules.Transcript:
        """The pure form the detectors read."""
        out = []
        for t in self.turns:
            text = t.text if isinstance(t, Turn) else ""
            out.append(rules.Turn(t.speaker, text, t.start_s, t.end_s))
        return rules.Transcript(tuple(out), self.lang)

    @classmethod
    def from_rules(cls, transcript: rules.Transcript) -> Transcript:
        """From a parsed transcript (any of the three file formats)."""
        turns: list[Turn | Hold] = []
        for t in transcript.turns:
            if t.speaker == "hold":
                turns.append(Hold(start_s=t.start_s, end_s=t.end_s))
            else:
                turns.append(Turn(speaker=t.speaker, text=t.text, start_s=t.start_s, end_s=t.end_s))
        return cls(lang=transcript.lang, turns=turns)


# --- Scorecards -------------------------------------------------------------------------------


class Text(_Model):
    """A text a person reads, in Spanish and English."""

    es: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def in_lang(self, lang: str) -> str:
        return self.en if lang == "en" else self.es


class ScaleOption(_Model):
    """One answer of a scale: the stored value, its points and its label."""

    value: str = Field(min_length=1)
    points: float
    label: Text


class Criterion(_Model):
    """A question of the scorecard.

    ``critical: section`` makes the section score 0 when this criterion fails (its score is
    below ``pass_score``); ``critical: review`` makes the whole review score 0. ``detector``
    names the automatic QA detector that answers it (``met`` true -> best answer, false ->
    worst answer, null -> N/A).
    """

    id: str = Field(pattern=_ID)
    label: Text
    guidance: Text
    weight: float = Field(default=1.0, gt=0)
    scale: str = "yes_no"
    allow_na: bool = False
    critical: Literal["none", "section", "review"] = "none"
    pass_score: float = Field(default=0.5, ge=0, le=1)
    detector: str | None = None


class Section(_Model):
    """A group of criteria with its weight in the review score."""

    id: str = Field(pattern=_ID)
    label: Text
    weight: float = Field(default=1.0, gt=0)
    criteria: list[Criterion] = Field(min_length=1)


class Scorecard(_Model):
    """An evaluation form: answer scales, sections of weighted criteria and a pass mark."""

    id: str = Field(pattern=_ID)
    version: int = Field(default=1, ge=1)
    name: Text
    pass_mark: float = Field(default=80.0, ge=0, le=100)
    scales: dict[str, list[ScaleOption]]
    sections: list[Section] = Field(min_length=1)

    def criteria(self) -> list[Criterion]:
        """Every criterion, in form order."""
        return [c for s in self.sections for c in s.criteria]

    def criterion(self, criterion_id: str) -> Criterion:
        for c in self.criteria():
            if c.id == criterion_id:
                return c
        raise KeyError(criterion_id)

    def specs(self) -> list[rules.CriterionSpec]:
        """The criteria as the score formula needs them."""
        out = []
        for section in self.sections:
            for c in section.criteria:
                points = {o.value: o.points for o in self.scales[c.scale]}
                out.append(
                    rules.CriterionSpec(
                        id=c.id,
                        section=section.id,
                        weight=c.weight,
                        points=points,
                        allow_na=c.allow_na,
                        critical=c.critical,
                        pass_score=c.pass_score,
                    )
                )
        return out

    def section_weights(self) -> dict[str, float]:
        return {s.id: s.weight for s in self.sections}

    def score(self, answers: dict[str, str | None]) -> rules.ReviewScore:
        """Apply the score formula (:func:`escucha.qa.rules.score_review`)."""
        return rules.score_review(
            self.specs(),
            answers,
            section_weights=self.section_weights(),
            pass_mark=self.pass_mark,
        )

    def answer_for_finding(self, criterion_id: str, met: bool | None) -> str | None:
        """The answer a detector's finding gives: best, worst, N/A (or unrated)."""
        c = self.criterion(criterion_id)
        if met is None:
            return rules.NA if c.allow_na else None
        options = sorted(self.scales[c.scale], key=lambda o: o.points)
        return options[-1].value if met else options[0].value


def scorecard_problems(card: Scorecard) -> list[tuple[list[str | int], str]]:
    """Checks across fields: unknown scales and detectors, duplicate ids, bad scales."""
    problems: list[tuple[list[str | int], str]] = []
    for name, options in card.scales.items():
        values = [o.value for o in options]
        if len(options) < 2:
            problems.append((["scales", name], "a scale needs at least two answers"))
        if len(set(values)) != len(values):
            problems.append((["scales", name], "answers of a scale must be unique"))
        if rules.NA in values:
            problems.append((["scales", name], f"{rules.NA!r} is reserved for N/A"))
        if len({o.points for o in options}) < 2 <= len(options):
            problems.append((["scales", name], "answers of a scale need different points"))
    seen_sections: set[str] = set()
    seen: set[str] = set()
    detectors: set[str] = set()
    for s_i, section in enumerate(card.sections):
        if section.id in seen_sections:
            problems.append((["sections", s_i, "id"], f"duplicate section id {section.id!r}"))
        seen_sections.add(section.id)
        for c_i, c in enumerate(section.criteria):
            path: list[str | int] = ["sections", s_i, "criteria", c_i]
            if c.id in seen:
                problems.append(([*path, "id"], f"duplicate criterion id {c.id!r}"))
            seen.add(c.id)
            if c.scale not in card.scales:
                known = ", ".join(sorted(card.scales))
                problems.append(([*path, "scale"], f"unknown scale {c.scale!r} (known: {known})"))
            if c.detector is not None:
                if c.detector not in rules.DETECTORS:
                    known = ", ".join(rules.DETECTORS)
                    problems.append(
                        ([*path, "detector"], f"unknown detector {c.detector!r} (known: {known})")
                    )
                elif c.detector in detectors:
                    problems.append(([*path, "detector"], f"detector {c.detector!r} used twice"))
                detectors.add(c.detector)
    return problems


def parse_scorecard(document: Any, filename: str = "<scorecard>") -> Scorecard:
    """Validate a parsed YAML document (kept with line numbers) as a scorecard."""
    card = yamlio.validate(Scorecard, document, filename)
    problems = scorecard_problems(card)
    if problems:
        raise yamlio.YamlFileError(
            [
                yamlio.YamlProblem(
                    filename, yamlio.line_of(document, path), yamlio.dotted(path), message
                )
                for path, message in problems
            ]
        )
    return card


def load_scorecard_text(text: str, filename: str = "<scorecard>") -> Scorecard:
    """A scorecard from YAML text."""
    return parse_scorecard(yamlio.load_text(text, filename), filename)


def load_scorecard_file(path: Path) -> Scorecard:
    """A scorecard from a YAML file."""
    return parse_scorecard(yamlio.load(path), str(path))


# --- Automatic QA results ---------------------------------------------------------------------


class CriterionFinding(_Model):
    """What a detector found: ``met`` (null = does not apply) and the evidence turns."""

    met: bool | None
    evidence: list[int]


class TranscriptQA(_Model):
    """The result of automatic QA of one transcript (``escucha qa score --json``).

    ``score`` is the review score (0-100) of the criteria that detectors answer, under the
    scorecard's formula; criteria without a detector are not rated, so it is provisional
    until a reviewer completes the review.
    """

    criteria: dict[str, CriterionFinding]
    agent_talk_share: float
    longest_agent_monologue_words: int
    agent_words_per_minute: float | None
    lang: Literal["es", "en"]
    turn_count: int
    hold_count: int
    scorecard: str
    score: float | None
    critical_failures: list[str]
