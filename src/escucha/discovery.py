"""Find each domain's pieces by their conventional file names, so no list must be kept by hand.

A domain with ``models.py`` has tables, with ``jobs.py`` has job handlers, with ``api.py`` has an
API router; a file in ``escucha.web`` with a ``router`` has screens; a file in ``escucha.cli`` with
``register`` has commands.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from functools import cache
from types import ModuleType

import escucha


@cache
def domain_modules(filename: str) -> tuple[str, ...]:
    """``escucha.<domain>.<filename>`` for every domain package that has that file."""
    found = []
    for info in pkgutil.iter_modules(escucha.__path__):
        if not info.ispkg or info.name in ("web", "cli", "db", "numerics"):
            continue
        spec = importlib.util.find_spec(f"escucha.{info.name}.{filename}")
        if spec is not None:
            found.append(f"escucha.{info.name}.{filename}")
    return tuple(sorted(found))


@cache
def package_modules(package: str) -> tuple[str, ...]:
    """Every module directly inside ``package`` (e.g. ``escucha.web``)."""
    pkg = importlib.import_module(package)
    return tuple(
        sorted(
            f"{package}.{info.name}"
            for info in pkgutil.iter_modules(pkg.__path__)
            if not info.ispkg and not info.name.startswith("_")
        )
    )


def import_all(names: tuple[str, ...]) -> list[ModuleType]:
    return [importlib.import_module(n) for n in names]
