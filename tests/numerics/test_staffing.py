"""Staffing search (W4, C6): the fewest agents meeting every target, with shrinkage."""

from __future__ import annotations

import math

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
    on_phone_headcount,
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
    Targets(service_levels=(SL80,), sl_definition="offered_ex_abandoned_within_t"),
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


# --- the fast Erlang A search against an exhaustive scan over n -------------------------------


def scan(per_h: float, aht: float, pat: float, targets: Targets) -> int:
    """Smallest n meeting every target, by evaluating every n with the public functions."""
    a = per_h * aht / 3600.0
    n = np.arange(1, int(a + 12.0 * np.sqrt(a) + 60.0))
    ok = np.ones(n.size, dtype=bool)
    base = evaluate(n, per_h, aht, patience_mean_s=pat, sl_definition=targets.sl_definition)
    for s in targets.service_levels:
        m = evaluate(
            n,
            per_h,
            aht,
            patience_mean_s=pat,
            target_time_s=s.within_s,
            sl_definition=targets.sl_definition,
        )
        ok &= m.service_level >= s.share
    if targets.max_asa_s is not None:
        ok &= base.asa_s <= targets.max_asa_s
    if targets.max_abandon is not None:
        ok &= base.p_abandon <= targets.max_abandon
    if targets.max_occupancy is not None:
        ok &= base.occupancy <= targets.max_occupancy
    assert ok[-1], "scan range too short"
    return int(n[np.argmax(ok)])


SCAN_TARGETS = [
    Targets(service_levels=(SL80,)),  # with short patience: met below the load (overloaded)
    Targets(service_levels=(ServiceLevelTarget(0.5, 60.0),), sl_definition="answered"),
    Targets(service_levels=(SL80, SPAIN_95_180), max_occupancy=0.9, max_abandon=0.05),
    Targets(max_asa_s=10.0),
    Targets(max_abandon=0.02),
    Targets(max_abandon=0.6),  # overloaded: far fewer agents than the load
    Targets(max_occupancy=0.8, sl_definition="abandons_met"),
    Targets(service_levels=(ServiceLevelTarget(0.9, 30.0),), max_asa_s=40.0),
]


@pytest.mark.parametrize("targets", SCAN_TARGETS)
def test_fast_erlang_a_search_equals_an_exhaustive_scan(targets: Targets) -> None:
    # W4: loads from a fraction of an Erlang to 150 Erlangs, patience from impatient to calm.
    for per_h in (8.0, 60.0, 400.0, 3000.0):
        for pat in (15.0, 120.0, 900.0):
            expected = scan(per_h, 180.0, pat, targets)
            got = staff(per_h, 180.0, targets, patience_mean_s=pat)
            assert got.agents == expected, (per_h, pat)
            agents, _ = required_agents(per_h, 180.0, targets, patience_mean_s=pat)
            assert int(agents) == expected


def test_fast_erlang_a_search_finds_overloaded_staffing() -> None:
    # Callers who hang up within 15 s on average: 80% of them can only be answered within 20 s
    # by staffing well below the load of 150 Erlangs if abandonment is allowed.
    targets = Targets(max_abandon=0.6)
    r = staff(3000.0, 180.0, targets, patience_mean_s=15.0)
    assert r.agents < 150 * 0.5
    assert r.agents == scan(3000.0, 180.0, 15.0, targets)


def test_fast_erlang_a_search_at_large_loads_is_tight() -> None:
    for targets in (SCAN_TARGETS[0], SCAN_TARGETS[2], SCAN_TARGETS[3]):
        r = staff(2_000_000, 180, targets, patience_mean_s=120)
        assert meets(r.agents, 2_000_000, 180, 120, targets)
        assert not meets(r.agents - 1, 2_000_000, 180, 120, targets)


def test_erlang_a_levels_equal_a_full_evaluation() -> None:
    targets = Targets(service_levels=(SL80, SPAIN_95_180), sl_definition="answered")
    r = staff(1500.0, 200.0, targets, patience_mean_s=90.0)
    for level, s in zip(r.service_levels, targets.service_levels, strict=True):
        m = evaluate(
            r.agents,
            1500.0,
            200.0,
            patience_mean_s=90.0,
            target_time_s=s.within_s,
            sl_definition="answered",
        )
        assert level == float(m.service_level)


@pytest.mark.parametrize("targets", SCAN_TARGETS)
def test_erlang_a_metrics_equal_a_full_evaluation(targets: Targets) -> None:
    # staff() reads the measures off the search's queue instead of evaluating it again.
    for per_h, pat in ((60.0, 15.0), (3000.0, 120.0), (400.0, 900.0)):
        r = staff(per_h, 180.0, targets, patience_mean_s=pat)
        t = targets.service_levels[0].within_s if targets.service_levels else 20.0
        full = evaluate(
            r.agents,
            per_h,
            180.0,
            patience_mean_s=pat,
            target_time_s=t,
            sl_definition=targets.sl_definition,
        ).result()
        assert r.metrics == full


def test_unreachable_erlang_a_targets_are_reported() -> None:
    class Never(_Evaluator):
        def margin(self, n: int) -> float:
            return -1.0

    with pytest.raises(ValueError, match="cannot be met"):
        _search(Never(50.0, 180.0, 60.0, Targets(max_abandon=0.1)), 50.0)


def test_erlang_a_search_handles_steps_and_infinite_margins() -> None:
    # A margin that jumps from -inf to +inf still leads to the first n that meets (bisection).
    class Step(_Evaluator):
        def margin(self, n: int) -> float:
            return math.inf if n >= 37 else -math.inf

    assert _search(Step(50.0, 180.0, 60.0, Targets(max_abandon=0.1)), 50.0) == 37


@settings(max_examples=300, deadline=None)
@given(
    root=st.integers(1, 8_000),  # the search gives up beyond a + 200 sqrt(a) + 1000
    below=st.floats(1e-6, 1e6),
    below_power=st.floats(0.2, 4.0),
    above=st.floats(1e-6, 1e6),
    above_power=st.floats(0.2, 4.0),
)
def test_erlang_a_search_finds_the_root_of_any_increasing_margin(
    root: int, below: float, below_power: float, above: float, above_power: float
) -> None:
    # Whatever the shape (flat, steep, convex, concave on either side), the bracket and the
    # regula falsi end on the first n that meets.
    class Shaped(_Evaluator):
        def margin(self, n: int) -> float:
            if n >= root:
                return float(above * (n - root + 1) ** above_power)
            return float(-below * (root - n) ** below_power)

    load = 1000.0
    assert _search(Shaped(load, 180.0, 60.0, Targets(max_abandon=0.1)), load) == root


def test_evaluator_meets_agrees_with_the_public_functions_for_erlang_a() -> None:
    targets = Targets(service_levels=(SL80,), max_abandon=0.05)
    ev = _Evaluator(100.0, 180.0, 120.0, targets)
    for n in (0, 80, 95, 100, 105, 120):
        assert ev.meets(n) == meets(n, 2000.0, 180.0, 120.0, targets)


def test_on_phone_headcount_inverts_the_scheduled_headcount() -> None:
    assert on_phone_headcount(100, 0.3) == 70
    assert on_phone_headcount(0, 0.5) == 0
    for n in range(0, 200, 7):
        assert on_phone_headcount(scheduled_headcount(n, 0.3), 0.3) >= n
    with pytest.raises(ValueError, match="shrinkage"):
        on_phone_headcount(10, 1.0)
    with pytest.raises(ValueError, match="agents"):
        on_phone_headcount(-1, 0.1)
