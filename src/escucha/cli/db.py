"""``escucha db``: migrations."""

from __future__ import annotations

import typer

from escucha.cli.common import settings


def register(app: typer.Typer) -> None:
    db = typer.Typer(help="Database schema.", no_args_is_help=True)

    @db.command("upgrade")
    def upgrade(revision: str = typer.Argument("head")) -> None:
        """Migrate the database to the newest schema (or to REVISION)."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha.db import migrate
        from escucha.db.engine import make_engine

        engine = make_engine(settings())
        migrate.upgrade(engine, revision)
        typer.echo(f"database at {migrate.current_revision(engine)}")
        engine.dispose()

    @db.command("current")
    def current() -> None:
        """Show the database's schema revision and the newest one."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha.db import migrate
        from escucha.db.engine import make_engine

        engine = make_engine(settings())
        typer.echo(f"current: {migrate.current_revision(engine)}  head: {migrate.head_revision()}")
        engine.dispose()

    app.add_typer(db, name="db")
