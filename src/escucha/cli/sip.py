"""``escucha sip``: agents' accounts on the organisation's PBX (ADR 23)."""

from __future__ import annotations

import typer

from escucha.cli.common import clock, db_transaction, fail


def register(app: typer.Typer) -> None:
    sip_app = typer.Typer(
        help="Agents' SIP accounts on the organisation's PBX.", no_args_is_help=True
    )

    @sip_app.command("account")
    def account(
        username: str = typer.Argument(..., help="The agent's escucha username."),
        sip_user: str = typer.Option("", help="The SIP username (default: the escucha one)."),
        phone: str = typer.Option(
            "", help="Where the agent's calls ring: browser (the desk) or desk (a desk phone)."
        ),
        rotate: bool = typer.Option(False, help="Make a new password (the old one stops working)."),
    ) -> None:
        """Create or change an agent's SIP account; a new password is printed once, with the
        pjsip.conf sections to paste into the PBX."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha.auth import service as auth
        from escucha.errors import EscuchaError
        from escucha.voice import sip

        try:
            with db_transaction() as session:
                user = auth.find_user(session, username)
                out = sip.issue(
                    session,
                    user,
                    now=clock.now(),
                    username=sip_user or None,
                    phone=phone or None,
                    rotate=rotate,
                )
                if isinstance(out, sip.Issued):
                    name, where = out.account.username, out.account.phone
                    block = sip.pjsip_block(name, out.password, phone=where)
                else:
                    name, where, block = out.username, out.phone, ""
        except EscuchaError as exc:
            fail(exc.message)
        typer.echo(f"{username}: SIP user {name}, calls ring on the {where} phone")
        if block:
            typer.echo("The password is shown only now. Add to the PBX's pjsip.conf:\n")
            typer.echo(block)

    @sip_app.command("list")
    def list_accounts() -> None:
        """Agents' SIP accounts (never their passwords) and the browser's last registration."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha.voice import sip

        with db_transaction() as session:
            rows = [
                (a.username, who, a.phone, a.registration, a.registration_seen_at)
                for a, who in sip.accounts(session)
            ]
        typer.echo(f"{'sip user':<20} {'agent':<16} {'phone':<8} registration")
        for name, who, where, reg, seen in rows:
            when = seen.strftime("%Y-%m-%d %H:%M") if seen is not None else "never"
            typer.echo(f"{name:<20} {who:<16} {where:<8} {reg} (last reported {when})")

    @sip_app.command("remove")
    def remove(username: str = typer.Argument(..., help="The agent's escucha username.")) -> None:
        """Remove an agent's SIP account (remove its sections from pjsip.conf too)."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha.auth import service as auth
        from escucha.errors import EscuchaError
        from escucha.voice import sip

        try:
            with db_transaction() as session:
                sip.remove(session, auth.find_user(session, username))
        except EscuchaError as exc:
            fail(exc.message)
        typer.echo(f"{username}: SIP account removed")

    app.add_typer(sip_app, name="sip")
