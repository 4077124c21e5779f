"""Scorecard and transcript models (C4): the default scorecard and YAML errors with lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from escucha import yamlio
from escucha.qa import rules, service
from escucha.qa.schemas import (
    Hold,
    Transcript,
    Turn,
    load_scorecard_file,
    load_scorecard_text,
)

CONTRACT_IDS = {
    "greeting",
    "early_empathy",
    "questions_before_solution",
    "no_repeat_request",
    "holds_announced",
    "recap",
    "concrete_time",
}

MINIMAL = """\
id: mini
name: {es: Mini, en: Mini}
scales:
  yes_no:
    - {value: "yes", points: 1, label: {es: Sí, en: "Yes"}}
    - {value: "no", points: 0, label: {es: "No", en: "No"}}
sections:
  - id: only
    label: {es: Única, en: Only}
    criteria:
      - id: greeting
        detector: greeting
        label: {es: Saluda, en: Greets}
        guidance: {es: Saluda., en: Greets.}
"""


def test_default_scorecard_encodes_the_seeds() -> None:
    card = service.default_scorecard()
    ids = {c.id for c in card.criteria()}
    assert ids >= CONTRACT_IDS
    assert {"whole_situation", "honest_answers", "not_rushed", "no_over_explaining"} <= ids
    assert {c.detector for c in card.criteria() if c.detector} == set(rules.DETECTORS)
    assert card.criterion("honest_answers").critical == "review"
    assert card.criterion("concrete_time").critical == "section"
    assert card.criterion("holds_announced").allow_na
    for c in card.criteria():
        assert c.label.es != c.label.en
        assert len(c.guidance.es) > 20
        assert len(c.guidance.en) > 20
    assert load_scorecard_file(service.DEFAULT_SCORECARD) == card


def test_detector_findings_map_to_answers() -> None:
    card = service.default_scorecard()
    assert card.answer_for_finding("recap", True) == "yes"
    assert card.answer_for_finding("recap", False) == "no"
    assert card.answer_for_finding("holds_announced", None) == "na"
    assert card.answer_for_finding("recap", None) is None
    assert card.criterion("whole_situation").scale == "yes_partly_no"
    with pytest.raises(KeyError):
        card.criterion("nope")


def test_minimal_scorecard_scores() -> None:
    card = load_scorecard_text(MINIMAL)
    assert card.pass_mark == 80
    assert card.score({"greeting": "yes"}).score == 100.0
    assert card.score({"greeting": "no"}).passed is False


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("name: {es: Mini, en: Mini}\n", ""), "<mini>:1: name: Field required"),
        (
            ("detector: greeting", "detector: telepathy"),
            "<mini>:12: sections[0].criteria[0].detector",
        ),
        (
            ("        detector: greeting\n", "        scale: stars\n"),
            "sections[0].criteria[0].scale",
        ),
        (("{es: Saluda., en: Greets.}", "{es: Saluda.}"), "sections[0].criteria[0].guidance.en"),
        (('{value: "no", points: 0', '{value: "yes", points: 0'), "scales.yes_no"),
        (('{value: "no", points: 0', '{value: "no", points: 1'), "scales.yes_no"),
        (('{value: "no", points: 0', '{value: "na", points: 0'), "scales.yes_no"),
        (("id: only", "id: Only"), "sections[0].id"),
    ],
)
def test_bad_scorecards_name_path_and_line(change: tuple[str, str], where: str) -> None:
    old, new = change
    assert old in MINIMAL
    text = MINIMAL.replace(old, new)
    with pytest.raises(yamlio.YamlFileError) as info:
        load_scorecard_text(text, "<mini>")
    message = str(info.value)
    assert where in message
    assert "<mini>:" in message


def test_duplicates_are_reported_with_their_lines() -> None:
    criterion = MINIMAL.split("    criteria:\n")[1]
    text = MINIMAL + "  - id: only\n    label: {es: Otra, en: Other}\n    criteria:\n" + criterion
    with pytest.raises(yamlio.YamlFileError) as info:
        load_scorecard_text(text, "card.yaml")
    message = str(info.value)
    assert "card.yaml:15: sections[1].id: duplicate section id 'only'" in message
    assert "card.yaml:18: sections[1].criteria[0].id: duplicate criterion id 'greeting'" in message
    assert (
        "card.yaml:19: sections[1].criteria[0].detector: detector 'greeting' used twice" in message
    )
    short = MINIMAL.replace('    - {value: "no", points: 0, label: {es: "No", en: "No"}}\n', "")
    with pytest.raises(yamlio.YamlFileError, match="at least two answers"):
        load_scorecard_text(short)


def test_scorecard_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nname: [unclosed\n", encoding="utf-8")
    with pytest.raises(yamlio.YamlFileError, match=r"bad\.yaml"):
        load_scorecard_file(bad)


def test_transcript_model_round_trip() -> None:
    parsed = rules.parse_text("[00:01] AGENTE: Hola.\n[ESPERA 00:02-00:10]\nCLIENTE: Vale.")
    model = Transcript.from_rules(parsed)
    assert isinstance(model.turns[1], Hold)
    assert isinstance(model.turns[0], Turn)
    assert model.turns[0].start_s == 1.0
    assert model.to_rules() == parsed
    data = {"lang": "en", "turns": [{"speaker": "hold"}, {"speaker": "agent", "text": "Hi"}]}
    assert Transcript.model_validate(data).to_rules().turns[0].speaker == "hold"
    with pytest.raises(ValidationError):
        Transcript.model_validate({"turns": [{"speaker": "bot", "text": "x"}]})
    with pytest.raises(ValidationError):
        Transcript.model_validate({"turns": [{"speaker": "agent", "text": ""}]})
