"""What every command shares: settings, a transaction, errors printed where they belong.

Importing this module stays cheap (every ``escucha`` run imports it): settings and the
database are imported when a command asks for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from escucha.clock import SystemClock
from escucha.errors import EscuchaError
from escucha.languages import DEFAULT_LANGUAGE

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from escucha.config import Settings


def settings() -> Settings:
    # Imported when the command runs, so the CLI starts fast.
    from escucha.config import load_settings

    try:
        return load_settings()
    except EscuchaError as exc:
        fail(exc.message)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` on stderr and leave with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def pct(share: Any, digits: int = 1, lang: str = DEFAULT_LANGUAGE) -> str:
    """A share as a percentage in ``lang`` (``"81,3 %"``, ``"81.3%"``): the one formatter of
    every screen and report (:func:`escucha.analytics.figures.fmt_pct`)."""
    # Imported when a number is written, so the CLI starts fast (Babel).
    from escucha.analytics.figures import fmt_pct

    return fmt_pct(share, digits, lang)


def words(lang: str) -> Callable[..., str]:
    """``_(message, **fields)``: the Babel catalogs' wording in ``lang`` (:mod:`escucha.i18n`)."""
    # Imported when a command speaks, so the CLI starts fast (Babel).
    from escucha.i18n import translator

    return translator(lang)


def write_out(text: str, out: Path | None, done: str) -> None:
    """``text`` to stdout, or to the file ``out`` with ``done`` said on stderr."""
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"--out: cannot write {out}: {exc.strerror}")
    typer.echo(done, err=True)


@contextmanager
def db_transaction(cfg: Settings | None = None) -> Iterator[Session]:
    """One CLI command is one transaction; an EscuchaError is printed, nothing is kept."""
    # Imported when the command runs, so the CLI starts fast.
    from escucha.db.engine import make_engine, make_sessionmaker
    from escucha.db.session import transaction

    cfg = cfg or settings()
    engine = make_engine(cfg)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            yield session
    except EscuchaError as exc:
        fail(exc.message)
    finally:
        engine.dispose()


clock = SystemClock()
