"""Mask card numbers and other long numbers read out in a transcript (privacy).

A *run* is a sequence of number tokens: numerals (``4567``), digit words (``four``,
``cuatro``, ``oh``, ``double``), teens and tens (``forty-five``, ``cuarenta y cinco``),
separated by spaces, hyphens or dots. A run is masked when it holds at least
``min_digits`` digits in two tokens or more (a number read out digit by digit or in
groups), or is one numeral of at least ``min_single_digits`` digits. So "four five six
seven" and "4567 8901 2345 6789" are masked, and "48 hours", "420 pounds", "2026" or
"twenty four hours" are kept. Pure: standard library only.
"""

from __future__ import annotations

import re

_DIGITS: dict[str, int] = {}
for _words, _n in (
    (
        "zero oh nought one two three four five six seven eight nine "
        "cero uno dos tres cuatro cinco seis siete ocho nueve",
        1,
    ),
    (
        "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen "
        "twenty thirty forty fifty sixty seventy eighty ninety "
        "diez once doce trece catorce quince dieciseis dieciséis diecisiete dieciocho "
        "diecinueve veinte veintiuno veintiuna veintidos veintidós veintitres veintitrés "
        "veinticuatro veinticinco veintiseis veintiséis veintisiete veintiocho veintinueve "
        "treinta cuarenta cincuenta sesenta setenta ochenta noventa",
        2,
    ),
):
    for _w in _words.split():
        _DIGITS[_w] = _n
_REPEATERS = {"double": 1, "triple": 2, "doble": 1, "triple_es": 2}
_TENS = {
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "treinta",
    "cuarenta",
    "cincuenta",
    "sesenta",
    "setenta",
    "ochenta",
    "noventa",
}

_TOKEN = re.compile(r"[^\W_]+(?:-[^\W_]+)*|\S", re.UNICODE)

MASK = {"es": "[número]", "en": "[number]"}


def _digits_of(token: str) -> int | None:
    low = token.lower()
    if low.isdigit():
        return len(low)
    if "-" in low:  # forty-five
        parts = low.split("-")
        if all(p in _DIGITS for p in parts):
            return sum(1 if p in _TENS else _DIGITS[p] for p in parts[:-1]) + 1
        return None
    if low in _DIGITS:
        return _DIGITS[low]
    return None


def mask_numbers(
    text: str, lang: str = "en", *, min_digits: int = 4, min_single_digits: int = 6
) -> tuple[str, int]:
    """``text`` with each long number run replaced by ``[number]``/``[número]``, and how many
    runs were masked."""
    spans = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]
    out: list[str] = []
    pos = 0
    masked = 0
    i = 0
    while i < len(spans):
        start, _, token = spans[i]
        digits = _digits_of(token)
        if digits is None and token.lower() not in _REPEATERS:
            i += 1
            continue
        j = i
        total = 0
        count = 0
        last_end = spans[i][0]
        k = i
        while k < len(spans):
            s, e, tok = spans[k]
            gap = text[last_end:s] if k > i else ""
            if k > i and gap.strip(" -.") != "":
                break
            low = tok.lower()
            d = _digits_of(tok)
            if d is not None:
                total += d
                count += 1
                j, last_end = k, e
                k += 1
                continue
            if low in _REPEATERS and k + 1 < len(spans) and _digits_of(spans[k + 1][2]) == 1:
                total += _REPEATERS[low]
                j, last_end = k, e
                k += 1
                continue
            if (
                low == "y"
                and k > i
                and spans[k - 1][2].lower() in _TENS
                and k + 1 < len(spans)
                and _digits_of(spans[k + 1][2]) == 1
            ):
                total -= 1  # "treinta y cuatro" is two digits, not three
                j, last_end = k, e
                k += 1
                continue
            if tok in ".-" and k + 1 < len(spans) and _digits_of(spans[k + 1][2]) is not None:
                j, last_end = k, e
                k += 1
                continue
            break
        single_numeral = count == 1 and token.isdigit()
        long_run = total >= min_digits and count >= 2
        if long_run or (single_numeral and total >= min_single_digits):
            out.append(text[pos:start])
            out.append(MASK.get(lang, MASK["en"]))
            pos = spans[j][1]
            masked += 1
        i = j + 1
    out.append(text[pos:])
    return "".join(out), masked
