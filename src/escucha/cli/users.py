"""``escucha users``: accounts and API tokens."""

from __future__ import annotations

from datetime import datetime

import typer

from escucha.cli.common import clock, db_transaction, fail


def _when(at: datetime | None, none: str) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if at is not None else none


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
            changed = service.set_password(session, user, password, now=clock.now())
        if changed:
            typer.echo(f"password of {username} changed; its sessions ended, its tokens revoked")
        else:
            typer.echo(f"{username} already has this password: nothing changed")

    @users.command("token")
    def token(
        username: str,
        name: str = typer.Option("integration", help="What the token is for."),
        scope: str = typer.Option(
            "write",
            help="read (GET only), write (any method) or admin (also admin routes; admins only).",
        ),
        days: int = typer.Option(90, help="Days until it expires (1 to 730)."),
    ) -> None:
        """Create an API token for USERNAME; it is printed once."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha.auth import service
        from escucha.errors import EscuchaError

        try:
            with db_transaction() as session:
                user = service.find_user(session, username)
                raw = service.create_token(
                    session, user, name, now=clock.now(), scope=scope, days=days
                )
        except EscuchaError as exc:
            fail(exc.message)
        typer.echo(raw)

    @users.command("tokens")
    def tokens(
        username: str = typer.Argument("", help="Only this user's tokens."),
    ) -> None:
        """List API tokens (never their values): id, user, name, scope, state, expiry."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha.auth import service
        from escucha.errors import EscuchaError

        now = clock.now()
        try:
            with db_transaction() as session:
                user = service.find_user(session, username) if username else None
                rows = [
                    (
                        t.id,
                        who,
                        t.name,
                        t.prefix,
                        t.scope,
                        service.token_state(t, now),
                        t.expires_at,
                        t.last_used_at,
                    )
                    for t, who in service.list_tokens(session, user=user)
                ]
        except EscuchaError as exc:
            fail(exc.message)
        typer.echo(
            f"{'id':>5}  {'user':<12} {'name':<20} {'prefix':<11} {'scope':<6} {'state':<9} "
            f"{'expires':<17} last used"
        )
        for tid, who, tname, prefix, tscope, state, expires, used in rows:
            typer.echo(
                f"{tid:>5}  {who:<12} {tname[:20]:<20} {prefix:<11} {tscope:<6} {state:<9} "
                f"{_when(expires, 'never'):<17} {_when(used, '-')}"
            )

    @users.command("revoke-token")
    def revoke_token(token_id: int) -> None:
        """Revoke the API token TOKEN_ID (see `escucha users tokens`): it stops working at once."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha.auth import service
        from escucha.errors import EscuchaError

        try:
            with db_transaction() as session:
                service.revoke_token(session, token_id, now=clock.now())
        except EscuchaError as exc:
            fail(exc.message)
        typer.echo(f"token {token_id} revoked")

    @users.command("end-sessions")
    def end_sessions(username: str) -> None:
        """End every browser session of USERNAME (a copied cookie stops working too)."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha.auth import service
        from escucha.errors import EscuchaError

        try:
            with db_transaction() as session:
                user = service.find_user(session, username)
                ended = service.end_sessions(session, user, now=clock.now(), reason="admin")
        except EscuchaError as exc:
            fail(exc.message)
        typer.echo(f"{ended} session(s) of {username} ended")

    @users.command("login-failures")
    def login_failures(hours: int = typer.Option(24, min=1, max=720)) -> None:
        """Refused logins of the last HOURS: when, account, client address, outcome."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha.auth import service

        with db_transaction() as session:
            rows = [
                (e.at, e.username, e.address, e.outcome)
                for e in service.failed_logins(session, now=clock.now(), hours=hours)
            ]
        for at, who, address, outcome in rows:
            typer.echo(f"{_when(at, '')}  {who:<20} {address:<40} {outcome}")
        typer.echo(f"{len(rows)} refused login(s) in the last {hours} h")

    app.add_typer(users, name="users")
