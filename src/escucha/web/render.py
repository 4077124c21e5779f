"""Jinja2 rendering for the screens: language, user, CSRF token and navigation in every page."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import HTMLResponse

from escucha import languages
from escucha.analytics.figures import fmt_pct
from escucha.auth.api import csrf_token
from escucha.auth.rules import allows
from escucha.i18n import translator
from escucha.org import home
from escucha.web.i18n import LANGUAGES, pick_language

TEMPLATES = Path(__file__).parent / "templates"

NAV: tuple[tuple[str, str, str], ...] = (
    # (minimum role, path, label id)
    ("agent", "/agent", "Agent desktop"),
    ("agent", "/tickets", "Tickets"),
    ("agent", "/customers", "Customers"),
    ("agent", "/qa/mine", "My reviews"),
    ("supervisor", "/supervisor", "Supervisor"),
    ("supervisor", "/supervisor/wallboard", "Wallboard"),
    ("supervisor", "/promises", "Promises by team"),
    ("supervisor", "/planning", "Planning"),
    ("supervisor", "/reports", "Call reports"),
    ("supervisor", "/ivr", "IVR editor"),
    ("supervisor", "/qa", "Quality"),
    ("supervisor", "/voc", "Voice of the customer"),
    ("supervisor", "/reports/agents", "Agent reports"),
    ("admin", "/admin", "Administration"),
)


@pass_context
def pct(ctx: Context, share: float | None, digits: int | None = None) -> str:
    """A share as a percentage in the page's language; decimals from ``pct_digits`` (0)."""
    places = int(ctx.get("pct_digits", 0)) if digits is None else digits
    return fmt_pct(share, places, str(ctx.get("lang", "es")))


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "xml"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    lang = pick_language(request)
    user = getattr(request.state, "user", None)

    _ = translator(lang)

    nav = (
        [(path, _(label)) for role, path, label in NAV if allows(user.role, role)]
        if user is not None
        else []
    )
    labels: dict[str, str] | None = None

    def team_name(name: str | None) -> str:
        """A team's name (its key or default display name) in the page's language."""
        nonlocal labels
        if not name:
            return ""
        if labels is None:
            with request.app.state.session_factory() as session:
                labels = home.team_labels(session, lang)
        return labels.get(name, name)

    ctx: dict[str, Any] = {
        "request": request,
        "_": _,
        "lang": lang,
        "languages": LANGUAGES,
        "team_name": team_name,
        "language_names": {code: languages.CATALOG[code].name for code in LANGUAGES},
        "user": user,
        "csrf_token": csrf_token(request),
        "nav": nav,
        "path": request.url.path,
        "pct": pct,
    }
    ctx.update(context or {})
    html = environment().get_template(name).render(ctx)
    return HTMLResponse(html, status_code=status_code)
