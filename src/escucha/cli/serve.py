"""``escucha serve``, ``escucha worker`` and ``escucha demo``."""

from __future__ import annotations

import signal
import socket
from pathlib import Path
from types import FrameType

import typer

from escucha.cli.common import clock, db_transaction, fail, settings
from escucha.logs import configure_logging

DEMO_ORG = Path(__file__).resolve().parent.parent / "org" / "demo.yaml"

#: A peer that stops answering (a desk whose machine lost the network without closing its
#: connection) is dropped after this many seconds of unacknowledged data or keep-alive probes,
#: so its live stream ends and the desk is no longer marked alive (ADR 16).
DEAD_PEER_S = 10


def notice_dead_peers(sock: socket.socket) -> None:
    """TCP keep-alive probes and a user timeout on the listening socket; the connections it
    accepts inherit them (Linux). Where the options do not exist nothing is set."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    options = (
        ("TCP_KEEPIDLE", 4),
        ("TCP_KEEPINTVL", 2),
        ("TCP_KEEPCNT", 3),
        ("TCP_USER_TIMEOUT", DEAD_PEER_S * 1000),
    )
    for name, value in options:
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: str | None = typer.Option(None, help="Address to listen on (ESCUCHA_HOST)."),
        port: int | None = typer.Option(None, help="Port (ESCUCHA_PORT)."),
        worker: bool = typer.Option(True, help="Run the job worker in this process."),
        smtp_port: int | None = typer.Option(
            None, "--smtp-port", help="Also receive email on this port (SMTP)."
        ),
    ) -> None:
        """Serve the web screens, the API and the webhooks."""
        import uvicorn

        # Imported when the command runs, so the CLI starts fast.
        from escucha.app import create_app
        from escucha.db import migrate
        from escucha.db.engine import make_engine

        overrides: dict[str, object] = {"run_worker": worker}
        if host:
            overrides["host"] = host
        if port:
            overrides["port"] = port
        if smtp_port:
            overrides["smtp_listen_port"] = smtp_port
        cfg = settings().model_copy(update=overrides)
        configure_logging(json_logs=cfg.log_json, level=cfg.log_level)
        engine = make_engine(cfg)
        if not migrate.is_at_head(engine):
            fail("the database schema is not up to date: run `escucha db upgrade` first")
        engine.dispose()
        listener = None
        if cfg.smtp_listen_port:
            # Imported when the command runs, so the CLI starts fast.
            from escucha.tickets.smtp import start_smtp_listener

            listener = start_smtp_listener(cfg)
        try:
            config = uvicorn.Config(
                create_app(cfg),
                host=cfg.host,
                port=cfg.port,
                log_config=None,
                access_log=False,
                timeout_keep_alive=cfg.keep_alive_s,
                # Forwarding headers are believed only from ESCUCHA_TRUSTED_PROXIES, by the
                # application itself; uvicorn would trust 127.0.0.1 by default.
                proxy_headers=False,
                forwarded_allow_ips="",
            )
            sock = config.bind_socket()
            notice_dead_peers(sock)
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            if listener is not None:
                listener.stop()

    @app.command("worker")
    def worker_cmd() -> None:
        """Run the job worker alone (messages, callbacks, escalations)."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha.db.engine import make_engine, make_sessionmaker
        from escucha.jobs.worker import Worker

        cfg = settings()
        configure_logging(json_logs=cfg.log_json, level=cfg.log_level)
        engine = make_engine(cfg)
        factory = make_sessionmaker(engine)
        w = Worker(factory, cfg, clock, "worker")

        def stop(_signum: int, _frame: FrameType | None) -> None:
            w.stop_event.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        pbx_threads = []
        if cfg.ari_url or cfg.ami_host:
            # Imported when the command runs, so the CLI starts fast.
            from escucha.asterisk.consumer import start_pbx_threads

            pbx_threads = start_pbx_threads(factory, cfg, clock)
        w.run_forever()
        for thread in pbx_threads:
            thread.stop()
        engine.dispose()

    demo = typer.Typer(help="The demo organisation.", no_args_is_help=True)

    @demo.command("load")
    def load() -> None:
        """Load (or refresh) the demo organisation and print its accounts."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha import yamlio
        from escucha.org import service as org_service

        try:
            with db_transaction() as session:
                counts = org_service.apply_file(session, DEMO_ORG, now=clock.now())
        except yamlio.YamlFileError as exc:
            fail(exc.message)
        cfg = settings()
        typer.echo("demo organisation loaded: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        typer.echo(f"open {cfg.public_url}/login and use one of these accounts:")
        doc = yamlio.load(DEMO_ORG)
        for u in doc["users"]:
            typer.echo(f"  {u['role']:<11} {u['username']:<8} password: {u['password']}")

    @demo.command("history")
    def history(
        weeks: int = typer.Option(3, min=1, max=12, help="Weeks of history before today."),
        seed: int = typer.Option(7, help="Seed of the random draws (same seed, same history)."),
        if_empty: bool = typer.Option(
            False, "--if-empty", help="Do nothing when the database already has contacts."
        ),
    ) -> None:
        """Fill the demo with weeks of calls, cases, surveys and reviews made by escucha's own
        engines, so every page has a past."""
        # Imported when the command runs, so the CLI starts fast.
        from escucha.db.engine import make_engine, make_sessionmaker
        from escucha.flows.demo_history import has_history, make_history

        cfg = settings()
        engine = make_engine(cfg)
        factory = make_sessionmaker(engine)
        with factory() as session:
            if if_empty and has_history(session):
                typer.echo("the demo already has a history: nothing to do")
                return
        done = make_history(
            factory, cfg, now=clock.now(), weeks=weeks, seed=seed, progress=typer.echo
        )
        engine.dispose()
        typer.echo(
            f"demo history: {done.days} days, {done.calls} calls ({done.answered} answered, "
            f"{done.abandoned} hung up, {done.callbacks} callbacks), {done.cases} cases "
            f"({done.cases_answered} answered), {done.surveys} surveys, {done.reviews} reviews"
        )

    app.add_typer(demo, name="demo")
