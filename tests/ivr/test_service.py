"""IVR files and call logs read from disk (C1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from escucha.errors import InvalidInput
from escucha.ivr import service
from escucha.yamlio import YamlFileError

EVENTS = [
    # c1: main>1 then queued to billing
    ("c1", "arrived", "2025-06-02T09:00:00Z", "", {}),
    ("c1", "ivr_choice", "2025-06-02T09:00:10Z", "", {"node": "main", "key": "1"}),
    ("c1", "queued", "2025-06-02T09:00:11Z", "billing", {}),
    ("c1", "ended", "2025-06-02T09:05:00Z", "billing", {}),
    # c2: pressed 0 in main, queued for a person
    ("c2", "arrived", "2025-06-02T09:01:00Z", "", {}),
    ("c2", "ivr_choice", "2025-06-02T09:01:05Z", "", {"node": "main", "key": "0"}),
    ("c2", "queued", "2025-06-02T09:01:06Z", "general", {}),
    ("c2", "abandoned", "2025-06-02T09:03:06Z", "general", {}),
    # c3: went into faults and hung up there
    ("c3", "arrived", "2025-06-02T09:02:00Z", "", {}),
    ("c3", "ivr_choice", "2025-06-02T09:02:15Z", "", {"node": "main", "key": "2"}),
    ("c3", "abandoned", "2025-06-02T09:02:40Z", "", {}),
    # c4: hung up during the greeting
    ("c4", "arrived", "2025-06-02T09:03:00Z", "", {}),
    ("c4", "ended", "2025-06-02T09:03:04Z", "", {}),
]


def _write_events(path: Path) -> None:
    lines = ["contact_id,event,at,queue,agent,customer_id,channel,data"]
    for cid, event, at, queue, data in reversed(EVENTS):  # order in the file must not matter
        payload = json.dumps(data).replace('"', '""') if data else ""
        lines.append(f'{cid},{event},{at},{queue},,,voice,"{payload}"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_event_log_paths_and_outcomes(tmp_path: Path) -> None:
    log = tmp_path / "events.csv"
    _write_events(log)
    rows = {(r.path, r.outcome): r.calls for r in service.read_call_paths(log)}
    assert rows == {
        ("main>1", "queued:billing"): 1,
        ("main>0", "queued:general"): 1,
        ("main>2", "hangup_in_ivr"): 1,
        ("", "hangup_in_ivr"): 1,
    }


def test_simple_csv_paths(tmp_path: Path) -> None:
    log = tmp_path / "paths.csv"
    log.write_text(
        "call_id,path,outcome\n1,main>1>billing,queued\n2,main>1>billing,queued\n3,main>2,hangup\n",
        encoding="utf-8",
    )
    rows = sorted((r.path, r.outcome, r.calls) for r in service.read_call_paths(log))
    assert rows == [("main>1>billing", "queued", 2), ("main>2", "hangup", 1)]


def test_unknown_csv_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "other.csv"
    log.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not a call log"):
        service.read_call_paths(log)


def test_journey_report_with_calls(tmp_path: Path) -> None:
    log = tmp_path / "events.csv"
    _write_events(log)
    report = service.journey_test_file(
        service.example_path("telco"), service.example_path("telco.tasks"), calls_path=log
    )
    assert report.calls is not None
    assert report.calls.zero_out_share == pytest.approx(0.25)
    assert report.calls.hung_up_share == pytest.approx(0.5)
    data = report.as_json()
    assert data["calls"]["calls"] == 4
    assert data["tasks"][0]["heard"]


def test_task_goals_are_checked_against_the_ivr(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(
        "tasks:\n  - name: pagar\n    goal: {queue: nowhere}\n"
        "  - name: x\n    goal: {node: nada}\n",
        encoding="utf-8",
    )
    with pytest.raises(YamlFileError) as info:
        service.journey_test_file(service.example_path("banco"), tasks)
    text = str(info.value)
    assert f"{tasks}:3: tasks[0].goal.queue: no queue 'nowhere'" in text
    assert f"{tasks}:5: tasks[1].goal.node: no node called 'nada'" in text


def test_lint_report_json_has_lines_and_fixes() -> None:
    report = service.lint_file(service.example_path("malo"))
    data = report.as_json("en")
    assert data["errors"] == report.errors > 0
    first = data["findings"][0]
    assert set(first) == {"rule", "severity", "file", "line", "path", "message", "fix"}
    assert (first["rule"], first["path"]) == ("unknown-language", "ivr.languages[2]")
