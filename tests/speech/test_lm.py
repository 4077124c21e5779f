"""The contact-centre language model of the offline English engine: a proper back-off model
that pocketsphinx reads, mixing the domain's phrases with the general model's words."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from pocketsphinx import NGramModel

from escucha.config import Settings
from escucha.speech import engines, lm

GENERAL = {"the": 0.5, "on": 0.2, "hold": 0.05, "put": 0.1, "you": 0.1, "weather": 0.05}
SENTENCES = [
    ["can", "i", "put", "you", "on", "hold"],
    ["please", "hold", "the", "line"],
    ["i", "put", "it", "on", "the", "bill"],
]


def _read(tmp_path: Path, text: str) -> NGramModel:
    path = tmp_path / "model.arpa"
    path.write_text(text, encoding="utf-8")
    return NGramModel.readfile(str(path))


def _p(model: NGramModel, *words: str) -> float:
    """P(last word | the others), from pocketsphinx's own reading of the file (which takes
    the word first, then its history from the nearest word back)."""
    return math.exp(model.prob(list(reversed(words))) * math.log(1.0001))


def test_every_distribution_sums_to_one_as_pocketsphinx_reads_it(tmp_path: Path) -> None:
    model = _read(tmp_path, lm.build_arpa(SENTENCES, GENERAL, weight=0.5))
    vocab = set(GENERAL) | {w for s in SENTENCES for w in s} | {"</s>"}
    for history in [(), ("on",), ("put", "you"), ("weather",), ("the", "weather")]:
        total = sum(_p(model, *history, w) for w in vocab)
        assert total == pytest.approx(1.0, abs=0.01), history


def test_the_domain_raises_its_phrases_and_general_words_stay_possible(tmp_path: Path) -> None:
    model = _read(tmp_path, lm.build_arpa(SENTENCES, GENERAL, weight=0.5))
    assert _p(model, "you", "on", "hold") > 0.3
    assert _p(model, "you", "on", "hold") > 10 * _p(model, "you", "on", "weather")
    # a general word the domain never says can still be recognised
    assert _p(model, "weather") > 0.01
    # without the domain (weight near 0) unigrams follow the general model
    flat = _read(tmp_path, lm.build_arpa(SENTENCES, GENERAL, weight=0.01))
    assert _p(flat, "the") == pytest.approx(0.5 * 0.99 / sum(GENERAL.values()), rel=0.05)


def test_sentences_with_words_it_cannot_pronounce_are_left_out() -> None:
    text = lm.build_arpa(
        [["hold", "the", "line"], ["brightwavy", "hold"]],
        GENERAL,
        known=frozenset([*GENERAL, "line"]),
    )
    assert "brightwavy" not in text
    with pytest.raises(ValueError, match="no domain sentence"):
        lm.build_arpa([["brightwavy"]], GENERAL, known=frozenset(GENERAL))


def test_the_domain_text_holds_what_the_scorecard_listens_for() -> None:
    """The organisation's phrases: hold announcements, requests to repeat, recaps,
    greetings, and the examples of the scorecard's guidance."""
    text = {" ".join(s) for s in lm.domain_sentences("en")}
    assert any("on hold" in s for s in text)
    assert any("repeat that" in s for s in text)
    assert any("recap" in s for s in text)
    assert any(s.startswith("good morning thank you for calling") for s in text)
    assert "i'm sorry that happened" in text  # quoted in the scorecard's guidance
    with pytest.raises(ValueError, match="no domain text"):
        lm.domain_sentences("es")


def test_the_offline_engine_uses_the_contact_centre_model_and_it_favours_hold_announcements() -> (
    None
):
    engine = engines.engine_for(Settings(environment="test"), "en")
    assert isinstance(engine, engines.PocketsphinxEngine)
    assert engine.language_model == "contact_centre"
    assert engine.for_recording().language_model == "contact_centre"
    general_only = engines.engine_for(
        Settings(environment="test", speech_pocketsphinx_lm="general"), "en"
    )
    assert isinstance(general_only, engines.PocketsphinxEngine)
    assert general_only.language_model == "general"
    path = Path(engines.contact_centre_lm(0.5))
    assert path.is_file()
    mixed = NGramModel.readfile(str(path))
    general = NGramModel.readfile(engines._model_file("en-us.lm.bin"))
    # what agents say is likelier than in newspaper English; other words stay possible
    assert _p(mixed, "put", "you", "on", "hold") > 3 * _p(general, "put", "you", "on", "hold")
    assert _p(mixed, "could", "you", "repeat", "that") > _p(
        general, "could", "you", "repeat", "that"
    )
    assert _p(mixed, "photosynthesis") > 0
