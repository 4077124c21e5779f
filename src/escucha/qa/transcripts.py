"""Transcripts for quality assurance (C4): reading JSON, plain ``AGENTE:/CLIENTE:`` (or
``AGENT:/CUSTOMER:``) text and WebVTT into turns (:func:`parse_transcript`), and the text
helpers the detectors share (words, sentences, the language of a transcript).

**Turn indexes.** Turns are counted from 0 over every turn of the transcript, *hold markers
included*: a ``[ESPERA 01:10-02:05]`` line (or a JSON ``{"speaker": "hold"}`` item or a WebVTT
``[HOLD]`` cue) is a turn of speaker ``"hold"`` with no text. In a plain text transcript
without blank or comment lines, turn ``i`` is therefore line ``i + 1``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

Speaker = Literal["agent", "customer", "hold"]
Lang = Literal["es", "en"]
Format = Literal["json", "text", "vtt"]

LANGS: tuple[Lang, ...] = ("es", "en")
FORMATS: tuple[Format, ...] = ("json", "text", "vtt")


# --- Transcripts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One turn: who spoke, what was said, and when (seconds from the start) if known.

    A hold is a turn with ``speaker == "hold"``, empty text, and its start and end.
    """

    speaker: Speaker
    text: str = ""
    start_s: float | None = None
    end_s: float | None = None


@dataclass(frozen=True)
class Transcript:
    """A conversation as a sequence of turns; ``lang`` is the declared language, if any."""

    turns: tuple[Turn, ...]
    lang: Lang | None = None


class TranscriptError(ValueError):
    """A transcript that cannot be read; ``where`` is a line number or a JSON path."""

    def __init__(self, message: str, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


_SPEAKER_ALIASES: dict[str, Speaker] = {
    **dict.fromkeys(
        ("agent", "agente", "asesor", "asesora", "operador", "operadora", "operator"),
        "agent",
    ),
    **dict.fromkeys(
        ("customer", "cliente", "client", "caller", "llamante", "usuario", "usuaria"),
        "customer",
    ),
    **dict.fromkeys(("hold", "espera"), "hold"),
}


def speaker_of(label: str) -> Speaker | None:
    """``"AGENTE"`` -> ``"agent"``; ``None`` for a label that names nobody we know."""
    return _SPEAKER_ALIASES.get(label.strip().lower())


def parse_clock(value: str) -> float:
    """``"mm:ss"``, ``"h:mm:ss"`` or WebVTT ``"hh:mm:ss.ttt"`` -> seconds."""
    parts = value.strip().split(":")
    if not 2 <= len(parts) <= 3 or not all(parts):
        raise ValueError(f"not a time: {value!r}")
    seconds = float(parts[-1])
    minutes = int(parts[-2])
    hours = int(parts[0]) if len(parts) == 3 else 0
    if seconds >= 60 or minutes >= 60 or seconds < 0 or minutes < 0 or hours < 0:
        raise ValueError(f"not a time: {value!r}")
    return hours * 3600 + minutes * 60 + seconds


_TS = r"\d{1,2}:\d{2}(?::\d{2})?"
_HOLD_LINE = re.compile(
    rf"^\[\s*(?:espera|hold)(?:\s+(?P<start>{_TS})\s*[-–]\s*(?P<end>{_TS}))?\s*\]$",
    re.IGNORECASE,
)
_TURN_LINE = re.compile(
    rf"^(?:\[(?P<ts>{_TS})\]\s*)?(?P<who>[^\W\d_][^\W\d_ ]{{0,19}})\s*:\s*(?P<text>.*)$"
)


def parse_text(text: str) -> Transcript:
    """Plain text: one turn per line, ``SPEAKER: words``, an optional ``[mm:ss]`` first.

    Speakers are ``AGENTE``/``CLIENTE`` or ``AGENT``/``CUSTOMER`` (any case). A line
    ``[ESPERA mm:ss-mm:ss]`` or ``[HOLD mm:ss-mm:ss]`` (times optional) is a hold turn.
    Blank lines and lines starting with ``#`` are skipped; a line with no speaker continues
    the previous turn. An all-capitals label that is not a known speaker is an error.
    """
    turns: list[Turn] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"line {number}"
        hold = _HOLD_LINE.match(line)
        if hold:
            start = _clock_or_error(hold["start"], where)
            end = _clock_or_error(hold["end"], where)
            if start is not None and end is not None and end < start:
                raise TranscriptError("the hold ends before it starts", where)
            turns.append(Turn("hold", "", start, end))
            continue
        match = _TURN_LINE.match(line)
        speaker = speaker_of(match["who"]) if match else None
        if match and speaker in ("agent", "customer"):
            start = _clock_or_error(match["ts"], where)
            turns.append(Turn(speaker, match["text"].strip(), start, None))
            continue
        if match and (match["ts"] or match["who"].isupper()):
            raise TranscriptError(
                f"unknown speaker {match['who']!r}: use AGENTE/CLIENTE or AGENT/CUSTOMER",
                where,
            )
        if not turns or turns[-1].speaker == "hold":
            raise TranscriptError(
                "expected 'AGENTE:' / 'CLIENTE:' (or 'AGENT:' / 'CUSTOMER:') at the start",
                where,
            )
        last = turns[-1]
        turns[-1] = Turn(last.speaker, f"{last.text} {line}".strip(), last.start_s, None)
    if not turns:
        raise TranscriptError("the transcript has no turns")
    return Transcript(tuple(turns))


def _clock_or_error(value: str | None, where: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_clock(value)
    except ValueError as exc:
        raise TranscriptError(str(exc), where) from exc


def parse_json(text: str) -> Transcript:
    """JSON: ``{"lang": "es", "turns": [{"speaker", "text", "start", "end"}, ...]}``.

    A bare list of turns is accepted too. ``speaker`` is ``agent``/``customer``/``hold``
    (or ``agente``/``cliente``/``espera``); ``start``/``end`` are seconds (optional;
    ``start_s``/``end_s`` also accepted). A hold needs no text.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TranscriptError(exc.msg, f"line {exc.lineno}") from exc
    lang: Lang | None = None
    if isinstance(data, dict):
        raw_lang = data.get("lang")
        if raw_lang is not None:
            if raw_lang not in LANGS:
                raise TranscriptError(f"must be one of {', '.join(LANGS)}", "lang")
            lang = raw_lang
        data = data.get("turns")
        prefix = "turns"
    else:
        prefix = ""
    if not isinstance(data, list) or not data:
        raise TranscriptError("expected a non-empty list of turns", prefix or "<root>")
    turns = [_json_turn(item, f"{prefix}[{i}]") for i, item in enumerate(data)]
    return Transcript(tuple(turns), lang)


def _json_turn(item: Any, where: str) -> Turn:
    if not isinstance(item, dict):
        raise TranscriptError("expected an object", where)
    label = item.get("speaker")
    speaker = speaker_of(label) if isinstance(label, str) else None
    if speaker is None:
        raise TranscriptError(
            f"unknown speaker {label!r}: use agent, customer or hold", f"{where}.speaker"
        )
    times: list[float | None] = []
    for key in ("start", "end"):
        value = item.get(key, item.get(f"{key}_s"))
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or value < 0
        ):
            raise TranscriptError("must be a number of seconds >= 0", f"{where}.{key}")
        times.append(None if value is None else float(value))
    start, end = times
    if start is not None and end is not None and end < start:
        raise TranscriptError("ends before it starts", where)
    content = item.get("text", "")
    if not isinstance(content, str):
        raise TranscriptError("must be a string", f"{where}.text")
    if speaker != "hold" and not content.strip():
        raise TranscriptError("a spoken turn needs text", f"{where}.text")
    return Turn(speaker, content.strip() if speaker != "hold" else "", start, end)


_VTT_TIMING = re.compile(
    r"^(?P<start>(?:\d+:)?\d{2}:\d{2}\.\d{3})\s+-->\s+(?P<end>(?:\d+:)?\d{2}:\d{2}\.\d{3})"
)
_VTT_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+(?P<name>[^>]+)>")
_VTT_TAG = re.compile(r"</?[^>]+>")
_HOLD_CUE = re.compile(r"^\[\s*(?:espera|hold)\s*\]$", re.IGNORECASE)
_PREFIX = re.compile(r"^(?P<who>[^\W\d_][^\W\d_ ]{0,19})\s*:\s*(?P<text>.*)$")


def parse_vtt(text: str) -> Transcript:
    """WebVTT: each cue is a turn; a cue whose text is ``[ESPERA]``/``[HOLD]`` is a hold.

    The speaker comes from a voice tag (``<v Agente>``) or a ``CLIENTE:`` prefix. Voice
    names that are not ``agent``/``customer`` aliases (real names, say) are assigned by order
    of appearance: the first voice is the agent, the second the customer. Consecutive cues
    of the same speaker are merged into one turn.
    """
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or not lines[0].startswith("WEBVTT"):
        raise TranscriptError("a WebVTT file starts with 'WEBVTT'", "line 1")
    voices: dict[str, Speaker] = {}
    turns: list[Turn] = []
    i = 1
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        block_start = i
        block: list[str] = []
        while i < len(lines) and lines[i].strip():
            block.append(lines[i].strip())
            i += 1
        if block[0].startswith(("NOTE", "STYLE", "REGION")):
            continue
        timing_at = next((k for k, b in enumerate(block[:2]) if "-->" in b), None)
        where = f"line {block_start + 1 + (timing_at or 0)}"
        timing = _VTT_TIMING.match(block[timing_at]) if timing_at is not None else None
        if timing is None:
            raise TranscriptError("expected a cue timing 'hh:mm:ss.ttt --> hh:mm:ss.ttt'", where)
        start = parse_clock(timing["start"])
        end = parse_clock(timing["end"])
        payload = " ".join(block[(timing_at or 0) + 1 :]).strip()
        if _HOLD_CUE.match(_VTT_TAG.sub("", payload).strip()):
            turns.append(Turn("hold", "", start, end))
            continue
        speaker, words = _vtt_speaker(payload, voices, where)
        if turns and turns[-1].speaker == speaker:
            last = turns[-1]
            turns[-1] = Turn(speaker, f"{last.text} {words}".strip(), last.start_s, end)
        else:
            turns.append(Turn(speaker, words, start, end))
    if not turns:
        raise TranscriptError("the WebVTT file has no cues")
    return Transcript(tuple(turns))


def _vtt_speaker(payload: str, voices: dict[str, Speaker], where: str) -> tuple[Speaker, str]:
    voice = _VTT_VOICE.search(payload)
    words = _VTT_TAG.sub("", payload).strip()
    name: str | None = voice["name"].strip() if voice else None
    if name is None:
        prefix = _PREFIX.match(words)
        if prefix and speaker_of(prefix["who"]) in ("agent", "customer"):
            name, words = prefix["who"], prefix["text"].strip()
    if name is None:
        raise TranscriptError("cue without a speaker: use <v Agente> or 'CLIENTE:'", where)
    known = speaker_of(name)
    if known in ("agent", "customer"):
        return known, words
    key = name.lower()
    if key not in voices:
        taken = set(voices.values())
        if "agent" not in taken:
            voices[key] = "agent"
        elif "customer" not in taken:
            voices[key] = "customer"
        else:
            raise TranscriptError(f"a third voice {name!r}: only agent and customer", where)
    return voices[key], words


def detect_format(text: str) -> Format:
    """Guess the format from the content: ``WEBVTT`` header, a JSON value, or plain text."""
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith("WEBVTT"):
        return "vtt"
    first = head.splitlines()[0].strip() if head else ""
    if first.startswith(("{", "[")) and not _HOLD_LINE.match(first) and not _TURN_LINE.match(first):
        return "json"
    return "text"


def parse_transcript(text: str, fmt: Format | Literal["auto"] = "auto") -> Transcript:
    """Read a transcript in ``fmt`` (``"auto"`` guesses it with :func:`detect_format`)."""
    chosen = detect_format(text) if fmt == "auto" else fmt
    if chosen == "json":
        return parse_json(text)
    if chosen == "vtt":
        return parse_vtt(text)
    return parse_text(text)


# --- Text helpers ---------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def normalise(text: str) -> str:
    """Lower case, no accents, straight apostrophes: what the patterns are written against."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def word_count(text: str) -> int:
    """Number of words (a number or a contraction is one word)."""
    return len(_WORD.findall(text))


def sentences(text: str) -> list[str]:
    """Split a turn into sentences; a Spanish ``¿`` starts a new one."""
    parts = re.split(r"(?<=[.!?…])\s+|(?=¿)", text)
    return [p.strip() for p in parts if p and p.strip()]


def is_question(sentence: str) -> bool:
    """A sentence that asks: it ends with ``?`` or opens with ``¿``."""
    s = sentence.strip()
    return s.endswith("?") or s.startswith("¿")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOP_WORDS: dict[Lang, frozenset[str]] = {
    "es": _words(
        "de la que el en y a los se del las un por con una su para es al lo como mas pero sus "
        "le ya o este si porque esta entre cuando muy sin sobre tambien me hasta hay donde "
        "quien desde nos durante uno ni contra ese eso mi usted ustedes le les ha he puedo "
        "pues vale bueno gracias senor senora buenas buenos dias tardes noches digame "
        "favor esta estoy tiene tengo quiero llamo hola"
    ),
    "en": _words(
        "the and to of a in is you that it for on with as was have be at this are i my your "
        "me we they he she will can do not but what all so if or an by from just there "
        "would could should been has had our us its it's i'm i've i'll you're don't can't "
        "that's hello hi thanks thank please good morning afternoon evening want calling "
        "yes okay"
    ),
}


def detect_language(transcript: Transcript) -> Lang:
    """``"es"`` or ``"en"``: the declared language, else the one whose common words occur
    most in the transcript (Spanish on a tie)."""
    if transcript.lang is not None:
        return transcript.lang
    words = _WORD.findall(normalise(" ".join(t.text for t in transcript.turns)))
    es = sum(1 for w in words if w in STOP_WORDS["es"])
    en = sum(1 for w in words if w in STOP_WORDS["en"])
    return "en" if en > es else "es"
