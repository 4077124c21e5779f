"""Prompts as audio: espeak-ng renders each text to WAV, and the length is measured from it.

The lint and the journey test use these measured durations instead of a word-rate estimate
(requirement C1: "listen to the greeting"). Files are cached by a hash of text, voice and rate,
so rendering an IVR again only synthesises what changed. WAV plays in any browser.
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
from pathlib import Path

from escucha import languages
from escucha.errors import ConfigurationError, EscuchaError
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
