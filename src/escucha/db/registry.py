"""Imports every domain's models so ``Base.metadata`` is complete (migrations, tests)."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from escucha.db.base import Base

MODEL_MODULES: tuple[str, ...] = (
    "escucha.auth.models",
    "escucha.org.models",
    "escucha.jobs.models",
)


def load_models() -> MetaData:
    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata
