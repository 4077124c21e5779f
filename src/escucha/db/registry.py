"""Imports every domain's models so ``Base.metadata`` is complete (migrations, tests)."""

from __future__ import annotations

from sqlalchemy import MetaData

from escucha.db.base import Base
from escucha.discovery import domain_modules, import_all


def load_models() -> MetaData:
    """Every table, and the session hooks that keep each process's routing engine in step.

    The hooks (a domain's ``hooks.py`` with ``install()``, e.g. :mod:`escucha.routing.hooks`)
    are installed here, where every session factory is made, so that any process that writes
    what routing sees (the web app, a worker, ``escucha config apply``) moves the routing
    version on and no running server keeps routing on an old picture.
    """
    import_all(domain_modules("models"))
    for hooks in import_all(domain_modules("hooks")):
        hooks.install()
    return Base.metadata
