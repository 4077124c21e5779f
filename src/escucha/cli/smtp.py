"""``escucha smtp``: the SMTP listener for email in, alone (P2)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer

from escucha.cli.common import settings
from escucha.logs import configure_logging


def register(app: typer.Typer) -> None:
    @app.command("smtp")
    def smtp(
        port: int = typer.Option(..., "--port", min=1, max=65535, help="Port to listen on."),
        host: str | None = typer.Option(None, help="Address (default ESCUCHA_HOST)."),
    ) -> None:
        """Receive email: each message becomes a ticket or joins one, and is acknowledged."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha.tickets.smtp import serve_smtp

        cfg = settings()
        configure_logging(json_logs=cfg.log_json, level=cfg.log_level)
        stop = threading.Event()

        def _stop(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        typer.echo(f"escucha smtp listening on {host or cfg.host}:{port}", err=True)
        serve_smtp(cfg, port=port, host=host, stop=stop)
