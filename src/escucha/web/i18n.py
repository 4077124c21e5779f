"""Spanish and English for screens and messages, from Babel ``.po`` catalogs.

Catalogs are read from the package at start (no compiled files to keep in step).
Message ids are English; Spanish is the default language of the demo.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po
from starlette.requests import Request

LANGUAGES = ("es", "en")
CATALOGS = Path(__file__).parent / "translations"


@cache
def catalog(lang: str) -> dict[str, str]:
    path = CATALOGS / lang / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        cat = read_po(fh, locale=lang)
    return {str(msg.id): str(msg.string) for msg in cat if msg.id and msg.string}


def gettext(lang: str, message: str) -> str:
    return catalog(lang).get(message, message)


def pick_language(request: Request, default: str) -> str:
    """The user's choice, else the session's, else the browser's, else the default."""
    user = getattr(request.state, "user", None)
    if user is not None and user.language in LANGUAGES:
        return str(user.language)
    lang = request.session.get("lang")
    if isinstance(lang, str) and lang in LANGUAGES:
        return lang
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return default
