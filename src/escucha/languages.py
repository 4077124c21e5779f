"""The languages escucha speaks: one catalog, read by screens, IVR, messages and validation.

A language is data: its code, its own name, the Babel locale for dates, the espeak-ng voice
and speech tag for the IVR, a speaking rate, the greeting by time of day and how a clock time
is said aloud. Adding a language means adding an entry here, its Babel catalog, its message
templates and its IVR sentences (``docs/adr/0029-languages-as-data.md``); the tests check that
every entry has all of them.

Everything here is pure (no I/O, no clock): callers pass the local hour and minute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__pure__ = True


@dataclass(frozen=True)
class Language:
    """One language of the catalog."""

    code: str  # ISO 639-1, as stored on users, customers and contacts
    name: str  # its own name, as shown in a language picker
    english_name: str
    locale: str  # Babel locale for dates and numbers
    voice: str  # espeak-ng voice
    speech_tag: str  # BCP 47 tag for speech recognition and text to speech
    rate_wps: float  # usual speaking rate, words per second
    #: (first hour, greeting) in order: the greeting of the last start at or before the hour.
    greetings: tuple[tuple[int, str], ...]
    #: The language a screen falls back to for a string this one lacks (then the English id).
    fallback: str | None = None


CATALOG: Mapping[str, Language] = {
    "es": Language(
        code="es",
        name="Español",
        english_name="Spanish",
        locale="es_ES",
        voice="es",
        speech_tag="es-ES",
        rate_wps=2.6,
        greetings=(
            (0, "Buenas noches"),
            (6, "Buenos días"),
            (14, "Buenas tardes"),
            (21, "Buenas noches"),
        ),
    ),
    "en": Language(
        code="en",
        name="English",
        english_name="English",
        locale="en_GB",
        voice="en-gb",
        speech_tag="en-GB",
        rate_wps=2.5,
        greetings=(
            (0, "Good evening"),
            (5, "Good morning"),
            (12, "Good afternoon"),
            (18, "Good evening"),
        ),
    ),
    "ca": Language(
        code="ca",
        name="Català",
        english_name="Catalan",
        locale="ca_ES",
        voice="ca",
        speech_tag="ca-ES",
        rate_wps=2.6,
        greetings=((0, "Bona nit"), (6, "Bon dia"), (14, "Bona tarda"), (21, "Bona nit")),
        fallback="es",
    ),
}
CODES: tuple[str, ...] = tuple(CATALOG)
#: The one fallback language and time zone (an organisation not yet configured, a code the
#: catalog does not know). The organisation's own are read with ``escucha.org.service``.
DEFAULT_LANGUAGE = "es"
DEFAULT_ZONE = "Europe/Madrid"


def base(code: str | None) -> str:
    """``"es-PE"`` -> ``"es"``; ``"CA_es"`` -> ``"ca"``; ``None`` -> ``""``."""
    return (code or "").replace("_", "-").split("-")[0].strip().lower()


def known(code: str | None) -> bool:
    """Whether the catalog has the language of ``code`` (a region is allowed)."""
    return base(code) in CATALOG


def resolve(code: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The catalog language of ``code``, else ``default`` (itself resolved to the catalog)."""
    lang = base(code)
    if lang in CATALOG:
        return lang
    fallback = base(default)
    return fallback if fallback in CATALOG else DEFAULT_LANGUAGE


def get(code: str | None, default: str = DEFAULT_LANGUAGE) -> Language:
    return CATALOG[resolve(code, default)]


def greeting(code: str | None, hour: int) -> str:
    """ "Buenos días" / "Good afternoon" / "Bona nit" for a local hour (0-23)."""
    if not 0 <= hour <= 23:
        raise ValueError(f"hour must be 0-23, not {hour}")
    said = ""
    for start, text in get(code).greetings:
        if hour >= start:
            said = text
    return said


# --- clock times said aloud ------------------------------------------------------------------

_CA_HOURS = (
    "dotze",
    "una",
    "dues",
    "tres",
    "quatre",
    "cinc",
    "sis",
    "set",
    "vuit",
    "nou",
    "deu",
    "onze",
)
_CA_UNITS = (
    "zero", "un", "dos", "tres", "quatre", "cinc", "sis", "set", "vuit", "nou", "deu",
    "onze", "dotze", "tretze", "catorze", "quinze", "setze", "disset", "divuit", "dinou",
)  # fmt: skip
_CA_TENS = {2: "vint", 3: "trenta", 4: "quaranta", 5: "cinquanta"}


def catalan_number(n: int) -> str:
    """0-59 in Catalan words, masculine ("vint-i-un", "trenta-dos")."""
    if not 0 <= n <= 59:
        raise ValueError(f"only 0-59, not {n}")
    if n < 20:
        return _CA_UNITS[n]
    tens, unit = divmod(n, 10)
    if unit == 0:
        return _CA_TENS[tens]
    joiner = "-i-" if tens == 2 else "-"
    return f"{_CA_TENS[tens]}{joiner}{_CA_UNITS[unit]}"


def _ca_part_of_day(hour: int) -> str:
    if hour == 0 or hour >= 21:
        return "de la nit"
    if hour < 6:
        return "de la matinada"
    if hour < 12:
        return "del matí"
    if hour == 12:
        return "del migdia"
    return "de la tarda"


def _ca_hour(hour: int) -> str:
    """ "la una", "les tres" (hours are feminine)."""
    word = _CA_HOURS[hour % 12]
    return f"la {word}" if word == "una" else f"les {word}"


def spoken_clock(code: str | None, hour: int, minute: int) -> str | None:
    """A clock time as people say it, with its article ("les tres i quart de la tarda"), for
    languages whose speech voice does not read ``15:15`` well; ``None`` where digits are
    said right (Spanish and English voices read ``las 15:15`` and ``15:15`` correctly)."""
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"not a clock time: {hour}:{minute}")
    if resolve(code) != "ca":
        return None
    if minute == 0:
        return f"{_ca_hour(hour)} {_ca_part_of_day(hour)}"
    if minute <= 30:
        said = {15: "quart", 30: "mitja"}.get(minute, catalan_number(minute))
        return f"{_ca_hour(hour)} i {said} {_ca_part_of_day(hour)}"
    later = (hour + 1) % 24
    said = "quart" if minute == 45 else catalan_number(60 - minute)
    return f"{_ca_hour(later)} menys {said} {_ca_part_of_day(later)}"
