"""``escucha qa score`` and ``escucha qa metrics`` (C5 command contract)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from escucha.cli import qa

DATA = Path(__file__).parents[1] / "qa" / "data"
CONTRACT_IDS = {
    "greeting",
    "early_empathy",
    "questions_before_solution",
    "no_repeat_request",
    "holds_announced",
    "recap",
    "concrete_time",
}


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    qa.register(root)
    return root


def _score(app: typer.Typer, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["qa", "score", *args, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_score_json_follows_the_contract(app: typer.Typer) -> None:
    data = _score(app, str(DATA / "es" / "es02_sin_internet.txt"))
    criteria = data["criteria"]
    assert isinstance(criteria, dict)
    assert set(criteria) >= CONTRACT_IDS
    for finding in criteria.values():
        assert set(finding) == {"met", "evidence"}
        assert finding["met"] in (True, False, None)
        assert all(isinstance(i, int) for i in finding["evidence"])
    # The hold line is turn 6 (0-based, hold lines count as turns) and was not announced.
    assert criteria["holds_announced"] == {"met": False, "evidence": [6]}
    assert criteria["concrete_time"]["met"] is False
    assert criteria["greeting"]["met"] is False
    assert isinstance(data["agent_talk_share"], float)
    assert 0.5 < data["agent_talk_share"] < 1
    assert data["longest_agent_monologue_words"] == 101
    assert data["lang"] == "es"


def test_score_null_criteria_and_other_formats(app: typer.Typer) -> None:
    data = _score(app, str(DATA / "es" / "es05_factura_futbol.txt"))
    criteria = data["criteria"]
    assert isinstance(criteria, dict)
    assert criteria["holds_announced"] == {"met": None, "evidence": []}
    assert criteria["concrete_time"] == {"met": None, "evidence": []}
    vtt = _score(app, str(DATA / "en" / "en19_mortgage_rise.vtt"), "--format", "vtt")
    assert vtt["lang"] == "en"
    assert vtt["agent_words_per_minute"] is not None
    as_json = _score(app, str(DATA / "en" / "en09_tripping_fuse.json"), "--lang", "en")
    hold_finding = as_json["criteria"]["holds_announced"]  # type: ignore[index]
    assert hold_finding == {"met": False, "evidence": [10]}


def test_lang_option_overrides_detection(app: typer.Typer, tmp_path: Path) -> None:
    transcript = tmp_path / "t.txt"
    transcript.write_text("AGENT: Lo siento mucho.\nCUSTOMER: ok\n", encoding="utf-8")
    assert _score(app, str(transcript), "--lang", "es")["criteria"]["early_empathy"]["met"]  # type: ignore[index]
    assert not _score(app, str(transcript), "--lang", "en")["criteria"]["early_empathy"]["met"]  # type: ignore[index]


def test_score_table_output(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["qa", "score", str(DATA / "es" / "es01_cargo_duplicado.txt")])
    assert result.exit_code == 0
    assert "Anuncia las esperas" in result.stdout
    assert "longest_agent_monologue_words=" in result.stdout


def test_bad_transcripts_fail_on_stderr(app: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("AGENTE: hola\nJEFE: hola\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["qa", "score", str(bad), "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "bad.txt: line 2: unknown speaker 'JEFE'" in result.stderr
    missing = CliRunner().invoke(app, ["qa", "score", str(tmp_path / "nope.vtt")])
    assert missing.exit_code == 1
    assert "no such file" in missing.stderr
    wrong_format = CliRunner().invoke(app, ["qa", "score", str(bad), "--format", "xml"])
    assert wrong_format.exit_code == 2


def test_bad_scorecard_is_reported(app: typer.Typer, tmp_path: Path) -> None:
    card = tmp_path / "card.yaml"
    card.write_text("id: x\n", encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["qa", "score", str(DATA / "es" / "es01_cargo_duplicado.txt"), "--scorecard", str(card)],
    )
    assert result.exit_code == 1
    assert "card.yaml:1: name: Field required" in result.stderr


def test_metrics_json_and_table(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["qa", "metrics", str(DATA), "--split", "heldout", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data["detectors"]) == {"es", "en"}
    greeting = data["detectors"]["es"]["greeting"]
    assert greeting["n"] == data["transcripts"]["es"] == 14
    assert 0.0 <= greeting["fail_recall"] <= 1.0
    table = CliRunner().invoke(app, ["qa", "metrics", str(DATA / "labels.csv")])
    assert table.exit_code == 0
    assert "30 transcripts" in table.stdout
    missing = CliRunner().invoke(app, ["qa", "metrics", str(DATA / "nope.csv")])
    assert missing.exit_code == 1
    assert "no such file" in missing.stderr


def test_metrics_rejects_bad_labels(app: typer.Typer, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    (tmp_path / "a.txt").write_text("AGENT: Hi, this is Sam.\n", encoding="utf-8")
    labels.write_text("file,lang,split,greeting\na.txt,en,dev,yes\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["qa", "metrics", str(labels)])
    assert result.exit_code == 1
    assert "labels.csv:2: greeting must be 1, 0 or na" in result.stderr
    labels.write_text("file,lang,split,greeting,mood\n", encoding="utf-8")
    assert "unknown columns mood" in CliRunner().invoke(app, ["qa", "metrics", str(labels)]).stderr
    labels.write_text("file,greeting\n", encoding="utf-8")
    assert (
        "missing columns lang, split"
        in CliRunner().invoke(app, ["qa", "metrics", str(labels)]).stderr
    )
    labels.write_text("file,lang,split,greeting\na.txt,fr,dev,1\n", encoding="utf-8")
    assert "lang must be es or en" in CliRunner().invoke(app, ["qa", "metrics", str(labels)]).stderr
    labels.write_text("file,lang,split,greeting\na.txt,en,dev,1\n", encoding="utf-8")
    ok = CliRunner().invoke(app, ["qa", "metrics", str(labels), "--json"])
    assert json.loads(ok.stdout)["detectors"]["en"]["greeting"]["met_recall"] == 1.0
