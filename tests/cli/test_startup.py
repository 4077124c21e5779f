"""The ``escucha`` command starts fast: building it imports no heavy library.

Every module of ``escucha.cli`` is imported (and every command built) on each run, even for
``escucha --help``; the domain code behind a command is imported only when that command runs.
Checked in a fresh interpreter by the modules it loaded, not by timing anything.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from escucha.cli.main import app

#: Libraries that cost seconds together (NumPy, SciPy, pandas, scikit-learn, DuckDB, Arrow, the
#: ORM, the web stack); no command needs them for its help. Building the command needs Typer and
#: Rich (and pydantic, which Typer itself loads to read a subcommand's options).
HEAVY = (
    "alembic",
    "argon2",
    "babel",
    "duckdb",
    "fastapi",
    "holidays",
    "httpx",
    "jinja2",
    "numpy",
    "pandas",
    "phonenumbers",
    "plotly",
    "pyarrow",
    "scipy",
    "sklearn",
    "sqlalchemy",
    "starlette",
    "twilio",
    "uvicorn",
)

_LOADED = """
import json, sys
from escucha.cli.main import app
try:
    app(sys.argv[1:], prog_name="escucha")
except SystemExit:
    pass
heavy = set(json.loads({heavy!r}))
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & heavy)))
"""


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["staff", "--help"], ["users", "token", "--help"], ["bench", "routing", "--help"]],
    ids=" ".join,
)
def test_help_imports_no_heavy_library(argv: list[str]) -> None:
    code = _LOADED.format(heavy=json.dumps(HEAVY))
    run = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "Usage:" in run.stdout
    assert json.loads(run.stdout.splitlines()[-1]) == []


def _paths(command: object, path: list[str]) -> list[list[str]]:
    found = [path]
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        found += _paths(sub, [*path, name])
    return found


def test_every_command_shows_its_help() -> None:
    """Names only imported for type checking never reach a command's options."""
    paths = _paths(typer.main.get_command(app), [])
    assert len(paths) > 30
    for path in paths:
        result = CliRunner().invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output


def test_the_help_of_sl_definition_names_every_definition() -> None:
    """``escucha staff`` lists the definitions without importing the Erlang module."""
    from escucha.cli.staff import SL_DEFINITION_NAMES
    from escucha.numerics.erlang import SL_DEFINITIONS

    assert SL_DEFINITION_NAMES == SL_DEFINITIONS
