"""Numbers read out are masked in stored transcripts."""

from __future__ import annotations

import pytest

from escucha.speech.masking import mask_numbers


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("my card is four five six seven", "en", "my card is [number]"),
        ("it's 4567 8901 2345 6789, expiry", "en", "it's [number], expiry"),
        ("double seven three two one", "en", "[number]"),
        ("forty-five sixty-seven eighty-nine", "en", "[number]"),
        ("account 12345678 please", "en", "account [number] please"),
        ("mi tarjeta es cuatro cinco seis siete ocho", "es", "mi tarjeta es [número]"),
        ("treinta y cuatro cincuenta y seis", "es", "[número]"),
    ],
)
def test_long_numbers_are_masked(text: str, lang: str, expected: str) -> None:
    masked, count = mask_numbers(text, lang)
    assert masked == expected
    assert count == 1


@pytest.mark.parametrize(
    "text",
    [
        "within 48 hours",
        "a bill for 420 pounds",
        "twenty four hours",
        "in 2026",
        "before 4:30 on Thursday",
        "one or two things",
        "dos o tres días",
        "call 999 now",
    ],
)
def test_times_amounts_and_short_numbers_are_kept(text: str) -> None:
    assert mask_numbers(text, "en") == (text, 0)
