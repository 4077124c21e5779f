"""Browser-like recordings for tests: a WAV re-encoded as WebM/Opus or Ogg/Opus with PyAV (at
48 kHz, as a browser's ``MediaRecorder`` writes them), keeping its channels."""

from __future__ import annotations

import io

import av
import numpy as np
import soundfile as sf

from escucha.speech import audio as A

RATE = 48_000


def encode(channels: list[A.Samples], rate: int, *, fmt: str = "webm") -> bytes:
    """``channels`` (equal lengths, at ``rate``) as Opus in a ``webm`` or ``ogg`` container."""
    planar = np.stack([A.resample(c, rate, RATE) for c in channels]).astype(np.float32)
    layout = "stereo" if len(channels) == 2 else "mono"
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt) as out:
        stream = out.add_stream("libopus", rate=RATE, layout=layout)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(planar), format="fltp", layout=layout
        )
        frame.rate = RATE
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def from_wav(data: bytes, *, fmt: str = "webm") -> bytes:
    """A WAV file (any channels) re-encoded as Opus in ``fmt``."""
    frames, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return encode([frames[:, k] for k in range(frames.shape[1])], int(rate), fmt=fmt)
