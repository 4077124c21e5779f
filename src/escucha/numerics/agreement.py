"""Agreement between quality reviewers: Krippendorff's alpha and each reviewer's drift (C4).

Calibration sessions have several reviewers score the same contacts with the same scorecard.
Two questions follow: *do the reviewers agree?* (:func:`krippendorff_alpha`) and *is one of
them drifting away from the others over time?* (:func:`reviewer_drift`).

Reliability data are a matrix of shape ``(n_reviewers, n_units)``; ``numpy.nan`` marks a
unit that a reviewer did not score. Everything here is pure: NumPy only, no clock, no state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

Level = Literal["nominal", "ordinal", "interval", "ratio"]

_LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval", "ratio")


def _as_matrix(data: npt.ArrayLike) -> npt.NDArray[np.float64]:
    matrix = np.asarray(data, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(
            f"reliability data must be a 2-D array (reviewers x units), got {matrix.ndim}-D"
        )
    if np.isinf(matrix).any():
        raise ValueError("reliability data must be finite numbers or nan for missing")
    return matrix


def coincidence_matrix(
    data: npt.ArrayLike,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    r"""Krippendorff's coincidence matrix of a reliability-data matrix.

    Parameters
    ----------
    data : array_like, shape (n_reviewers, n_units)
        Values given by each reviewer to each unit; ``nan`` where missing.

    Returns
    -------
    values : ndarray, shape (V,)
        The distinct values that occur in pairable units, sorted.
    o : ndarray, shape (V, V)
        Coincidences :math:`o_{ck} = \sum_u \frac{\text{number of } c\text{-}k \text{ pairs in
        unit } u}{m_u - 1}`, where :math:`m_u` is the number of values in unit :math:`u`.
        Units with fewer than two values are not pairable and are left out.

    References
    ----------
    Krippendorff, K. (2011). *Computing Krippendorff's Alpha-Reliability*. Annenberg School
    for Communication, University of Pennsylvania, section B.
    """
    matrix = _as_matrix(data)
    present = ~np.isnan(matrix)
    m_u = present.sum(axis=0)
    pairable = m_u >= 2
    values = np.unique(matrix[:, pairable][present[:, pairable]])
    o = np.zeros((values.size, values.size), dtype=np.float64)
    for u in np.flatnonzero(pairable):
        column = matrix[present[:, u], u]
        counts = np.array([(column == v).sum() for v in values], dtype=np.float64)
        pairs = np.outer(counts, counts) - np.diag(counts)
        o += pairs / (m_u[u] - 1)
    return values, o


def _delta_squared(
    values: npt.NDArray[np.float64], n_c: npt.NDArray[np.float64], level: Level
) -> npt.NDArray[np.float64]:
    c = values[:, None]
    k = values[None, :]
    if level == "nominal":
        return np.asarray(c != k, dtype=np.float64)
    if level == "interval":
        return np.asarray((c - k) ** 2, dtype=np.float64)
    if level == "ratio":
        total = c + k
        ratio = (c - k) / np.where(total == 0, 1.0, total)  # c + k == 0 only when c == k == 0
        return np.asarray(ratio**2, dtype=np.float64)
    # ordinal: (sum_{g=c}^{k} n_g - (n_c + n_k) / 2)^2 over ranks c <= k
    cumulative = np.concatenate(([0.0], np.cumsum(n_c)))
    idx = np.arange(values.size)
    lo = np.minimum(idx[:, None], idx[None, :])
    hi = np.maximum(idx[:, None], idx[None, :])
    between = cumulative[hi + 1] - cumulative[lo]
    return np.asarray((between - (n_c[lo] + n_c[hi]) / 2.0) ** 2, dtype=np.float64)


def krippendorff_alpha(data: npt.ArrayLike, level: Level = "nominal") -> float:
    r"""Krippendorff's alpha: agreement among any number of reviewers, with missing values.

    Parameters
    ----------
    data : array_like, shape (n_reviewers, n_units)
        Values each reviewer gave each unit (a criterion answer coded as a number, or a
        review score); ``nan`` where a reviewer did not score a unit.
    level : {"nominal", "ordinal", "interval", "ratio"}
        Level of measurement, which chooses the difference function :math:`\delta^2_{ck}`:
        nominal :math:`[c \ne k]`; ordinal
        :math:`\left(\sum_{g=c}^{k} n_g - \frac{n_c + n_k}{2}\right)^2` over the ranked
        values; interval :math:`(c-k)^2`; ratio :math:`\left(\frac{c-k}{c+k}\right)^2`.

    Returns
    -------
    float
        .. math::

            \alpha = 1 - \frac{D_o}{D_e}
                   = 1 - (n - 1)\,\frac{\sum_c \sum_k o_{ck}\,\delta^2_{ck}}
                                      {\sum_c \sum_k n_c\, n_k\, \delta^2_{ck}}

        with :math:`o_{ck}` the coincidence matrix (:func:`coincidence_matrix`),
        :math:`n_c = \sum_k o_{ck}` and :math:`n = \sum_c n_c` the number of pairable
        values. 1 is perfect agreement, 0 agreement at chance level, negative values
        systematic disagreement. ``nan`` when alpha is undefined: no unit has two values, or
        every pairable value is the same (no variation to agree about).

    Raises
    ------
    ValueError
        If ``data`` is not 2-D, holds infinities, ``level`` is unknown, or ratio data hold
        negative values.

    References
    ----------
    Krippendorff, K. (2011). *Computing Krippendorff's Alpha-Reliability*. Annenberg School
    for Communication, University of Pennsylvania. Krippendorff, K. (2019). *Content
    Analysis: An Introduction to Its Methodology* (4th ed.), chapter 12.

    Examples
    --------
    >>> krippendorff_alpha([[1, 2, 3, 3], [1, 2, 3, 3]])
    1.0
    """
    if level not in _LEVELS:
        raise ValueError(f"level must be one of {', '.join(_LEVELS)}, got {level!r}")
    values, o = coincidence_matrix(data)
    if level == "ratio" and values.size and values[0] < 0:
        raise ValueError("ratio data cannot hold negative values")
    n_c = o.sum(axis=1)
    n = float(n_c.sum())
    if values.size < 2:
        return float("nan")
    delta2 = _delta_squared(values, n_c, level)
    # With two or more distinct values every difference function is positive off the
    # diagonal, so the expected disagreement is positive.
    expected = float((np.outer(n_c, n_c) * delta2).sum())
    observed = float((o * delta2).sum())
    return 1.0 - (n - 1.0) * observed / expected


@dataclass(frozen=True)
class ReviewerDrift:
    """How one reviewer departs from the others in calibration.

    Attributes
    ----------
    reviewer : str
        The reviewer's name or id.
    n_units : int
        Units this reviewer scored that at least one other reviewer also scored.
    mean_deviation : float
        Mean of (this reviewer's value minus the mean of the other reviewers' values on the
        same unit): positive is more lenient than the others, negative stricter. ``nan``
        when ``n_units`` is 0.
    mean_abs_deviation : float
        Mean absolute deviation from the others; ``nan`` when ``n_units`` is 0.
    slope_per_period : float
        Least-squares slope of the deviation against the unit's period (e.g. calibration
        session number or week): how fast the reviewer moves away from (or towards) the
        others, in score units per period. ``nan`` when fewer than two distinct periods.
    """

    reviewer: str
    n_units: int
    mean_deviation: float
    mean_abs_deviation: float
    slope_per_period: float


def reviewer_drift(
    data: npt.ArrayLike,
    reviewers: Sequence[str],
    periods: Sequence[float] | None = None,
) -> list[ReviewerDrift]:
    r"""Each reviewer's bias against the others and its trend over time.

    Parameters
    ----------
    data : array_like, shape (n_reviewers, n_units)
        Scores (interval scale, e.g. review scores 0-100); ``nan`` where missing.
    reviewers : sequence of str, length n_reviewers
        Names in the row order of ``data``.
    periods : sequence of float, length n_units, optional
        When each unit was calibrated (session number, week number, days since start).
        Without it the slope is ``nan``.

    Returns
    -------
    list of ReviewerDrift
        One per reviewer, in row order. For reviewer :math:`r` and unit :math:`u` scored by
        :math:`r` and by at least one other reviewer, the deviation is

        .. math:: d_{ru} = x_{ru} - \frac{1}{|R_u| - 1}\sum_{s \in R_u, s \ne r} x_{su}

        The mean of :math:`d_{ru}` is the reviewer's bias; the least-squares slope
        :math:`\hat\beta = \frac{\sum (t_u - \bar t)(d_{ru} - \bar d)}{\sum (t_u - \bar t)^2}`
        of :math:`d_{ru}` on the period :math:`t_u` is the drift.

    Raises
    ------
    ValueError
        If the shapes of ``data``, ``reviewers`` and ``periods`` do not match.

    References
    ----------
    Leave-one-out comparison with the panel mean as in rater-drift monitoring: Wolfe, E. W.,
    Moulder, B. C., & Myford, C. M. (2001). Detecting differential rater functioning over
    time (DRIFT) using a Rasch multi-faceted rating scale model. *Journal of Applied
    Measurement*, 2(3), 256-280.
    """
    matrix = _as_matrix(data)
    if len(reviewers) != matrix.shape[0]:
        raise ValueError(f"got {len(reviewers)} reviewer names for {matrix.shape[0]} rows of data")
    times: npt.NDArray[np.float64] | None = None
    if periods is not None:
        times = np.asarray(periods, dtype=np.float64)
        if times.shape != (matrix.shape[1],):
            raise ValueError(f"got {times.size} periods for {matrix.shape[1]} units")
    present = ~np.isnan(matrix)
    totals = np.where(present, matrix, 0.0).sum(axis=0)
    counts = present.sum(axis=0)
    out: list[ReviewerDrift] = []
    for r, name in enumerate(reviewers):
        usable = present[r] & (counts >= 2)
        others_mean = (totals[usable] - matrix[r, usable]) / (counts[usable] - 1)
        deviations = matrix[r, usable] - others_mean
        n_units = int(deviations.size)
        if n_units == 0:
            out.append(ReviewerDrift(name, 0, float("nan"), float("nan"), float("nan")))
            continue
        slope = float("nan")
        if times is not None:
            t = times[usable]
            spread = t - t.mean()
            denominator = float((spread**2).sum())
            if denominator > 0.0:
                slope = float((spread * (deviations - deviations.mean())).sum() / denominator)
        out.append(
            ReviewerDrift(
                reviewer=name,
                n_units=n_units,
                mean_deviation=float(deviations.mean()),
                mean_abs_deviation=float(np.abs(deviations).mean()),
                slope_per_period=slope,
            )
        )
    return out
