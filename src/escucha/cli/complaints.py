"""``escucha complaints export``: the complaints register as CSV (P5)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import typer

from escucha.cli.common import db_transaction, fail, write_out


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option}: {text!r} is not a date; write it as YYYY-MM-DD", code=2)


def register(app: typer.Typer) -> None:
    complaints = typer.Typer(
        help="Complaints: the register a regulator asks for.", no_args_is_help=True
    )

    @complaints.command("export")
    def export(
        start: str = typer.Option(..., "--from", help="First day (YYYY-MM-DD), included."),
        end: str = typer.Option(..., "--to", help="Last day (YYYY-MM-DD), included."),
        out: Path | None = typer.Option(None, "--out", help="Write here instead of stdout."),
    ) -> None:
        """Write the complaints received from --from to --to as CSV.

        Columns: code, received_at, channel, kind, topic, status, team, deadline,
        resolved_at, resolution, notified_at, appealed_at, deemed_accepted. Days are read in
        the organisation's time zone; times are written in UTC (ISO 8601).
        """
        # Imported when the command runs, so the CLI starts fast.
        from escucha.org import home
        from escucha.tickets import reporting

        first, last = _day(start, "--from"), _day(end, "--to")
        if last < first:
            fail(f"--to ({last}) is before --from ({first})", code=2)
        with db_transaction() as session:
            zone = home.zone(session)
            rows = reporting.complaints_register(
                session,
                start=datetime.combine(first, time(0), zone),
                end=datetime.combine(last + timedelta(days=1), time(0), zone),
            )
        text = reporting.register_csv(rows)
        write_out(text, out, f"{len(rows)} complaints written to {out}")

    app.add_typer(complaints, name="complaints")
