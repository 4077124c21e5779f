"""Recordings made at test time with espeak-ng and sox, once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from escucha.qa import rules
from escucha.speech import synth

SHORT_EN = """\
AGENT: Good morning, thank you for calling, this is Sam speaking. How can I help?
CUSTOMER: Hello, my internet stopped working this morning.
AGENT: I am sorry about that. The line looks fine from here.
[HOLD 00:10-00:20]
AGENT: Thank you for waiting. An engineer will call you today before five.
CUSTOMER: Thank you, goodbye.
"""

SHORT_ES = """\
AGENTE: Buenos días, le atiende Marta. ¿En qué puedo ayudarle?
CLIENTE: Hola, no tengo internet desde esta mañana...
AGENTE: Lo siento mucho. ¿Desde qué hora no funciona?
CLIENTE: Desde las ocho.
AGENTE: Un técnico le llamará hoy antes de las cinco. Para resumir: hoy antes de las cinco.
"""


@pytest.fixture(scope="session")
def speech_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech-recordings")


@pytest.fixture(scope="session")
def short_en(speech_cache: Path) -> tuple[Path, synth.Truth]:
    return synth.render_cached(rules.parse_text(SHORT_EN), "en", speech_cache)


@pytest.fixture(scope="session")
def short_es(speech_cache: Path) -> tuple[Path, synth.Truth]:
    return synth.render_cached(rules.parse_text(SHORT_ES), "es", speech_cache)
