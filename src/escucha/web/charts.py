"""Charts on the screens: Plotly's JS served from the package, and the chart pages' policy.

Plotly's JS comes from the installed ``plotly`` package (``GET /static-charts/plotly.min.js``),
never from a CDN, so the charts work offline. A page embeds each figure's JSON in a
``<script type="application/json" class="chart-data">`` data island
(:func:`escucha.analytics.charts.figure_json`), and ``static/charts.js`` draws every
``[data-figure]`` element with ``Plotly.newPlot``.

Plotly adds ``<style>`` elements and style attributes while drawing, so chart pages send
:data:`CHART_CSP` (``'unsafe-inline'`` in ``style-src`` only; scripts stay ``'self'``): see
``docs/adr/0008-chart-pages-allow-inline-styles.md``.

The figures themselves are built by :mod:`escucha.analytics.charts`, for these pages and the
offline report alike; a page gives them ``tr`` (:func:`translator`) and renders them.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse

from escucha.analytics import charts
from escucha.analytics.figures import fmt_num, fmt_s
from escucha.app import CSP
from escucha.auth.api import Public
from escucha.i18n import translator as translator_in
from escucha.org import home
from escucha.web.i18n import pick_language

router = APIRouter(include_in_schema=False)

PLOTLY_PATH = "/static-charts/plotly.min.js"
CHART_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
"""The app's policy with inline styles allowed (Plotly sets them); scripts stay ``'self'``."""


# --------------------------------------------------------------------------------------------
# Plotly's JS, from the package
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Asset:
    body: bytes
    gzipped: bytes
    etag: str
    version: str


@cache
def _plotly() -> _Asset:
    import plotly

    body = charts.plotly_js().encode("utf-8")
    return _Asset(
        body=body,
        gzipped=gzip.compress(body, compresslevel=6, mtime=0),
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        version=str(plotly.__version__),
    )


def plotly_src() -> str:
    """The URL of Plotly's JS, with the package version so that an upgrade busts caches."""
    import plotly

    return f"{PLOTLY_PATH}?v={plotly.__version__}"


@router.get(PLOTLY_PATH)
def plotly_js(request: Request, _caller: Public) -> Response:
    """Plotly's JS from the installed package (computed once, cached by browsers for a year)."""
    asset = _plotly()
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable",
        "ETag": asset.etag,
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    body = asset.body
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


def allow_chart_styles(response: HTMLResponse) -> HTMLResponse:
    """Give a chart page (or fragment) the policy that lets Plotly style its elements."""
    response.headers["Content-Security-Policy"] = CHART_CSP
    return response


def translator(request: Request) -> tuple[str, charts.Translate]:
    """The page's language and its translation function (for text built in Python)."""
    lang = pick_language(request)
    return lang, translator_in(lang)


def org_zone(session: Session) -> ZoneInfo:
    """The organisation's time zone (read by :mod:`escucha.org.home`)."""
    return home.zone(session)


FORMATTERS: dict[str, Any] = {"pct_digits": 1, "secs": fmt_s, "num": fmt_num}
"""Template helpers of the chart pages (percentages with one decimal there)."""
