"""Translations: the Babel ``.po`` catalogs, the one way escucha's text changes language.

Screens, the call-log report and anything else that shows words read the catalogs of
``escucha/web/translations/<code>/LC_MESSAGES/messages.po`` through this module; the web adds
only how a request picks its language (:mod:`escucha.web.i18n`).

Catalogs are read from the package at start (no compiled files to keep in step). Message ids
are English; a string a catalog lacks falls back to the language's fallback (Catalan to
Spanish), then to the English id.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

from escucha import languages

CATALOGS = Path(__file__).parent / "web" / "translations"


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


@dataclass(frozen=True)
class Translator:
    """``_(message, **fields)`` in ``lang``: the catalog's text, its ``{field}`` filled in.

    It knows its language, so what it words can also write numbers the language's way (the
    charts' decimal and thousands marks)."""

    lang: str

    def __call__(self, message: str, **fields: Any) -> str:
        text = gettext(self.lang, message)
        return text.format(**fields) if fields else text


def translator(lang: str) -> Translator:
    """The translation function of ``lang``."""
    return Translator(lang)
