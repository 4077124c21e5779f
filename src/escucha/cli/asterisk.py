"""``escucha asterisk check``: what the organisation's Asterisk PBX lacks (ADR 22)."""

from __future__ import annotations

import typer

from escucha.cli.common import db_transaction, settings


def register(app: typer.Typer) -> None:
    asterisk = typer.Typer(help="The organisation's Asterisk PBX.", no_args_is_help=True)

    @asterisk.command("check")
    def check() -> None:
        """Connect to the PBX (ESCUCHA_ARI_URL) and say what is missing; exit 1 if anything is."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha.asterisk.check import check as run_check

        cfg = settings()
        with db_transaction() as session:
            findings = run_check(session, cfg)
        marks = {"ok": "ok      ", "warning": "warning ", "missing": "MISSING "}
        for finding in findings:
            typer.echo(marks[finding.level] + finding.text)
        missing = sum(1 for f in findings if f.level == "missing")
        if missing:
            typer.echo(f"{missing} thing(s) missing before escucha can run calls on this PBX")
            raise typer.Exit(1)
        typer.echo("the PBX has everything escucha needs")

    app.add_typer(asterisk, name="asterisk")
