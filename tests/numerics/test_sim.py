"""The simulator (W2, C6): agreement with exact Erlang A, routing, callbacks, shifts and breaks."""

from __future__ import annotations

import numpy as np
import pytest

from escucha.analytics.schemas import CALL_COLUMNS
from escucha.numerics.erlang import erlang_a, erlang_c
from escucha.numerics.sim.arrivals import arrival_times
from escucha.numerics.sim.distributions import Empirical, Exponential, LogNormal
from escucha.numerics.sim.engine import (
    AgentGroup,
    CallbackPolicy,
    Model,
    QueueSpec,
    Shift,
    simulate,
)
from escucha.numerics.sim.fast import simulate_queue
from escucha.numerics.sim.log import CallLog


def within(sim: float, half: float, exact: float, k: float = 3.0) -> bool:
    """``exact`` inside ``sim`` +- k/1.96 x the 95% half-width (about k standard errors)."""
    return abs(sim - exact) <= k / 1.96 * half


# --- agreement with exact Erlang A ------------------------------------------------------------


@pytest.mark.parametrize(("agents", "seed"), [(100, 7), (92, 8), (108, 9)])
def test_fast_engine_agrees_with_exact_erlang_a(agents: int, seed: int) -> None:
    log = simulate_queue(
        agents=agents,
        arrivals_per_h=2000,
        service=Exponential(180),
        patience=Exponential(120),
        rng=np.random.default_rng(seed),
        customers=300_000,
    )
    s = log.summary(target_time_s=20, warmup_fraction=0.02)
    exact = erlang_a(agents, 2000, 180, 120, target_time_s=20).result()
    assert within(s.p_abandon, s.p_abandon_ci95, exact.p_abandon)
    assert within(s.service_level, s.service_level_ci95, exact.service_level)
    assert within(s.asa_s, s.asa_ci95_s, exact.asa_s)
    assert s.mean_wait_s == pytest.approx(exact.mean_wait_s, rel=0.1)


def test_event_engine_agrees_with_exact_erlang_a() -> None:
    model = Model(
        queues=(QueueSpec("main", 2000.0, Exponential(180), Exponential(120)),),
        groups=(AgentGroup("team", ("main",), count=100),),
    )
    log = simulate(model, rng=np.random.default_rng(3), horizon_s=3600 * 120)
    s = log.summary(target_time_s=20, warmup_fraction=0.02)
    exact = erlang_a(100, 2000, 180, 120, target_time_s=20).result()
    assert within(s.p_abandon, s.p_abandon_ci95, exact.p_abandon)
    assert within(s.service_level, s.service_level_ci95, exact.service_level)
    assert within(s.asa_s, s.asa_ci95_s, exact.asa_s)


def test_patient_callers_agree_with_erlang_c() -> None:
    log = simulate_queue(
        agents=12,
        arrivals_per_h=200,
        service=Exponential(180),
        patience=None,
        rng=np.random.default_rng(11),
        customers=200_000,
    )
    s = log.summary(target_time_s=20, warmup_fraction=0.02)
    exact = erlang_c(12, 200, 180, target_time_s=20).result()
    assert s.p_abandon == 0.0
    assert within(s.service_level, s.service_level_ci95, exact.service_level)
    assert within(s.asa_s, s.asa_ci95_s, exact.asa_s)


# --- the fast engine --------------------------------------------------------------------------


def _check_fcfs_and_agents(log: CallLog) -> None:
    start = log.arrival_s + log.wait_s
    ans = log.answered
    assert np.all(np.diff(start[ans]) >= -1e-9)  # first come, first served
    assert np.all(log.agent[ans] >= 0)
    assert np.all(log.agent[~ans] == -1)
    for k in np.unique(log.agent[ans]):
        mine = ans & (log.agent == k)
        s, e = start[mine], start[mine] + log.service_s[mine]
        order = np.argsort(s)
        assert np.all(s[order][1:] >= e[order][:-1] - 1e-9)  # one call at a time


def test_fast_engine_records_are_consistent() -> None:
    kw = {
        "agents": 5,
        "arrivals_per_h": 100,
        "service": LogNormal(180, 0.8),
        "patience": Empirical((10.0, 60.0, 300.0)),
        "customers": 5000,
    }
    log = simulate_queue(rng=np.random.default_rng(1), track_agents=True, **kw)  # type: ignore[arg-type]
    plain = simulate_queue(rng=np.random.default_rng(1), **kw)  # type: ignore[arg-type]
    assert len(log) == 5000
    assert log.agent_names[0] == "agent-1"
    np.testing.assert_array_equal(log.wait_s, plain.wait_s)
    np.testing.assert_array_equal(log.abandoned, plain.abandoned)
    assert np.all(log.abandoned ^ log.answered)
    assert np.all(log.wait_s[log.abandoned] > 0)
    assert np.all(np.isin(log.wait_s[log.abandoned], [10.0, 60.0, 300.0]))
    assert np.all(log.service_s[log.abandoned] == 0)
    assert np.all(log.service_s[log.answered] > 0)
    _check_fcfs_and_agents(log)
    again = simulate_queue(rng=np.random.default_rng(1), track_agents=True, **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(again.wait_s, log.wait_s)


def test_fast_engine_with_time_varying_arrivals() -> None:
    log = simulate_queue(
        agents=3,
        arrivals_per_h=[0.0, 120.0, 0.0],
        service=Exponential(60),
        patience=Exponential(60),
        rng=np.random.default_rng(2),
        horizon_s=3 * 1800,
    )
    assert np.all((log.arrival_s >= 1800) & (log.arrival_s < 3600))
    assert 40 < len(log) < 90
    with pytest.raises(ValueError, match="agents"):
        simulate_queue(
            agents=0,
            arrivals_per_h=1.0,
            service=Exponential(1),
            patience=None,
            rng=np.random.default_rng(0),
            customers=1,
        )


# --- arrivals and distributions ---------------------------------------------------------------


def test_arrival_times() -> None:
    rng = np.random.default_rng(4)
    t = arrival_times(rng, 3600.0, customers=20_000)
    assert t.size == 20_000
    assert np.all(np.diff(t) > 0)
    assert t[-1] == pytest.approx(20_000, rel=0.05)  # one per second
    t = arrival_times(rng, [100.0, 300.0], interval_s=3600, horizon_s=4 * 3600)
    counts = np.histogram(t, bins=[0, 3600, 7200, 10800, 14400])[0]
    assert counts.sum() == t.size
    assert np.all(np.diff(t) >= 0)
    assert counts[1] > 2 * counts[0]
    assert counts[3] > 2 * counts[2]
    assert arrival_times(rng, 10.0, horizon_s=0.0).size == 0
    assert arrival_times(rng, 10.0, customers=0).size == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"arrivals_per_h": -1.0, "customers": 5}, "rates"),
        ({"arrivals_per_h": 1.0, "interval_s": 0.0, "customers": 5}, "interval_s"),
        ({"arrivals_per_h": 1.0}, "exactly one"),
        ({"arrivals_per_h": [1.0, 2.0], "customers": 5}, "constant"),
        ({"arrivals_per_h": 1.0, "customers": -1}, "customers"),
        ({"arrivals_per_h": 1.0, "horizon_s": float("inf")}, "horizon_s"),
    ],
)
def test_arrival_times_refuse_bad_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        arrival_times(np.random.default_rng(0), **kwargs)  # type: ignore[arg-type]


def test_distributions_have_the_stated_moments() -> None:
    rng = np.random.default_rng(5)
    e = Exponential(120.0).sample(rng, 200_000)
    assert e.mean() == pytest.approx(120.0, rel=0.02)
    ln = LogNormal(200.0, 0.5).sample(rng, 200_000)
    assert ln.mean() == pytest.approx(200.0, rel=0.02)
    assert ln.std() / ln.mean() == pytest.approx(0.5, rel=0.05)
    emp = Empirical((1.0, 2.0, 6.0))
    assert emp.mean_s == 3.0
    assert set(np.unique(emp.sample(rng, 1000)).tolist()) == {1.0, 2.0, 6.0}
    for bad in (
        lambda: Exponential(0.0),
        lambda: LogNormal(0.0, 1.0),
        lambda: LogNormal(1.0, 0.0),
        lambda: Empirical(()),
        lambda: Empirical((1.0, -2.0)),
    ):
        with pytest.raises(ValueError, match="must be"):
            bad()


# --- the event engine -------------------------------------------------------------------------


def _two_skill_model(offer_above_s: float) -> Model:
    return Model(
        queues=(
            QueueSpec(
                "ventas",
                300.0,
                Exponential(180),
                Exponential(90),
                CallbackPolicy(offer_above_s, accept_share=0.6),
            ),
            QueueSpec("soporte", 200.0, LogNormal(240, 1.0), Exponential(150)),
        ),
        groups=(
            AgentGroup("v", ("ventas",), count=8),
            AgentGroup("mixto", ("soporte", "ventas"), count=12),
        ),
    )


def test_callbacks_keep_their_place_and_never_hang_up() -> None:
    log = simulate(_two_skill_model(10.0), rng=np.random.default_rng(6), horizon_s=8 * 3600)
    cb = log.callback
    assert cb.any()
    assert np.all(log.queue[cb] == 0)
    assert not log.abandoned[cb].any()
    assert log.answered[cb].all()
    start = log.arrival_s + log.wait_s
    for q in (0, 1):
        mine = log.answered & (log.queue == q)
        assert np.all(np.diff(start[mine]) >= -1e-9)  # FCFS per queue, callbacks included
    names = np.array(log.agent_names)
    support = log.answered & (log.queue == 1)
    assert all(n.startswith("mixto") for n in names[log.agent[support]])
    _check_fcfs_per_agent(log)
    s = log.summary(queue=0)
    assert 0 < s.p_callback < 1
    assert s.customers == int((log.queue == 0).sum())
    none = simulate(_two_skill_model(1e9), rng=np.random.default_rng(6), horizon_s=8 * 3600)
    assert not none.callback.any()
    assert none.abandoned.sum() > log.abandoned.sum()


def _check_fcfs_per_agent(log: CallLog) -> None:
    start = log.arrival_s + log.wait_s
    for k in np.unique(log.agent[log.answered]):
        mine = log.answered & (log.agent == k)
        s, e = start[mine], start[mine] + log.service_s[mine]
        order = np.argsort(s)
        assert np.all(s[order][1:] >= e[order][:-1] - 1e-9)


def test_shifts_and_breaks_are_respected() -> None:
    breaks = ((3600.0, 1800.0),)
    model = Model(
        queues=(QueueSpec("q", 60.0, Exponential(240), Exponential(600)),),
        groups=(
            AgentGroup(
                "a",
                ("q",),
                shifts=(Shift(0.0, 7200.0, breaks), Shift(1800.0, 9000.0), Shift(0.0, 7200.0)),
            ),
        ),
    )
    log = simulate(model, rng=np.random.default_rng(8), horizon_s=4 * 3600)
    start = log.arrival_s + log.wait_s
    ans = log.answered
    first = ans & (log.agent == 0)
    # Agent 1 starts nothing during its break and nothing after its shift.
    assert not np.any((start[first] >= 3600) & (start[first] < 5400))
    assert np.all(start[first] < 7200)
    second = ans & (log.agent == 1)
    assert np.all((start[second] >= 1800) & (start[second] < 9000))
    # Nobody works after 9000 s: late callers are abandoned or left waiting at the end.
    late = log.arrival_s > 9000
    assert not ans[late].any()
    assert log.abandoned[late].all()
    _check_fcfs_per_agent(log)


def test_breaks_wait_for_the_call_in_hand_and_shift_ends_too() -> None:
    # One agent, one long call at the start; a break and the shift end fall during calls.
    model = Model(
        queues=(QueueSpec("q", 30.0, Empirical((1000.0,)), None),),
        groups=(
            AgentGroup(
                "a",
                ("q",),
                shifts=(
                    Shift(0.0, 3000.0, ((100.0, 500.0), (2900.0, 50.0))),
                    Shift(10.0, 1500.0, ((20.0, 30.0),)),
                ),
            ),
        ),
    )
    log = simulate(model, rng=np.random.default_rng(9), horizon_s=2000.0)
    start = log.arrival_s + log.wait_s
    a0 = start[log.answered & (log.agent == 0)]
    a1 = start[log.answered & (log.agent == 1)]
    # Agent 0: its call ends at >= 1000 s, then the 500 s break; next call not before ~1500 s.
    assert a0.size >= 1
    assert not np.any((a0 > a0.min() + 1) & (a0 < a0.min() + 1500 - 1e-6))
    # Agent 1 is on a break from 20 s to 50 s, then serves until its shift ends mid-call.
    assert np.all((a1 >= 10.0) & (a1 < 1500.0))
    # With no patience and no agents left, the remaining callers are neither answered nor lost.
    stuck = ~log.answered & ~log.abandoned
    assert stuck.any()
    assert np.all(log.wait_s[stuck] > 0)


def test_shift_ending_during_a_break_and_idle_agents() -> None:
    model = Model(
        queues=(QueueSpec("q", 1.0, Exponential(10), Exponential(10)),),
        groups=(
            AgentGroup("a", ("q",), shifts=(Shift(0.0, 100.0, ((50.0, 200.0),)),)),
            AgentGroup("b", ("q",), count=1, shifts=(Shift(0.0, 10.0),)),
        ),
    )
    log = simulate(model, rng=np.random.default_rng(10), horizon_s=3600.0)
    assert len(log.agent_names) == 3
    assert np.all(log.answered ^ log.abandoned)


def test_event_engine_is_reproducible_and_validates() -> None:
    m = _two_skill_model(30.0)
    a = simulate(m, rng=np.random.default_rng(1), horizon_s=3600.0)
    b = simulate(m, rng=np.random.default_rng(1), horizon_s=3600.0)
    np.testing.assert_array_equal(a.wait_s, b.wait_s)
    np.testing.assert_array_equal(a.agent, b.agent)
    with pytest.raises(ValueError, match="horizon_s"):
        simulate(m, rng=np.random.default_rng(1), horizon_s=-1.0)
    q = QueueSpec("q", 1.0, Exponential(1))
    for bad in (
        lambda: Model(queues=(q, q), groups=()),
        lambda: Model(queues=(q,), groups=(AgentGroup("g", ("x",), count=1),)),
        lambda: AgentGroup("g", (), count=1),
        lambda: AgentGroup("g", ("q",), count=-1),
        lambda: Shift(10.0, 5.0),
        lambda: Shift(0.0, 10.0, ((20.0, 1.0),)),
        lambda: CallbackPolicy(-1.0),
        lambda: CallbackPolicy(10.0, accept_share=2.0),
    ):
        with pytest.raises(ValueError, match=r"\w"):
            bad()


# --- the log ----------------------------------------------------------------------------------


def test_log_columns_follow_the_call_record_contract() -> None:
    log = simulate(_two_skill_model(10.0), rng=np.random.default_rng(2), horizon_s=1800.0)
    cols = log.columns()
    assert list(cols) == list(CALL_COLUMNS)
    assert cols["queue"][0] in ("ventas", "soporte")
    assert cols["call_id"][0] == "0"
    answered_agents = cols["agent"][log.answered]
    assert all(isinstance(a, str) for a in answered_agents)
    assert all(a is None for a in cols["agent"][~log.answered])
    empty = simulate_queue(
        agents=1,
        arrivals_per_h=1.0,
        service=Exponential(1),
        patience=None,
        rng=np.random.default_rng(0),
        customers=0,
    )
    assert all(len(v) == 0 for v in empty.columns().values())


def test_summary_validation_and_edge_cases() -> None:
    log = simulate_queue(
        agents=1,
        arrivals_per_h=60.0,
        service=Exponential(10),
        patience=Exponential(0.001),
        rng=np.random.default_rng(0),
        customers=100,
    )
    s = log.summary(batches=5)
    assert s.customers == 100
    assert 0 <= s.p_abandon <= 1
    with pytest.raises(ValueError, match="warmup"):
        log.summary(warmup_fraction=1.0)
    with pytest.raises(ValueError, match="batches"):
        log.summary(batches=1)
    with pytest.raises(ValueError, match="at least"):
        log.summary(batches=200)
    nobody = CallLog(
        queue_names=("q",),
        agent_names=(),
        call_id=np.arange(4),
        queue=np.zeros(4, dtype=np.int32),
        arrival_s=np.arange(4.0),
        wait_s=np.ones(4),
        abandoned=np.ones(4, dtype=bool),
        answered=np.zeros(4, dtype=bool),
        service_s=np.zeros(4),
        agent=np.full(4, -1, dtype=np.int32),
        callback=np.zeros(4, dtype=bool),
    )
    assert nobody.summary(batches=2).asa_s == 0.0
