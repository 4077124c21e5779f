"""``escucha bench``: routing and estimate benchmarks at small sizes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner

from escucha.cli import bench
from escucha.config import Settings
from escucha.routing.engine import RoutingEngine
from escucha.routing.rules import AgentPolicy
from escucha.routing.workload import START_S, RoutingWorkload

runner = CliRunner()


@pytest.fixture
def app() -> Iterator[typer.Typer]:
    root = typer.Typer()
    bench.register(root)
    yield root
    bench.set_db_router_factory(None)


SMALL = ["--agents", "30", "--waiting", "200", "--skills", "4", "--decisions", "100"]


def test_routing_json(app: typer.Typer) -> None:
    result = runner.invoke(app, ["bench", "routing", *SMALL, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"decisions_per_s", "p50_ms", "p99_ms"} <= data.keys()
    assert data["decisions"] == 100
    assert data["backend"] == "memory"
    assert data["policy"] == "longest_idle"
    assert data["decisions_per_s"] > 0
    assert 0 < data["p50_ms"] <= data["p99_ms"]


def test_routing_table(app: typer.Typer) -> None:
    result = runner.invoke(app, ["bench", "routing", *SMALL])
    assert result.exit_code == 0, result.output
    assert "decisions/s" in result.stdout
    assert "30 agents, 200 waiting" in " ".join(result.stdout.split())


def test_routing_db_runs_through_the_configured_database(
    app: typer.Typer, settings: Settings
) -> None:
    result = runner.invoke(
        app,
        [
            "bench",
            "routing",
            "--agents",
            "4",
            "--waiting",
            "10",
            "--skills",
            "2",
            "--decisions",
            "5",
            "--db",
            "--json",
        ],
        env={"ESCUCHA_DATABASE_URL": settings.database_url, "ESCUCHA_LOG_LEVEL": "WARNING"},
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["backend"], data["decisions"]) == ("db", 5)
    assert data["decisions_per_s"] > 0


def test_routing_db_bursts(app: typer.Typer, settings: Settings) -> None:
    args = ["bench", "routing", "--agents", "8", "--waiting", "20", "--skills", "2"]
    env = {"ESCUCHA_DATABASE_URL": settings.database_url, "ESCUCHA_LOG_LEVEL": "WARNING"}
    result = runner.invoke(
        app, [*args, "--decisions", "12", "--db", "--burst", "4", "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["backend"], data["burst"]) == ("db", 4)
    assert data["decisions"] >= 12
    assert data["decisions_per_s"] > 0
    refused = runner.invoke(app, [*args, "--burst", "4"])
    assert refused.exit_code == 2
    assert "--burst: only with --db" in refused.output


def test_routing_db_runs_the_same_load_through_the_plugged_router(app: typer.Typer) -> None:
    seen: list[RoutingWorkload] = []

    def factory(workload: RoutingWorkload, policy: AgentPolicy) -> RoutingEngine:
        seen.append(workload)
        engine = RoutingEngine.from_state(workload.state, policy=policy)
        engine.match(START_S)
        return engine

    bench.set_db_router_factory(factory)
    result = runner.invoke(
        app, ["bench", "routing", *SMALL, "--db", "--policy", "best_skill", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["backend"], data["policy"]) == ("db", "best_skill")
    assert len(seen) == 1
    assert len(seen[0].state.agents) == 30


def test_routing_rejects_bad_sizes(app: typer.Typer) -> None:
    result = runner.invoke(app, ["bench", "routing", "--agents", "0", "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--agents" in result.stderr


def test_estimate_json(app: typer.Typer) -> None:
    result = runner.invoke(
        app, ["bench", "estimate", "--agents", "10", "--hours", "2", "--seed", "4", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    names = [p["predictor"] for p in data["predictors"]]
    assert names[0] == "queue_length"
    assert "asterisk_average" in names
    for p in data["predictors"]:
        assert {"count", "mae_s", "within_25", "bias_s"} <= p.keys()
    assert data["served"] + data["abandoned"] == data["callers"]
    assert data["params"]["agents"] == 10


def test_estimate_table(app: typer.Typer) -> None:
    result = runner.invoke(
        app, ["bench", "estimate", "--agents", "10", "--hours", "2", "--staffing-dip", "0.2"]
    )
    assert result.exit_code == 0, result.output
    assert "asterisk_average" in result.stdout
    assert "announced bound" in result.stdout


def test_estimate_rejects_bad_parameters(app: typer.Typer) -> None:
    result = runner.invoke(app, ["bench", "estimate", "--amplitude", "1.5", "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "amplitude" in result.stderr
