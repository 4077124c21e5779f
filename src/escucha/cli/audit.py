"""``escucha audit verify``: check that the audit trail was not edited."""

from __future__ import annotations

import json

import typer

from escucha.cli.common import db_transaction


def register(app: typer.Typer) -> None:
    audit = typer.Typer(help="The append-only, hash-chained audit trail.", no_args_is_help=True)

    @audit.command("verify")
    def verify(
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Recompute every hash of the chain; exit 1 if any event was edited or removed.

        Keep the printed head hash somewhere else: a later run that ends in a different hash
        for the same event count means the chain was rewritten.
        """
        # Imported when the command runs, so the CLI starts fast.
        from escucha.audit import service

        with db_transaction() as session:
            result = service.verify(session)
        if as_json:
            typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        elif result.ok:
            typer.echo(
                f"audit trail intact: {result.events} events, head {result.head_seq} "
                f"{result.head_hash}"
            )
        else:
            for problem in result.problems:
                typer.echo(f"error: {problem}", err=True)
            typer.echo(f"audit trail BROKEN: {len(result.problems)} problems", err=True)
        if not result.ok:
            raise typer.Exit(1)

    app.add_typer(audit, name="audit")
