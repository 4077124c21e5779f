"""Patience estimators (W3, W4): hand-computed values, SciPy cross-checks, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from escucha.numerics import patience as pt

# Ten queued calls worked by hand (see each test for the arithmetic).
WAIT = np.array([5, 10, 10, 15, 20, 30, 45, 60, 100, 200], dtype=float)
ABANDONED = np.array([1, 0, 1, 1, 0, 1, 0, 1, 0, 0], dtype=bool)


def test_abandonment_by_wait_hand_computed() -> None:
    r = pt.abandonment_by_wait(WAIT, ABANDONED, (10, 20, 30, 60, 90))
    # abandons at 5, 10 | 15 | 30 | 60 | -, of 10 queued calls
    np.testing.assert_allclose(r.abandoned_within, [2, 3, 4, 5, 5])
    np.testing.assert_allclose(r.share, [0.2, 0.3, 0.4, 0.5, 0.5])
    np.testing.assert_allclose(r.interval_abandoned, [2, 1, 1, 1, 0])
    # still waiting after 0 (all), 10, 20, 30, 60 s
    np.testing.assert_allclose(r.at_risk, [10, 7, 5, 4, 2])
    np.testing.assert_allclose(r.conditional_share, [0.2, 1 / 7, 1 / 5, 1 / 4, 0.0])
    assert r.queued == 10
    assert r.abandoned == 5
    assert r.abandoned_after_last == 0


def test_abandonment_by_wait_counts_late_abandons_and_empty_intervals() -> None:
    r = pt.abandonment_by_wait([1.0, 500.0, 2.0], [False, True, False], (10, 20))
    assert r.abandoned_after_last == 1
    np.testing.assert_allclose(r.share, [0.0, 0.0])
    np.testing.assert_allclose(r.at_risk, [3, 1])
    empty = pt.abandonment_by_wait([], [], (10, 20))
    assert empty.queued == 0
    assert np.isnan(empty.share).all()
    assert np.isnan(empty.conditional_share).all()


def test_abandonment_by_wait_accepts_zero_one_flags() -> None:
    r = pt.abandonment_by_wait([3, 4], [1, 0], (5,))
    np.testing.assert_allclose(r.share, [0.5])


def test_kaplan_meier_hand_computed() -> None:
    c = pt.kaplan_meier(WAIT, ABANDONED)
    np.testing.assert_allclose(c.time_s, [5, 10, 15, 30, 60])
    # a call answered at 10 s is still at risk at 10 s
    np.testing.assert_allclose(c.at_risk, [10, 9, 7, 5, 3])
    np.testing.assert_allclose(c.events, [1, 1, 1, 1, 1])
    expected = np.cumprod([9 / 10, 8 / 9, 6 / 7, 4 / 5, 2 / 3])
    np.testing.assert_allclose(c.survival, expected)
    gw = np.cumsum([1 / (10 * 9), 1 / (9 * 8), 1 / (7 * 6), 1 / (5 * 4), 1 / (3 * 2)])
    np.testing.assert_allclose(c.greenwood, gw)
    z = stats.norm.ppf(0.975)
    se = np.sqrt(gw) / np.abs(np.log(expected))
    np.testing.assert_allclose(c.lower, expected ** np.exp(z * se))
    np.testing.assert_allclose(c.upper, expected ** np.exp(-z * se))
    assert c.median_s == 60
    assert c.time_at_survival_s(0.9) == 5
    assert c.time_at_survival_s(0.1) is None
    assert c.n == 10
    assert c.n_events == 5
    assert c.max_wait_s == 200
    np.testing.assert_allclose(c.survival_at([0, 4.9, 5, 12, 1000]), [1, 1, 0.9, 0.8, expected[-1]])
    lo, hi = c.band_at([0, 5])
    assert lo[0] == hi[0] == 1.0
    assert lo[1] < 0.9 < hi[1]


@pytest.mark.filterwarnings("ignore:The confidence interval is undefined:RuntimeWarning")
def test_kaplan_meier_matches_scipy_ecdf() -> None:
    rng = np.random.default_rng(7)
    patience = rng.exponential(90.0, 400)
    service_wait = rng.exponential(50.0, 400)
    wait = np.round(np.minimum(patience, service_wait))
    ab = patience < service_wait
    c = pt.kaplan_meier(wait, ab, confidence=0.9)
    ref = stats.ecdf(stats.CensoredData(uncensored=wait[ab], right=wait[~ab]))
    band = ref.sf.confidence_interval(0.9, method="log-log")
    ts = np.linspace(0, float(wait.max()) - 1, 57)
    np.testing.assert_allclose(c.survival_at(ts), ref.sf.evaluate(ts), atol=1e-12)
    lo, hi = c.band_at(ts)
    finite = np.isfinite(band.low.evaluate(ts)) & (c.survival_at(ts) > 0)
    np.testing.assert_allclose(lo[finite], band.low.evaluate(ts)[finite], atol=1e-10)
    np.testing.assert_allclose(hi[finite], band.high.evaluate(ts)[finite], atol=1e-10)


def test_kaplan_meier_reaches_zero_when_the_last_caller_abandons() -> None:
    c = pt.kaplan_meier([1.0, 2.0], [False, True])
    np.testing.assert_allclose(c.survival, [0.0])
    assert math.isinf(c.greenwood[-1])
    assert c.lower[-1] == 0.0
    assert c.upper[-1] == 0.0
    assert c.median_s == 2.0


def test_kaplan_meier_without_abandons_or_calls() -> None:
    c = pt.kaplan_meier([3.0, 8.0], [False, False])
    assert c.time_s.size == 0
    assert c.median_s is None
    np.testing.assert_allclose(c.survival_at([0, 100]), [1, 1])
    empty = pt.kaplan_meier([], [])
    assert empty.n == 0
    assert empty.max_wait_s == 0


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 50),
            st.booleans(),
            st.integers(1, 4),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_weights_equal_repeated_rows(rows: list[tuple[int, bool, int]]) -> None:
    wait = np.array([r[0] for r in rows], dtype=float)
    ab = np.array([r[1] for r in rows])
    weights = np.array([r[2] for r in rows], dtype=float)
    rep_wait = np.repeat(wait, weights.astype(int))
    rep_ab = np.repeat(ab, weights.astype(int))
    a = pt.kaplan_meier(wait, ab, weights=weights)
    b = pt.kaplan_meier(rep_wait, rep_ab)
    np.testing.assert_allclose(a.survival, b.survival)
    np.testing.assert_allclose(a.at_risk, b.at_risk)
    ha = pt.hazard_by_interval(wait, ab, (0, 5, 20, math.inf), weights=weights)
    hb = pt.hazard_by_interval(rep_wait, rep_ab, (0, 5, 20, math.inf))
    np.testing.assert_allclose(ha.exposure_s, hb.exposure_s)
    np.testing.assert_allclose(ha.abandoned, hb.abandoned)
    wa = pt.abandonment_by_wait(wait, ab, weights=weights)
    wb = pt.abandonment_by_wait(rep_wait, rep_ab)
    np.testing.assert_allclose(wa.share, wb.share)
    # Survival never increases and the band contains the estimate.
    assert (np.diff(a.survival) <= 1e-12).all()
    assert (a.lower <= a.survival + 1e-12).all()
    assert (a.upper >= a.survival - 1e-12).all()
    # Exposure adds up to the total time waited.
    assert ha.exposure_s.sum() == pytest.approx(float((wait * weights).sum()))


def test_hazard_hand_computed() -> None:
    h = pt.hazard_by_interval(WAIT, ABANDONED, (0, 10, 30, math.inf))
    np.testing.assert_allclose(h.abandoned, [2, 2, 1])
    # [0, 10]: 5 + 10 * 9; (10, 30]: 5 + 10 + 20 * 5; (30, inf): 15 + 30 + 70 + 170
    np.testing.assert_allclose(h.exposure_s, [95, 115, 285])
    np.testing.assert_allclose(h.at_risk, [10, 7, 4])
    np.testing.assert_allclose(h.hazard_per_s, [2 / 95, 2 / 115, 1 / 285])
    np.testing.assert_allclose(h.conditional_abandon, [2 / 10, 2 / 7, 1 / 4])


def test_hazard_with_a_first_edge_above_zero_and_empty_intervals() -> None:
    h = pt.hazard_by_interval([2.0, 12.0, 15.0], [True, True, False], (10, 20, 40))
    # the abandon at 2 s is before the first edge and is not counted
    np.testing.assert_allclose(h.abandoned, [1, 0])
    np.testing.assert_allclose(h.at_risk, [2, 0])
    np.testing.assert_allclose(h.exposure_s, [2 + 5, 0])
    assert np.isnan(h.hazard_per_s[1])
    assert np.isnan(h.conditional_abandon[1])


def test_mean_patience_total_wait_over_abandons() -> None:
    assert pt.mean_patience_total_wait_s(WAIT, ABANDONED) == pytest.approx(495 / 5)
    assert pt.mean_patience_total_wait_s([1.0, 2.0], [False, False]) is None
    weighted = pt.mean_patience_total_wait_s([10.0, 20.0], [True, False], weights=[2, 3])
    assert weighted == pytest.approx((20 + 60) / 2)


def test_mean_patience_by_regression_recovers_the_slope() -> None:
    r = pt.regress_abandonment_on_wait([10.0, 20.0, 40.0], [0.1, 0.2, 0.4], [100, 50, 10])
    assert r.slope_per_s == pytest.approx(0.01)
    assert r.mean_patience_s == pytest.approx(100.0)
    assert r.r_squared == pytest.approx(1.0)
    assert r.groups == 3
    unweighted = pt.regress_abandonment_on_wait([10.0, 20.0], [0.1, 0.3])
    # slope = (10*0.1 + 20*0.3) / (100 + 400)
    assert unweighted.slope_per_s == pytest.approx(7 / 500)
    assert 0 < unweighted.r_squared < 1


def test_mean_patience_by_regression_groups_calls() -> None:
    group = np.array([0, 0, 0, 0, 1, 1, 2])
    wait = np.array([10, 10, 10, 10, 30, 10, 5], dtype=float)
    ab = np.array([1, 0, 0, 0, 1, 0, 0], dtype=bool)
    r = pt.mean_patience_by_regression(group, wait, ab, min_calls=2)
    # group 0: mean wait 10, P(ab) 1/4; group 1: 20, 1/2; group 2 dropped (one call)
    np.testing.assert_allclose(r.mean_wait_s, [10, 20])
    np.testing.assert_allclose(r.p_abandon, [0.25, 0.5])
    np.testing.assert_allclose(r.calls, [4, 2])
    assert r.mean_patience_s == pytest.approx(40.0)


def test_mean_patience_by_regression_degenerate_cases() -> None:
    none = pt.regress_abandonment_on_wait([], [])
    assert none.mean_patience_s is None
    assert math.isnan(none.slope_per_s)
    zero = pt.regress_abandonment_on_wait([10.0, 20.0], [0.0, 0.0])
    assert zero.mean_patience_s is None
    assert math.isnan(zero.r_squared)
    with pytest.raises(ValueError, match="same length"):
        pt.regress_abandonment_on_wait([1.0], [0.1, 0.2])
    with pytest.raises(ValueError, match="group"):
        pt.mean_patience_by_regression([1, 2], [1.0], [True])


def test_recommended_answer_target() -> None:
    c = pt.kaplan_meier(WAIT, ABANDONED)
    t = pt.recommended_answer_target(c, survival_level=0.85)
    # S(5) = 0.9, S(10) = 0.8: survival first falls to 0.85 at 10 s
    assert t.target_s == 10
    assert t.survival_level == 0.85
    assert t.max_wait_s == 200
    assert t.lower_s is not None
    assert t.lower_s <= 10
    assert t.upper_s is not None
    assert t.upper_s >= 10
    default = pt.recommended_answer_target(c)
    assert default.target_s == 5
    never = pt.recommended_answer_target(pt.kaplan_meier([5.0, 9.0], [False, True]))
    assert never.target_s == 9
    unreached = pt.recommended_answer_target(pt.kaplan_meier([5.0], [False]))
    assert unreached.target_s is None
    with pytest.raises(ValueError, match="survival_level"):
        pt.recommended_answer_target(c, survival_level=1.0)
    with pytest.raises(ValueError, match="survival level"):
        c.time_at_survival_s(1.5)


def test_summarize_patience() -> None:
    group = np.repeat([0, 1], 5)
    s = pt.summarize_patience(WAIT, ABANDONED, group=group, survival_level=0.5)
    assert s.queued == 10
    assert s.abandoned == 5
    assert s.p_abandon == 0.5
    assert s.mean_total_wait_s == pytest.approx(99.0)
    assert s.target.target_s == 60
    np.testing.assert_allclose(s.survival_points_s, pt.DEFAULT_SURVIVAL_POINTS_S)
    assert s.survival_at_points[0] == pytest.approx(0.8)
    assert s.regression is not None
    assert s.regression.groups == 2
    assert pt.summarize_patience(WAIT, ABANDONED).regression is None
    assert math.isnan(pt.summarize_patience([], []).p_abandon)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"wait_s": [1.0], "abandoned": [2]}, "booleans"),
        ({"wait_s": [1.0, 2.0], "abandoned": [True]}, "same length"),
        ({"wait_s": [-1.0], "abandoned": [True]}, "non-negative"),
        ({"wait_s": [math.nan], "abandoned": [True]}, "finite"),
        ({"wait_s": [1.0], "abandoned": [True], "weights": [1.0, 2.0]}, "weights"),
        ({"wait_s": [1.0], "abandoned": [True], "weights": [-1.0]}, "weights"),
    ],
)
def test_bad_inputs_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pt.kaplan_meier(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("points", "message"),
    [((), "at least one"), ((10, 5), "increasing"), ((-1, 5), "non-negative")],
)
def test_bad_wait_points_are_refused(points: tuple[float, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pt.abandonment_by_wait([1.0], [True], points)


@pytest.mark.parametrize(
    ("edges", "message"), [((10,), "two edges"), ((0, 10, 5), "increasing"), ((-1, 5), "negative")]
)
def test_bad_hazard_edges_are_refused(edges: tuple[float, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pt.hazard_by_interval([1.0], [True], edges)


def test_bad_confidence_is_refused() -> None:
    with pytest.raises(ValueError, match="confidence"):
        pt.kaplan_meier([1.0], [True], confidence=1.0)


def test_ten_million_rows_fit_as_aggregated_counts() -> None:
    # A database hands over distinct (wait, abandoned) pairs with counts.
    wait = np.arange(0, 600, dtype=float)
    ab = np.zeros(wait.size, dtype=bool)
    ab[::3] = True
    counts = np.full(wait.size, 10_000_000 / wait.size)
    c = pt.kaplan_meier(wait, ab, weights=counts)
    assert c.n == pytest.approx(10_000_000)
    assert (np.diff(c.survival) <= 0).all()
