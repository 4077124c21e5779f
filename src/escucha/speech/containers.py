"""Compressed recordings: WebM and Ogg (Opus, Vorbis), as browsers' ``MediaRecorder`` writes
them (the agent's desk records web calls in WebM/Opus, ADR 15), decoded with PyAV (FFmpeg's
libraries, shipped in its wheel).

The channels are kept: the desk records the agent on channel 0 and the customer on channel 1.
A two-channel file whose channels carry the same sound (a mix copied to both, as the desk
recorded before it kept the sides apart) is one mixed channel, so that the voices are told
apart on it as on any mono recording.
"""

from __future__ import annotations

import io

import av
import numpy as np
from numpy.typing import NDArray

#: The first bytes of a Matroska/WebM file (its EBML header) and of an Ogg file.
WEBM_MAGIC = b"\x1a\x45\xdf\xa3"
OGG_MAGIC = b"OggS"
#: Two channels whose difference is this far below their level are one sound (about -40 dB).
SAME_SOUND_RATIO = 0.01


class ContainerError(ValueError):
    """A WebM or Ogg file that cannot be decoded; the message says why."""


def is_container(data: bytes) -> bool:
    """Whether ``data`` starts like a WebM (Matroska) or Ogg file."""
    return data[:4] in (WEBM_MAGIC, OGG_MAGIC)


def media_type(data: bytes) -> str:
    """The media type of a recording by its first bytes (``audio/wav`` for anything else)."""
    if data[:4] == WEBM_MAGIC:
        return "audio/webm"
    if data[:4] == OGG_MAGIC:
        return "audio/ogg"
    return "audio/wav"


def decode(data: bytes) -> tuple[NDArray[np.float32], int, str]:
    """Decode the first audio stream of a WebM or Ogg file: ``(frames, rate, codec)`` with
    ``frames`` of shape ``(samples, channels)``, ``float32`` in [-1, 1].

    A file cut short (a desk that crashed mid-piece) gives the sound before the cut.
    """
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError) as exc:
        raise ContainerError(f"not a readable WebM or Ogg file ({exc})") from exc
    with container:
        if not container.streams.audio:
            raise ContainerError("the file holds no audio stream")
        stream = container.streams.audio[0]
        codec = stream.codec_context.name
        rate = int(stream.rate or 0)
        resampler = av.AudioResampler(format="fltp")
        blocks: list[NDArray[np.float32]] = []
        try:
            for frame in container.decode(stream):
                rate = int(frame.sample_rate or rate)
                for out in resampler.resample(frame):
                    blocks.append(out.to_ndarray().astype(np.float32, copy=False))
        except (av.error.FFmpegError, ValueError) as exc:
            if not blocks:
                raise ContainerError(f"the {codec} audio cannot be decoded ({exc})") from exc
    if not blocks:
        return np.zeros((0, 1), dtype=np.float32), rate, codec
    if len({b.shape[0] for b in blocks}) > 1:  # the layout changed mid-stream: mix it down
        blocks = [b.mean(axis=0, keepdims=True, dtype=np.float32) for b in blocks]
    planar = np.concatenate(blocks, axis=1)
    return one_sound(np.clip(planar.T, -1.0, 1.0)), rate, codec


def one_sound(frames: NDArray[np.float32]) -> NDArray[np.float32]:
    """Two channels that carry the same sound become one; other frames are kept as they are."""
    if frames.ndim != 2 or frames.shape[1] != 2 or frames.shape[0] == 0:
        return frames
    left, right = frames[:, 0].astype(np.float64), frames[:, 1].astype(np.float64)
    level = float(np.sqrt(np.mean(left * left + right * right) / 2))
    apart = float(np.sqrt(np.mean((left - right) ** 2)))
    if level == 0.0 or apart <= SAME_SOUND_RATIO * level:
        mixed: NDArray[np.float32] = ((left + right) / 2).astype(np.float32)[:, None]
        return mixed
    return frames
