"""The tickets domain's session hooks: every flush that writes a case, a message or a customer
keeps the SQLite search index in step (:mod:`escucha.tickets.search`). Found by its file name
by :func:`escucha.db.registry.load_models`, which calls :func:`install` (ADR 9)."""

from __future__ import annotations

from escucha.tickets.search import install

__all__ = ["install"]
