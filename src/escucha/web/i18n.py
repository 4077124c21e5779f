"""Screens in every language of the catalog (:mod:`escucha.languages`): the language a request
is shown in. The Babel catalogs themselves are read by :mod:`escucha.i18n` (named here for the
screens).
"""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request

from escucha import languages
from escucha.i18n import CATALOGS as CATALOGS
from escucha.i18n import catalog as catalog
from escucha.i18n import gettext as gettext
from escucha.org import home

LANGUAGES = languages.CODES


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
