"""Staffing search (W4, C6): the fewest agents meeting every target, with shrinkage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escucha.numerics.erlang import evaluate
from escucha.numerics.staffing import (
    SPAIN_95_180,
    ServiceLevelTarget,
    Targets,
    _Evaluator,
    _search,
    required_agents,
    scheduled_headcount,
    staff,
)

SL80 = ServiceLevelTarget(0.8, 20.0)


def meets(n: int, per_h: float, aht: float, pat: float | None, targets: Targets) -> bool:
    """Targets checked through the public, vectorised Erlang functions."""
    if n <= 0:
        return False
    m = evaluate(n, per_h, aht, patience_mean_s=pat, sl_definition=targets.sl_definition)
    r = m.result()
    if not r.stable:
        return False
    ok = True
    for s in targets.service_levels:
        sl = evaluate(
            n,
            per_h,
            aht,
            patience_mean_s=pat,
            target_time_s=s.within_s,
            sl_definition=targets.sl_definition,
        ).service_level
        ok &= float(sl) >= s.share
    if targets.max_asa_s is not None:
        ok &= r.asa_s <= targets.max_asa_s
    if targets.max_abandon is not None:
        ok &= r.p_abandon <= targets.max_abandon
    if targets.max_occupancy is not None:
        ok &= r.occupancy <= targets.max_occupancy
    return ok


def test_pyworkforce_reference_cases() -> None:
    sl = ServiceLevelTarget(0.8, 0.33 * 60)
    r = staff(200, 180, Targets(service_levels=(sl,), max_occupancy=0.85), shrinkage=0.3)
    assert (r.agents, r.scheduled_agents) == (14, 20)
    assert round(r.metrics.service_level, 3) == 0.888
    assert round(r.metrics.occupancy, 3) == 0.714
    r = staff(200, 180, Targets(service_levels=(sl,), max_occupancy=0.7), shrinkage=0.3)
    assert (r.agents, r.scheduled_agents) == (15, 22)


TARGET_SETS = [
    Targets(service_levels=(SL80,)),
    Targets(service_levels=(SPAIN_95_180,)),
    Targets(service_levels=(SL80, SPAIN_95_180), max_occupancy=0.9),
    Targets(max_asa_s=15.0),
    Targets(max_occupancy=0.85),
    Targets(service_levels=(ServiceLevelTarget(0.9, 30.0),), sl_definition="answered"),
    Targets(service_levels=(SL80,), sl_definition="offered_minus_short_abandons"),
    Targets(service_levels=(SL80,), sl_definition="abandons_met", max_asa_s=30.0),
]


@pytest.mark.parametrize("targets", TARGET_SETS)
@pytest.mark.parametrize("per_h", [15.0, 400.0, 2000.0, 30000.0])
@pytest.mark.parametrize("pat", [None, 120.0])
def test_search_returns_the_smallest_staffing_meeting_all_targets(
    targets: Targets, per_h: float, pat: float | None
) -> None:
    r = staff(per_h, 180.0, targets, patience_mean_s=pat)
    assert meets(r.agents, per_h, 180.0, pat, targets)
    assert not meets(r.agents - 1, per_h, 180.0, pat, targets)
    assert len(r.service_levels) == len(targets.service_levels)
    assert all(
        level >= s.share for level, s in zip(r.service_levels, targets.service_levels, strict=True)
    )


def test_abandonment_target_and_erlang_a_overload() -> None:
    # With impatient callers 80/20 can be met while 15% hang up; a cap on abandonment fixes it.
    loose = staff(2_000_000, 180, Targets(service_levels=(SL80,)), patience_mean_s=120)
    assert loose.agents < 100_000
    assert loose.metrics.p_abandon > 0.1
    strict = staff(
        2_000_000, 180, Targets(service_levels=(SL80,), max_abandon=0.01), patience_mean_s=120
    )
    assert strict.metrics.p_abandon <= 0.01
    assert meets(strict.agents, 2_000_000, 180, 120, Targets(max_abandon=0.01))
    assert not meets(strict.agents - 1, 2_000_000, 180, 120, Targets(max_abandon=0.01))


def test_large_erlang_c_queue() -> None:
    r = staff(2_000_000, 180, Targets(service_levels=(SL80,)))  # 100,000 Erlangs
    assert 100_000 < r.agents < 100_100
    assert meets(r.agents, 2_000_000, 180, None, Targets(service_levels=(SL80,)))
    assert not meets(r.agents - 1, 2_000_000, 180, None, Targets(service_levels=(SL80,)))


def test_no_calls_need_no_agents() -> None:
    r = staff(0.0, 180, Targets(service_levels=(SL80,)), shrinkage=0.3)
    assert (r.agents, r.scheduled_agents) == (0, 0)


def test_scheduled_headcount() -> None:
    assert scheduled_headcount(70, 0.3) == 100
    assert scheduled_headcount(71, 0.3) == 102
    assert scheduled_headcount(10, 0.0) == 10
    with pytest.raises(ValueError, match="shrinkage"):
        scheduled_headcount(10, 1.0)
    with pytest.raises(ValueError, match="agents"):
        scheduled_headcount(-1, 0.1)


def test_required_agents_vectorises_over_intervals() -> None:
    per_h = np.array([0.0, 100.0, 800.0, 2400.0])
    aht = np.array([180.0, 200.0, 240.0, 180.0])
    targets = Targets(service_levels=(SL80,), max_occupancy=0.9)
    for pat in (None, 150.0):
        agents, scheduled = required_agents(
            per_h, aht, targets, patience_mean_s=pat, shrinkage=0.25
        )
        for i in range(per_h.size):
            one = staff(
                float(per_h[i]), float(aht[i]), targets, patience_mean_s=pat, shrinkage=0.25
            )
            assert (agents[i], scheduled[i]) == (one.agents, one.scheduled_agents)
    agents, _ = required_agents(per_h, 180.0, targets, patience_mean_s=np.full(4, 90.0))
    assert agents.shape == (4,)
    assert agents[0] == 0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Targets(), "at least one"),
        (lambda: Targets(max_asa_s=0.0), "ASA"),
        (lambda: Targets(max_abandon=0.0), "abandonment"),
        (lambda: Targets(max_occupancy=1.5), "occupancy"),
        (lambda: Targets(max_occupancy=0.8, sl_definition="x"), "definition"),  # type: ignore[arg-type]
        (lambda: ServiceLevelTarget(0.0, 20.0), "share"),
        (lambda: ServiceLevelTarget(0.8, -1.0), "time"),
        (lambda: staff(-1.0, 180, Targets(max_occupancy=0.8)), "arrivals"),
        (lambda: staff(10.0, 0.0, Targets(max_occupancy=0.8)), "aht"),
        (lambda: staff(10.0, 180, Targets(max_occupancy=0.8), patience_mean_s=0.0), "patience"),
        (lambda: staff(10.0, 180, Targets(max_occupancy=0.8), shrinkage=1.0), "shrinkage"),
    ],
)
def test_bad_input_is_refused(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


def test_unreachable_targets_are_reported() -> None:
    class Never(_Evaluator):
        def meets(self, n: int) -> bool:
            return False

    with pytest.raises(ValueError, match="cannot be met"):
        _search(Never(50.0, 180.0, None, Targets(max_occupancy=0.9)), 50.0)


@settings(max_examples=25, deadline=None)
@given(
    per_h=st.floats(1.0, 5000.0),
    share=st.floats(0.5, 0.99),
    t=st.floats(5.0, 120.0),
    pat=st.one_of(st.none(), st.floats(20.0, 600.0)),
)
def test_more_demanding_targets_never_need_fewer_agents(
    per_h: float, share: float, t: float, pat: float | None
) -> None:
    base = staff(
        per_h, 200.0, Targets(service_levels=(ServiceLevelTarget(share, t),)), patience_mean_s=pat
    )
    harder = staff(
        per_h,
        200.0,
        Targets(service_levels=(ServiceLevelTarget(min(share + 0.05, 1.0), t),)),
        patience_mean_s=pat,
    )
    more_calls = staff(
        per_h * 1.2,
        200.0,
        Targets(service_levels=(ServiceLevelTarget(share, t),)),
        patience_mean_s=pat,
    )
    assert harder.agents >= base.agents
    assert more_calls.agents >= base.agents
    assert base.metrics.service_level >= share


def test_evaluator_refuses_impossible_levels_directly() -> None:
    ev = _Evaluator(10.0, 180.0, None, Targets(max_occupancy=0.5))
    assert not ev.meets(0)
    assert not ev.meets(10)  # unstable
    assert not ev.meets(15)  # occupancy 0.67
    assert ev.meets(20)
