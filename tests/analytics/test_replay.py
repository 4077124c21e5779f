"""Replaying call logs through the wait predictors (W1): answers computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from escucha.analytics.replay import (
    PREDICTORS,
    AgentSpell,
    ReplayCall,
    ReplayOptions,
    ScoredCaller,
    replay,
    score,
)
from escucha.analytics.replay_log import replay_event_rows, replay_files
from escucha.cli.estimate import register
from escucha.errors import InvalidInput
from escucha.routing.estimate import LES_WEIGHT

DATA = Path(__file__).parent / "data"
T0 = 1_700_000_000.0
NO_WARMUP = ReplayOptions(warmup_s=0.0)


def call(
    cid: str,
    arrived: float,
    wait: float,
    *,
    served: bool = True,
    talk: float = 100.0,
    queued: bool = True,
    queue: str = "q",
) -> ReplayCall:
    return ReplayCall(
        call_id=cid,
        queue=queue,
        arrived_s=T0 + arrived,
        queued=queued,
        wait_s=wait,
        answered=served,
        abandoned=not served,
        talk_s=talk if served else 0.0,
        agent="A" if served else None,
    )


# One agent, 100 s per call. c1 is answered at once; c2 and c3 wait behind it; c4 and c5
# arrive while c3 is still waiting; c5 hangs up after 40 s.
SMALL = [
    call("c1", 0, 0),
    call("c2", 10, 90),
    call("c3", 20, 180),
    call("c4", 150, 150),
    call("c5", 160, 40, served=False),
]


def _by_id(scored: list[ScoredCaller]) -> dict[str, ScoredCaller]:
    return {c.call_id: c for c in scored}


def test_each_predictor_says_what_was_known_at_each_arrival() -> None:
    told = _by_id(replay(SMALL, NO_WARMUP))
    # c1 was answered at once: no estimate.
    assert set(told) == {"c2", "c3", "c4", "c5"}
    # c2 at t=10: nobody ahead, no handling time measured yet; the last caller (c1) was
    # answered at once, so escucha's fallback (LES over every answered caller, as the live
    # meter keeps it) says 0 s; no caller has waited and been answered yet: the LES and HOL
    # baselines give the default; Asterisk's average is (3*0 + 0) >> 2 = 0.
    assert told["c2"].estimates == {
        "escucha": 0.0,
        "asterisk_ema": 0.0,
        "hol": 120.0,
        "les": 120.0,
        "queue_length_no_abandon": 0.0,
    }
    assert told["c2"].chooser == "les"
    # c3 at t=20: c2 ahead, at the head for 10 s.
    assert told["c3"].estimates["hol"] == 10.0
    assert told["c3"].estimates["escucha"] == 0.0
    # c4 at t=150: c2 was answered at t=100 after 90 s (known), c3 waiting since t=20;
    # Asterisk: (3*0 + 90) >> 2 = 22.
    assert told["c4"].estimates == {
        "escucha": 90.0,
        "asterisk_ema": 22.0,
        "hol": 130.0,
        "les": 90.0,
        "queue_length_no_abandon": 90.0,
    }
    assert told["c5"].estimates["hol"] == 140.0
    # The bound with the default 25 % margin: 90 s * 1.25 -> 2 minutes; 0 s -> 1 minute.
    assert told["c4"].bound_s == 120.0
    assert told["c2"].bound_s == 60.0


def test_scores_of_the_small_log_by_hand() -> None:
    result = score(replay(SMALL, NO_WARMUP))
    assert (result.callers, result.served, result.abandoned) == (4, 3, 1)
    s = result.scores
    # served: c2 (90 s), c3 (180 s), c4 (150 s)
    assert s["escucha"].mae_s == pytest.approx((90 + 180 + 60) / 3)
    assert s["escucha"].bias_s == pytest.approx(-(90 + 180 + 60) / 3)
    assert s["asterisk_ema"].mae_s == pytest.approx((90 + 180 + 128) / 3)
    assert s["hol"].mae_s == pytest.approx((30 + 170 + 20) / 3)
    assert s["hol"].bias_s == pytest.approx((30 - 170 - 20) / 3)
    assert s["hol"].within_25pct == pytest.approx(1 / 3)  # c4: |130 - 150| <= 37.5
    assert s["les"].mae_s == pytest.approx((30 + 60 + 60) / 3)
    assert s["les"].within_25pct == 0.0
    assert all(s[name].callers == 3 for name in PREDICTORS)
    # bounds 1, 1 and 2 minutes against 90, 180 and 150 s: none kept
    assert result.bound_kept == 0.0
    # c5 hung up after 40 s, told "less than 2 minutes": censored, but within the bound
    assert result.abandoned_within_bound == 1.0


def test_queue_length_predictors_once_handling_time_is_measured() -> None:
    # One agent, 60 s per call; ten calls answered at once measure the handling time, an
    # eleventh is answered at once at t=600 (agent busy until 660), then c11 (t=610) and
    # c12 (t=620) wait 50 and 100 s.
    calls = [call(f"c{k}", 60.0 * k, 0.0, talk=60.0) for k in range(11)]
    calls += [call("c11", 610, 50, talk=60.0), call("c12", 620, 100, talk=60.0)]
    told = _by_id(replay(calls, NO_WARMUP))
    assert set(told) == {"c11", "c12"}
    # Queue length: (n + 1) * 60 s; escucha mixes in the last wait (0 s) with LES_WEIGHT.
    assert told["c11"].chooser == "queue_length"
    assert told["c11"].estimates["queue_length_no_abandon"] == pytest.approx(60.0)
    assert told["c11"].estimates["escucha"] == pytest.approx((1 - LES_WEIGHT) * 60.0)
    assert told["c12"].estimates["queue_length_no_abandon"] == pytest.approx(120.0)
    assert told["c12"].estimates["escucha"] == pytest.approx((1 - LES_WEIGHT) * 120.0)
    assert told["c12"].estimates["hol"] == 10.0
    result = score(told.values())
    assert result.scores["escucha"].mae_s == pytest.approx(3.0)
    assert result.scores["escucha"].within_25pct == 1.0
    assert result.scores["queue_length_no_abandon"].mae_s == pytest.approx(15.0)
    assert result.scores["queue_length_no_abandon"].bias_s == pytest.approx(15.0)
    assert result.scores["asterisk_ema"].mae_s == pytest.approx(75.0)
    assert result.bound_kept == 1.0  # 48 s -> 1 minute, 96 s -> 2 minutes


def test_nobody_on_duty_floors_escucha_at_the_default_per_caller() -> None:
    # No agent has been seen within the staffing window: the line does not move.
    calls = [
        call("old", 0, 0, talk=10.0),
        call("late", 4000, 30),
    ]
    told = _by_id(replay(calls, ReplayOptions(warmup_s=0.0, staffing_window_s=600.0)))
    assert told["late"].estimates["escucha"] == 120.0
    assert told["late"].estimates["queue_length_no_abandon"] == 120.0


def test_warmup_and_answered_at_once_callers_are_replayed_not_scored() -> None:
    told = _by_id(replay(SMALL, ReplayOptions(warmup_s=100.0)))
    assert set(told) == {"c4", "c5"}
    # what the early callers taught is kept: c2's 90 s wait
    assert told["c4"].estimates["les"] == 90.0
    told = _by_id(replay(SMALL, ReplayOptions(warmup_s=0.0, answered_at_once_s=100.0)))
    assert set(told) == {"c3", "c4"}


def test_callers_who_left_otherwise_are_not_scored() -> None:
    other = ReplayCall("x", "q", T0 + 30, True, 20.0, answered=False, abandoned=False)
    told = _by_id(replay([*SMALL, other], NO_WARMUP))
    assert "x" not in told


def test_abandoned_callers_are_censored() -> None:
    # Same log, c5 now waits 130 s before hanging up: past its 2-minute bound.
    calls = [*SMALL[:4], call("c5", 160, 130, served=False)]
    result = score(replay(calls, NO_WARMUP))
    assert result.abandoned_within_bound == 0.0
    # errors are those of the served callers only: unchanged
    assert result.scores["les"].mae_s == pytest.approx(50.0)
    assert result.scores["les"].callers == 3


def test_json_shape() -> None:
    doc = score(replay(SMALL, NO_WARMUP)).to_json()
    assert set(doc) == {"callers", "predictors"}
    assert doc["callers"] == 4
    assert set(doc["predictors"]) == set(PREDICTORS)
    assert set(doc["predictors"]["escucha"]) == {"mae_s", "within_25pct", "bias_s", "bound_kept"}
    for name in PREDICTORS[1:]:
        assert set(doc["predictors"][name]) == {"mae_s", "within_25pct", "bias_s"}
    empty = score([]).to_json()
    assert empty == {
        "callers": 0,
        "predictors": {
            name: (
                {"mae_s": None, "within_25pct": None, "bias_s": None, "bound_kept": None}
                if name == "escucha"
                else {"mae_s": None, "within_25pct": None, "bias_s": None}
            )
            for name in PREDICTORS
        },
    }


def test_bad_calls_are_refused() -> None:
    with pytest.raises(ValueError, match="wait_s"):
        ReplayCall("x", "q", T0, True, -1.0, answered=True, abandoned=False)
    with pytest.raises(ValueError, match="default_wait_s"):
        ReplayOptions(default_wait_s=0.0)


# --- every importer feeds the replay ------------------------------------------------------


def _queue_log() -> str:
    """The small log above, as Asterisk writes it."""
    rows = [
        (0, "c1", "NONE", "ENTERQUEUE", "", "111", "1"),
        (0, "c1", "Agent/A", "CONNECT", "0", "b1", "0"),
        (100, "c1", "Agent/A", "COMPLETEAGENT", "0", "100", "1"),
        (10, "c2", "NONE", "ENTERQUEUE", "", "222", "1"),
        (100, "c2", "Agent/A", "CONNECT", "90", "b2", "0"),
        (200, "c2", "Agent/A", "COMPLETEAGENT", "90", "100", "1"),
        (20, "c3", "NONE", "ENTERQUEUE", "", "333", "2"),
        (200, "c3", "Agent/A", "CONNECT", "180", "b3", "0"),
        (300, "c3", "Agent/A", "COMPLETEAGENT", "180", "100", "2"),
        (150, "c4", "NONE", "ENTERQUEUE", "", "444", "2"),
        (300, "c4", "Agent/A", "CONNECT", "150", "b4", "0"),
        (400, "c4", "Agent/A", "COMPLETEAGENT", "150", "100", "2"),
        (160, "c5", "NONE", "ENTERQUEUE", "", "555", "3"),
        (200, "c5", "NONE", "ABANDON", "3", "3", "40"),
    ]
    rows.sort(key=lambda r: r[0])
    return "".join(
        f"{int(T0) + t}|{cid}|q|{agent}|{event}|{'|'.join(data)}\n"
        for t, cid, agent, event, *data in rows
    )


def test_asterisk_queue_log_replays_to_the_same_answers(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_text(_queue_log())
    report = replay_files([path], options=NO_WARMUP)
    assert report.imports[0].format == "asterisk"
    assert report.to_json() == score(replay(SMALL, NO_WARMUP)).to_json()
    assert set(report.by_queue) == {"q"}
    assert list(report.by_week) == ["2023-W46"]


def _event_log() -> str:
    """The small log above, as escucha's contact event log."""
    from datetime import UTC, datetime

    def at(t: float) -> str:
        return datetime.fromtimestamp(T0 + t, tz=UTC).isoformat().replace("+00:00", "Z")

    lines = ["contact_id,event,at,queue,agent,customer_id,channel,data"]
    for c in SMALL:
        t = c.arrived_s - T0
        lines.append(f"{c.call_id},queued,{at(t)},q,,,voice,")
        if c.answered:
            lines.append(f"{c.call_id},answered,{at(t + c.wait_s)},q,7,,voice,")
            lines.append(f"{c.call_id},ended,{at(t + c.wait_s + c.talk_s)},q,7,,voice,")
        else:
            lines.append(f"{c.call_id},abandoned,{at(t + c.wait_s)},q,,,voice,")
    return "\n".join(lines) + "\n"


def test_escucha_event_log_replays_to_the_same_answers() -> None:
    report = replay_event_rows(_event_log(), options=NO_WARMUP)
    assert report.to_json() == score(replay(SMALL, NO_WARMUP)).to_json()


def test_csv_with_a_mapping_replays(tmp_path: Path) -> None:
    report = replay_files(
        [DATA / "vendor_calls.csv"],
        "csv",
        mapping=DATA / "vendor_mapping.yaml",
        options=NO_WARMUP,
    )
    assert report.imports[0].format == "csv"
    assert report.overall.callers >= 1
    assert set(report.to_json()["predictors"]) == set(PREDICTORS)


def test_anonymous_bank_replays() -> None:
    report = replay_files([DATA / "anonymous_bank.txt"], options=NO_WARMUP)
    assert report.imports[0].format == "anonymous-bank"
    # 8 queued callers, each waited: all are told a wait (served or hung up)
    assert report.overall.callers == 8
    assert report.overall.served + report.overall.abandoned == 8
    assert report.staffing == "inferred"


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        replay_files([tmp_path / "nope.log"])


# --- the command ----------------------------------------------------------------------------


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    register(root)
    return root


def test_cli_json_prints_one_object(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_text(_queue_log())
    result = CliRunner().invoke(app, ["estimate", "replay", str(path), "--json", "--warmup-s", "0"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc == score(replay(SMALL, NO_WARMUP)).to_json()


def test_cli_table_states_the_censoring(app: typer.Typer) -> None:
    result = CliRunner().invoke(
        app, ["estimate", "replay", str(DATA / "anonymous_bank.txt"), "--warmup-s", "0"]
    )
    assert result.exit_code == 0, result.stderr
    assert "censored" in result.stdout
    assert "bound kept" in result.stdout


def test_cli_bad_input_exits_2(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("nothing known here\n")
    result = CliRunner().invoke(app, ["estimate", "replay", str(path), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "x.txt" in result.stderr


def test_a_call_of_no_length_frees_its_agent() -> None:
    # Regression: a call answered and ended in the same second left its agent "talking" for
    # ever, so the agent stayed on duty long after the staffing window.
    calls = [call("short", 0, 0, talk=0.0), call("late", 4000, 30)]
    told = _by_id(replay(calls, ReplayOptions(warmup_s=0.0, staffing_window_s=600.0)))
    # nobody on duty: escucha falls back to the queue's default per caller
    assert told["late"].estimates["escucha"] == 120.0


def test_agent_states_in_the_log_give_the_agents_on_duty() -> None:
    # Agent B answered one call long ago (outside the staffing window) and is still logged
    # in: the log's agent states count B on duty, the inference from calls does not.
    calls = [call(f"c{k}", 60.0 * k, 0.0, talk=60.0) for k in range(11)]
    calls += [call("c11", 610, 50, talk=60.0)]
    early = ReplayCall("b0", "q", T0 - 4000, True, 0.0, True, False, talk_s=60.0, agent="B")
    spells = [AgentSpell("A", T0 - 5000, T0 + 10_000), AgentSpell("B", T0 - 5000, T0 + 10_000)]
    options = ReplayOptions(warmup_s=0.0)
    inferred = _by_id(replay([early, *calls], options))
    assert inferred["c11"].estimates["queue_length_no_abandon"] == pytest.approx(60.0)
    logged = _by_id(replay([early, *calls], options, spells))
    assert logged["c11"].estimates["queue_length_no_abandon"] == pytest.approx(30.0)
    # B logged off before c11 arrived: one agent again
    gone = [spells[0], AgentSpell("B", T0 - 5000, T0 + 100)]
    assert _by_id(replay([early, *calls], options, gone))["c11"].estimates[
        "queue_length_no_abandon"
    ] == pytest.approx(60.0)
