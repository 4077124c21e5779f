"""Pure QA rules: transcript import, detectors, score formula, sampling (C4, C5)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from escucha.qa import rules
from escucha.qa.rules import (
    Candidate,
    CriterionSpec,
    Thresholds,
    Transcript,
    TranscriptError,
    Turn,
    analyse,
    parse_json,
    parse_text,
    parse_transcript,
    parse_vtt,
)

TH = Thresholds()


def _t(*lines: str) -> Transcript:
    return parse_text("\n".join(lines))


# --- Import --------------------------------------------------------------------------------


def test_plain_text_counts_hold_lines_as_turns() -> None:
    t = parse_text(
        "# a comment\n"
        "[00:00] AGENTE: Buenos días, le atiende Ana.\n"
        "\n"
        "[00:04] CLIENTE: Hola.\n"
        "[ESPERA 00:10-01:15]\n"
        "agente: Gracias por esperar\n"
        "  y perdone.\n"
        "[HOLD]\n"
    )
    assert [x.speaker for x in t.turns] == ["agent", "customer", "hold", "agent", "hold"]
    assert t.turns[0].start_s == 0.0
    assert t.turns[1].start_s == 4.0
    assert (t.turns[2].start_s, t.turns[2].end_s) == (10.0, 75.0)
    assert t.turns[3].text == "Gracias por esperar y perdone."
    assert t.turns[4].start_s is None


def test_plain_text_english_labels_and_hours() -> None:
    t = parse_text("[1:02:03] AGENT: Hi.\nCUSTOMER: Hello.")
    assert t.turns[0].start_s == 3723.0
    assert t.turns[1].speaker == "customer"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("AGENTE: hola\nSUPERVISOR: hola", "line 2: unknown speaker 'SUPERVISOR'"),
        ("hola qué tal", "line 1: expected 'AGENTE:'"),
        ("AGENTE: hola\n[ESPERA 02:00-01:00]", "line 2: the hold ends before it starts"),
        ("[00:75] AGENTE: hola", "line 1: not a time"),
        ("\n# nothing\n", "no turns"),
        ("[ESPERA]\ncontinuation", "line 2"),
    ],
)
def test_plain_text_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(TranscriptError, match=message):
        parse_text(text)


def test_json_object_list_and_aliases() -> None:
    data = {
        "lang": "es",
        "turns": [
            {"speaker": "agente", "text": "Hola", "start": 0, "end": 1.5},
            {"speaker": "espera", "start_s": 2, "end_s": 30},
            {"speaker": "Customer", "text": "Vale"},
        ],
    }
    t = parse_json(json.dumps(data))
    assert t.lang == "es"
    assert [x.speaker for x in t.turns] == ["agent", "hold", "customer"]
    assert t.turns[1].end_s == 30.0
    bare = parse_json(json.dumps(data["turns"]))
    assert bare.lang is None
    assert len(bare.turns) == 3


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"turns": [{"speaker": "bot", "text": "x"}]}, "turns[0].speaker"),
        ({"turns": [{"speaker": "agent", "text": " "}]}, "turns[0].text"),
        ({"turns": [{"speaker": "agent", "text": 3}]}, "turns[0].text"),
        ({"turns": [{"speaker": "agent", "text": "a", "start": "1"}]}, "turns[0].start"),
        ({"turns": [{"speaker": "agent", "text": "a", "start": 5, "end": 1}]}, "turns[0]"),
        ({"turns": ["hola"]}, "turns[0]"),
        ({"turns": []}, "turns"),
        ({"lang": "fr", "turns": [{"speaker": "agent", "text": "a"}]}, "lang"),
        (42, "<root>"),
    ],
)
def test_json_errors_name_the_path(data: object, where: str) -> None:
    with pytest.raises(TranscriptError) as info:
        parse_json(json.dumps(data))
    assert info.value.where == where


def test_json_syntax_error_names_the_line() -> None:
    with pytest.raises(TranscriptError, match="line 2"):
        parse_json('{"turns":\n ]')


VTT = """WEBVTT

NOTE exported by the recorder

00:00:00.000 --> 00:00:02.000
<v Laura>Buenas tardes, soy Laura.

1
00:00:02.500 --> 00:00:04.000
<v Laura>¿En qué le ayudo?

00:00:04.500 --> 00:00:08.000
<v Pedro>No tengo <b>internet</b>.

00:00:08.000 --> 00:01:00.000
[ESPERA]

00:01:00.000 --> 00:01:03.000
AGENTE: Ya está.
"""


def test_vtt_voices_merge_and_holds() -> None:
    t = parse_vtt(VTT)
    assert [x.speaker for x in t.turns] == ["agent", "customer", "hold", "agent"]
    assert t.turns[0].text == "Buenas tardes, soy Laura. ¿En qué le ayudo?"
    assert (t.turns[0].start_s, t.turns[0].end_s) == (0.0, 4.0)
    assert t.turns[1].text == "No tengo internet."
    assert (t.turns[2].start_s, t.turns[2].end_s) == (8.0, 60.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("00:00.000 --> 00:01.000\n<v A>x", "starts with 'WEBVTT'"),
        ("WEBVTT\n\nnot a timing\nhello", "cue timing"),
        ("WEBVTT\n\n00:00.000 --> 00:01.000\nno speaker", "without a speaker"),
        (
            "WEBVTT\n\n00:00.000 --> 00:01.000\n<v A>a\n\n00:01.000 --> 00:02.000\n<v B>b\n\n"
            "00:02.000 --> 00:03.000\n<v C>c",
            "third voice",
        ),
        ("WEBVTT\n\nNOTE only a note\n", "no cues"),
    ],
)
def test_vtt_errors(text: str, message: str) -> None:
    with pytest.raises(TranscriptError, match=message):
        parse_vtt(text)


def test_format_detection() -> None:
    assert rules.detect_format("WEBVTT\n\n") == "vtt"
    assert rules.detect_format('  {"turns": []}') == "json"
    assert rules.detect_format("[00:01] AGENT: hi") == "text"
    assert rules.detect_format("[HOLD 00:01-00:02]\nAGENT: hi") == "text"
    assert rules.detect_format("") == "text"
    assert parse_transcript("AGENT: hi", "text").turns[0].text == "hi"
    assert parse_transcript('[{"speaker": "agent", "text": "x"}]').turns[0].text == "x"
    with pytest.raises(ValueError, match="not a time"):
        rules.parse_clock("1:2:3:4")


def test_language_detection() -> None:
    assert rules.detect_language(_t("AGENTE: Buenos días, ¿en qué le puedo ayudar?")) == "es"
    assert rules.detect_language(_t("AGENT: Good morning, how can I help you?")) == "en"
    declared = Transcript((Turn("agent", "Good morning, how can I help you?"),), "es")
    assert rules.detect_language(declared) == "es"


# --- Detectors -------------------------------------------------------------------------------


def _met(name: str, t: Transcript, lang: rules.Lang) -> rules.Finding:
    return analyse(t, lang).findings[name]


@pytest.mark.parametrize(
    ("lines", "lang", "met"),
    [
        (["AGENTE: Buenas tardes, le atiende Marta.", "CLIENTE: Hola."], "es", True),
        (["AGENTE: Telinor, buenas.", "CLIENTE: Hola."], "es", True),
        (
            ["AGENTE: Sí, dígame.", "CLIENTE: Hola.", "AGENTE: Eso es culpa de Correos."],
            "es",
            False,
        ),
        (["AGENT: Hello?", "CUSTOMER: Hi.", "AGENT: Sorry, this is Tom here."], "en", True),
        (["AGENT: Hi there, how can I help?", "CUSTOMER: Hi."], "en", False),
        (["AGENT: Jess speaking.", "CUSTOMER: Hi."], "en", True),
    ],
)
def test_greeting(lines: list[str], lang: rules.Lang, met: bool) -> None:
    assert _met("greeting", _t(*lines), lang).met is met


def test_early_empathy_only_counts_the_first_agent_turns() -> None:
    late = _t(
        "AGENT: Hello.",
        "CUSTOMER: My bill doubled.",
        "AGENT: Account number?",
        "CUSTOMER: 123.",
        "AGENT: Thanks. Date of birth?",
        "CUSTOMER: 1980.",
        "AGENT: I'm sorry about that.",
    )
    assert _met("early_empathy", late, "en") == rules.Finding(False, ())
    early = _t("AGENTE: Hola.", "CLIENTE: Me han cortado la luz.", "AGENTE: Vaya, lo siento mucho.")
    assert _met("early_empathy", early, "es") == rules.Finding(True, (2,))


def test_questions_before_solution() -> None:
    asks = _t(
        "AGENTE: Hola, ¿en qué le puedo ayudar?",
        "CLIENTE: No tengo internet.",
        "AGENTE: ¿Me dice su DNI?",
        "CLIENTE: 1234.",
        "AGENTE: ¿Desde cuándo le pasa?",
        "CLIENTE: Desde ayer.",
        "AGENTE: Reinicie el router, por favor.",
    )
    assert _met("questions_before_solution", asks, "es") == rules.Finding(True, (4,))
    assumes = _t(
        "AGENT: Hi, how can I help?",
        "CUSTOMER: No internet.",
        "AGENT: You need to restart the router. Has that worked?",
    )
    assert _met("questions_before_solution", assumes, "en") == rules.Finding(False, (2,))
    nothing = _t("AGENT: Hi.", "CUSTOMER: Bye.", "AGENT: Bye.")
    assert _met("questions_before_solution", nothing, "en") == rules.Finding(False, ())


@pytest.mark.parametrize(
    ("line", "lang", "asks"),
    [
        ("AGENTE: Perdone, ¿me lo puede repetir?", "es", True),
        ("AGENTE: ¿Cómo dice?", "es", True),
        ("AGENTE: ¿Qué número ha dicho?", "es", True),
        ("AGENTE: Le repito lo acordado: visita el lunes.", "es", False),
        ("AGENT: Sorry, could you say that again?", "en", True),
        ("AGENT: Come again?", "en", True),
        ("AGENT: Let me repeat the plan: visit on Monday.", "en", False),
    ],
)
def test_repeat_requests(line: str, lang: rules.Lang, asks: bool) -> None:
    t = _t("CUSTOMER: My fridge is broken." if lang == "en" else "CLIENTE: Se ha roto.", line)
    finding = _met("no_repeat_request", t, lang)
    assert finding.met is (not asks)
    assert finding.evidence == ((1,) if asks else ())


def test_holds_announced_uses_hold_turn_indexes() -> None:
    none = _t("AGENT: Hi.", "CUSTOMER: Hi.")
    assert _met("holds_announced", none, "en") == rules.Finding(None, ())
    announced = _t(
        "AGENTE: Le pongo en espera dos minutos, ¿le parece?",
        "CLIENTE: Sí.",
        "[ESPERA 00:10-02:10]",
        "AGENTE: Gracias por esperar.",
    )
    assert _met("holds_announced", announced, "es") == rules.Finding(True, (0, 2))
    silent = _t(
        "AGENT: One moment, please stay on the line.",
        "[HOLD 00:10-00:40]",
        "AGENT: Right, let's see.",
        "[HOLD 00:50-01:40]",
        "AGENT: Sorry about the wait.",
    )
    assert _met("holds_announced", silent, "en") == rules.Finding(False, (3,))
    first = Transcript((Turn("hold"), Turn("agent", "Hello")))
    assert _met("holds_announced", first, "en") == rules.Finding(False, (0,))


def test_recap_phrase_and_enumeration() -> None:
    phrase = _t("AGENTE: Para resumir: visita el lunes de 8 a 11.", "CLIENTE: Gracias.")
    assert _met("recap", phrase, "es") == rules.Finding(True, (0,))
    enumeration = _t(
        "CUSTOMER: Thanks.",
        "AGENT: So, the fee is cancelled, complaint 12 is logged, and you will get a letter "
        "within eight weeks.",
    )
    assert _met("recap", enumeration, "en").met is True
    explaining = _t(
        "AGENT: So, let me explain, the box has a card, the card has an id, and the id "
        "controls every channel you watch.",
    )
    assert _met("recap", explaining, "en").met is False


@pytest.mark.parametrize(
    ("lines", "lang", "met"),
    [
        (["AGENTE: Su factura está correcta."], "es", None),
        (["AGENTE: Le llamaremos lo antes posible."], "es", False),
        (["AGENTE: Le llamaremos mañana antes de las 13:00."], "es", True),
        (
            ["AGENTE: Le abro una incidencia.", "CLIENTE: ¿Cuándo?", "AGENTE: El jueves."],
            "es",
            True,
        ),
        (["AGENTE: Por la mañana le abro una incidencia y ya le dirán algo."], "es", False),
        (["AGENT: Someone will be in touch shortly."], "en", False),
        (["AGENT: We'll call you back within 48 hours."], "en", True),
        (["AGENT: I've raised a fault; an engineer will call on Friday."], "en", True),
        (["AGENT: You'll get the same speed."], "en", None),
    ],
)
def test_concrete_time(lines: list[str], lang: rules.Lang, met: bool | None) -> None:
    assert _met("concrete_time", _t(*lines), lang).met is met


def test_talk_stats_hand_computed() -> None:
    t = _t(
        "[00:00] AGENT: one two three four five six",
        "[00:06] AGENT: seven eight nine ten",
        "[00:10] CUSTOMER: a b",
        "[ESPERA 00:12-00:40]",
        "[00:40] AGENT: x y",
    )
    stats = rules.talk_stats(t, Thresholds(min_words_for_rate=5))
    assert stats.agent_words == 12
    assert stats.customer_words == 2
    assert stats.agent_talk_share == pytest.approx(12 / 14)
    assert stats.longest_agent_monologue_words == 10
    assert stats.longest_monologue_turn == 0
    # Timed agent turns: 6 words in 6 s, 4 words in 4 s; the last has no end -> 10 words / 10 s.
    assert stats.agent_words_per_minute == pytest.approx(60.0)
    assert rules.talk_stats(Transcript((Turn("hold"),))).agent_talk_share == 0.0


def test_over_explaining_and_rushing() -> None:
    long_turn = "AGENT: " + " ".join(["because"] * 70)
    assert _met("no_over_explaining", _t("CUSTOMER: why?", long_turn), "en") == rules.Finding(
        False, (1,)
    )
    assert _met("no_over_explaining", _t("CUSTOMER: why?", "AGENT: short."), "en").met is True
    # Four agent turns of 50 words, each under the monologue limit, but 200 of 204 words.
    turns = []
    for _ in range(4):
        turns += ["CUSTOMER: ok", "AGENT: " + " ".join(["word"] * 50)]
    dominant = _t(*turns)
    assert rules.talk_stats(dominant).longest_agent_monologue_words == 50
    assert _met("no_over_explaining", dominant, "en") == rules.Finding(False, (1,))
    balanced = _t(*turns[:4])  # 100 agent words: below the talk-share minimum
    assert _met("no_over_explaining", balanced, "en").met is True
    cut_off = _t("CUSTOMER: But I also wanted...", "AGENT: Call another number. Bye.")
    assert _met("not_rushed", cut_off, "en") == rules.Finding(False, (1,))
    brushed = _t("CLIENTE: ¿Cuándo?", "AGENTE: Cuando lo revisen. Adiós.")
    assert _met("not_rushed", brushed, "es").met is False
    answered = _t(
        "CLIENTE: ¿Cuándo?",
        "AGENTE: El lunes antes de las doce le llama el técnico para darle la cita. Adiós.",
    )
    assert _met("not_rushed", answered, "es").met is True
    hurry = _t("AGENT: Okay, quickly, what's the account number?")
    assert _met("not_rushed", hurry, "en").met is False
    fast = Transcript(
        (Turn("agent", " ".join(["palabra"] * 60), 0.0, 10.0), Turn("customer", "vale", 10, 11))
    )
    assert _met("not_rushed", fast, "es") == rules.Finding(False, (0,))


def test_analyse_reports_every_detector_and_counts() -> None:
    t = _t("AGENT: Hello, this is Sam.", "[HOLD]", "CUSTOMER: Hi.")
    result = analyse(t)
    assert set(result.findings) == set(rules.DETECTORS)
    assert (result.lang, result.turn_count, result.hold_count) == ("en", 3, 1)


# --- Detector metrics ------------------------------------------------------------------------


def test_detector_metrics_hand_computed() -> None:
    pairs: list[tuple[bool | None, bool | None]] = [
        (False, False),
        (False, True),
        (True, True),
        (True, False),
        (True, True),
        (None, None),
    ]
    m = rules.detector_metrics(pairs)
    assert m.n == 6
    assert m.accuracy == pytest.approx(4 / 6)
    assert m.fail_precision == pytest.approx(1 / 2)
    assert m.fail_recall == pytest.approx(1 / 2)
    assert m.met_precision == pytest.approx(2 / 3)
    assert m.met_recall == pytest.approx(2 / 3)
    assert (m.support_fail, m.support_met, m.support_na) == (2, 3, 1)
    empty = rules.detector_metrics([])
    assert empty.accuracy is None
    assert empty.fail_precision is None


# --- Score formula ---------------------------------------------------------------------------

YES_NO = {"yes": 1.0, "no": 0.0}
THREE = {"yes": 2.0, "partly": 1.0, "no": 0.0}
SPECS = [
    CriterionSpec("greet", "opening", 1.0, YES_NO),
    CriterionSpec("empathy", "opening", 2.0, THREE),
    CriterionSpec("holds", "conduct", 1.0, YES_NO, allow_na=True),
    CriterionSpec("time", "conduct", 2.0, YES_NO, allow_na=True, critical="section"),
    CriterionSpec("honest", "resolution", 1.0, YES_NO, critical="review"),
]


def test_score_formula_hand_computed() -> None:
    answers = {"greet": "yes", "empathy": "partly", "holds": "na", "time": "yes", "honest": "yes"}
    result = rules.score_review(
        SPECS, answers, section_weights={"opening": 2.0, "conduct": 1.0}, pass_mark=80
    )
    # opening = (1*1 + 2*0.5) / 3 = 2/3; conduct = time only = 1; resolution = 1.
    # review = 100 * (2 * 2/3 + 1 * 1 + 1 * 1) / (2 + 1 + 1) = 100 * (10/3) / 4 = 83.33
    assert [s.score for s in result.sections] == pytest.approx([2 / 3, 1.0, 1.0])
    assert result.score == pytest.approx(250 / 3)
    assert result.passed is True
    assert result.criteria[2].answer == "na"
    assert result.criteria[2].score is None


def test_critical_section_and_review_failures() -> None:
    section = rules.score_review(
        SPECS, {"greet": "yes", "time": "no", "holds": "yes", "honest": "yes"}
    )
    conduct = next(s for s in section.sections if s.id == "conduct")
    assert conduct.score == 0.0
    assert conduct.critical_failure
    assert section.critical_failures == ("time",)
    # opening 1, conduct 0, resolution 1 -> 66.7, and not passed.
    assert section.score == pytest.approx(200 / 3)
    assert section.passed is False
    review = rules.score_review(SPECS, {"greet": "yes", "honest": "no"})
    assert review.score == 0.0
    assert review.critical_failures == ("honest",)


def test_score_formula_edge_cases() -> None:
    assert rules.score_review(SPECS, {}).score is None
    assert rules.score_review(SPECS, {"holds": "na"}).passed is None
    with pytest.raises(ValueError, match="not an answer"):
        rules.score_review(SPECS, {"greet": "maybe"})
    with pytest.raises(ValueError, match="N/A is not allowed"):
        rules.score_review(SPECS, {"greet": "na"})
    with pytest.raises(ValueError, match="not in the scorecard"):
        rules.score_review(SPECS, {"ghost": "yes"})
    flat = CriterionSpec("flat", "s", 1.0, {"only": 3.0, "same": 3.0})
    assert rules.criterion_score(flat, "same") == 1.0


# --- Sampling --------------------------------------------------------------------------------

CANDIDATES = [
    Candidate("c1", "ana", longest_hold_s=30, survey_score=0.25),
    Candidate("c2", "ana", is_complaint=True, longest_hold_s=300),
    Candidate("c3", "beto", longest_hold_s=120, survey_score=0.0),
    Candidate("c4", "beto", is_complaint=True, survey_score=1.0),
    Candidate("c5", None, longest_hold_s=300, survey_score=0.5),
    Candidate("c6", "ana"),
]


def test_random_sample_is_reproducible_with_the_seed() -> None:
    first = rules.sample(CANDIDATES, "random", 3, np.random.default_rng(7))
    again = rules.sample(CANDIDATES, "random", 3, np.random.default_rng(7))
    assert first == again
    assert len({c.contact_id for c in first}) == 3
    everything = rules.sample(CANDIDATES, "random", 10, np.random.default_rng(1))
    assert sorted(c.contact_id for c in everything) == [c.contact_id for c in CANDIDATES]


def test_other_strategies() -> None:
    rng = np.random.default_rng(0)
    per_agent = rules.sample(CANDIDATES, "per_agent", 2, rng)
    assert [c.agent for c in per_agent] == ["ana", "ana", "beto", "beto"]
    assert [c.contact_id for c in rules.sample(CANDIDATES, "complaints", 0, rng)] == ["c2", "c4"]
    holds = rules.sample(CANDIDATES, "longest_holds", 3, rng)
    assert {c.contact_id for c in holds[:2]} == {"c2", "c5"}
    assert holds[2].contact_id == "c3"
    lowest = rules.sample(CANDIDATES, "lowest_scores", 2, rng)
    assert [c.contact_id for c in lowest] == ["c3", "c1"]
    adapter = rules.RandomAdapter(random.Random(3))
    assert len(rules.sample(CANDIDATES, "random", 2, adapter)) == 2
    with pytest.raises(ValueError, match="negative"):
        rules.sample(CANDIDATES, "random", -1, rng)
    with pytest.raises(ValueError, match="unknown"):
        rules.sample(CANDIDATES, "loudest", 1, rng)  # type: ignore[arg-type]


def test_normalised_survey_score() -> None:
    assert rules.normalised_survey_score("csat", 4) == pytest.approx(0.75)
    assert rules.normalised_survey_score("ces", 1) == 0.0
    assert rules.normalised_survey_score("nps", 10) == 1.0
    with pytest.raises(ValueError, match="0-10"):
        rules.normalised_survey_score("nps", 11)
