"""``escucha config``: the organisation as YAML."""

from __future__ import annotations

from pathlib import Path

import typer

from escucha.cli.common import clock, db_transaction, fail


def register(app: typer.Typer) -> None:
    cfg = typer.Typer(
        help="Organisation: queues, skills, agents, calendars, SLAs.", no_args_is_help=True
    )

    @cfg.command("apply")
    def apply(file: Path) -> None:
        """Apply an organisation YAML: everything in it, or nothing if any line is wrong."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha import yamlio
        from escucha.org import service

        try:
            with db_transaction() as session:
                counts = service.apply_file(session, file, now=clock.now())
        except yamlio.YamlFileError as exc:
            fail(f"{file} was not applied:\n{exc.message}")
        typer.echo("applied: " + ", ".join(f"{v} {k}" for k, v in counts.items()))

    @cfg.command("check")
    def check(file: Path) -> None:
        """Validate an organisation YAML without applying it."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha import yamlio
        from escucha.org import service

        try:
            service.parse_org(yamlio.read_text(file), str(file))
        except yamlio.YamlFileError as exc:
            fail(exc.message)
        except OSError as exc:
            fail(str(exc))
        typer.echo(f"{file}: ok")

    @cfg.command("export")
    def export(out: Path | None = typer.Option(None, "--out", help="Write to a file.")) -> None:
        """Print the organisation as YAML (passwords are never exported)."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha import yamlio
        from escucha.org import service

        with db_transaction() as session:
            text = yamlio.dump_text(service.export_org(session))
        if out:
            out.write_text(text, encoding="utf-8")
        else:
            typer.echo(text, nl=False)

    app.add_typer(cfg, name="config")
