"""Browsers' recordings (WebM and Ogg with Opus, as the agent's desk records web calls) are
decoded with their channels kept and transcribed like a WAV: the speaker by channel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from escucha.config import Settings
from escucha.errors import InvalidInput
from escucha.speech import audio as A
from escucha.speech import containers, synth
from escucha.speech import service as speech
from tests.speech import opus
from tests.speech.standins import Script, whisper_server


@pytest.mark.parametrize("fmt", ["webm", "ogg"])
def test_an_opus_recording_decodes_with_its_two_channels_and_its_length(
    fmt: str, short_en: tuple[Path, synth.Truth]
) -> None:
    wav = A.read_audio(short_en[0].read_bytes())
    data = opus.from_wav(short_en[0].read_bytes(), fmt=fmt)
    assert containers.is_container(data)
    assert containers.media_type(data) == f"audio/{fmt}"
    found = A.read_audio(data, name=f"call.{fmt}")
    assert (found.rate, found.subtype, len(found.channels)) == (48_000, "opus", 2)
    assert found.duration_s == pytest.approx(wav.duration_s, abs=0.05)
    # each side stays on its own channel: the agent speaks first, on channel 0
    for k in (0, 1):
        want = A.speech_segments(wav.channels[k], wav.rate)
        got = A.speech_segments(found.channels[k], found.rate)
        assert len(got) == len(want)
        assert [s.start_s for s in got] == pytest.approx([s.start_s for s in want], abs=0.1)


def test_a_webm_call_is_transcribed_with_the_speaker_by_channel(
    settings: Settings, short_en: tuple[Path, synth.Truth], tmp_path: Path
) -> None:
    path, truth = short_en
    webm = tmp_path / "leg1.webm"
    webm.write_bytes(opus.from_wav(path.read_bytes()))
    script = Script(
        [(float(t["end_s"]) - float(t["start_s"]), str(t["text"])) for t in truth.turns]  # type: ignore[arg-type]
    )
    with whisper_server(script) as url:
        conf = settings.model_copy(update={"speech_engine": "whisper", "speech_url": url})
        recording, findings, events = speech.transcribe_file(webm, conf, lang="en")
    assert recording.channels == 2
    assert recording.speakers_guessed is False
    assert [t.speaker for t in recording.turns] == [t["speaker"] for t in truth.turns]
    assert [t.text for t in recording.turns] == [t["text"] for t in truth.turns]
    for got, want in zip(recording.turns, truth.turns, strict=True):
        assert got.start_s == pytest.approx(float(want["start_s"]), abs=0.3)  # type: ignore[arg-type]
    assert [e.detector for e in events] == ["silence"]  # the hold nobody announced
    assert findings["holds_announced"].met is False


def test_two_channels_carrying_one_mix_are_read_as_mono(short_en: tuple[Path, synth.Truth]) -> None:
    """A desk's recording with the same mix on both channels is one voice track, so the
    speakers are told apart by voice as on any mono recording, not both taken as speaking."""
    wav = A.read_audio(short_en[0].read_bytes())
    mix = np.clip(wav.channels[0] + wav.channels[1], -1, 1)
    found = A.read_audio(opus.encode([mix, mix], wav.rate))
    assert len(found.channels) == 1
    apart = A.read_audio(opus.encode([wav.channels[0], wav.channels[1]], wav.rate))
    assert len(apart.channels) == 2


def test_a_cut_recording_keeps_what_came_before_and_a_broken_one_says_why(
    short_en: tuple[Path, synth.Truth], tmp_path: Path, settings: Settings
) -> None:
    data = opus.from_wav(short_en[0].read_bytes())
    cut = A.read_audio(data[: len(data) // 2], name="cut.webm")  # a desk that crashed
    assert 10 < cut.duration_s < 20
    broken = containers.WEBM_MAGIC + b"\x00" * 64
    with pytest.raises(A.AudioFormatError, match=r"^leg\.webm: "):
        A.read_audio(broken, name="leg.webm")
    path = tmp_path / "leg.webm"
    path.write_bytes(broken)
    assert speech.is_audio_file(path)
    with pytest.raises(InvalidInput, match=r"leg\.webm"):
        speech.transcribe_file(path, settings, lang="en")
