"""Customer messages that state a concrete time, in every language of the catalog (P1, P2, P3,
C3, W6).

Every message a customer receives about a commitment names the local date and time in the
customer's time zone: "Le llamaremos mañana antes de las 10:30", "We will call you on Monday
23 November before 10:30" — never "lo antes posible" or "as soon as possible". Rendering
refuses a text that contains a vague phrase (also in free text such as a reason typed by an
agent) with :class:`VaguePromiseError`; screens can check early with
:func:`find_vague_phrases`.

Templates are Jinja2 text files ``templates/<kind>.<lang>.txt`` with three blocks:
``subject``, ``body`` (email) and ``sms`` (one short paragraph). Inside them:

* ``when(at)`` — "hoy antes de las 10:30" / "today before 10:30", "mañana ..." /
  "tomorrow ...", otherwise "el lunes 23 de noviembre antes de las 10:30" / "on Monday 23
  November before 10:30" (with the year when it is not the current one). A due time at local
  midnight reads as the end of the previous day: "el lunes 23 de noviembre antes de las 24:00".
* ``between(start, end)`` — "mañana entre las 10:00 y las 10:30".
* ``day(at)`` — "lunes 23 de noviembre"; ``hhmm(at)`` — "10:30".

Dates are formatted with Babel in the customer's locale and time zone. ``greeting`` is "Buenos
días" / "Good afternoon" / "Bona nit" by the hour in the customer's zone. The languages are those
of :mod:`escucha.languages` (Catalan: "demà abans de les 10:30"); said aloud (``speech=True``,
the IVR) Catalan clock times are words: "avui abans de les deu i mitja del matí".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from escucha import languages
from escucha.errors import InvalidInput
from escucha.promises.rules import concrete_deadline

__all__ = [
    "LANGUAGES",
    "REQUIRED_FIELDS",
    "VAGUE_PHRASES",
    "Message",
    "MessageKind",
    "VaguePromiseError",
    "at_phrase",
    "find_vague_phrases",
    "greeting_phrase",
    "render_message",
    "when_phrase",
]

TEMPLATES_DIR = Path(__file__).with_name("templates")
LANGUAGES: tuple[str, ...] = languages.CODES


class MessageKind(StrEnum):
    TICKET_ACK = "ticket_ack"
    COMPLAINT_ACK = "complaint_ack"
    CALLBACK_CONFIRMATION = "callback_confirmation"
    CALLBACK_RESCHEDULED = "callback_rescheduled"
    PROMISE_CHANGED = "promise_changed"
    WRAPUP_RECAP = "wrapup_recap"
    EMAIL_AUTO_ACK = "email_auto_ack"
    APPEAL_RECEIVED = "appeal_received"


REQUIRED_FIELDS: Mapping[MessageKind, frozenset[str]] = {
    MessageKind.TICKET_ACK: frozenset({"number", "verification_code", "due", "status_url"}),
    MessageKind.COMPLAINT_ACK: frozenset({"number", "verification_code", "due", "status_url"}),
    MessageKind.CALLBACK_CONFIRMATION: frozenset({"due"}),
    MessageKind.CALLBACK_RESCHEDULED: frozenset({"due", "previous_due", "reason"}),
    MessageKind.PROMISE_CHANGED: frozenset({"number", "due", "previous_due", "reason"}),
    MessageKind.WRAPUP_RECAP: frozenset({"agreed", "due"}),
    MessageKind.EMAIL_AUTO_ACK: frozenset({"number", "verification_code", "due", "status_url"}),
    MessageKind.APPEAL_RECEIVED: frozenset({"number", "due", "status_url"}),
}
"""Fields each message needs. ``due`` is always the promised time (an aware datetime, not in
the past). Optional fields: ``name``, ``window_start`` (callbacks), ``ticket_kind``,
``description_missing`` (complaints), ``actions`` (wrap-up), ``appeal_to``, ``phone``,
``number`` (callbacks and wrap-up), ``label`` (what was promised) and ``status_url``."""

VAGUE_PHRASES: Mapping[str, tuple[str, ...]] = {
    "es": (
        "lo antes posible",
        "lo mas pronto posible",
        "cuanto antes",
        "en breve",
        "a la mayor brevedad",
        "proximamente",
        "en los proximos dias",
        "en unos dias",
        "en cuanto podamos",
    ),
    "en": (
        "as soon as possible",
        "asap",
        "shortly",
        "soon",
        "in due course",
        "in the coming days",
        "in a few days",
        "when we can",
    ),
    "ca": (
        "tan aviat com sigui possible",
        "al mes aviat possible",
        "tan bon punt puguem",
        "en breu",
        "properament",
        "en els propers dies",
        "en uns dies",
        "aviat",
    ),
}
"""Phrases that promise no time (compared without accents or case)."""


class VaguePromiseError(InvalidInput):
    """A customer message that would promise no concrete time."""

    code = "vague_promise"


@dataclass(frozen=True)
class Message:
    """A rendered message: ``subject`` and ``body_text`` for email, ``sms_text`` for SMS."""

    kind: MessageKind
    lang: str
    subject: str
    body_text: str
    sms_text: str


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def find_vague_phrases(text: str) -> tuple[str, ...]:
    """Vague time phrases found in ``text`` (either language)."""
    folded = _fold(text)
    found: list[str] = []
    for phrases in VAGUE_PHRASES.values():
        for phrase in phrases:
            if re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", folded):
                found.append(phrase)
    return tuple(found)


def _base_lang(lang: str | None) -> str:
    """``es-PE`` -> ``es``; a language the catalog lacks falls back to the default one."""
    return languages.resolve(lang)


def _locale(lang: str) -> Locale:
    base = _base_lang(lang)
    if languages.base(lang) == base and "-" in lang.replace("_", "-"):
        try:
            return Locale.parse(lang.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            pass
    return Locale.parse(languages.CATALOG[base].locale)


_DAY_PATTERN = {"es": "EEEE d 'de' MMMM", "en": "EEEE d MMMM", "ca": "EEEE d MMMM"}
_YEAR_SUFFIX = {"es": " 'de' y", "en": " y", "ca": " 'de' y"}
#: The words around dates and clock times, per language.
_WORDS: Mapping[str, Mapping[str, str]] = {
    "es": {
        "today": "hoy",
        "tomorrow": "mañana",
        "on": "el {day}",
        "before": "{on} antes de {clock}",
        "between": "{on} entre {a} y {b}",
        "at": "{on} a {clock}",
    },
    "en": {
        "today": "today",
        "tomorrow": "tomorrow",
        "on": "on {day}",
        "before": "{on} before {clock}",
        "between": "{on} between {a} and {b}",
        "at": "{on} at {clock}",
    },
    "ca": {
        "today": "avui",
        "tomorrow": "demà",
        "on": "el {day}",
        "before": "{on} abans de {clock}",
        "between": "{on} entre {a} i {b}",
        "at": "{on} a {clock}",
    },
}
#: Clock times with their article ("las 10:30", "la 1:30", "les 10:30"); English has none.
_ARTICLE: Mapping[str, tuple[str, str]] = {"es": ("la", "las"), "ca": ("la", "les")}


class _Phrases:
    """Date and time phrases for one message: language, locale, customer zone and now."""

    def __init__(self, lang: str, now: datetime, tz: str, *, speech: bool = False) -> None:
        self.lang = _base_lang(lang)
        self.words = _WORDS[self.lang]
        self.speech = speech
        self.locale = _locale(lang)
        self.tz = tz
        self.zone = ZoneInfo(tz)
        self.now = now

    def _local(self, at: datetime) -> tuple[datetime, int, bool]:
        """Local time told (rounded up to the minute), days ahead, and end-of-day flag."""
        deadline = concrete_deadline(at, now=self.now, tz=self.tz)
        local = deadline.local
        if local.hour == 0 and local.minute == 0:
            return local - timedelta(minutes=1), deadline.days_ahead - 1, True
        return local, deadline.days_ahead, False

    def _day_text(self, local: datetime) -> str:
        pattern = _DAY_PATTERN[self.lang]
        if local.year != self.now.astimezone(self.zone).year:
            pattern += _YEAR_SUFFIX[self.lang]
        return str(format_datetime(local, pattern, tzinfo=self.zone, locale=self.locale))

    def _clock(self, local: datetime, end_of_day: bool) -> str:
        return "24:00" if end_of_day else str(format_datetime(local, "HH:mm", tzinfo=self.zone))

    def _told(self, local: datetime, end_of_day: bool) -> str:
        """The clock time as written or said, with its article: "las 10:30", "les deu i
        mitja del matí" (said in Catalan), "10:30"."""
        if self.speech:
            if end_of_day and self.lang == "ca":
                return "mitjanit"
            spoken = (
                None if end_of_day else languages.spoken_clock(self.lang, local.hour, local.minute)
            )
            if spoken is not None:
                return spoken
        clock = self._clock(local, end_of_day)
        articles = _ARTICLE.get(self.lang)
        if articles is None:
            return clock
        return f"{articles[0] if local.hour == 1 and not end_of_day else articles[1]} {clock}"

    def _on_day(self, local: datetime, days_ahead: int) -> str:
        if days_ahead == 0:
            return self.words["today"]
        if days_ahead == 1:
            return self.words["tomorrow"]
        return self.words["on"].format(day=self._day_text(local))

    def when(self, at: datetime) -> str:
        local, days, eod = self._local(_checked_time(at, "time"))
        return self.words["before"].format(
            on=self._on_day(local, days), clock=self._told(local, eod)
        )

    def between(self, start: datetime, end: datetime) -> str:
        first, days, _ = self._local(_checked_time(start, "window_start"))
        last, _, eod = self._local(_checked_time(end, "due"))
        return self.words["between"].format(
            on=self._on_day(first, days), a=self._told(first, False), b=self._told(last, eod)
        )

    def at(self, at: datetime) -> str:
        """A moment, not a deadline: "mañana a las 08:00", "on Wednesday 9 December at 08:00"."""
        zone_local = _checked_time(at, "time").astimezone(self.zone)
        days = (zone_local.date() - self.now.astimezone(self.zone).date()).days
        return self.words["at"].format(
            on=self._on_day(zone_local, days), clock=self._told(zone_local, False)
        )

    def greeting(self) -> str:
        """ "Buenas tardes": the greeting for the hour now in the customer's zone."""
        return languages.greeting(self.lang, self.now.astimezone(self.zone).hour)

    def day(self, at: datetime) -> str:
        local, _, _ = self._local(_checked_time(at, "time"))
        return self._day_text(local)

    def hhmm(self, at: datetime) -> str:
        local, _, eod = self._local(_checked_time(at, "time"))
        return self._clock(local, eod)


def _checked_time(value: Any, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{name} must be a timezone-aware datetime: {value!r}")
    return value.astimezone(UTC)


def when_phrase(at: datetime, *, now: datetime, tz: str, lang: str, speech: bool = False) -> str:
    """``"mañana antes de las 10:30"`` / ``"on Monday 23 November before 10:30"``; with
    ``speech`` the clock is in words where the voice needs it (Catalan)."""
    return _Phrases(lang, _checked_time(now, "now"), _zone_name(tz), speech=speech).when(at)


def at_phrase(at: datetime, *, now: datetime, tz: str, lang: str, speech: bool = False) -> str:
    """``"mañana a las 08:00"`` / ``"on Wednesday 9 December at 08:00"`` (an opening time)."""
    return _Phrases(lang, _checked_time(now, "now"), _zone_name(tz), speech=speech).at(at)


def greeting_phrase(*, now: datetime, tz: str, lang: str) -> str:
    """``"Buenas tardes"`` / ``"Good evening"`` / ``"Bon dia"`` by the hour in ``tz``."""
    return _Phrases(lang, _checked_time(now, "now"), _zone_name(tz)).greeting()


def _zone_name(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {tz!r}") from exc
    return tz


def _clause(text: Any) -> str:
    """An item of a list joined into one sentence: no end punctuation of its own ("...
    noviembre." -> "... noviembre"), so a joined list reads "a; b." and never "a.; b.."."""
    return str(text).strip().rstrip(".;:,").rstrip()


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["clause"] = _clause
    return env


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def render_message(
    kind: MessageKind | str, lang: str, *, now: datetime, tz: str, **fields: Any
) -> Message:
    """Render a customer message in ``lang`` with times in the customer's zone ``tz``.

    ``lang`` may carry a region (``es-PE``); a language without templates gets Spanish
    (``Message.lang`` says which was used) so that no customer goes without the message.
    ``fields`` are those of :data:`REQUIRED_FIELDS` plus optional ones. Raises
    :class:`~escucha.errors.InvalidInput` for a missing field, a naive or past ``due`` or an
    unknown time zone, and :class:`VaguePromiseError` if the text would promise no time.
    """
    message_kind = MessageKind(kind)
    now_utc = _checked_time(now, "now")
    missing = sorted(REQUIRED_FIELDS[message_kind] - fields.keys())
    if missing:
        raise InvalidInput(f"{message_kind} message needs: {', '.join(missing)}")
    if "reason" in fields:
        reason = str(fields["reason"] or "").strip().rstrip(".").strip()
        if not reason:
            raise InvalidInput(f"{message_kind}: say why the time changed (reason)")
        fields["reason"] = reason
    due = _checked_time(fields["due"], "due")
    if due < now_utc:
        raise InvalidInput(f"{message_kind}: the promised time {due.isoformat()} has passed")
    window_start = fields.get("window_start")
    if window_start is not None and _checked_time(window_start, "window_start") > due:
        raise InvalidInput("window_start must not be after due")
    phrases = _Phrases(lang, now_utc, _zone_name(tz))
    context: dict[str, Any] = {
        "name": None,
        "window_start": None,
        "ticket_kind": None,
        "description_missing": False,
        "actions": [],
        "appeal_to": None,
        "phone": None,
        "number": None,
        "label": None,
        "status_url": None,
        **fields,
        "when": phrases.when,
        "between": phrases.between,
        "day": phrases.day,
        "hhmm": phrases.hhmm,
        "greeting": phrases.greeting(),
    }
    template = _environment().get_template(f"{message_kind.value}.{phrases.lang}.txt")
    parts: dict[str, str] = {}
    for block in ("subject", "body", "sms"):
        render = template.blocks[block]
        parts[block] = _tidy("".join(render(template.new_context(context))))
    message = Message(
        kind=message_kind,
        lang=phrases.lang,
        subject=" ".join(parts["subject"].split()),
        body_text=parts["body"] + "\n",
        sms_text=" ".join(parts["sms"].split()),
    )
    vague = find_vague_phrases(f"{message.subject}\n{message.body_text}\n{message.sms_text}")
    if vague:
        raise VaguePromiseError(
            f"{message_kind} would promise no concrete time ({', '.join(vague)}); "
            "state a date and time instead"
        )
    return message
