"""Ticket numbers, verification codes, statuses and the complaint hint (P5, P6). Pure: stdlib only.

Ticket numbers
--------------
Canonical form ``YYYY-SSSSSSS-C``, e.g. ``2026-0012345-1``: the year the ticket was opened,
a sequence number (at least seven digits, more when a year needs them) and a Damm check digit
computed over all the digits before it.

* **Digits only**, so a customer can key it on a phone keypad in the IVR and an agent can
  read it out in groups (``2026 · 001 · 2345 · 1``, see :func:`speech_groups`).
* **No kind letter.** The kind of a ticket may change (an unrepaired fault becomes a complaint
  under OSIPTEL's rules and must keep its code), so the number says nothing about the kind.
* **The check digit** (Damm, 2004) detects every single wrong digit and every swap of two
  adjacent digits, including across the dashes, which the customer does not say.
* **Unique across app nodes**: the sequence comes from the database (one counter row per
  year incremented with ``UPDATE ... RETURNING``, or a PostgreSQL sequence), never from the
  process, and the number column is unique. :func:`format_ticket_number` only formats.

:func:`parse_ticket_number` accepts what people write: spaces, dashes, dots, slashes, a label
such as ``Nº``, ``#`` or ``ticket`` before it; it rejects a wrong check digit.

Complaints are never refused
----------------------------
:func:`classify_text` gives a *hint* (complaint vs. troubleshooting) so a complaint is not
handled with a fault script; it never decides whether something may be registered.
:func:`validate_complaint_text` lists problems with the text (missing, too long) and never
refuses the complaint itself: a complaint with an empty description is registered, given a
number, and the customer is asked to describe it; a long one is registered whole.

Reference: Damm, H. M. (2004). *Total anti-symmetrische Quasigruppen* (Dissertation,
Philipps-Universität Marburg).
"""

from __future__ import annotations

import hmac
import math
import random
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = [
    "ALLOWED_TRANSITIONS",
    "VERIFICATION_ALPHABET",
    "ClassificationHint",
    "InvalidTicketNumberError",
    "InvalidTransitionError",
    "TextProblem",
    "TicketKind",
    "TicketNumber",
    "TicketStatus",
    "allowed_next_statuses",
    "can_change_kind",
    "check_digit_typo",
    "check_transition",
    "classify_text",
    "clean_text",
    "cut_visible",
    "damm_digit",
    "damm_valid",
    "format_ticket_number",
    "new_verification_code",
    "normalize_verification_code",
    "parse_ticket_number",
    "phrase_lists",
    "speech_groups",
    "validate_complaint_text",
    "verification_code_matches",
    "visible_length",
]

# --- Damm check digit ----------------------------------------------------------------------------

# The totally anti-symmetric quasigroup of order 10 from Damm (2004), as usually tabulated.
_DAMM: tuple[tuple[int, ...], ...] = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def _interim(digits: str) -> int:
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"Damm needs a non-empty string of digits 0-9: {digits!r}")
    state = 0
    for char in digits:
        state = _DAMM[state][ord(char) - 48]
    return state


def damm_digit(digits: str) -> str:
    """The Damm check digit to append to ``digits``: ``damm_digit("572") == "4"``.

    The interim digit is ``x_i = T[x_{i-1}][d_i]`` with ``x_0 = 0`` over the quasigroup table
    ``T``; since ``T`` has a zero diagonal, appending ``x_n`` makes the whole string end in 0.
    """
    return str(_interim(digits))


def damm_valid(digits: str) -> bool:
    """Whether ``digits`` (payload followed by its check digit) passes the Damm check."""
    try:
        return len(digits) >= 2 and _interim(digits) == 0
    except ValueError:
        return False


# --- ticket numbers ------------------------------------------------------------------------------

_SEQ_MIN_WIDTH = 7
_LABEL = re.compile(
    r"^\s*(?:número|numero|num\.?|n\s*[º°o]\.?|ticket|caso|case|ref\.?|#)\s*:?\s*", re.I
)
_SEPARATORS = re.compile(r"[\s\-./_]+")


class InvalidTicketNumberError(ValueError):
    """Text that is not a valid ticket number (wrong shape or check digit)."""


@dataclass(frozen=True, order=True)
class TicketNumber:
    """A parsed ticket number; ``str()`` gives the canonical ``YYYY-SSSSSSS-C``."""

    year: int
    sequence: int

    def __post_init__(self) -> None:
        if not 1000 <= self.year <= 9999:
            raise ValueError(f"year must have four digits: {self.year!r}")
        if self.sequence < 1:
            raise ValueError(f"sequence must be >= 1: {self.sequence!r}")

    @property
    def payload(self) -> str:
        """The digits the check digit protects."""
        return f"{self.year:04d}{self.sequence:0{_SEQ_MIN_WIDTH}d}"

    @property
    def check(self) -> str:
        return damm_digit(self.payload)

    @property
    def digits(self) -> str:
        """All digits, as keyed on a phone: ``"202600123451"``."""
        return self.payload + self.check

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.sequence:0{_SEQ_MIN_WIDTH}d}-{self.check}"


def format_ticket_number(year: int, sequence: int) -> str:
    """Canonical number for ``sequence`` (from the database counter) in ``year``."""
    return str(TicketNumber(year, sequence))


def parse_ticket_number(text: str) -> TicketNumber:
    """Read a ticket number as people write or say it; raise if it is not valid.

    ``"2026 001 2345 1"``, ``"Nº 2026-0012345-1"`` and ``"202600123451"`` are the same number.
    """
    rest = _LABEL.sub("", text, count=1)
    digits = _SEPARATORS.sub("", rest)
    if not digits.isascii() or not digits.isdigit():
        raise InvalidTicketNumberError(
            f"a ticket number has only digits, e.g. 2026-0012345-1: {text!r}"
        )
    if len(digits) < 4 + _SEQ_MIN_WIDTH + 1:
        raise InvalidTicketNumberError(
            f"a ticket number has at least {4 + _SEQ_MIN_WIDTH + 1} digits: {text!r}"
        )
    if not damm_valid(digits):
        raise InvalidTicketNumberError(
            f"check digit does not match; please read it again: {text!r}"
        )
    year, sequence = int(digits[:4]), int(digits[4:-1])
    if sequence < 1 or (len(digits) - 5 > _SEQ_MIN_WIDTH and digits[4] == "0"):
        raise InvalidTicketNumberError(f"not a ticket number: {text!r}")
    return TicketNumber(year, sequence)


def check_digit_typo(text: str) -> bool:
    """Whether ``text`` has the shape of a ticket number and only its check digit is wrong.

    Telling this apart is safe: the check digit is computed from the digits themselves, so it
    says nothing about whether a case with that number exists.
    """
    digits = _SEPARATORS.sub("", _LABEL.sub("", text, count=1))
    if not digits.isascii() or not digits.isdigit() or len(digits) < 4 + _SEQ_MIN_WIDTH + 1:
        return False
    return not damm_valid(digits)


def speech_groups(number: TicketNumber | str) -> tuple[str, ...]:
    """Groups to read out over the phone: ``("2026", "001", "2345", "1")``."""
    parsed = number if isinstance(number, TicketNumber) else parse_ticket_number(number)
    seq = f"{parsed.sequence:0{_SEQ_MIN_WIDTH}d}"
    return (f"{parsed.year:04d}", seq[:-4], seq[-4:], parsed.check)


# --- verification codes --------------------------------------------------------------------------

VERIFICATION_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
"""Letters and digits that cannot be confused when read, heard or typed (no 0/O, 1/I/L, 2/Z,
5/S, 8/B)."""


def new_verification_code(rng: random.Random, length: int = 6) -> str:
    """A code for the customer's status page (P6), drawn from ``rng``.

    Pass ``secrets.SystemRandom()`` in production; a seeded ``random.Random`` in tests.
    Six characters from a 25-symbol alphabet give about 2.4e8 codes.
    """
    if length < 4:
        raise ValueError("a verification code needs at least 4 characters")
    return "".join(rng.choice(VERIFICATION_ALPHABET) for _ in range(length))


def normalize_verification_code(text: str) -> str:
    """Upper case without spaces or dashes."""
    return _SEPARATORS.sub("", text).upper()


def verification_code_matches(expected: str, given: str) -> bool:
    """Constant-time comparison of a typed code with the stored one."""
    return hmac.compare_digest(
        normalize_verification_code(expected).encode(), normalize_verification_code(given).encode()
    )


# --- kinds and statuses --------------------------------------------------------------------------


class TicketKind(StrEnum):
    QUERY = "query"
    FAULT = "fault"
    REQUEST = "request"
    COMPLAINT = "complaint"


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    WAITING_CUSTOMER = "waiting_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    APPEALED = "appealed"


_S = TicketStatus
ALLOWED_TRANSITIONS: Mapping[TicketStatus, frozenset[TicketStatus]] = {
    _S.NEW: frozenset({_S.OPEN, _S.WAITING_CUSTOMER, _S.RESOLVED}),
    _S.OPEN: frozenset({_S.WAITING_CUSTOMER, _S.RESOLVED}),
    _S.WAITING_CUSTOMER: frozenset({_S.OPEN, _S.RESOLVED}),
    _S.RESOLVED: frozenset({_S.CLOSED, _S.REOPENED, _S.APPEALED}),
    _S.CLOSED: frozenset({_S.APPEALED}),
    _S.REOPENED: frozenset({_S.OPEN, _S.WAITING_CUSTOMER, _S.RESOLVED}),
    _S.APPEALED: frozenset({_S.OPEN, _S.RESOLVED}),
}
"""Status machine. There is no "rejected" or "cancelled": a ticket ends only by being resolved
and then closed, so no path drops a complaint. ``appealed`` is for complaints only."""


class InvalidTransitionError(ValueError):
    """A status change or kind change the rules do not allow."""


def allowed_next_statuses(
    status: TicketStatus | str, kind: TicketKind | str
) -> frozenset[TicketStatus]:
    """Statuses a ticket of ``kind`` in ``status`` may move to."""
    nexts = ALLOWED_TRANSITIONS[TicketStatus(status)]
    if TicketKind(kind) is not TicketKind.COMPLAINT:
        nexts = nexts - {TicketStatus.APPEALED}
    return nexts


def check_transition(
    status: TicketStatus | str, new: TicketStatus | str, kind: TicketKind | str
) -> TicketStatus:
    """Return ``new`` if the move is allowed, else raise :class:`InvalidTransitionError`."""
    target = TicketStatus(new)
    if target not in allowed_next_statuses(status, kind):
        raise InvalidTransitionError(
            f"a {TicketKind(kind)} ticket cannot go from {TicketStatus(status)} to {target}"
        )
    return target


def can_change_kind(old: TicketKind | str, new: TicketKind | str) -> bool:
    """Any ticket may become a complaint (keeping its number); a complaint stays a complaint."""
    return TicketKind(old) is not TicketKind.COMPLAINT or TicketKind(new) is TicketKind.COMPLAINT


# --- complaint or troubleshooting? ---------------------------------------------------------------


def _fold(text: str) -> str:
    """Lower case, accents removed, punctuation as spaces, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = plain.replace("’", "'")
    return " ".join(re.sub(r"[^\w']+", " ", plain).split())


# Phrase -> weight. Weight 3: the customer says they want to complain (decisive, P5: the
# operator that ran a speed test instead of registering the complaint was fined). Weight 2: a
# typical complaint matter (billing, a broken promise, treatment). Weight 1: dissatisfaction.
_COMPLAINT_PHRASES: Mapping[str, Mapping[str, int]] = {
    "es": {
        "quiero poner una reclamacion": 3,
        "quiero presentar una reclamacion": 3,
        "quiero poner una queja": 3,
        "quiero presentar una queja": 3,
        "quiero poner un reclamo": 3,
        "quiero presentar un reclamo": 3,
        "quiero reclamar": 3,
        "quiero quejarme": 3,
        "hoja de reclamaciones": 3,
        "libro de reclamaciones": 3,
        "poner una reclamacion": 3,
        "presentar una reclamacion": 3,
        "registrar un reclamo": 3,
        "registren mi reclamo": 3,
        "quiero denunciar": 3,
        "voy a denunciar": 2,
        "osiptel": 2,
        "indecopi": 2,
        "reclamacion": 2,
        "reclamo": 2,
        "queja": 2,
        "cobro indebido": 2,
        "me han cobrado": 2,
        "me cobraron": 2,
        "cobrado de mas": 2,
        "factura incorrecta": 2,
        "no me devolvieron": 2,
        "nadie me llamo": 2,
        "nadie me ha llamado": 2,
        "me prometieron": 2,
        "me colgaron": 2,
        "me han colgado": 2,
        "mala atencion": 2,
        "pesima atencion": 2,
        "es inaceptable": 1,
        "es una verguenza": 1,
        "estoy harto": 1,
        "estoy harta": 1,
        "estoy cansado": 1,
        "estoy cansada": 1,
        "pesimo servicio": 1,
        "exijo": 1,
    },
    "en": {
        "i want to file a complaint": 3,
        "i want to make a complaint": 3,
        "i want to complain": 3,
        "i'd like to complain": 3,
        "i would like to complain": 3,
        "file a complaint": 3,
        "make a formal complaint": 3,
        "lodge a complaint": 3,
        "complaint": 2,
        "ombudsman": 2,
        "regulator": 2,
        "overcharged": 2,
        "charged twice": 2,
        "wrong bill": 2,
        "refund": 2,
        "nobody called me back": 2,
        "no one called me back": 2,
        "you promised": 2,
        "hung up on me": 2,
        "rude": 2,
        "this is unacceptable": 1,
        "unacceptable": 1,
        "disgraceful": 1,
        "fed up": 1,
        "terrible service": 1,
        "i demand": 1,
    },
}

_FAULT_PHRASES: Mapping[str, Mapping[str, int]] = {
    "es": {
        "no funciona": 2,
        "no me funciona": 2,
        "sin conexion": 2,
        "sin linea": 2,
        "sin senal": 2,
        "sin internet": 2,
        "no tengo internet": 2,
        "no tengo linea": 2,
        "no tengo senal": 2,
        "no carga": 1,
        "se corta": 1,
        "se cae": 1,
        "averia": 2,
        "muy lento": 1,
        "va lento": 1,
        "lentitud": 1,
        "router": 1,
        "reiniciar": 1,
        "luz roja": 1,
        "error": 1,
        "no puedo entrar": 1,
        "no puedo conectarme": 2,
    },
    "en": {
        "doesn't work": 2,
        "does not work": 2,
        "not working": 2,
        "no connection": 2,
        "no signal": 2,
        "no internet": 2,
        "no dial tone": 2,
        "keeps dropping": 1,
        "slow": 1,
        "outage": 2,
        "router": 1,
        "restart": 1,
        "red light": 1,
        "error": 1,
        "can't log in": 1,
        "cannot connect": 2,
        "can't connect": 2,
    },
}


class ClassificationHint(NamedTuple):
    """A hint for the agent and the router, never a decision to refuse anything.

    ``kind_hint`` is ``complaint``, ``fault`` or ``None`` (no signal); ``score`` in [0, 1] is
    how sure the hint is; ``matched_phrases`` are the phrases found (accents removed).
    """

    kind_hint: TicketKind | None
    score: float
    matched_phrases: tuple[str, ...]


def _matches(folded: str, phrases: Mapping[str, int]) -> dict[str, int]:
    found: dict[str, int] = {}
    padded = f" {folded} "
    for phrase, weight in phrases.items():
        if f" {phrase} " in padded:
            found[phrase] = weight
    # A longer phrase that matched makes its own words redundant ("reclamacion" inside
    # "quiero poner una reclamacion"): count the longest only.
    return {
        p: w for p, w in found.items() if not any(p != q and f" {p} " in f" {q} " for q in found)
    }


def classify_text(text: str, lang: str = "es") -> ClassificationHint:
    """Tell a complaint from troubleshooting by Spanish and English phrases (P5).

    Phrases of ``lang`` and of the other language are both looked for (customers mix
    them); accents and case do not matter. A customer who says they want to complain (a
    weight-3 phrase) gets ``complaint`` whatever else they say: "no funciona y quiero poner
    una reclamación" is a complaint, not a fault to troubleshoot. Otherwise the heavier side
    wins, ties going to ``complaint``. ``score = max(c, f) / (c + f + 1)`` grows with evidence
    and falls when the two sides conflict; 1.0 for an explicit complaint.
    """
    folded = _fold(text)
    primary = lang.split("-")[0].lower()
    order = [primary, *(code for code in _COMPLAINT_PHRASES if code != primary)]
    complaint: dict[str, int] = {}
    fault: dict[str, int] = {}
    for code in order:
        complaint.update(_matches(folded, _COMPLAINT_PHRASES.get(code, {})))
        fault.update(_matches(folded, _FAULT_PHRASES.get(code, {})))
    c, f = sum(complaint.values()), sum(fault.values())
    if c == 0 and f == 0:
        return ClassificationHint(None, 0.0, ())
    if max(complaint.values(), default=0) >= 3:
        return ClassificationHint(TicketKind.COMPLAINT, 1.0, (*complaint, *fault))
    if c >= f:
        return ClassificationHint(TicketKind.COMPLAINT, c / (c + f + 1), (*complaint, *fault))
    return ClassificationHint(TicketKind.FAULT, f / (c + f + 1), (*fault, *complaint))


# --- complaint text ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextProblem:
    """A problem with a complaint's text. It never means the complaint is refused.

    ``blocking`` problems must be fixed in the field (HTTP ``status``, e.g. 422) before the
    *text* is accepted; non-blocking ones (an empty description) are registered anyway and the
    customer is asked for more. Messages in Spanish and English.
    """

    code: str
    field: str
    blocking: bool
    status: int | None
    message_es: str
    message_en: str

    def message(self, lang: str) -> str:
        return self.message_en if lang.lower().startswith("en") else self.message_es


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Text as stored: Unicode NFC, no control characters, trimmed, at most two blank lines."""
    cleaned = _CONTROL.sub("", unicodedata.normalize("NFC", text)).replace("\r\n", "\n")
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned.replace("\r", "\n"))
    return cleaned.strip()


def visible_length(text: str) -> int:
    """Characters as the form's counter shows them: NFC code points, a line break counting one.

    A browser's ``textarea.value`` has ``\n`` line breaks (the form sends ``\r\n``); the
    counter (``static/tickets.js``) counts ``Array.from(value.normalize("NFC"))``, this the same.
    """
    return len(unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")))


_JOINING = ("\u200d", "\ufe0e", "\ufe0f")


def cut_visible(text: str, limit: int) -> str:
    """At most ``limit`` code points of ``text``, never splitting a character from the marks,
    joiners or variation selectors that follow it."""
    if len(text) <= limit:
        return text
    end = limit
    while end > 0 and (
        unicodedata.combining(text[end])
        or text[end] in _JOINING
        or text[end - 1] == "\u200d"
        or 0x1F3FB <= ord(text[end]) <= 0x1F3FF  # skin tone modifiers
    ):
        end -= 1
    return text[:end]


def validate_complaint_text(text: str | None, max_len: int = 5000) -> tuple[TextProblem, ...]:
    """Problems with a complaint description (P5). Never a reason to refuse the complaint.

    * empty or blank: ``empty_description``, not blocking: register, give the number, ask the
      customer to describe the problem;
    * longer than ``max_len`` characters after :func:`clean_text`: ``long_description``, not
      blocking: the case shows the first ``max_len`` characters and keeps the whole text as an
      attached file (ADR 27).

    No rule looks at what the complaint says.
    """
    if max_len < 1:
        raise ValueError("max_len must be positive")
    cleaned = clean_text(text or "")
    problems: list[TextProblem] = []
    if not cleaned:
        problems.append(
            TextProblem(
                code="empty_description",
                field="description",
                blocking=False,
                status=None,
                message_es=(
                    "Su reclamación ha quedado registrada con su número. Por favor, "
                    "descríbanos qué ha ocurrido para poder resolverla."
                ),
                message_en=(
                    "Your complaint has been registered with its number. Please tell us what "
                    "happened so that we can resolve it."
                ),
            )
        )
    elif len(cleaned) > max_len:
        problems.append(
            TextProblem(
                code="long_description",
                field="description",
                blocking=False,
                status=None,
                message_es=(
                    f"La descripción tiene {len(cleaned)} caracteres: la ficha muestra los "
                    f"primeros {max_len} y el texto completo queda adjunto como archivo."
                ),
                message_en=(
                    f"The description has {len(cleaned)} characters: the case shows the first "
                    f"{max_len} and the whole text is kept attached as a file."
                ),
            )
        )
    return tuple(problems)


def phrase_lists() -> Mapping[str, Mapping[str, Iterable[str]]]:
    """The phrase lists, for documentation and screens: ``{"complaint": {"es": [...]}, ...}``."""
    return {
        "complaint": {k: tuple(v) for k, v in _COMPLAINT_PHRASES.items()},
        "fault": {k: tuple(v) for k, v in _FAULT_PHRASES.items()},
    }


def nearest_rank(values: Iterable[float], share: float) -> float:
    """The smallest value with at least ``share`` of ``values`` at or below it (nearest-rank
    percentile; ``share`` in (0, 1]). Raises ``ValueError`` for no values."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    if not 0 < share <= 1:
        raise ValueError("share must be in (0, 1]")
    rank = max(1, math.ceil(share * len(ordered) - 1e-9))  # 0.8 * 10 is 8, not 8.000…1
    return ordered[rank - 1]
