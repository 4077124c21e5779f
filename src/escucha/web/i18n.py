"""Screens in every language of the catalog (:mod:`escucha.languages`), from Babel ``.po``
catalogs.

Catalogs are read from the package at start (no compiled files to keep in step). Message ids
are English; a string a catalog lacks falls back to the language's fallback (Catalan to
Spanish), then to the English id.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request

from escucha import languages
from escucha.org import home

LANGUAGES = languages.CODES
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
    text = catalog(lang).get(message)
    if text is not None:
        return text
    fallback = languages.CATALOG[lang].fallback if lang in languages.CATALOG else None
    return catalog(fallback).get(message, message) if fallback else message


def pick_language(request: Request) -> str:
    """The user's choice, else the session's, else the browser's, else the organisation's."""
    user = getattr(request.state, "user", None)
    if user is not None and user.language in LANGUAGES:
        return str(user.language)
    lang = request.session.get("lang")
    if isinstance(lang, str) and lang in LANGUAGES:
        return lang
    for part in request.headers.get("accept-language", "").split(","):
        code = languages.base(part.split(";")[0])
        if code in LANGUAGES:
            return code
    try:
        with request.app.state.session_factory() as session:
            return home.default_language(session)
    except SQLAlchemyError:  # the database is down: a page about that still renders
        return languages.DEFAULT_LANGUAGE
