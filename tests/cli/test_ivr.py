"""``escucha ivr``: lint, rules, test, render and call from the command line (C1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from escucha.cli.ivr import register
from escucha.ivr import service
from escucha.ivr.lint import RULES

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    register(root)
    return root


def _example(name: str) -> str:
    return str(service.example_path(name))


#: Calls are recorded, so the lint also asks for the recording notice in every language.
RECORDING = {"ESCUCHA_RECORD_CALLS": "true"}


def test_lint_bad_example_lists_every_rule_and_fails(app: typer.Typer) -> None:
    result = runner.invoke(app, ["ivr", "lint", _example("malo"), "--lang", "en"], env=RECORDING)
    assert result.exit_code == 1
    for rule in RULES:
        assert f"[{rule}]" in result.stdout
    assert "malo.yaml:18: error [person] ivr.nodes.main:" in result.stdout
    assert "8 errors, 12 warnings" in result.stdout


@pytest.mark.parametrize("name", ["banco", "telco", "agua"])
def test_lint_good_examples_pass(app: typer.Typer, name: str) -> None:
    result = runner.invoke(app, ["ivr", "lint", _example(name)])
    assert result.exit_code == 0, result.output
    assert "0 errores, 0 avisos" in result.stdout


def test_lint_json_is_only_json(app: typer.Typer) -> None:
    result = runner.invoke(app, ["ivr", "lint", _example("malo"), "--json"], env=RECORDING)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["errors"] == 8
    assert {f["rule"] for f in data["findings"]} == set(RULES)


def test_lint_structural_error_goes_to_stderr_with_line(app: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "org.yaml"
    bad.write_text(
        "ivr:\n  nodes:\n    main:\n      type: menu\n      options:\n"
        "        - {key: 1, goto: nowhere}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["ivr", "lint", str(bad), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"{bad}:6: ivr.nodes.main.options[0].goto:" in result.stderr


def test_rules_lists_the_catalogue(app: typer.Typer) -> None:
    result = runner.invoke(app, ["ivr", "rules", "--json", "--lang", "en"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["rule"] for r in rows] == list(RULES)
    assert all(r["explanation"] and r["fix"] for r in rows)


def test_journey_test_passes_and_prints_paths(app: typer.Typer) -> None:
    result = runner.invoke(
        app, ["ivr", "test", _example("banco"), "--tasks", _example("banco.tasks")]
    )
    assert result.exit_code == 0, result.output
    assert "OK   pagar un recibo (es) -> queue payments" in result.stdout
    assert "path start>main>2>payments>1>pay" in result.stdout


def test_journey_test_fails_above_thresholds(app: typer.Typer, tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(
        "max_keys: 1\ntasks:\n  - name: {es: pagar un recibo}\n    goal: {queue: payments}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["ivr", "test", _example("banco"), "--tasks", str(tasks), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert data["tasks"][0]["problems"] == ["2 keys > 1"]


def test_journey_test_with_a_call_log(app: typer.Typer, tmp_path: Path) -> None:
    log = tmp_path / "paths.csv"
    log.write_text(
        "call_id,path,outcome\n1,main>0>people,queued\n2,main>1>cards,queued\n"
        "3,main,hangup\n4,main>1>cards,queued\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app,
        ["ivr", "test", _example("banco"), "--tasks", _example("banco.tasks"), "--calls", str(log)],
    )
    assert result.exit_code == 0, result.output
    assert "zero-out to a person 25.0%; hung up in the IVR 25.0%" in result.stdout


def test_call_scripted_keys_and_words(app: typer.Typer) -> None:
    result = runner.invoke(app, ["ivr", "call", _example("telco"), "--keys", "1,una persona"])
    assert result.exit_code == 0, result.output
    assert "[faults] Para internet o teléfono fijo, pulse 1." in result.stdout
    assert "= queue general" in result.stdout
    assert "path main>1>faults>0>people" in result.stdout


def test_call_interactive_in_english_out_of_hours(app: typer.Typer) -> None:
    result = runner.invoke(
        app,
        ["ivr", "call", _example("agua"), "--closed", "--language", "en", "--json"],
        input="\n2\n",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "voicemail"
    assert data["path"] == "start>closed>2>message"
    assert [h["kind"] for h in data["heard"]][:3] == ["greeting", "prompt", "no_input"]


def test_call_rejects_an_unknown_language(app: typer.Typer) -> None:
    result = runner.invoke(app, ["ivr", "call", _example("banco"), "--language", "fr"])
    assert result.exit_code == 2
    assert "--language" in result.stderr


@pytest.mark.skipif(not Path("/usr/bin/espeak-ng").exists(), reason="espeak-ng is not installed")
def test_render_writes_wavs_and_index(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "ivr",
            "render",
            _example("agua"),
            "--out",
            str(out),
            "--cache-dir",
            str(tmp_path / "c"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert Path(data["index"]).is_file()
    assert all(Path(p["file"]).is_file() and p["seconds"] > 0 for p in data["prompts"])


def test_rules_text_in_spanish(app: typer.Typer) -> None:
    result = runner.invoke(app, ["ivr", "rules"])
    assert result.exit_code == 0
    assert "person (error): Camino a una persona" in result.stdout
    assert "arreglo:" in result.stdout


def test_call_that_stops_waiting_in_a_menu(app: typer.Typer) -> None:
    result = runner.invoke(app, ["ivr", "call", _example("banco"), "--keys", "2"])
    assert result.exit_code == 0, result.output
    assert "= waiting in payments" in result.stdout


def test_missing_file_is_a_usage_error(app: typer.Typer, tmp_path: Path) -> None:
    missing = tmp_path / "none.yaml"
    for command in (["lint", str(missing)], ["call", str(missing)]):
        result = runner.invoke(app, ["ivr", *command])
        assert result.exit_code == 2
        assert str(missing) in result.stderr
