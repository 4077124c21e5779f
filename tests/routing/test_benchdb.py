"""The database path of ``escucha bench routing --db`` makes real, persisted assignments."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha.config import Settings
from escucha.errors import Conflict
from escucha.routing.benchdb import DbRouter
from escucha.routing.models import RoutingDecision
from escucha.routing.workload import RoutingLoad, make_workload, run_routing_load
from tests.acd_helpers import demo


def test_the_bench_load_runs_through_the_database(settings: Settings, session: Session) -> None:
    workload = make_workload(RoutingLoad(agents=5, waiting=20, skills=2, decisions=10, seed=3))
    router = DbRouter(settings, workload)
    result = run_routing_load(workload, router, time.perf_counter)
    assert result.decisions == 10
    assert session.scalar(select(func.count()).select_from(RoutingDecision)) >= 10
    router.close()


def test_it_refuses_a_live_database(settings: Settings, session: Session) -> None:
    demo(session)
    session.commit()
    workload = make_workload(RoutingLoad(agents=2, waiting=2, skills=1, decisions=1))
    with pytest.raises(Conflict, match="scratch"):
        DbRouter(settings, workload)
