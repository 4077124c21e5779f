"""The ``escucha`` command: one Typer sub-app (or command group) per file in this package."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="escucha",
    help="escucha: an open-source contact center that keeps its word.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Each module defines ``register(app: typer.Typer) -> None``.
_MODULES: tuple[str, ...] = ("serve", "db", "config", "users")

for _name in _MODULES:
    importlib.import_module(f"escucha.cli.{_name}").register(app)


def main() -> None:
    """Entry point of the ``escucha`` console script."""
    app()
