"""docs/guides/ivr.md stays true: every rule is documented and the bad example's output is real."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from escucha.cli.ivr import register
from escucha.ivr import service
from escucha.ivr.lint import RULES

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "ivr.md"


def test_guide_documents_every_rule() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for rule in RULES.values():
        assert f"### `{rule.id}` — {rule.severity}" in text
        assert rule.fix in text


def test_guide_shows_the_real_lint_output_of_the_bad_example() -> None:
    app = typer.Typer()
    register(app)
    path = service.example_path("malo")
    result = CliRunner().invoke(app, ["ivr", "lint", str(path), "--lang", "en"])
    output = result.stdout.replace(str(path), "src/escucha/ivr/examples/malo.yaml")
    assert output.strip() in GUIDE.read_text(encoding="utf-8")
