"""The routing domain's session hooks: every flush that changes what routing sees moves the
routing version on (:mod:`escucha.routing.cache`). :func:`escucha.db.registry.load_models`
finds this file by its name, as it finds ``models.py`` (ADR 9), and calls :func:`install`."""

from __future__ import annotations

from escucha.routing.cache import install

__all__ = ["install"]
