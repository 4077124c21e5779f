"""Make test recordings from written conversations: each turn spoken by espeak-ng (one voice
for the agent, another for the customer), the agent on channel 0 and the customer on channel
1, holds as silence, a customer cut off mid-sentence ("...") talked over by the agent, and a
telephone round trip through sox (8 kHz G.711 mu-law).

Synthetic speech is far easier than real callers: one clear voice per side, no noise, no
accents, no line echo. The figures measured on these recordings are an upper bound.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from escucha.errors import ConfigurationError
from escucha.qa import rules
from escucha.speech import audio as A

VERSION = "3"
#: espeak-ng voice and pitch (0-99) of each side (pocketsphinx recognises these best).
VOICES: dict[str, dict[str, tuple[str, int]]] = {
    "en": {"agent": ("en-us+m1", 50), "customer": ("en-us+m3", 50)},
    "es": {"agent": ("es+m1", 50), "customer": ("es+m3", 50)},
}
#: On a mono mix the customer speaks higher (about 140 Hz against the agent's 90 Hz), as two
#: real people's voices differ, so the voices can be told apart.
MONO_CUSTOMER_PITCH = 80
RATE = 8000
GAP_S = 0.5
HOLD_MAX_S = 12.0
TALK_OVER_S = 1.5


@dataclass(frozen=True)
class Truth:
    """What the recording holds, by construction."""

    turns: list[dict[str, object]]
    holds: list[tuple[float, float]]
    overlaps: list[tuple[float, float]]
    longest_agent_s: float


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ConfigurationError(f"{name} is not installed: apt-get install {package}")
    return found


def speak(text: str, voice: str, *, pitch: int = 50, rate_wpm: int = 170) -> A.Samples:
    """``text`` spoken by espeak-ng, at 8 kHz."""
    exe = _tool("espeak-ng", "espeak-ng")
    done = subprocess.run(  # noqa: S603 - fixed executable, text on stdin
        [exe, "-v", voice, "-p", str(pitch), "-s", str(rate_wpm), "--stdout", "--stdin"],
        input=text.encode("utf-8"),
        capture_output=True,
        check=True,
        timeout=120,
    )
    decoded = A.read_audio(done.stdout, name=f"espeak-ng {voice}")
    return A.resample(decoded.channels[0], decoded.rate, RATE)


def telephone(data: bytes, *, encoding: str = "u-law") -> bytes:
    """A WAV through a telephone codec with sox: 8 kHz G.711 (``u-law`` or ``a-law``)."""
    exe = _tool("sox", "sox")
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        src.write_bytes(data)
        subprocess.run(  # noqa: S603 - fixed executable and arguments
            [exe, str(src), "-r", str(RATE), "-e", encoding, "-b", "8", str(dst)],
            capture_output=True,
            check=True,
            timeout=120,
        )
        return dst.read_bytes()


def render(transcript: rules.Transcript, lang: str, *, mono: bool = False) -> tuple[bytes, Truth]:
    """A two-channel (or mixed mono) mu-law WAV of ``transcript`` and what it holds."""
    voices = VOICES[lang]
    pieces: list[tuple[int, float, A.Samples]] = []
    truth_turns: list[dict[str, object]] = []
    holds: list[tuple[float, float]] = []
    overlaps: list[tuple[float, float]] = []
    at = 0.3
    previous_cut_off = False
    previous_start = 0.0
    longest = 0.0
    for turn in transcript.turns:
        if turn.speaker == "hold":
            length = HOLD_MAX_S
            if turn.start_s is not None and turn.end_s is not None:
                length = min(HOLD_MAX_S, max(turn.end_s - turn.start_s, 2.0))
            holds.append((round(at, 2), round(at + length, 2)))
            at += length
            previous_cut_off = False
            continue
        voice, pitch = voices[turn.speaker]
        if mono and turn.speaker == "customer":
            pitch = MONO_CUSTOMER_PITCH
        samples = speak(turn.text, voice, pitch=pitch)
        start = at
        if previous_cut_off and turn.speaker == "agent":
            start = max(previous_start + 0.5, at - GAP_S - TALK_OVER_S)
            overlaps.append((round(start, 2), round(at - GAP_S, 2)))
        length = len(samples) / RATE
        pieces.append((0 if turn.speaker == "agent" else 1, start, samples))
        truth_turns.append(
            {
                "speaker": turn.speaker,
                "start_s": round(start, 2),
                "end_s": round(start + length, 2),
                "text": turn.text,
            }
        )
        if turn.speaker == "agent":
            longest = max(longest, length)
        previous_cut_off = turn.speaker == "customer" and turn.text.rstrip().endswith(
            ("...", "…", "-", "—")
        )
        previous_start = start
        at = max(at, start + length + GAP_S)
    total = int((at + 0.5) * RATE)
    stereo = np.zeros((total, 2), dtype=np.float32)
    for channel, start, samples in pieces:
        a = int(start * RATE)
        stereo[a : a + len(samples), channel] += samples[: total - a]
    if mono:
        stereo = np.clip(stereo.sum(axis=1, keepdims=True), -1, 1)
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(stereo, -1, 1), RATE, format="WAV", subtype="PCM_16")
    return telephone(buffer.getvalue()), Truth(truth_turns, holds, overlaps, longest)


def render_cached(
    transcript: rules.Transcript, lang: str, cache_dir: Path, *, mono: bool = False
) -> tuple[Path, Truth]:
    """:func:`render`, kept in ``cache_dir`` under a hash of the conversation and voices."""
    key = hashlib.sha256(
        json.dumps(
            [
                VERSION,
                lang,
                mono,
                VOICES[lang],
                [(t.speaker, t.text, t.start_s, t.end_s) for t in transcript.turns],
            ]
        ).encode()
    ).hexdigest()[:24]
    cache_dir.mkdir(parents=True, exist_ok=True)
    wav, meta = cache_dir / f"{key}.wav", cache_dir / f"{key}.json"
    if wav.exists() and meta.exists():
        data = json.loads(meta.read_text(encoding="utf-8"))
        return wav, Truth(
            data["turns"],
            [tuple(h) for h in data["holds"]],
            [tuple(o) for o in data["overlaps"]],
            data["longest_agent_s"],
        )
    data_bytes, truth = render(transcript, lang, mono=mono)
    meta.write_text(json.dumps(truth.__dict__), encoding="utf-8")
    wav.write_bytes(data_bytes)
    return wav, truth
