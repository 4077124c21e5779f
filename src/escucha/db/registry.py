"""Imports every domain's models so ``Base.metadata`` is complete (migrations, tests)."""

from __future__ import annotations

from sqlalchemy import MetaData

from escucha.db.base import Base
from escucha.discovery import domain_modules, import_all


def load_models() -> MetaData:
    import_all(domain_modules("models"))
    return Base.metadata
