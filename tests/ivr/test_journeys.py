"""Call your own IVR: shortest journeys for tasks and real paths from call logs (C1)."""

from __future__ import annotations

import pytest

from escucha.ivr import service
from escucha.ivr.journeys import (
    Goal,
    PathCount,
    Task,
    analyse_paths,
    run_tasks,
    shortest_journey,
    zeroed_out,
)
from escucha.ivr.rules import speech_seconds

from .helpers import build, ivr_dict


def _task(goal: Goal, **kw: object) -> Task:
    return Task(name={"es": "tarea", "en": "task"}, goal=goal, **kw)  # type: ignore[arg-type]


def test_shortest_path_to_a_queue_and_what_is_heard() -> None:
    model = build()
    journey = shortest_journey(model, _task(Goal(queue="faults")), "es")
    assert journey.found
    assert journey.passed
    assert journey.keys == ("2", "1")
    assert journey.path == "main>2>faults>1>faults_q"
    assert [h.node for h in journey.heard] == ["main", "main", "faults"]
    expected = sum(speech_seconds(model, "es", h.text)[0] for h in journey.heard)
    assert journey.seconds == pytest.approx(expected)


def test_fewest_keys_win_over_a_longer_route() -> None:
    data = ivr_dict()
    data["nodes"]["main"]["options"].append(
        {"key": "4", "label": {"es": "internet", "en": "internet"}, "goto": "faults_q"}
    )
    journey = shortest_journey(build(data), _task(Goal(queue="faults")), "es")
    assert journey.keys == ("4",)


def test_ties_in_keys_go_to_the_fewest_seconds() -> None:
    data = ivr_dict()
    # Two one-key ways to the faults queue: through a long message, or straight.
    data["nodes"]["main"]["options"][2]["goto"] = "long"
    data["nodes"]["long"] = {
        "type": "info",
        "message": {"es": " ".join(["palabra"] * 30), "en": "words"},
        "then": "faults_q",
    }
    data["nodes"]["main"]["options"].append(
        {"key": "4", "label": {"es": "internet", "en": "internet"}, "goto": "faults_q"}
    )
    journey = shortest_journey(build(data), _task(Goal(queue="faults")), "es")
    assert journey.keys == ("4",)


def test_journey_to_a_node_stops_listening_there() -> None:
    journey = shortest_journey(build(), _task(Goal(node="hours_info")), "en")
    assert journey.keys == ("3",)
    assert journey.heard[-1].node == "hours_info"
    assert journey.heard[-1].text == "We open from 8 am to 8 pm."


def test_thresholds_fail_the_journey() -> None:
    model = build()
    journey = shortest_journey(model, _task(Goal(queue="faults"), max_keys=1), "es")
    assert not journey.passed
    assert journey.problems == ("2 keys > 1",)
    slow = shortest_journey(model, _task(Goal(queue="billing")), "es", max_seconds=5)
    assert not slow.passed
    assert "> 5 s" in slow.problems[0]


def test_unreachable_goal_is_not_found() -> None:
    data = ivr_dict()
    data["nodes"]["lost"] = {"type": "queue", "queue": "lost"}
    journey = shortest_journey(build(data), _task(Goal(queue="lost")), "es")
    assert not journey.found
    assert not journey.passed


def test_measured_durations_are_used() -> None:
    model = build()
    plain = shortest_journey(model, _task(Goal(queue="billing")), "es")
    durations = {("es", h.text): 10.0 for h in plain.heard}
    measured = shortest_journey(model, _task(Goal(queue="billing")), "es", durations=durations)
    assert measured.seconds == pytest.approx(10.0 * len(plain.heard))


def test_closed_hours_and_known_callers_change_the_route() -> None:
    data = ivr_dict(entry="gate", caller_id={"known_entry": "faults"})
    data["nodes"]["gate"] = {"type": "hours", "open": "main", "closed": "night"}
    data["nodes"]["night"] = {"type": "voicemail", "message": {"es": "Mensaje.", "en": "Message."}}
    model = build(data)
    assert not shortest_journey(model, _task(Goal(queue="billing"), is_open=False), "es").found
    known = shortest_journey(model, _task(Goal(queue="faults"), caller_known=True), "es")
    assert known.keys == ("1",)


def test_run_tasks_covers_every_language() -> None:
    results = run_tasks(build(), [_task(Goal(queue="billing")), _task(Goal(queue="general"))])
    assert [(j.language, j.keys) for j in results] == [
        ("es", ("1",)),
        ("en", ("1",)),
        ("es", ("0",)),
        ("en", ("0",)),
    ]


@pytest.mark.parametrize("name", ["banco", "telco", "agua"])
def test_example_tasks_pass(name: str) -> None:
    report = service.journey_test_file(
        service.example_path(name), service.example_path(f"{name}.tasks")
    )
    assert report.ok, [j.problems for j in report.journeys if j.problems]
    assert len(report.journeys) >= 8


def test_zero_out_detection_uses_each_menus_agent_key() -> None:
    data = ivr_dict()
    data["nodes"]["faults"]["agent_key"] = "*"
    model = build(data)
    assert zeroed_out(model, "main>0>people")
    assert zeroed_out(model, "main>2>faults>*>people")
    assert not zeroed_out(model, "main>2>faults>0")  # 0 is not the agent key there
    assert not zeroed_out(model, "main>1>billing")
    assert zeroed_out(None, "menu>0")


def test_analyse_paths_shares() -> None:
    rows = [
        PathCount("main>1>billing", "queued:billing", 50),
        PathCount("main>0>people", "queued:general", 30),
        PathCount("main>2", "hangup_in_ivr", 15),
        PathCount("", "hangup_in_ivr", 5),
    ]
    report = analyse_paths(build(), rows)
    assert report.calls == 100
    assert report.zero_out_share == pytest.approx(0.30)
    assert report.hung_up_share == pytest.approx(0.20)
    assert [p.path for p in report.paths] == ["main>1>billing", "main>0>people", "main>2", ""]
    assert report.paths[0].share == pytest.approx(0.5)
    assert analyse_paths(None, []).zero_out_share == 0.0
