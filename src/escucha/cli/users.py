"""``escucha users``: accounts and API tokens."""

from __future__ import annotations

import typer

from escucha.cli.common import clock, db_transaction, fail


def register(app: typer.Typer) -> None:
    users = typer.Typer(help="Accounts and API tokens.", no_args_is_help=True)

    @users.command("create")
    def create(
        username: str,
        role: str = typer.Option(..., help="agent, supervisor or admin"),
        name: str = typer.Option("", help="Display name"),
        password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
        language: str = typer.Option("es"),
    ) -> None:
        """Create an account."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha.auth import service

        with db_transaction() as session:
            service.create_user(
                session,
                username=username,
                display_name=name,
                role=role,
                password=password,
                language=language,
                now=clock.now(),
            )
        typer.echo(f"created {role} {username}")

    @users.command("set-password")
    def set_password(
        username: str,
        password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    ) -> None:
        """Set a password (every open session of that user ends)."""
        from sqlalchemy import select

        # Imported when the command runs, so the CLI starts fast.
        from escucha.auth import service
        from escucha.auth.models import User

        with db_transaction() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                fail(f"no user {username!r}")
            service.set_password(session, user, password)
        typer.echo(f"password of {username} changed")

    @users.command("token")
    def token(username: str, name: str = typer.Option("integration")) -> None:
        """Create an API token for USERNAME; it is printed once."""
        from sqlalchemy import select

        # Imported when the command runs, so the CLI starts fast.
        from escucha.auth import service
        from escucha.auth.models import User

        with db_transaction() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                fail(f"no user {username!r}")
            raw = service.create_token(session, user, name, now=clock.now())
        typer.echo(raw)

    app.add_typer(users, name="users")
