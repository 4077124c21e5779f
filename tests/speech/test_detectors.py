"""The detectors that need the audio, in the scorecard's vocabulary."""

from __future__ import annotations

from escucha.qa import service
from escucha.speech import audio as A
from escucha.speech import transcribe as T


def _recording(
    turns: list[tuple[str, float, float, str]],
    silences: list[tuple[float, float]] = (),  # type: ignore[assignment]
    overlaps: list[tuple[float, float]] = (),  # type: ignore[assignment]
) -> T.Recording:
    return T.Recording(
        lang="en",
        engine="test",
        channels=2,
        rate=8000,
        subtype="ULAW",
        duration_s=max(t[2] for t in turns),
        clipped_share=0.0,
        level_dbfs=-20.0,
        turns=tuple(T.SpeechTurn(s, a, b, text) for s, a, b, text in turns),  # type: ignore[arg-type]
        silences=tuple(A.Segment(a, b) for a, b in silences),
        overlaps=tuple(A.Segment(a, b) for a, b in overlaps),
        masked=0,
        speakers_guessed=False,
    )


def test_a_silence_after_a_hold_announcement_is_a_hold_and_one_without_is_dead_air() -> None:
    announced = _recording(
        [
            ("agent", 0, 3, "could you hold for two minutes please"),
            ("customer", 3.5, 4, "sure"),
            ("agent", 20, 22, "thanks for waiting"),
        ],
        silences=[(4, 20)],
    )
    findings, events = T.audio_findings(announced)
    assert findings["holds_announced"].met is True
    assert events[0].announced is True
    dead_air = _recording(
        [("agent", 0, 3, "let me look at that"), ("agent", 20, 22, "right")],
        silences=[(3, 20)],
    )
    findings, events = T.audio_findings(dead_air)
    assert findings["holds_announced"].met is False
    assert findings["holds_announced"].evidence == (1,)
    no_silence = _recording([("agent", 0, 3, "hello")])
    assert T.audio_findings(no_silence)[0]["holds_announced"].met is None


def test_talking_over_the_customer_fails_not_rushed() -> None:
    rec = _recording(
        [("customer", 0, 6, "i was saying that the"), ("agent", 5, 8, "right so")],
        overlaps=[(5, 6)],
    )
    findings, _ = T.audio_findings(rec)
    assert findings["not_rushed"].met is False
    assert findings["not_rushed"].evidence == (1,)


def test_a_customer_saying_it_again_after_a_short_agent_turn_is_a_repeat_request() -> None:
    rec = _recording(
        [
            ("customer", 0, 4, "the serial number is on the fridge door panel"),
            ("agent", 4.5, 5, "sorry"),
            ("customer", 5.5, 9, "the serial number is on the fridge door panel"),
        ]
    )
    findings, _ = T.audio_findings(rec)
    assert findings["no_repeat_request"].met is False
    assert findings["no_repeat_request"].evidence == (1,)
    different = _recording(
        [
            ("customer", 0, 4, "the serial number is on the fridge door panel"),
            ("agent", 4.5, 5, "thank you"),
            ("customer", 5.5, 9, "and it stopped cooling last tuesday evening"),
        ]
    )
    assert T.audio_findings(different)[0]["no_repeat_request"].met is True


def test_a_long_agent_turn_by_time_fails_no_over_explaining() -> None:
    short_words_long_time = _recording(
        [("customer", 0, 2, "why"), ("agent", 3, 40, "well it is complicated")]
    )
    findings, events = T.audio_findings(short_words_long_time, T.Options(monologue_s=30))
    assert findings["no_over_explaining"].met is False
    assert [e.detector for e in events] == ["monologue"]
    assert T.audio_findings(short_words_long_time, T.Options(monologue_s=60))[0][
        "no_over_explaining"
    ].met


def test_audio_findings_change_the_automatic_qa_verdicts() -> None:
    rec = _recording(
        [
            ("agent", 0, 3, "good morning this is sam how can i help"),
            ("customer", 3.5, 9, "my bill is wrong and"),
            ("agent", 8, 40, "i am sorry let me explain"),
        ],
        overlaps=[(8, 9)],
    )
    findings, _ = T.audio_findings(rec, T.Options(monologue_s=30))
    text_only = service.score_transcript(T.qa_transcript(rec), lang="en")
    with_audio = service.score_transcript(T.qa_transcript(rec), lang="en", extra_findings=findings)
    assert text_only.criteria["not_rushed"].met is True
    assert with_audio.criteria["not_rushed"].met is False
    assert text_only.criteria["no_over_explaining"].met is True
    assert with_audio.criteria["no_over_explaining"].met is False
    assert (with_audio.score or 0) < (text_only.score or 0)
