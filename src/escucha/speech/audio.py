"""Telephone audio: read WAV files (PCM, float, G.711 mu-law and A-law) and browsers'
recordings (WebM and Ogg, :mod:`escucha.speech.containers`), resample, measure clipping and
find where someone speaks.

Pure: NumPy, SciPy and the standard library, plus ``soundfile`` (libsndfile) and PyAV to decode.
Every function takes samples as ``float32`` in [-1, 1].
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import soundfile as sf
from numpy.typing import NDArray
from scipy.signal import resample_poly

from escucha.speech import containers

Samples = NDArray[np.float32]

#: The rate engines are fed (the pocketsphinx model's and the usual server's).
ENGINE_RATE = 16_000
#: A sample at or above this magnitude counts as clipped.
CLIP_LEVEL = 0.999


class AudioFormatError(ValueError):
    """Audio that cannot be read; the message says what was found and what is accepted."""


@dataclass(frozen=True)
class Audio:
    """Decoded audio: ``channels`` arrays of equal length at ``rate`` Hz."""

    channels: tuple[Samples, ...]
    rate: int
    subtype: str  # PCM_16, ULAW, ALAW, FLOAT, ...

    @property
    def duration_s(self) -> float:
        return len(self.channels[0]) / self.rate if self.channels else 0.0


def read_audio(data: bytes, *, name: str = "<audio>") -> Audio:
    """Decode a WAV (or FLAC), WebM or Ogg file held in ``data``.

    G.711 (mu-law, A-law) WAV files as telephone systems write them decode like PCM.
    """
    if not data:
        raise AudioFormatError(f"{name}: the file is empty")
    try:
        if containers.is_container(data):
            frames, rate, subtype = containers.decode(data)
        else:
            with sf.SoundFile(io.BytesIO(data)) as handle:
                subtype = handle.subtype
                frames = handle.read(dtype="float32", always_2d=True)
                rate = int(handle.samplerate)
    except containers.ContainerError as exc:
        raise AudioFormatError(f"{name}: {exc}") from exc
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioFormatError(
            f"{name}: not a readable audio file ({exc}); expected WAV (PCM, mu-law or A-law)"
        ) from exc
    if frames.shape[0] == 0:
        raise AudioFormatError(f"{name}: the recording has no samples")
    if frames.shape[1] > 2:
        raise AudioFormatError(
            f"{name}: {frames.shape[1]} channels; expected 1 (mono) or 2 (agent, customer)"
        )
    if rate < 8000:
        raise AudioFormatError(f"{name}: sample rate {rate} Hz; at least 8000 Hz is needed")
    channels = tuple(
        np.ascontiguousarray(frames[:, k], dtype=np.float32) for k in range(frames.shape[1])
    )
    return Audio(channels, rate, subtype)


def resample(samples: Samples, rate: int, target: int = ENGINE_RATE) -> Samples:
    """Polyphase resampling (``scipy.signal.resample_poly``): 8 kHz -> 16 kHz is up by 2."""
    if rate == target:
        return samples
    ratio = Fraction(target, rate).limit_denominator(1000)
    out = resample_poly(samples.astype(np.float64), ratio.numerator, ratio.denominator)
    clipped: Samples = np.clip(out, -1.0, 1.0).astype(np.float32)
    return clipped


def to_pcm16(samples: Samples) -> bytes:
    """Little-endian signed 16-bit PCM, as engines and speech servers take it."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def clipped_share(samples: Samples) -> float:
    """Share of samples at full scale: above ~0.1 % the recording level was too high."""
    if samples.size == 0:
        return 0.0
    return float(np.count_nonzero(np.abs(samples) >= CLIP_LEVEL)) / samples.size


def level_dbfs(samples: Samples) -> float:
    """RMS level in dB below full scale (``-inf`` for digital silence)."""
    if samples.size == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20 * math.log10(rms) if rms > 0 else -math.inf


@dataclass(frozen=True)
class Segment:
    """Speech from ``start_s`` to ``end_s`` (seconds from the start of the recording)."""

    start_s: float
    end_s: float

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class VadSettings:
    """Energy voice activity detection.

    A frame is speech when its level is ``margin_db`` above the channel's noise floor (the
    ``floor_percentile`` of frame levels) and above ``min_dbfs``. Speech runs closer than
    ``bridge_s`` join; runs shorter than ``min_speech_s`` are dropped (clicks, breaths).
    """

    frame_s: float = 0.02
    margin_db: float = 15.0
    min_dbfs: float = -45.0
    floor_percentile: float = 10.0
    bridge_s: float = 0.35
    min_speech_s: float = 0.15


def frame_levels(samples: Samples, rate: int, frame_s: float) -> NDArray[np.float64]:
    """Level of each frame in dBFS (``-120`` for digital silence)."""
    size = max(1, round(rate * frame_s))
    count = len(samples) // size
    if count == 0:
        return np.zeros(0)
    frames = samples[: count * size].astype(np.float64).reshape(count, size)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    with np.errstate(divide="ignore"):
        levels = 20 * np.log10(rms)
    floored: NDArray[np.float64] = np.maximum(levels, -120.0)
    return floored


def speech_segments(samples: Samples, rate: int, vad: VadSettings | None = None) -> list[Segment]:
    """Where the channel holds speech, by frame energy against its own noise floor."""
    vad = vad or VadSettings()
    levels = frame_levels(samples, rate, vad.frame_s)
    if levels.size == 0:
        return []
    floor = float(np.percentile(levels, vad.floor_percentile))
    threshold = max(floor + vad.margin_db, vad.min_dbfs)
    active = levels > threshold
    runs: list[list[float]] = []
    start: int | None = None
    for i, on in enumerate(active.tolist()):
        if on and start is None:
            start = i
        elif not on and start is not None:
            runs.append([start * vad.frame_s, i * vad.frame_s])
            start = None
    if start is not None:
        runs.append([start * vad.frame_s, len(active) * vad.frame_s])
    merged: list[list[float]] = []
    for run in runs:
        if merged and run[0] - merged[-1][1] <= vad.bridge_s:
            merged[-1][1] = run[1]
        else:
            merged.append(run)
    return [Segment(round(a, 3), round(b, 3)) for a, b in merged if b - a >= vad.min_speech_s]


def join_segments(segments: list[Segment], gap_s: float) -> list[Segment]:
    """Join segments closer than ``gap_s``: the pauses inside a turn."""
    out: list[Segment] = []
    for seg in segments:
        if out and seg.start_s - out[-1].end_s <= gap_s:
            out[-1] = Segment(out[-1].start_s, seg.end_s)
        else:
            out.append(seg)
    return out


def cut(samples: Samples, rate: int, segment: Segment, pad_s: float = 0.1) -> Samples:
    """The samples of ``segment`` with ``pad_s`` of context either side."""
    a = max(0, int((segment.start_s - pad_s) * rate))
    b = min(len(samples), math.ceil((segment.end_s + pad_s) * rate))
    return samples[a:b]


def pitch_hz(samples: Samples, rate: int) -> float | None:
    """Median fundamental frequency of the voiced frames (autocorrelation), ``None`` if
    nothing voiced: used to tell two voices apart on a mono recording."""
    size = int(rate * 0.04)
    hop = size // 2
    low, high = int(rate / 400), int(rate / 60)
    found: list[float] = []
    for i in range(0, len(samples) - size, hop):
        frame = samples[i : i + size].astype(np.float64)
        frame = frame - frame.mean()
        energy = float(np.dot(frame, frame))
        if energy < 1e-4:
            continue
        corr = np.correlate(frame, frame, mode="full")[size - 1 :]
        if high >= len(corr):
            continue
        lag = low + int(np.argmax(corr[low:high]))
        if corr[lag] / corr[0] > 0.5:
            found.append(rate / lag)
    return float(np.median(found)) if found else None
