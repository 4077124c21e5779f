"""The speech server adapters, against local stand-ins of the Vosk (WebSocket) and
whisper.cpp (HTTP) protocols; Spanish goes through them (no offline Spanish model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from escucha.config import Settings
from escucha.errors import ConfigurationError
from escucha.speech import audio as A
from escucha.speech import engines, synth
from escucha.speech import transcribe as T
from tests.speech.standins import Script, vosk_server, whisper_server


def _script(truth: synth.Truth, *, mask: str = "") -> Script:
    items = []
    for t in truth.turns:
        items.append((float(t["end_s"]) - float(t["start_s"]), str(t["text"])))  # type: ignore[arg-type]
    return Script(items)


@pytest.mark.parametrize("kind", ["vosk", "whisper"])
def test_spanish_call_through_a_speech_server(
    kind: str, short_es: tuple[Path, synth.Truth], tmp_path: Path
) -> None:
    path, truth = short_es
    script = _script(truth)
    server = vosk_server if kind == "vosk" else whisper_server
    with server(script) as url:
        settings = Settings(environment="test", speech_engine_es=kind, speech_url_es=url)
        engine = engines.engine_for(settings, "es")
        assert engine.name == kind
        result = T.transcribe_audio(A.read_audio(path.read_bytes()), engine, "es")
    assert [t.text for t in result.turns] == [t["text"] for t in truth.turns]
    assert [t.speaker for t in result.turns] == [t["speaker"] for t in truth.turns]
    for got, want in zip(result.turns, truth.turns, strict=True):
        assert abs(got.start_s - float(want["start_s"])) < 0.3  # type: ignore[arg-type]
    assert all(seen["rate"] == 16000 for seen in script.seen)
    if kind == "whisper":
        assert {seen["language"] for seen in script.seen} == {"es"}
    # the customer cut off mid-sentence is talked over: the overlap detector hears it
    findings, events = T.audio_findings(result)
    assert findings["not_rushed"].met is False
    assert [e.detector for e in events] == ["overlap"]


def test_a_server_that_is_down_is_an_engine_error() -> None:
    pcm = A.to_pcm16(A.resample(synth.speak("hola", "es"), 8000))
    for engine in (
        engines.VoskEngine("ws://127.0.0.1:9"),
        engines.WhisperServerEngine("http://127.0.0.1:9"),
    ):
        with pytest.raises(engines.SpeechEngineError, match=r"127\.0\.0\.1:9"):
            engine.transcribe(pcm, "es")


def test_spanish_without_a_server_says_what_to_set() -> None:
    with pytest.raises(ConfigurationError, match="ESCUCHA_SPEECH_ENGINE_ES"):
        engines.engine_for(Settings(environment="test"), "es")
    with pytest.raises(ConfigurationError, match="ESCUCHA_SPEECH_URL_ES"):
        engines.engine_for(Settings(environment="test", speech_engine_es="vosk"), "es")
    with pytest.raises(ConfigurationError, match="ws://"):
        engines.engine_for(
            Settings(environment="test", speech_engine_es="vosk", speech_url_es="http://x"), "es"
        )
    assert engines.engine_for(Settings(environment="test"), "en").name == "pocketsphinx"


def test_a_mono_recording_is_split_by_voice(
    speech_cache: Path, short_en: tuple[Path, synth.Truth]
) -> None:
    from escucha.qa import rules
    from tests.speech.conftest import SHORT_EN

    path, truth = synth.render_cached(rules.parse_text(SHORT_EN), "en", speech_cache, mono=True)
    with whisper_server(_script(truth)) as url:
        engine = engines.WhisperServerEngine(url)
        result = T.transcribe_audio(A.read_audio(path.read_bytes()), engine, "en")
    assert result.channels == 1
    assert result.speakers_guessed is True
    assert [t.speaker for t in result.turns] == [t["speaker"] for t in truth.turns]
    assert [t.text for t in result.turns] == [t["text"] for t in truth.turns]
    assert [t.speaker for t in T.qa_turns(result)] == [
        "agent",
        "customer",
        "agent",
        "hold",
        "agent",
        "customer",
    ]


def test_one_voice_on_a_mono_recording_leaves_the_speaker_unknown(tmp_path: Path) -> None:
    import io

    import numpy as np
    import soundfile as sf

    first = synth.speak("Good morning, how can I help you today?", "en-us+m1")
    second = synth.speak("My internet stopped working this morning.", "en-us+m1")
    mono = np.concatenate([first, np.zeros(4000, dtype=np.float32), second])
    buffer = io.BytesIO()
    sf.write(buffer, mono, synth.RATE, format="WAV", subtype="PCM_16")
    script = Script([(len(first) / 8000, "good morning"), (len(second) / 8000, "my internet")])
    with whisper_server(script) as url:
        result = T.transcribe_audio(
            A.read_audio(buffer.getvalue()), engines.WhisperServerEngine(url), "en"
        )
    assert [t.speaker for t in result.turns] == ["unknown", "unknown"]
    assert [t.speaker for t in T.qa_turns(result)] == ["agent", "customer"]
