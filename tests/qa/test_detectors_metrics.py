"""Accuracy of automatic QA against reviewers' labels (C5).

The labelled set in ``tests/qa/data`` holds Spanish and English contact-centre calls with a
reviewer's answer for every detector (``labels.csv``). Transcripts 01-16 of each language
were used to tune the detectors (``dev``); 17-30 were written and labelled before any
detector existed and are kept out of tuning (``heldout``).

Floors: for every language and detector, precision and recall of both answers (failure
found, criterion met) are at least 0.8 on the whole set and on the held-out part.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from escucha.qa import rules, service

LABELS = Path(__file__).parent / "data" / "labels.csv"
FLOOR = 0.8


@pytest.fixture(scope="module")
def everything() -> service.DetectorEvaluation:
    return service.evaluate_detectors(LABELS)


@pytest.fixture(scope="module")
def heldout() -> service.DetectorEvaluation:
    return service.evaluate_detectors(LABELS, split="heldout")


def test_labelled_set_is_big_enough_in_both_languages() -> None:
    items = service.load_labelled_set(LABELS)
    for lang in rules.LANGS:
        spoken = 0
        for item in (i for i in items if i.lang == lang):
            transcript = service.read_transcript(item.file)
            spoken += sum(1 for t in transcript.turns if t.speaker != "hold")
            assert set(item.labels) == set(rules.DETECTORS), item.file
        assert spoken >= 300, (lang, spoken)
    splits = {i.split for i in items}
    assert splits == {"dev", "heldout"}


def test_every_detector_has_both_answers_labelled(everything: service.DetectorEvaluation) -> None:
    for lang in rules.LANGS:
        for name in rules.DETECTORS:
            m = everything.metrics[lang][name]
            assert m.support_fail >= 3, (lang, name)
            assert m.support_met >= 3, (lang, name)


@pytest.mark.parametrize("lang", rules.LANGS)
@pytest.mark.parametrize("name", rules.DETECTORS)
def test_precision_and_recall_floors(
    everything: service.DetectorEvaluation,
    heldout: service.DetectorEvaluation,
    lang: rules.Lang,
    name: str,
) -> None:
    for evaluation in (everything, heldout):
        m = evaluation.metrics[lang][name]
        for metric in ("fail_precision", "fail_recall", "met_precision", "met_recall"):
            value = getattr(m, metric)
            assert value is not None, (lang, name, metric)
            assert value >= FLOOR, (lang, name, metric, value)


def test_language_detection_on_the_labelled_set() -> None:
    for item in service.load_labelled_set(LABELS):
        transcript = service.read_transcript(item.file)
        if transcript.lang is None:
            assert rules.detect_language(transcript) == item.lang, item.file
