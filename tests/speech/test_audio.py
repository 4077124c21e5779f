"""Telephone audio: G.711 decoding, resampling, clipping, voice activity, bad files."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from escucha.speech import audio as A
from escucha.speech import synth


def _wav(samples: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def _tone(seconds: float, rate: int = 8000, level: float = 0.3, hz: float = 440) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize("encoding", ["u-law", "a-law"])
def test_g711_wav_from_sox_decodes_like_pcm(encoding: str) -> None:
    tone = _tone(1.0)
    coded = synth.telephone(_wav(tone, 8000), encoding=encoding)
    decoded = A.read_audio(coded, name="call.wav")
    assert decoded.subtype == ("ULAW" if encoding == "u-law" else "ALAW")
    assert decoded.rate == 8000
    assert len(decoded.channels) == 1
    # G.711 keeps the waveform within a few percent
    assert np.max(np.abs(decoded.channels[0] - tone)) < 0.02


def test_resampling_8k_to_16k_keeps_length_and_pitch() -> None:
    tone = _tone(1.0, hz=300)
    up = A.resample(tone, 8000)
    assert len(up) == 16000
    spectrum = np.abs(np.fft.rfft(up))
    assert abs(np.argmax(spectrum) * 16000 / len(up) - 300) < 2


def test_clipping_is_measured() -> None:
    loud = np.clip(_tone(1.0, level=1.5), -1, 1)
    assert A.clipped_share(loud) > 0.2
    assert A.clipped_share(_tone(1.0)) == 0.0


def test_voice_activity_finds_speech_between_silences() -> None:
    rate = 16000
    silence = np.zeros(rate, dtype=np.float32)
    signal = np.concatenate([silence, _tone(2.0, rate), silence, silence, _tone(0.5, rate)])
    found = A.speech_segments(signal, rate)
    assert [(round(s.start_s, 1), round(s.end_s, 1)) for s in found] == [(1.0, 3.0), (5.0, 5.5)]


def test_unreadable_and_unsupported_files_say_why(tmp_path: Path) -> None:
    with pytest.raises(A.AudioFormatError, match="empty"):
        A.read_audio(b"", name="x.wav")
    with pytest.raises(A.AudioFormatError, match=r"x\.wav: not a readable audio file"):
        A.read_audio(b"AGENT: hello\n", name="x.wav")
    three = np.zeros((800, 3), dtype=np.float32)
    with pytest.raises(A.AudioFormatError, match="3 channels"):
        A.read_audio(_wav(three, 8000), name="x.wav")


def test_espeak_and_sox_are_installed() -> None:
    for tool in ("espeak-ng", "sox"):
        done = subprocess.run([tool, "--version"], capture_output=True, check=False)
        assert done.returncode == 0
