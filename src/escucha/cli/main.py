"""The ``escucha`` command: one Typer sub-app (or command group) per file in this package."""

from __future__ import annotations

import typer

from escucha.discovery import import_all, package_modules

app = typer.Typer(
    name="escucha",
    help="escucha: an open-source contact center that keeps its word.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Each module of this package that defines ``register(app: typer.Typer) -> None`` adds its commands.
for _module in import_all(package_modules("escucha.cli")):
    _register = getattr(_module, "register", None)
    if callable(_register):
        _register(app)


def main() -> None:
    """Entry point of the ``escucha`` console script."""
    app()
