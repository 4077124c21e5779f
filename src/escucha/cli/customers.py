"""``escucha customers export|erase``: a customer's data protection rights (ADR 27)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import typer

from escucha.cli.common import clock, db_transaction, fail, settings, write_out


def register(app: typer.Typer) -> None:
    customers = typer.Typer(
        help="Customers: export or erase a customer's data.", no_args_is_help=True
    )

    @customers.command("export")
    def export(
        customer_id: int = typer.Argument(..., help="The customer's number."),
        out: Path | None = typer.Option(None, "--out", help="Write here instead of stdout."),
        actor: str = typer.Option("cli", "--actor", help="Who asks, for the audit trail."),
    ) -> None:
        """Write every piece of the customer's data as JSON (audited)."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha.contacts.customers import get_customer
        from escucha.flows import customers as records

        with db_transaction() as session:
            customer = get_customer(session, customer_id)
            data = records.export(session, customer, now=clock.now(), actor=f"cli:{actor}")
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        write_out(text, out, f"customer {customer_id} written to {out}")

    @customers.command("erase")
    def erase(
        customer_id: int = typer.Argument(..., help="The customer's number."),
        yes: bool = typer.Option(False, "--yes", help="Erase without asking."),
        actor: str = typer.Option("cli", "--actor", help="Who asks, for the audit trail."),
    ) -> None:
        """Erase the customer's personal data; complaints keep number, dates and an
        anonymised text (audited)."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha.contacts.customers import get_customer
        from escucha.flows import customers as records
        from escucha.voice.service import recordings_dir

        if not yes and not typer.confirm(f"Erase the personal data of customer {customer_id}?"):
            fail("nothing erased", code=1)
        cfg = settings()
        with db_transaction(cfg) as session:
            customer = get_customer(session, customer_id)
            done = records.erase(
                session,
                customer,
                now=clock.now(),
                actor=f"cli:{actor}",
                recordings_dir=recordings_dir(cfg),
            )
        for folder in done.folders:
            shutil.rmtree(Path(folder), ignore_errors=True)
        kept = ", ".join(done.kept_complaints) or "none"
        typer.echo(f"customer {customer_id} erased; complaints kept anonymised: {kept}")

    app.add_typer(customers, name="customers")
