"""What the offline report and the web's chart pages share: number formats and curve sampling.

Both draw Plotly figures (as plain JSON) from the same KPIs and patience summaries; each keeps
its own colours and wording, and takes from here the parts that must not differ between them.
"""

from __future__ import annotations

import itertools
import math
import re
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
from babel import Locale
from babel.numbers import format_percent

from escucha.numerics.patience import PatienceSummary

Figure = dict[str, Any]

MAX_CURVE_POINTS = 1500
"""At most this many points of a survival curve go into a figure."""

LAST_HAZARD_BAND_S = 60.0
"""Width drawn for the open-ended last band of the hazard."""


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


def wait_labels(p: PatienceSummary) -> list[str]:
    """The labels of the abandonment-by-wait bars: ``"≤ 10 s"``, ``"≤ 20 s"``, ..."""
    return [f"≤ {v:g} s" for v in p.by_wait.points_s]


def survival_grid(p: PatienceSummary) -> npt.NDArray[np.float64]:
    """The waits (s) at which to draw the patience curve: its steps (thinned to at most
    :data:`MAX_CURVE_POINTS`) from 0 to the longest wait seen."""
    c = p.curve
    if c.time_s.size > MAX_CURVE_POINTS:
        grid = np.linspace(0.0, float(c.time_s[-1]), MAX_CURVE_POINTS)
    else:
        grid = np.concatenate(([0.0], c.time_s))
    if c.max_wait_s > grid[-1]:
        grid = np.concatenate((grid, [c.max_wait_s]))
    return grid


def hazard_bars(p: PatienceSummary) -> tuple[list[float], list[float]]:
    """Middles and widths (s) of the hazard's bands, the open-ended last one drawn
    :data:`LAST_HAZARD_BAND_S` wide."""
    edges = p.hazard.edges_s
    mids = [
        float((a + b) / 2) if math.isfinite(b) else float(a + LAST_HAZARD_BAND_S / 2)
        for a, b in itertools.pairwise(edges)
    ]
    widths = [
        float(b - a) if math.isfinite(b) else LAST_HAZARD_BAND_S
        for a, b in itertools.pairwise(edges)
    ]
    return mids, widths
