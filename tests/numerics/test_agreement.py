"""Krippendorff's alpha and reviewer drift (C4: calibration between reviewers)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escucha.numerics.agreement import (
    ReviewerDrift,
    coincidence_matrix,
    krippendorff_alpha,
    reviewer_drift,
)

NAN = float("nan")

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
# four observers, twelve units, values 1-5, missing data.
KRIPPENDORFF_2011_C = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_worked_example(level: str, published: float) -> None:
    assert krippendorff_alpha(KRIPPENDORFF_2011_C, level) == pytest.approx(  # type: ignore[arg-type]
        published, abs=5e-4
    )


def test_krippendorff_binary_two_observers_example() -> None:
    # Krippendorff (2011), section A: two observers, ten units, binary data, alpha = 0.095.
    a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    assert krippendorff_alpha([a, b]) == pytest.approx(0.095, abs=5e-4)


def test_coincidence_matrix_of_worked_example() -> None:
    values, o = coincidence_matrix(KRIPPENDORFF_2011_C)
    assert values.tolist() == [1, 2, 3, 4, 5]
    # Hand-computed in the paper: n_c = 9, 13, 10, 5, 3 and n = 40 pairable values.
    assert o.sum(axis=1) == pytest.approx([9, 13, 10, 5, 3])
    assert o[0, 0] == pytest.approx(7.0)
    assert o[0, 1] == pytest.approx(4 / 3)
    assert np.allclose(o, o.T)


def test_hand_computed_small_interval_example() -> None:
    # Two reviewers, units (1,2) and (3,3): values 1,2,3,3 -> n = 4.
    # o: o_12 = o_21 = 1, o_33 = 2. Do numerator sum o*d2 = 2*(1)^2 = 2.
    # De denominator: sum n_c n_k (c-k)^2 = 2*(1*1*1 + 1*2*4 + 1*2*1) = 22.
    # alpha = 1 - 3 * 2 / 22 = 8/11.
    assert krippendorff_alpha([[1, 3], [2, 3]], "interval") == pytest.approx(8 / 11)


def test_perfect_agreement_is_one_and_missing_units_are_ignored() -> None:
    data = [[1, 2, 3, NAN], [1, 2, 3, 4], [NAN, 2, 3, NAN]]
    for level in ("nominal", "ordinal", "interval", "ratio"):
        assert krippendorff_alpha(data, level) == pytest.approx(1.0)  # type: ignore[arg-type]


def test_systematic_disagreement_is_negative() -> None:
    assert krippendorff_alpha([[0, 1, 0, 1], [1, 0, 1, 0]]) < 0


def test_undefined_alpha_is_nan() -> None:
    assert math.isnan(krippendorff_alpha([[1, NAN], [NAN, 2]]))  # no pairable unit
    assert math.isnan(krippendorff_alpha([[3, 3], [3, 3]]))  # no variation


def test_ratio_with_zero_values() -> None:
    alpha = krippendorff_alpha([[0, 2, 4], [0, 2, 5]], "ratio")
    assert 0.9 < alpha < 1.0


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="2-D"):
        krippendorff_alpha(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="finite"):
        krippendorff_alpha([[1.0, math.inf], [1.0, 2.0]])
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha([[1, 2], [1, 2]], "cardinal")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        krippendorff_alpha([[-1, 2], [1, 2]], "ratio")


def _alpha_by_pairs(data: list[list[float]], level: str) -> float:
    """Definition-level alpha: average pairwise differences within units vs all pairs."""
    units = []
    for column in zip(*data, strict=True):
        vals = [v for v in column if not math.isnan(v)]
        if len(vals) >= 2:
            units.append(vals)
    pooled = [v for u in units for v in u]
    n = len(pooled)
    ranks = sorted(set(pooled))
    counts = {v: pooled.count(v) for v in ranks}

    def d2(c: float, k: float) -> float:
        if level == "nominal":
            return float(c != k)
        if level == "interval":
            return (c - k) ** 2
        lo, hi = sorted((c, k))
        between = sum(counts[g] for g in ranks if lo <= g <= hi)
        return (between - (counts[c] + counts[k]) / 2) ** 2

    observed = sum(
        sum(d2(a, b) for a, b in itertools.permutations(u, 2)) / (len(u) - 1) for u in units
    )
    expected = sum(d2(a, b) for a, b in itertools.permutations(pooled, 2))
    return 1 - (n - 1) * observed / expected


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(st.integers(1, 4), st.just(-1)), min_size=6, max_size=6),
        min_size=2,
        max_size=4,
    ),
    st.sampled_from(["nominal", "ordinal", "interval"]),
)
def test_alpha_matches_pairwise_definition(rows: list[list[int]], level: str) -> None:
    data = [[NAN if v < 0 else float(v) for v in row] for row in rows]
    alpha = krippendorff_alpha(data, level)  # type: ignore[arg-type]
    units = [
        [v for v in col if not math.isnan(v)]
        for col in zip(*data, strict=True)
        if sum(not math.isnan(v) for v in col) >= 2
    ]
    if len({v for u in units for v in u}) < 2:
        assert math.isnan(alpha)
    else:
        assert alpha == pytest.approx(_alpha_by_pairs(data, level))


def test_reviewer_drift_finds_lenient_and_drifting_reviewer() -> None:
    # Units 0..5 in periods 0..5. Ana and Beto agree; Carla is 0 points off at first and
    # ten points more lenient per period later on.
    base = np.array([70.0, 80, 60, 90, 75, 85])
    carla = base + 10 * np.arange(6)
    data = np.vstack([base, base, carla])
    data[1, 2] = NAN  # Beto missed one unit
    out = reviewer_drift(data, ["ana", "beto", "carla"], periods=[0, 1, 2, 3, 4, 5])
    ana, beto, carla_d = out
    assert isinstance(carla_d, ReviewerDrift)
    assert carla_d.n_units == 6
    # Carla's deviation at period t: 10t - 0 (both others equal base) -> mean 25, slope 10.
    assert carla_d.mean_deviation == pytest.approx(25.0)
    assert carla_d.mean_abs_deviation == pytest.approx(25.0)
    assert carla_d.slope_per_period == pytest.approx(10.0)
    # Ana's deviation at t is base - (base + base + 10t)/2 = -5t except at t=2 where Beto is
    # missing: base - (base + 20) = -20.
    expected_ana = [0, -5, -20, -15, -20, -25]
    assert ana.mean_deviation == pytest.approx(np.mean(expected_ana))
    assert ana.slope_per_period < 0
    assert beto.n_units == 5


def test_reviewer_drift_without_periods_or_overlap() -> None:
    data = [[1.0, NAN], [NAN, 2.0], [3.0, NAN]]
    out = reviewer_drift(data, ["a", "b", "c"])
    assert out[0].mean_deviation == pytest.approx(-2.0)
    assert math.isnan(out[0].slope_per_period)
    assert out[1].n_units == 0
    assert math.isnan(out[1].mean_deviation)
    same_period = reviewer_drift([[1.0, 2.0], [2.0, 2.0]], ["a", "b"], periods=[1, 1])
    assert math.isnan(same_period[0].slope_per_period)


def test_reviewer_drift_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="reviewer names"):
        reviewer_drift([[1.0, 2.0]], ["a", "b"])
    with pytest.raises(ValueError, match="periods"):
        reviewer_drift([[1.0, 2.0], [1.0, 2.0]], ["a", "b"], periods=[1])
