"""Speech-to-text engines behind one interface.

* ``pocketsphinx``: offline English; the PyPI wheel ships the en-us model, nothing is
  downloaded at run time. By default it decodes with a contact-centre language model
  (:mod:`escucha.speech.lm`, ADR 32) written from escucha's own text on first use.
* ``vosk``: a self-hosted Vosk server over WebSocket (``ws://host:2700``). Protocol: send
  ``{"config": {"sample_rate": 16000}}``, then 16-bit PCM in binary messages (the server
  answers each with a JSON ``partial`` or ``text`` result), then ``{"eof": 1}``; the server
  answers with the final ``text`` and closes.
* ``whisper``: a self-hosted whisper.cpp server over HTTP: ``POST /inference`` with a
  multipart ``file`` (WAV), ``response_format=json``, ``language``; it answers ``{"text"}``.

Each engine turns one utterance (16 kHz mono 16-bit PCM) into text. Which engine serves which
language, and at which address, comes from the settings (``ESCUCHA_SPEECH_ENGINE``,
``ESCUCHA_SPEECH_ENGINE_ES``, ``ESCUCHA_SPEECH_URL``, ``ESCUCHA_SPEECH_URL_ES``, ...).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
import threading
import wave
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx

from escucha.config import Settings
from escucha.errors import ConfigurationError, EscuchaError
from escucha.speech import lm

EngineName = Literal["pocketsphinx", "vosk", "whisper"]
ENGINES: tuple[EngineName, ...] = ("pocketsphinx", "vosk", "whisper")
RATE = 16_000
#: Bytes of PCM per WebSocket message to a Vosk server (0.25 s).
CHUNK = RATE // 4 * 2


class SpeechEngineError(EscuchaError):
    """The engine or speech server failed; a job retries later."""

    status_code = 502
    code = "speech_engine_error"


class Engine(Protocol):
    """Turns one utterance into text."""

    @property
    def name(self) -> str: ...

    def transcribe(self, pcm16: bytes, lang: str) -> str:
        """``pcm16``: 16 kHz mono little-endian 16-bit PCM."""
        ...

    def for_recording(self) -> Engine:
        """The engine to transcribe one recording with (one without state left by others)."""
        ...


LanguageModel = Literal["contact_centre", "general"]
#: pocketsphinx's language weight (its default 6.5): measured on the development calls of the
#: recorded set, 9 trusts the language model more and cut word errors with either model
#: (ADR 32), and decodes faster.
LANGUAGE_WEIGHT = 9.0
#: pocketsphinx's log base (``-logbase``): its probabilities are ``1.0001 ** value``.
_LOGBASE = math.log(1.0001)
#: What ``NGramModel.prob`` answers for a word the model does not know.
_UNKNOWN = -536870912


def _model_file(*parts: str) -> str:
    import pocketsphinx

    return os.path.join(pocketsphinx.get_model_path(), "en-us", *parts)


def _dictionary_words() -> frozenset[str]:
    words: set[str] = set()
    with open(_model_file("cmudict-en-us.dict"), encoding="utf-8") as handle:
        for line in handle:
            word = line.split(" ", 1)[0]
            words.add(word.split("(", 1)[0])
    return frozenset(words)


@cache
def contact_centre_lm(weight: float) -> str:
    """The path of the contact-centre model (:mod:`escucha.speech.lm`), written once into
    the temporary directory under a hash of its text, weight and the general model."""
    from pocketsphinx import NGramModel

    sentences = lm.domain_sentences("en")
    general_path = _model_file("en-us.lm.bin")
    key = hashlib.sha256(
        json.dumps([lm.VERSION, weight, sentences, os.path.getsize(general_path)]).encode()
    ).hexdigest()[:20]
    target = Path(tempfile.gettempdir()) / "escucha-speech-lm" / f"en-{key}.arpa"
    if target.is_file():
        return str(target)
    general_model = NGramModel.readfile(general_path)
    known = _dictionary_words()
    general: dict[str, float] = {}
    for word in known:
        value = general_model.prob([word])
        if value > _UNKNOWN:
            general[word] = math.exp(value * _LOGBASE)
    text = lm.build_arpa(sentences, general, weight=weight, known=known)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)
    return str(target)


class PocketsphinxEngine:
    """Offline English with the model inside the pocketsphinx wheel, and by default the
    contact-centre language model (``language_model="general"``: the wheel's own)."""

    name = "pocketsphinx"

    def __init__(
        self, language_model: LanguageModel = "contact_centre", lm_weight: float = 0.5
    ) -> None:
        self._lock = threading.Lock()
        self._decoder: Any = None
        self._cmn = ""
        self.language_model = language_model
        self.lm_weight = lm_weight

    def _load(self) -> Any:
        if self._decoder is None:
            try:
                from pocketsphinx import Decoder
            except ImportError as exc:  # pragma: no cover - a dependency of escucha
                raise ConfigurationError("pocketsphinx is not installed") from exc
            extra: dict[str, Any] = {"lw": LANGUAGE_WEIGHT}
            if self.language_model == "contact_centre":
                extra["lm"] = contact_centre_lm(self.lm_weight)
            decoder = Decoder(samprate=RATE, loglevel="FATAL", **extra)
            # Cepstral mean normalisation adapts from one utterance to the next; start every
            # utterance from the model's initial estimate, after one utterance of silence that
            # sets the rest of the decoder's state, so a recording is transcribed the same
            # way whatever was decoded before it.
            self._cmn = decoder.get_cmn()
            decoder.start_utt()
            decoder.process_raw(bytes(RATE), full_utt=True)
            decoder.end_utt()
            self._decoder = decoder
        return self._decoder

    def for_recording(self) -> PocketsphinxEngine:
        """A decoder of its own: pocketsphinx adapts to what it heard, so each recording
        starts afresh and is transcribed the same way whatever came before (0.5 s to load)."""
        return PocketsphinxEngine(self.language_model, self.lm_weight)

    def transcribe(self, pcm16: bytes, lang: str) -> str:
        if lang != "en":
            raise ConfigurationError(
                f"pocketsphinx has no offline model for {lang!r}: serve it through a speech "
                f"server (ESCUCHA_SPEECH_ENGINE_{lang.upper()}=vosk or whisper and "
                f"ESCUCHA_SPEECH_URL_{lang.upper()})"
            )
        with self._lock:
            decoder = self._load()
            decoder.set_cmn(self._cmn)
            decoder.start_utt()
            decoder.process_raw(pcm16, full_utt=True)
            decoder.end_utt()
            hyp = decoder.hyp()
            return "" if hyp is None else str(hyp.hypstr).strip()


@dataclass(frozen=True)
class VoskEngine:
    """A Vosk server over WebSocket (``ws://`` or ``wss://``)."""

    url: str
    timeout_s: float = 60.0
    name: str = "vosk"

    def for_recording(self) -> VoskEngine:
        return self

    def transcribe(self, pcm16: bytes, lang: str) -> str:
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect

        texts: list[str] = []
        try:
            with connect(self.url, open_timeout=self.timeout_s, close_timeout=5) as ws:
                ws.send(json.dumps({"config": {"sample_rate": RATE}}))
                for at in range(0, len(pcm16), CHUNK):
                    ws.send(pcm16[at : at + CHUNK])
                    _collect(ws.recv(timeout=self.timeout_s), texts, self.url)
                ws.send('{"eof" : 1}')
                _collect(ws.recv(timeout=self.timeout_s), texts, self.url)
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise SpeechEngineError(f"Vosk server {self.url}: {exc}") from exc
        return " ".join(t for t in texts if t).strip()


def _collect(message: str | bytes, texts: list[str], url: str) -> None:
    try:
        data = json.loads(message)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpeechEngineError(f"Vosk server {url}: not a JSON answer: {message[:80]!r}") from exc
    if not isinstance(data, dict):
        raise SpeechEngineError(f"Vosk server {url}: expected an object, got {data!r:.80}")
    text = data.get("text")
    if isinstance(text, str):
        texts.append(text.strip())


@dataclass(frozen=True)
class WhisperServerEngine:
    """A whisper.cpp server (``POST {url}/inference``)."""

    url: str
    timeout_s: float = 120.0
    name: str = "whisper"

    def for_recording(self) -> WhisperServerEngine:
        return self

    def transcribe(self, pcm16: bytes, lang: str) -> str:
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(pcm16)
        endpoint = self.url.rstrip("/")
        if not endpoint.endswith("/inference"):
            endpoint += "/inference"
        try:
            response = httpx.post(
                endpoint,
                files={"file": ("utterance.wav", buffer.getvalue(), "audio/wav")},
                data={"response_format": "json", "language": lang, "temperature": "0.0"},
                timeout=self.timeout_s,
            )
        except httpx.HTTPError as exc:
            raise SpeechEngineError(f"whisper server {endpoint}: {exc}") from exc
        if response.status_code != 200:
            raise SpeechEngineError(
                f"whisper server {endpoint}: HTTP {response.status_code}: {response.text[:200]}"
            )
        try:
            data = response.json()
        except ValueError as exc:
            raise SpeechEngineError(f"whisper server {endpoint}: not JSON") from exc
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str):
            raise SpeechEngineError(f"whisper server {endpoint}: no 'text' in {data!r:.80}")
        return text.strip()


@cache
def _pocketsphinx(language_model: LanguageModel, lm_weight: float) -> PocketsphinxEngine:
    return PocketsphinxEngine(language_model, lm_weight)


def engine_for(settings: Settings, lang: str) -> Engine:
    """The engine configured for ``lang``: ``ESCUCHA_SPEECH_ENGINE_<LANG>`` (else
    ``ESCUCHA_SPEECH_ENGINE``) at ``ESCUCHA_SPEECH_URL_<LANG>`` (else ``ESCUCHA_SPEECH_URL``)."""
    name = getattr(settings, f"speech_engine_{lang}", "") or settings.speech_engine
    url = getattr(settings, f"speech_url_{lang}", "") or settings.speech_url
    if name == "pocketsphinx":
        if lang != "en":
            raise ConfigurationError(
                f"no offline speech model for {lang!r}: set ESCUCHA_SPEECH_ENGINE_"
                f"{lang.upper()} to vosk or whisper and ESCUCHA_SPEECH_URL_{lang.upper()} "
                "to your speech server"
            )
        return _pocketsphinx(
            settings.speech_pocketsphinx_lm, settings.speech_pocketsphinx_lm_weight
        )
    if not url:
        raise ConfigurationError(
            f"speech engine {name!r} for {lang!r} needs ESCUCHA_SPEECH_URL_{lang.upper()} "
            "(or ESCUCHA_SPEECH_URL)"
        )
    if name == "vosk":
        if not url.startswith(("ws://", "wss://")):
            raise ConfigurationError(f"a Vosk server URL starts with ws:// or wss://: {url!r}")
        return VoskEngine(url)
    if name == "whisper":
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"a whisper.cpp server URL starts with http:// or https://: {url!r}"
            )
        return WhisperServerEngine(url)
    raise ConfigurationError(f"unknown speech engine {name!r}: one of {', '.join(ENGINES)}")
