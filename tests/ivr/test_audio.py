"""Prompts rendered with espeak-ng; lengths measured from the WAV files (C1)."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import pytest

from escucha.errors import ConfigurationError
from escucha.ivr import audio, service
from escucha.ivr.lint import lint
from escucha.ivr.rules import spoken_texts

from .helpers import build

pytestmark = pytest.mark.skipif(
    not Path("/usr/bin/espeak-ng").exists(),
    reason="espeak-ng is not installed (Debian package espeak-ng; `make` installs it)",
)


def test_render_measures_the_wav(tmp_path: Path) -> None:
    short = audio.render_text("Para facturas, pulse 1.", "es", rate_wps=2.6, cache_dir=tmp_path)
    long = audio.render_text(
        "Para facturas, pulse 1. Para averías, pulse 2. Para hablar con una persona, pulse 0.",
        "es",
        rate_wps=2.6,
        cache_dir=tmp_path,
    )
    with wave.open(str(short.path), "rb") as wav:
        assert wav.getnframes() > 0
    assert 0.5 < short.duration_s < long.duration_s < 20
    assert short.voice == "es"
    assert short.rate_wpm == 156


def test_slower_rate_takes_longer(tmp_path: Path) -> None:
    text = "Para hablar con una persona, pulse 0."
    fast = audio.render_text(text, "es", rate_wps=3.5, cache_dir=tmp_path)
    slow = audio.render_text(text, "es", rate_wps=2.0, cache_dir=tmp_path)
    assert slow.duration_s > fast.duration_s


def test_cache_reuses_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = audio.render_text(
        "To speak to a person, press 0.", "en", rate_wps=2.5, cache_dir=tmp_path
    )

    def no_espeak() -> str:
        raise ConfigurationError("espeak-ng must not run for a cached prompt")

    monkeypatch.setattr(audio, "espeak_path", no_espeak)
    again = audio.render_text(
        "To speak to a person, press 0.", "en", rate_wps=2.5, cache_dir=tmp_path
    )
    assert again.path == first.path
    assert again.duration_s == first.duration_s
    with pytest.raises(ConfigurationError):
        audio.render_text("Something new.", "en", rate_wps=2.5, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.wav"))) == 1


def test_render_ivr_and_export_for_the_browser(tmp_path: Path) -> None:
    model = build()
    rendered = audio.render_ivr(model, cache_dir=tmp_path / "cache")
    assert len(rendered) == len(spoken_texts(model))
    index = audio.export(rendered, tmp_path / "out", title="Ejemplo")
    page = index.read_text(encoding="utf-8")
    assert page.count("<audio controls") == len(rendered)
    assert (tmp_path / "out" / "main.prompt.es.wav").is_file()
    durations = audio.durations_of(rendered)
    assert all(seconds > 0 for seconds in durations.values())


def test_lint_uses_measured_lengths(tmp_path: Path) -> None:
    model = build()
    durations = service.measure(model, tmp_path)
    assert lint(model, durations=durations) == []
    report = service.lint_file(
        service.example_path("banco"), measure_audio=True, cache_dir=tmp_path
    )
    assert report.measured
    assert report.ok


def test_missing_espeak_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(ConfigurationError, match="apt-get install espeak-ng"):
        audio.espeak_path()
