"""Numbers as people read them: percentages in the reader's language (the one formatter of
every screen and report), seconds and counts; missing or infinite values as a dash.
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Any

from babel import Locale
from babel.numbers import format_percent


def finite(x: Any) -> float | None:
    """``x`` as a float, or ``None`` when it is missing, not a number, NaN or infinite."""
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


@cache
def _percent_pattern(lang: str, digits: int) -> str:
    """The language's own percent pattern (CLDR, through Babel) with ``digits`` decimals."""
    pattern = str(Locale.parse(lang).percent_formats[None].pattern).split(";")[0]
    decimals = "." + "0" * digits if digits > 0 else ""
    return re.sub(r"0(?=[^0#,.]*%)", "0" + decimals, pattern, count=1)


def fmt_pct(x: Any, digits: int = 1, lang: str = "en") -> str:
    """A share as a percentage in ``lang``'s own way: ``0.8125`` -> ``"81.3%"`` in English,
    ``"81,3\u00a0%"`` in Spanish; missing or infinite -> ``"—"``. Every screen and report
    writes percentages with this one function."""
    v = finite(x)
    if v is None:
        return "—"
    return format_percent(v, format=_percent_pattern(lang, digits), locale=lang)


def fmt_s(x: Any, digits: int = 1) -> str:
    """Seconds, or minutes from ten minutes up; missing or infinite -> ``"—"``."""
    v = finite(x)
    if v is None:
        return "—"
    if abs(v) >= 600:
        return f"{v / 60:.1f} min"
    return f"{v:.{digits}f} s"


def fmt_num(x: Any, digits: int = 0) -> str:
    """A number with thin-space thousands; missing or infinite -> ``"—"``."""
    v = finite(x)
    if v is None:
        return "—"
    return f"{v:,.{digits}f}".replace(",", "\u202f")
