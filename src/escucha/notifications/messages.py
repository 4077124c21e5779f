"""Customer messages that state a concrete time, in Spanish and English (P1, P2, P3, C3, W6).

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

Dates are formatted with Babel in the customer's locale and time zone.
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
    "render_message",
    "when_phrase",
]

TEMPLATES_DIR = Path(__file__).with_name("templates")
LANGUAGES: tuple[str, ...] = ("es", "en")


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
    """``es-PE`` -> ``es``; a language without templates falls back to Spanish."""
    base = (lang or "").replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else LANGUAGES[0]


def _locale(lang: str) -> Locale:
    base = _base_lang(lang)
    if lang.replace("_", "-").split("-")[0].lower() == base:
        try:
            return Locale.parse(lang.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            pass
    return Locale.parse("es_ES" if base == "es" else "en_GB")


_DAY_PATTERN = {"es": "EEEE d 'de' MMMM", "en": "EEEE d MMMM"}
_YEAR_SUFFIX = {"es": " 'de' y", "en": " y"}


class _Phrases:
    """Date and time phrases for one message: language, locale, customer zone and now."""

    def __init__(self, lang: str, now: datetime, tz: str) -> None:
        self.lang = _base_lang(lang)
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

    def _article(self, local: datetime, end_of_day: bool) -> str:
        return "la" if local.hour == 1 and not end_of_day else "las"

    def _on_day(self, local: datetime, days_ahead: int) -> str:
        if self.lang == "es":
            if days_ahead == 0:
                return "hoy"
            if days_ahead == 1:
                return "mañana"
            return f"el {self._day_text(local)}"
        if days_ahead == 0:
            return "today"
        if days_ahead == 1:
            return "tomorrow"
        return f"on {self._day_text(local)}"

    def when(self, at: datetime) -> str:
        local, days, eod = self._local(_checked_time(at, "time"))
        clock = self._clock(local, eod)
        if self.lang == "es":
            return f"{self._on_day(local, days)} antes de {self._article(local, eod)} {clock}"
        return f"{self._on_day(local, days)} before {clock}"

    def between(self, start: datetime, end: datetime) -> str:
        first, days, _ = self._local(_checked_time(start, "window_start"))
        last, _, eod = self._local(_checked_time(end, "due"))
        a, b = self._clock(first, False), self._clock(last, eod)
        if self.lang == "es":
            art_a, art_b = self._article(first, False), self._article(last, eod)
            return f"{self._on_day(first, days)} entre {art_a} {a} y {art_b} {b}"
        return f"{self._on_day(first, days)} between {a} and {b}"

    def at(self, at: datetime) -> str:
        """A moment, not a deadline: "mañana a las 08:00", "on Wednesday 9 December at 08:00"."""
        zone_local = _checked_time(at, "time").astimezone(self.zone)
        days = (zone_local.date() - self.now.astimezone(self.zone).date()).days
        clock = str(format_datetime(zone_local, "HH:mm", tzinfo=self.zone))
        if self.lang == "es":
            article = "la" if zone_local.hour == 1 else "las"
            return f"{self._on_day(zone_local, days)} a {article} {clock}"
        return f"{self._on_day(zone_local, days)} at {clock}"

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


def when_phrase(at: datetime, *, now: datetime, tz: str, lang: str) -> str:
    """``"mañana antes de las 10:30"`` / ``"on Monday 23 November before 10:30"``."""
    return _Phrases(lang, _checked_time(now, "now"), _zone_name(tz)).when(at)


def at_phrase(at: datetime, *, now: datetime, tz: str, lang: str) -> str:
    """``"mañana a las 08:00"`` / ``"on Wednesday 9 December at 08:00"`` (an opening time)."""
    return _Phrases(lang, _checked_time(now, "now"), _zone_name(tz)).at(at)


def _zone_name(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {tz!r}") from exc
    return tz


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


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
