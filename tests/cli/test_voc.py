"""``escucha voc themes`` (M3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from escucha.cli import voc

ROWS = [
    ("1", "Me cobraron dos veces la factura", "2024-05-06"),
    ("2", "Cobro duplicado en la factura", "2024-05-07T10:00:00Z"),
    ("3", "La factura trae un cobro de más", "2024-05-14"),
    ("4", "Esperé cuarenta minutos al teléfono", "2024-05-06"),
    ("5", "Cuarenta minutos de espera al teléfono", ""),
    ("6", "Demasiada espera al teléfono", "2024-05-15"),
]


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    voc.register(root)
    return root


def _csv(tmp_path: Path, rows: list[tuple[str, str, str]] = ROWS) -> Path:
    path = tmp_path / "texts.csv"
    lines = ["id,text,at,source"] + [f'{i},"{t}",{a},survey' for i, t, a in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_themes_json(app: typer.Typer, tmp_path: Path) -> None:
    labels = tmp_path / "labels.yaml"
    result = CliRunner().invoke(app, ["voc", "themes", str(_csv(tmp_path)), "--k", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["n_texts"] == 6
    assert data["k"] == 2
    groups = {frozenset(t["member_ids"]) for t in data["themes"]}
    assert groups == {frozenset({"1", "2", "3"}), frozenset({"4", "5", "6"})}
    billing = next(t for t in data["themes"] if "1" in t["member_ids"])
    assert billing["weekly"] == {"2024-05-06": 2, "2024-05-13": 1}
    labels.write_text(f"{billing['key']}: Cobros duplicados\n", encoding="utf-8")
    relabelled = CliRunner().invoke(
        app,
        ["voc", "themes", str(_csv(tmp_path)), "--k", "2", "--labels", str(labels), "--json"],
    )
    themes = json.loads(relabelled.stdout)["themes"]
    assert any(t["label"] == "Cobros duplicados" for t in themes)
    table = CliRunner().invoke(app, ["voc", "themes", str(_csv(tmp_path)), "--k", "2"])
    assert table.exit_code == 0
    assert "size" in table.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,body\n1,x\n", "texts.csv:1: missing columns text"),
        ("id,text,at\n1,x,yesterday\n", "texts.csv:2: 'at' is not an ISO date"),
        ("id,text\n1,x\n1,y\n", "texts.csv:3: duplicate id '1'"),
        ("id,text\n,x\n", "texts.csv:2: empty id"),
    ],
)
def test_bad_csv_is_reported(app: typer.Typer, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "texts.csv"
    path.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(app, ["voc", "themes", str(path), "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert message in result.stderr


def test_bad_labels_and_missing_file(app: typer.Typer, tmp_path: Path) -> None:
    labels = tmp_path / "labels.yaml"
    labels.write_text("- not a mapping\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["voc", "themes", str(_csv(tmp_path)), "--labels", str(labels)]
    )
    assert result.exit_code == 1
    assert "mapping of theme key to label" in result.stderr
    labels.write_text("a: [unclosed\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["voc", "themes", str(_csv(tmp_path)), "--labels", str(labels)]
    )
    assert result.exit_code == 1
    assert "labels.yaml" in result.stderr
    missing = CliRunner().invoke(app, ["voc", "themes", str(tmp_path / "none.csv")])
    assert missing.exit_code == 1
    assert "cannot read" in missing.stderr
