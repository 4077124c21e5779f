"""Erlang B, C and A against independent references (W4): mpmath, recursions, birth-death chains."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escucha.numerics.erlang import (
    SL_DEFINITIONS,
    erlang_a,
    erlang_b,
    erlang_c,
    erlang_c_wait_probability,
    evaluate,
)

try:  # test-only dependency for the high-precision references
    import mpmath as mp  # type: ignore[import-untyped,import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - depends on the environment
    mp = None
else:
    mp.mp.dps = 30  # enough for a 1e-9 check; cancellations here lose < 10 digits

needs_mpmath = pytest.mark.skipif(mp is None, reason="mpmath is not installed")

TOL = 1e-9


# --- independent high-precision references ----------------------------------------------------


def ref_b(n: int, a: float) -> float:
    """Erlang B as Poisson pmf / cdf at 30 digits."""
    nn, aa = mp.mpf(n), mp.mpf(a)
    log_pmf = nn * mp.log(aa) - aa - mp.loggamma(nn + 1)
    cdf = mp.gammainc(nn + 1, aa, mp.inf, regularized=True)
    return float(mp.exp(log_pmf) / cdf)


def ref_c(n: int, a: float) -> float:
    b = mp.mpf(ref_b(n, a))
    rho = mp.mpf(a) / n
    return float(b / (1 - rho * (1 - b)))


def _lower_p(s: Any, z: Any) -> Any:
    if z > s:
        return 1 - mp.gammainc(s, z, mp.inf, regularized=True)
    return mp.gammainc(s, 0, z, regularized=True)


def _state_sum(x: Any, y: Any) -> Any:
    """theta E[W; answered, W > 0] / P(W > 0) * A: sum_j w_j x/(x+j+1) sum_{i<=j} 1/(x+i+1)."""
    total, w, harmonic, j = mp.mpf(0), mp.mpf(1), mp.mpf(0), 0
    peak = mp.mpf(0)
    while True:
        harmonic += 1 / (x + j + 1)
        term = w * x / (x + j + 1) * harmonic
        total += term
        peak = max(peak, term)
        if j > y - x and term < peak * mp.mpf(10) ** -25:
            return total
        j += 1
        w *= y / (x + j)


def ref_a(n: int, per_h: float, aht: float, pat: float, t: float) -> dict[str, float]:
    """Erlang A from the Garnett-Mandelbaum-Reiman closed forms at 30 digits; the ASA by
    numerical integration of P(answered, W > s), or for large systems by the full sum over
    queue states (the library sums a window of states in double precision)."""
    a = mp.mpf(per_h) * aht / 3600
    r = mp.mpf(pat) / aht
    x, y = n * r, a * r
    q = mp.exp(-mp.mpf(t) / pat)
    b = mp.mpf(ref_b(n, float(a)))
    big_a = mp.exp(mp.loggamma(x + 1) + y - x * mp.log(y)) * _lower_p(x, y)
    pw = big_a * b / (1 + (big_a - 1) * b)
    rho = y / x
    ab_w = 1 / (rho * big_a) + 1 - 1 / rho

    def g1(z: Any) -> Any:
        return (x / y) * _lower_p(x + 1, z) / _lower_p(x, y)

    def g0(z: Any) -> Any:
        return _lower_p(x, z) / _lower_p(x, y)

    if y < 2000:
        split = [0, mp.log(y / (x + 1)), mp.inf] if y > x + 1 else [0, 1, mp.inf]
        integral = mp.quad(lambda u: g1(y * mp.exp(-u)), split)
    else:  # large systems: the plain sum over every queue state (quadrature is too slow)
        integral = _state_sum(x, y) / big_a
    return {
        "p_wait": float(pw),
        "p_abandon": float(pw * ab_w),
        "answered_within": float((1 - pw) + pw * (g1(y) - g1(y * q))),
        "abandoned_within": float(pw * (ab_w - q * g0(y * q) + g1(y * q))),
        "asa_s": float(pw * integral * pat / (1 - pw * ab_w)),
    }


def b_recursion(n: int, a: float) -> float:
    """Erlang B by the classic recursion B(k) = a B(k-1) / (k + a B(k-1)) (small n only)."""
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def c_from_b(n: int, a: float) -> float:
    b = b_recursion(n, a)
    return n * b / (n - a * (1 - b))


def rel(value: float, ref: float) -> float:
    return abs(value - ref) / abs(ref) if ref != 0 else abs(value)


# --- Erlang B and C ---------------------------------------------------------------------------

BC_CASES = [
    (1, 0.5),
    (1, 3.0),
    (3, 1e-3),
    (10, 8.3),
    (100, 95.5),
    (100, 130.0),
    (1000, 999.5),
    (1000, 1500.2),
    (99_000, 100_000.0),
    (90_000, 100_000.0),  # R(n, a) from Q(n, a) below the load
    (75_000, 100_000.0),  # Q underflows: the series instead
    (50_000, 100_000.0),
    (100_000, 99_999.9),
    (100_500, 100_000.0),
    (101_000, 100_000.0),
]


@needs_mpmath
@pytest.mark.parametrize(("n", "a"), BC_CASES)
def test_erlang_b_matches_high_precision_reference(n: int, a: float) -> None:
    assert rel(float(erlang_b(n, a)), ref_b(n, a)) <= TOL


@needs_mpmath
@pytest.mark.parametrize(("n", "a"), [c for c in BC_CASES if c[0] > c[1]])
def test_erlang_c_matches_high_precision_reference(n: int, a: float) -> None:
    assert rel(float(erlang_c_wait_probability(n, a)), ref_c(n, a)) <= TOL


def test_erlang_b_matches_the_classic_recursion_for_small_systems() -> None:
    for a in (0.3, 2.0, 7.5, 20.0):
        for n in range(1, 40):
            assert float(erlang_b(n, a)) == pytest.approx(b_recursion(n, a), rel=1e-13)


def test_erlang_b_and_c_vectorise_and_handle_edges() -> None:
    n = np.array([0, 0, 5, 5, 10])
    a = np.array([0.0, 2.0, 0.0, 7.0, 7.0])
    b = erlang_b(n, a)
    assert b.tolist()[:3] == [0.0, 1.0, 0.0]
    assert b[3] == pytest.approx(b_recursion(5, 7.0), rel=1e-12)
    c = erlang_c_wait_probability(n, a)
    assert c.tolist()[:4] == [0.0, 1.0, 0.0, 1.0]  # 5 agents for 7 Erlangs: unstable, waits
    assert c[4] == pytest.approx(c_from_b(10, 7.0), rel=1e-12)
    assert erlang_b([[3, 4]], 2.0).shape == (1, 2)


def test_pyworkforce_reference_case() -> None:
    # pyworkforce's own test: 100 calls per 30 min, AHT 3 min, 20 s target (0.33 min), 14 agents.
    m = erlang_c(14, 200.0, 180.0, target_time_s=0.33 * 60).result()
    assert round(m.service_level, 3) == 0.888
    assert round(m.occupancy, 3) == 0.714
    assert round(m.p_wait, 3) == 0.174
    m15 = erlang_c(15, 200.0, 180.0, target_time_s=0.33 * 60).result()
    assert (round(m15.service_level, 3), round(m15.p_wait, 3)) == (0.941, 0.102)


def test_erlang_c_measures_follow_their_formulas() -> None:
    m = erlang_c(107, 2000.0, 180.0, target_time_s=20.0).result()
    c = c_from_b(107, 100.0)
    assert m.p_wait == pytest.approx(c, rel=TOL)
    assert m.service_level == pytest.approx(1 - c * math.exp(-7 * 20 / 180), rel=TOL)
    assert m.asa_s == pytest.approx(c * 180 / 7, rel=TOL)
    assert m.mean_queue_len == pytest.approx(c * 100 / 7, rel=TOL)
    assert m.occupancy == pytest.approx(100 / 107)
    assert m.p_abandon == 0.0
    assert m.stable


@pytest.mark.parametrize("n", [1, 50, 99, 100])
def test_erlang_c_says_unstable_instead_of_nonsense(n: int) -> None:
    m = erlang_c(n, 2000.0, 180.0).result()  # 100 Erlangs
    assert not m.stable
    assert m.p_wait == 1.0
    assert m.service_level == 0.0
    assert m.occupancy == 1.0
    assert math.isinf(m.asa_s)
    assert m.asa_s > 0
    assert math.isinf(m.mean_queue_len)


def test_erlang_c_without_calls() -> None:
    m = erlang_c(0, 0.0, 180.0).result()
    assert (m.stable, m.p_wait, m.service_level, m.asa_s, m.occupancy) == (True, 0.0, 1.0, 0.0, 0.0)


# --- Erlang A ---------------------------------------------------------------------------------

A_CASES = [
    (1, 10, 180, 120, 20),
    (2, 100, 30, 10, 5),  # n mu / theta < 1
    (100, 2000, 180, 120, 20),
    (80, 2000, 180, 120, 20),
    (40, 2000, 180, 120, 20),
    (200, 2000, 180, 120, 20),
    (100, 2000, 180, 600, 30),
    (100, 2000, 180, 30, 20),
    (700, 20000, 180, 120, 60),
    (100_000, 2_000_000, 180, 120, 20),
    (60_000, 2_000_000, 180, 120, 20),
    (102_000, 2_000_000, 180, 120, 20),  # x > y near y: incomplete gamma
    (110_000, 2_000_000, 180, 120, 20),  # x well above y: series
    (300, 2000, 180, 120, 20),
]


@needs_mpmath
@pytest.mark.parametrize("case", A_CASES)
def test_erlang_a_matches_high_precision_reference(case: tuple[int, ...]) -> None:
    n, per_h, aht, pat, t = case
    m = erlang_a(n, per_h, aht, pat, target_time_s=t)
    ref = ref_a(*case)
    for key, value in ref.items():
        assert rel(float(getattr(m, key)), value) <= TOL, key


def test_erlang_a_matches_a_truncated_birth_death_chain() -> None:
    lam, mu, theta, n = 2000 / 3600, 1 / 180, 1 / 120, 100
    k = np.arange(3000)
    down = np.minimum(k, n) * mu + np.maximum(k - n, 0) * theta
    logp = np.concatenate([[0.0], np.cumsum(np.log(lam / down[1:]))])
    p = np.exp(logp - logp.max())
    p /= p.sum()
    m = erlang_a(n, 2000, 180, 120).result()
    assert m.p_wait == pytest.approx(p[n:].sum(), rel=1e-12)
    assert m.mean_queue_len == pytest.approx((np.maximum(k - n, 0) * p).sum(), rel=1e-12)
    assert m.p_abandon == pytest.approx(theta * m.mean_queue_len / lam, rel=1e-12)


def test_erlang_a_tends_to_erlang_c_with_endless_patience() -> None:
    a = erlang_a(110, 2000, 180, 1e9).result()
    c = erlang_c(110, 2000, 180).result()
    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-6)
    assert a.service_level == pytest.approx(c.service_level, rel=1e-6)
    assert a.asa_s == pytest.approx(c.asa_s, rel=1e-5)


def test_erlang_a_gives_true_values_when_overloaded() -> None:
    n = np.array([1, 10, 50, 90, 99, 100])
    m = erlang_a(n, 2000, 180, 120)  # 100 Erlangs
    for arr in (m.p_wait, m.p_abandon, m.service_level, m.occupancy):
        assert np.all(np.isfinite(arr))
        assert np.all((arr >= 0) & (arr <= 1))
    # Agents can carry at most n Erlangs: abandonment is at least 1 - n/a.
    assert np.all(m.p_abandon >= 1 - n / 100 - 1e-12)
    assert np.all(np.isfinite(m.asa_s))
    assert np.all(m.asa_s >= 0)
    assert m.stable.all()


def test_erlang_a_edges_no_agents_no_calls_and_very_long_target() -> None:
    none = erlang_a(0, 100, 180, 120, target_time_s=30).result()
    assert (none.p_wait, none.p_abandon, none.service_level) == (1.0, 1.0, 0.0)
    assert math.isinf(none.asa_s)
    assert none.mean_wait_s == pytest.approx(120.0)
    short = erlang_a(0, 100, 180, 120, target_time_s=30)
    assert float(short.abandoned_within) == pytest.approx(1 - math.exp(-30 / 120))
    idle = erlang_a(3, 0, 180, 120).result()
    assert (idle.p_wait, idle.service_level, idle.p_abandon, idle.occupancy) == (0, 1, 0, 0)
    # A target far beyond anyone's patience: answered within t = all answered calls.
    for n in (5, 200, 2000):
        far = erlang_a(n, 2000, 180, 10, target_time_s=1e5)
        assert float(far.answered_within) == pytest.approx(1 - float(far.p_abandon), rel=1e-12)
        assert float(far.abandoned_within) == pytest.approx(float(far.p_abandon), rel=1e-12)


def test_service_level_definitions_relate_as_they_should() -> None:
    m = erlang_a(np.array([60, 95, 110]), 2000, 180, 90, target_time_s=20)
    offered = m.service_level_as("offered")
    answered = m.service_level_as("answered")
    short = m.service_level_as("offered_ex_abandoned_within_t")
    assert np.array_equal(short, m.service_level_as("offered_minus_short_abandons"))  # older name
    met = m.service_level_as("abandons_met")
    assert np.all(answered >= offered)
    assert np.all(short >= offered)
    assert np.all(met >= offered)
    assert np.allclose(answered, m.answered_within / (1 - m.p_abandon))
    assert np.allclose(short, m.answered_within / (1 - m.abandoned_within))
    assert np.allclose(met, m.answered_within + m.abandoned_within)
    for d in SL_DEFINITIONS:
        sl = erlang_a(95, 2000, 180, 90, sl_definition=d).service_level
        assert float(sl) == pytest.approx(float(m.service_level_as(d)[1]))
    c = erlang_c(110, 2000, 180)
    assert all(np.allclose(c.service_level_as(d), c.service_level) for d in SL_DEFINITIONS)
    with pytest.raises(ValueError, match="definition"):
        c.service_level_as("nonsense")  # type: ignore[arg-type]


def test_definitions_do_not_divide_by_zero() -> None:
    m = erlang_a(0, 100, 180, 1e-3, target_time_s=60)  # everyone abandons at once
    assert float(m.service_level_as("answered")) == 0.0
    assert float(m.service_level_as("offered_ex_abandoned_within_t")) == 0.0


def test_vectorised_erlang_a_equals_case_by_case() -> None:
    n = np.array([90, 100, 110])
    per_h = np.array([1800.0, 2000.0, 2200.0])
    m = erlang_a(n, per_h, 180, 120)
    for i in range(3):
        one = erlang_a(int(n[i]), float(per_h[i]), 180, 120).result()
        assert m.result(i) == one


def test_evaluate_switches_model() -> None:
    assert evaluate(110, 2000, 180).model == "erlang-c"
    assert evaluate(110, 2000, 180, patience_mean_s=120).model == "erlang-a"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: erlang_b(-1, 2.0), "agents"),
        (lambda: erlang_b(2.5, 2.0), "whole"),
        (lambda: erlang_b(np.array([np.nan]), 2.0), "whole"),
        (lambda: erlang_b("x", 2.0), "whole"),
        (lambda: erlang_b(2, -1.0), "load_erl"),
        (lambda: erlang_c(2, 10, 0.0), "aht_s"),
        (lambda: erlang_c(2, 10, 100, target_time_s=-1), "target_time_s"),
        (lambda: erlang_a(2, 10, 100, 0.0), "patience"),
        (lambda: erlang_a(2, 10, 100, 60, sl_definition="x"), "definition"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_is_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_whole_floats_are_accepted_as_agents() -> None:
    assert float(erlang_b(3.0, 2.0)) == float(erlang_b(3, 2.0))


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    a=st.floats(0.05, 400.0),
    aht=st.floats(10.0, 900.0),
    pat=st.floats(5.0, 900.0),
    t=st.floats(0.0, 300.0),
)
def test_erlang_a_is_bounded_and_improves_with_agents(
    a: float, aht: float, pat: float, t: float
) -> None:
    per_h = a * 3600 / aht
    n = np.arange(1, int(a * 1.5) + 8)
    m = erlang_a(n, per_h, aht, pat, target_time_s=t)
    for arr in (m.p_wait, m.p_abandon, m.service_level, m.occupancy, m.abandoned_within):
        assert np.all((arr >= 0) & (arr <= 1))
    assert np.all(m.asa_s >= 0)
    assert np.all(np.isfinite(m.asa_s))
    slack = 1e-12
    assert np.all(np.diff(m.p_wait) <= slack)
    assert np.all(np.diff(m.p_abandon) <= slack)
    assert np.all(np.diff(m.service_level) >= -slack)
    assert np.all(np.diff(m.asa_s) <= 1e-9 * np.maximum(m.asa_s[:-1], 1.0))


@settings(max_examples=40, deadline=None)
@given(a=st.floats(0.05, 2000.0), aht=st.floats(10.0, 900.0), t=st.floats(0.0, 300.0))
def test_erlang_c_is_bounded_and_improves_with_agents(a: float, aht: float, t: float) -> None:
    n = np.arange(1, int(a * 1.3) + 10)
    m = erlang_c(n, a * 3600 / aht, aht, target_time_s=t)
    assert np.all((m.p_wait >= 0) & (m.p_wait <= 1))
    assert np.all((m.service_level >= 0) & (m.service_level <= 1))
    assert np.all(m.stable == (n > m.load_erl))
    assert np.all(np.diff(m.p_wait) <= 1e-12)
    assert np.all(np.diff(m.service_level) >= -1e-12)
    b = erlang_b(n, m.load_erl)
    assert np.all((b >= 0) & (b <= 1))
    assert np.all(np.diff(b) <= 0)


def test_single_case_erlang_c_equals_the_vectorised_path() -> None:
    n = np.array([0, 5, 9, 12, 107, 1020])
    per_h = np.array([0.0, 200.0, 200.0, 200.0, 2000.0, 20000.0])
    many = erlang_c(n, per_h, 180.0, target_time_s=15.0)
    for i in range(n.size):
        assert erlang_c(int(n[i]), float(per_h[i]), 180.0, target_time_s=15.0).result() == (
            many.result(i)
        )


def test_both_forms_of_the_inverse_erlang_b_agree() -> None:
    # Q(n, a) / p(n; a) and the finite series are the same R(n, a) (module docstring).
    from escucha.numerics.erlang import _log_r, _log_sum_inv_b

    for n, a in ((90, 100.0), (850, 1000.0), (90_000, 100_000.0), (99_000, 100_000.0)):
        assert _log_r(n, a) == pytest.approx(_log_sum_inv_b(n, a), rel=1e-12, abs=1e-12)
    assert _log_r(70_000, 100_000.0) == _log_sum_inv_b(70_000, 100_000.0)  # Q underflows


def test_plain_numbers_array_of_one_and_vector_give_the_same_erlang_c() -> None:
    # Plain numbers take a scalar path; a one-element array the single-case path.
    for n, per_h in ((0, 0.0), (5, 200.0), (12, 200.0), (1020, 20000.0), (np.int64(12), 200)):
        scalar = erlang_c(n, per_h, 180.0)
        one = erlang_c(np.array([n]), np.array([per_h]), 180.0)
        assert scalar.agents.shape == ()
        assert one.agents.shape == (1,)
        assert scalar.result() == one.result()
    assert erlang_c(12.0, 200.0, 180.0).result() == erlang_c(12, 200.0, 180.0).result()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((2.5, 10.0, 100.0), "whole"),
        ((math.inf, 10.0, 100.0), "whole"),
        ((-1, 10.0, 100.0), ">= 0"),
        ((2, -1.0, 100.0), "arrivals_per_h"),
        ((2, math.nan, 100.0), "arrivals_per_h"),
        ((2, 10.0, 0.0), "aht_s"),
        ((2, 10.0, math.inf), "aht_s"),
    ],
)
def test_plain_numbers_are_checked_like_arrays(
    args: tuple[float, float, float], message: str
) -> None:
    for form in (args, tuple(np.array([v]) for v in args)):
        with pytest.raises(ValueError, match=message):
            erlang_c(*form)
