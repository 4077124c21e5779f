"""Prompts as audio: espeak-ng renders each text to WAV, and the length is measured from it.

The lint and the journey test use these measured durations instead of a word-rate estimate
(requirement C1: "listen to the greeting"). Files are cached by a hash of text, voice and rate,
so rendering an IVR again only synthesises what changed. WAV plays in any browser.

A prompt can also be *recorded*: a WAV uploaded in the IVR editor for one sentence in one
language (:func:`store_recorded`). Every line that says that sentence (the browser phone, a
PBX) plays the recording instead of the synthesised voice (:func:`prompt_audio`); once the text
changes, the recording no longer applies and the voice says it until it is recorded again.
Recordings are kept by their content's hash, so a new recording has a new name (a PBX's cache
of the old one is never played for it).
"""

from __future__ import annotations

import hashlib
import html
import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import resample_poly

from escucha import languages
from escucha.config import Settings
from escucha.errors import ConfigurationError, EscuchaError, InvalidInput
from escucha.ivr.rules import IvrModel, Loc, spoken_texts

ESPEAK = "espeak-ng"
#: espeak-ng voice per IVR language.
VOICES: dict[str, str] = {code: lang.voice for code, lang in languages.CATALOG.items()}


class AudioError(EscuchaError):
    status_code = 500
    code = "audio_error"


@dataclass(frozen=True)
class Rendered:
    """One text rendered to a WAV file."""

    path: Path
    duration_s: float
    language: str
    text: str
    voice: str
    rate_wpm: int


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt of an IVR rendered to audio, with where it comes from."""

    yaml_path: Loc
    node: str
    kind: str
    audio: Rendered


def espeak_path() -> str:
    """The espeak-ng executable, or a clear error naming the Debian package."""
    found = shutil.which(ESPEAK)
    if found is None:
        raise ConfigurationError(
            "espeak-ng is not installed: install the Debian package 'espeak-ng' "
            "(apt-get install espeak-ng)"
        )
    return found


def wav_duration_s(path: Path) -> float:
    """Length of a WAV file in seconds (frames / frame rate)."""
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        return wav.getnframes() / rate if rate else 0.0


def voice_for(language: str) -> str:
    return VOICES.get(language, VOICES.get(language.split("-")[0], "en-gb"))


def cache_key(text: str, voice: str, rate_wpm: int) -> str:
    digest = hashlib.sha256(f"{voice}\x00{rate_wpm}\x00{text}".encode()).hexdigest()
    return digest[:32]


def render_text(text: str, language: str, *, rate_wps: float, cache_dir: Path) -> Rendered:
    """Render ``text`` to ``cache_dir/<hash>.wav`` (reused when present) and measure it."""
    voice = voice_for(language)
    rate_wpm = max(80, min(450, round(rate_wps * 60)))
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"{cache_key(text, voice, rate_wpm)}.wav"
    if not target.exists():
        exe = espeak_path()
        fd, tmp_name = tempfile.mkstemp(suffix=".wav", dir=cache_dir)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            subprocess.run(  # noqa: S603 - fixed executable, text passed on stdin
                [exe, "-v", voice, "-s", str(rate_wpm), "-w", str(tmp), "--stdin"],
                input=text.encode("utf-8"),
                capture_output=True,
                check=True,
                timeout=60,
            )
            os.replace(tmp, target)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            tmp.unlink(missing_ok=True)
            detail = getattr(exc, "stderr", b"") or b""
            raise AudioError(
                f"espeak-ng could not render {text[:40]!r}: {exc} {detail.decode(errors='replace')}"
            ) from exc
    return Rendered(target, wav_duration_s(target), language, text, voice, rate_wpm)


def render_ivr(model: IvrModel, *, cache_dir: Path) -> list[RenderedPrompt]:
    """Render the greeting, every menu prompt and every message in every language."""
    out = []
    for spoken in spoken_texts(model):
        audio = render_text(
            spoken.text,
            spoken.language,
            rate_wps=model.rate_wps(spoken.language),
            cache_dir=cache_dir,
        )
        out.append(RenderedPrompt(spoken.path, spoken.node, spoken.kind, audio))
    return out


def durations_of(rendered: list[RenderedPrompt]) -> dict[tuple[str, str], float]:
    """``{(language, text): seconds}`` for the lint and the journey test."""
    return {(r.audio.language, r.audio.text): r.audio.duration_s for r in rendered}


def export(rendered: list[RenderedPrompt], out_dir: Path, *, title: str = "IVR") -> Path:
    """Copy the WAV files to ``out_dir`` with readable names and write an ``index.html``
    that plays each prompt in the browser. Returns the index path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for r in rendered:
        name = f"{r.node}.{r.kind}.{r.audio.language}.wav"
        shutil.copyfile(r.audio.path, out_dir / name)
        rows.append(
            "<tr>"
            f"<td>{html.escape(r.node)}</td><td>{html.escape(r.kind)}</td>"
            f"<td>{html.escape(r.audio.language)}</td><td>{r.audio.duration_s:.1f} s</td>"
            f"<td>{html.escape(r.audio.text)}</td>"
            f'<td><audio controls preload="none" src="{html.escape(name)}"></audio></td>'
            "</tr>"
        )
    page = (
        '<!doctype html><html lang="es"><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}td{padding:4px 8px;vertical-align:top}</style>"
        f"<h1>{html.escape(title)}</h1><table>"
        "<tr><th>nodo / node</th><th>tipo / kind</th><th>idioma / language</th>"
        "<th>duración / length</th><th>texto / text</th><th></th></tr>"
        + "".join(rows)
        + "</table></html>\n"
    )
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


# --- WAV as samples -------------------------------------------------------------------------


def read_mono(path: Path) -> tuple[np.ndarray[Any, Any], int]:
    """A 16-bit PCM WAV as mono samples (float, the channels averaged) and its rate."""
    with wave.open(str(path), "rb") as src:
        rate = src.getframerate()
        width = src.getsampwidth()
        channels = src.getnchannels()
        frames = src.readframes(src.getnframes())
    if width != 2:
        raise InvalidInput(f"{path.name}: {8 * width}-bit audio, not 16-bit")
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64)
    if channels > 1:
        samples = samples[: len(samples) // channels * channels].reshape(-1, channels).mean(axis=1)
    return samples, rate


def resampled(samples: np.ndarray[Any, Any], rate: int, to: int) -> np.ndarray[Any, Any]:
    if rate == to:
        return samples
    g = gcd(to, rate)
    return np.asarray(resample_poly(samples, to // g, rate // g))


def write_wav(path: Path, samples: np.ndarray[Any, Any], rate: int) -> None:
    """Mono 16-bit PCM, written whole or not at all."""
    pcm = np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes()
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as dst:
        dst.setnchannels(1)
        dst.setsampwidth(2)
        dst.setframerate(rate)
        dst.writeframes(pcm)
    tmp.replace(path)


# --- recorded prompts -----------------------------------------------------------------------

#: A recorded prompt is at most this long (the upload's size is bounded at the door).
RECORDED_MAX_S = 120.0
RECORDED_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)


def recorded_dir(settings: Settings) -> Path:
    """Where recorded prompts are kept (beside the outbox, like the rendered ones)."""
    return Path(settings.outbox_dir).parent / "ivr-recorded"


def rendered_dir(settings: Settings) -> Path:
    """Where espeak-ng's renderings are cached (shared by the editor and the phones)."""
    return Path(settings.outbox_dir).parent / "ivr-audio"


def recorded_key(text: str, language: str) -> str:
    """The name a recording of this sentence is found by."""
    return hashlib.sha256(f"recorded\x00{language}\x00{text}".encode()).hexdigest()[:32]


def recorded(text: str, language: str, folder: Path) -> Path | None:
    """The recording of this sentence in this language, if one was uploaded."""
    pointer = folder / f"{recorded_key(text, language)}.txt"
    try:
        name = pointer.read_text(encoding="ascii").strip()
    except OSError:
        return None
    path = folder / name
    return path if len(name) == 36 and path.is_file() else None


def recordable(text: str) -> bool:
    """Whether calls say this text the same every time (``{greeting}`` and the like change
    with the hour or the caller: the voice says those)."""
    return bool(text.strip()) and "{" not in text


def store_recorded(data: bytes, text: str, language: str, folder: Path) -> Rendered:
    """Keep ``data`` (a PCM WAV) as the recording of ``text`` in ``language``: stored as mono
    16-bit at its own rate, named by its content. A bad file is refused with the reason."""
    if not text.strip():
        raise InvalidInput("the prompt says nothing: write its text and save it first")
    if not recordable(text):
        raise InvalidInput("this text changes from call to call (a {…} in it): the voice says it")
    if not data:
        raise InvalidInput("file: choose a WAV file to upload")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(suffix=".upload", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tmp.write_bytes(data)
        try:
            samples, rate = read_mono(tmp)
        except (wave.Error, EOFError) as exc:
            raise InvalidInput(f"file: not a PCM WAV file ({exc})") from exc
    finally:
        tmp.unlink(missing_ok=True)
    if rate not in RECORDED_RATES:
        raise InvalidInput(f"file: a sample rate of {rate} Hz; use 8000 to 48000 Hz")
    seconds = len(samples) / rate
    if seconds < 0.2 or seconds > RECORDED_MAX_S:
        raise InvalidInput(
            f"file: {seconds:.1f} s long; a prompt lasts 0.2 to {RECORDED_MAX_S:g} s"
        )
    digest = hashlib.sha256(data).hexdigest()[:32]
    target = folder / f"{digest}.wav"
    if not target.exists():
        write_wav(target, samples, rate)
    pointer = folder / f"{recorded_key(text, language)}.txt"
    pointer.with_suffix(".tmp").write_text(target.name, encoding="ascii")
    pointer.with_suffix(".tmp").replace(pointer)
    return Rendered(target, wav_duration_s(target), language, text, "recorded", 0)


def forget_recorded(text: str, language: str, folder: Path) -> bool:
    """The sentence is said by the voice again; ``False`` when it had no recording."""
    pointer = folder / f"{recorded_key(text, language)}.txt"
    if not pointer.exists():
        return False
    pointer.unlink()
    return True


def prompt_audio(text: str, language: str, *, rate_wps: float, settings: Settings) -> Rendered:
    """What a line plays for this sentence: its recording when one was uploaded, else
    espeak-ng's rendering."""
    found = recorded(text, language, recorded_dir(settings))
    if found is not None:
        return Rendered(found, wav_duration_s(found), language, text, "recorded", 0)
    return render_text(text, language, rate_wps=rate_wps, cache_dir=rendered_dir(settings))


def joined(parts: list[Rendered], folder: Path) -> Path:
    """Several prompts one after another as one WAV (at the first one's rate), cached."""
    key = hashlib.sha256("\x00".join(p.path.name for p in parts).encode()).hexdigest()[:32]
    target = folder / f"{key}.wav"
    if not target.exists():
        rate = read_mono(parts[0].path)[1]
        pieces = [resampled(*read_mono(p.path), rate) for p in parts]
        folder.mkdir(parents=True, exist_ok=True)
        write_wav(target, np.concatenate(pieces), rate)
    return target
