"""Estimated wait: predictors, their measured error, and what the caller is told (W1).

Pure: standard library only; nothing here reads the clock.

Predictors
----------
``queue_length`` (QL with abandonment, the first choice)
    A caller with ``n`` callers ahead, ``s`` staffed agents all busy, each finishing a contact
    at rate ``mu = 1 / mean_service_s``, and each caller ahead hanging up at rate
    ``theta = 1 / mean_patience_s``. While ``i`` callers are ahead, the line moves at rate
    ``s*mu + i*theta``; the caller reaches an agent after ``n + 1`` such moves, so::

        E[W | n] = sum_{i=0}^{n} 1 / (s*mu + i*theta)

    With ``theta = 0`` this is the classical ``(n + 1) / (s*mu)``. It is the ``QL_m`` predictor
    of Ibrahim & Whitt, "Real-time delay estimation in overloaded multiserver queues with
    abandonments", Management Science 55(10), 2009, and stays accurate when demand and
    staffing vary in time if ``s`` is the number staffed now (Ibrahim & Whitt, "Wait-time
    predictors for customer service systems with time-varying demand and capacity",
    Operations Research 59(5), 2011).
``les`` (last to enter service)
    The wait of the last caller of the queue to reach an agent.
``hol`` (head of the line)
    How long the caller at the head of the line has waited so far.

Both delay-history predictors (Ibrahim & Whitt, "Real-time delay estimation based on delay
history", Manufacturing & Service Operations Management 11(3), 2009) estimate the wait of a
caller who has just joined at the back of the line; for a caller further forward they are
scaled by ``position / queue_length``.

The chooser :func:`estimate_wait` uses the queue-length predictor once a service time has been
measured, else LES, else HOL, else the queue's default. When the queue length is used and a
last wait is known, the estimate is ``(1 - LES_WEIGHT) * QL + LES_WEIGHT * LES``: replayed on
real call logs (``escucha estimate replay``, ADR 20) this mix of the queue-length and the
delay-history predictors errs less than either alone, because the staffing and handling times
it reads are themselves uncertain.

Comparison: Asterisk announces a single moving average of past waits per queue,
``holdtime = (3 * holdtime + wait) / 4`` after each answered call (:func:`asterisk_holdtime`),
whatever the caller's position and the agents on duty.

What the caller hears
---------------------
A conservative bound, never a point estimate and never "0 minutes":
:func:`announce_bound` multiplies the estimate by ``1 + margin`` (the margin measured from past
errors by :meth:`EstimateError.margin`, so that 95 % of recent waits stayed under it, else
25 %) and rounds up to 1, 2, 3, 5, 10, 15, 20, 30,
45 or 60 minutes, then whole hours.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = [
    "BOUND_STEPS_MIN",
    "DEFAULT_MARGIN",
    "LES_WEIGHT",
    "MARGIN_QUANTILE",
    "MAX_MARGIN",
    "Announcement",
    "AsteriskAverage",
    "EstimateError",
    "Predictor",
    "QueueMeter",
    "WaitEstimate",
    "WaitInputs",
    "announce_bound",
    "asterisk_holdtime",
    "conservative_bound_s",
    "estimate_wait",
    "hol_predictor",
    "les_predictor",
    "queue_length_predictor",
]

BOUND_STEPS_MIN: tuple[int, ...] = (1, 2, 3, 5, 10, 15, 20, 30, 45, 60)
"""The bounds a caller can hear, in minutes; above an hour, whole hours."""

DEFAULT_MARGIN = 0.25
"""Safety margin on the estimate before anything has been measured."""

MAX_MARGIN = 6.0
"""Largest margin taken from measured errors (the bound is at most seven times the estimate)."""

MARGIN_QUANTILE = 0.95
"""Share of recent waits the measured margin keeps under the bound (the promise is kept for
at least this share of callers on real logs, ADR 20)."""

LES_WEIGHT = 0.2
"""Weight of the last wait (LES) mixed into the queue-length estimate (ADR 20)."""


class Predictor(StrEnum):
    """Which predictor produced an estimate (stored with every ``estimate_given`` event)."""

    QUEUE_LENGTH = "queue_length"
    LES = "les"
    HOL = "hol"
    DEFAULT = "default"


def _check_nonneg(value: float, name: str) -> None:
    if not value >= 0 or math.isinf(value):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def queue_length_predictor(
    callers_ahead: int,
    agents_staffed: int,
    mean_service_s: float,
    mean_patience_s: float | None = None,
) -> float:
    r"""Expected wait of a caller with ``callers_ahead`` before them, all agents busy.

    Parameters
    ----------
    callers_ahead:
        ``n``, callers who will be served first (0 for the head of the line).
    agents_staffed:
        ``s``, agents working the queue (all assumed busy).
    mean_service_s:
        Mean handling time per contact; ``mu = 1 / mean_service_s``.
    mean_patience_s:
        Mean time a caller waits before hanging up; ``theta = 1 / mean_patience_s``.
        ``None`` (not measured, or nobody hung up) means no abandonment.

    Returns
    -------
    float
        Seconds, :math:`\sum_{i=0}^{n} 1/(s\mu + i\theta)`.

    Notes
    -----
    The caller's own patience does not enter: this is the wait if they stay. Reference:
    R. Ibrahim and W. Whitt, "Real-time delay estimation in overloaded multiserver queues with
    abandonments", Management Science 55(10):1729-1742, 2009 (the ``QL_m`` estimator); and
    "Wait-time predictors for customer service systems with time-varying demand and capacity",
    Operations Research 59(5):1106-1118, 2011.
    """
    if callers_ahead < 0:
        raise ValueError("callers_ahead must be >= 0")
    if agents_staffed < 1:
        raise ValueError("agents_staffed must be >= 1")
    if not mean_service_s > 0 or math.isinf(mean_service_s):
        raise ValueError("mean_service_s must be a finite number > 0")
    service_rate = agents_staffed / mean_service_s
    if mean_patience_s is None:
        return (callers_ahead + 1) / service_rate
    if not mean_patience_s > 0:
        raise ValueError("mean_patience_s must be > 0")
    theta = 1.0 / mean_patience_s
    if callers_ahead < _SUMMED_TERMS:
        return math.fsum(1.0 / (service_rate + i * theta) for i in range(callers_ahead + 1))
    return _harmonic(service_rate / theta, callers_ahead) / theta


_SUMMED_TERMS = 64
"""Up to this many callers ahead the predictor's sum is added term by term; beyond, it is
the difference of two digammas (constant time, the same number to about 1e-14)."""


def _harmonic(x: float, n: int) -> float:
    """``sum(1 / (x + i) for i in 0..n)`` for ``x > 0``, as ``digamma(x + n + 1) -
    digamma(x)``: the first terms added while ``x < 10``, then the asymptotic series of the
    digamma, whose logarithms are taken as one ``log1p`` so nothing cancels."""
    head = []
    while x < 10.0 and n >= 0:
        head.append(1.0 / x)
        x += 1.0
        n -= 1
    if n < 0:
        return math.fsum(head)
    end = x + n + 1
    return math.fsum([*head, math.log1p((n + 1) / x), _digamma_rest(end), -_digamma_rest(x)])


def _digamma_rest(y: float) -> float:
    """``digamma(y) - log(y)`` for ``y >= 10`` (asymptotic series, error below 1e-16)."""
    z = 1.0 / (y * y)
    series = z * (1 / 12 - z * (1 / 120 - z * (1 / 252 - z * (1 / 240 - z / 132))))
    return -0.5 / y - series


def _scaled(wait_s: float, position: int, queue_length: int) -> float:
    if position < 1 or queue_length < position:
        raise ValueError("need 1 <= position <= queue_length")
    return wait_s * position / queue_length


def les_predictor(les_wait_s: float, position: int = 1, queue_length: int = 1) -> float:
    """Last-to-enter-service predictor, scaled to the caller's place.

    Parameters
    ----------
    les_wait_s:
        Wait of the last caller of the queue to reach an agent.
    position:
        The caller's place in line (1 = next).
    queue_length:
        Callers in line including this one; for a caller who has just joined it equals
        ``position`` and the estimate is ``les_wait_s`` itself.

    Returns
    -------
    float
        Seconds, ``les_wait_s * position / queue_length``.

    Notes
    -----
    Reference: R. Ibrahim and W. Whitt, "Real-time delay estimation based on delay history",
    Manufacturing & Service Operations Management 11(3):397-415, 2009.
    """
    _check_nonneg(les_wait_s, "les_wait_s")
    return _scaled(les_wait_s, position, queue_length)


def hol_predictor(hol_wait_s: float, position: int, queue_length: int) -> float:
    """Head-of-the-line predictor, scaled to the caller's place.

    Parameters
    ----------
    hol_wait_s:
        How long the caller at the head of the line has waited so far.
    position:
        The caller's place in line (1 = next); must be behind the head (``position >= 2``).
    queue_length:
        Callers in line including this one.

    Returns
    -------
    float
        Seconds, ``hol_wait_s * position / queue_length``.

    Notes
    -----
    Reference: R. Ibrahim and W. Whitt, "Real-time delay estimation based on delay history",
    Manufacturing & Service Operations Management 11(3):397-415, 2009.
    """
    _check_nonneg(hol_wait_s, "hol_wait_s")
    if position < 2:
        raise ValueError("the head-of-line predictor needs someone ahead (position >= 2)")
    return _scaled(hol_wait_s, position, queue_length)


@dataclass(frozen=True, slots=True)
class WaitInputs:
    """What is known when a caller is to be told their wait.

    ``queue_length`` counts the callers in line including this one; ``None`` means the caller
    is last (``callers_ahead + 1``). Measured values are ``None`` until measured.
    """

    callers_ahead: int
    agents_staffed: int = 0
    queue_length: int | None = None
    mean_service_s: float | None = None
    mean_patience_s: float | None = None
    les_wait_s: float | None = None
    hol_wait_s: float | None = None
    default_s: float = 120.0

    def __post_init__(self) -> None:
        if self.callers_ahead < 0:
            raise ValueError("callers_ahead must be >= 0")
        if self.agents_staffed < 0:
            raise ValueError("agents_staffed must be >= 0")
        if self.queue_length is not None and self.queue_length < self.callers_ahead + 1:
            raise ValueError("queue_length counts the caller and everyone ahead")
        if not self.default_s > 0:
            raise ValueError("default_s must be > 0")

    @property
    def position(self) -> int:
        """Place in line, 1 for the next to be served."""
        return self.callers_ahead + 1

    @property
    def line_length(self) -> int:
        """Callers in line including this one."""
        return self.position if self.queue_length is None else self.queue_length


@dataclass(frozen=True, slots=True)
class WaitEstimate:
    """An estimate in seconds and the predictor that gave it."""

    estimate_s: float
    predictor: Predictor


def estimate_wait(inputs: WaitInputs) -> WaitEstimate:
    """Pick the best predictor the data allows.

    Order: queue length with abandonment (needs a measured service time and at least one
    staffed agent), mixed with the last wait when one is known
    (``(1 - LES_WEIGHT) * QL + LES_WEIGHT * LES``, ADR 20); last to enter service; head of the
    line (needs someone ahead); the queue's default.
    """
    if (
        inputs.mean_service_s is not None
        and inputs.mean_service_s > 0
        and inputs.agents_staffed > 0
    ):
        patience = inputs.mean_patience_s
        value = queue_length_predictor(
            inputs.callers_ahead,
            inputs.agents_staffed,
            inputs.mean_service_s,
            patience if patience is not None and patience > 0 else None,
        )
        if inputs.les_wait_s is not None:
            les = les_predictor(inputs.les_wait_s, inputs.position, inputs.line_length)
            value = (1.0 - LES_WEIGHT) * value + LES_WEIGHT * les
        return WaitEstimate(value, Predictor.QUEUE_LENGTH)
    if inputs.les_wait_s is not None:
        value = les_predictor(inputs.les_wait_s, inputs.position, inputs.line_length)
        return WaitEstimate(value, Predictor.LES)
    if inputs.hol_wait_s is not None and inputs.callers_ahead >= 1:
        value = hol_predictor(inputs.hol_wait_s, inputs.position, inputs.line_length)
        return WaitEstimate(value, Predictor.HOL)
    return WaitEstimate(inputs.default_s, Predictor.DEFAULT)


# --- measurements -------------------------------------------------------------------------


def asterisk_holdtime(previous_s: float, wait_s: float) -> float:
    """Asterisk's per-queue hold time after an answered call: ``(3 * previous + wait) / 4``.

    Asterisk (``app_queue.c``, ``recalc_holdtime``) does this in integer seconds; here in
    floating point. It starts at 0 and ignores position and staffing.
    """
    return (3.0 * previous_s + wait_s) / 4.0


class AsteriskAverage:
    """The Asterisk-style moving average of answered waits, for comparison."""

    __slots__ = ("value_s",)

    def __init__(self) -> None:
        self.value_s = 0.0

    def update(self, wait_s: float) -> float:
        """Take one answered call's wait into account; returns the new average."""
        self.value_s = asterisk_holdtime(self.value_s, wait_s)
        return self.value_s


class QueueMeter:
    """Rates measured on one queue over a sliding window, for the predictors.

    ``mean_service_s`` is the mean of the last ``window`` handling times. ``mean_patience_s``
    is the censored maximum-likelihood estimate for exponential patience over the last
    ``window`` callers who left the line: total time waited (by those served and those who hung
    up) divided by the number who hung up. ``les_wait_s`` is the wait of the last caller who
    reached an agent.
    """

    __slots__ = (
        "_abandons",
        "_exits",
        "_min_samples",
        "_service",
        "_service_sum",
        "_wait_sum",
        "les_wait_s",
    )

    def __init__(self, *, window: int = 500, min_samples: int = 10) -> None:
        if window < 1 or min_samples < 1:
            raise ValueError("window and min_samples must be >= 1")
        self._service: deque[float] = deque(maxlen=window)
        self._service_sum = 0.0
        self._exits: deque[tuple[float, bool]] = deque(maxlen=window)
        self._wait_sum = 0.0
        self._abandons = 0
        self._min_samples = min_samples
        self.les_wait_s: float | None = None

    def record_service(self, service_s: float) -> None:
        """A contact of the queue was handled in ``service_s``."""
        _check_nonneg(service_s, "service_s")
        if len(self._service) == self._service.maxlen:
            self._service_sum -= self._service[0]
        self._service.append(service_s)
        self._service_sum += service_s

    def record_exit(self, wait_s: float, *, abandoned: bool) -> None:
        """A caller left the line after ``wait_s``: reached an agent, or hung up."""
        _check_nonneg(wait_s, "wait_s")
        if len(self._exits) == self._exits.maxlen:
            old_wait, old_abandoned = self._exits[0]
            self._wait_sum -= old_wait
            self._abandons -= old_abandoned
        self._exits.append((wait_s, abandoned))
        self._wait_sum += wait_s
        self._abandons += abandoned
        if not abandoned:
            self.les_wait_s = wait_s

    @property
    def mean_service_s(self) -> float | None:
        """Mean handling time, ``None`` until ``min_samples`` contacts were handled."""
        if len(self._service) < self._min_samples:
            return None
        return max(self._service_sum / len(self._service), 1e-9)

    @property
    def mean_patience_s(self) -> float | None:
        """Mean patience, ``None`` while fewer than ``min_samples`` left or nobody hung up."""
        if len(self._exits) < self._min_samples or self._abandons == 0:
            return None
        return max(self._wait_sum, 1e-9) / self._abandons


class EstimateError:
    """Accuracy of the estimates given on a queue, against the waits that followed.

    Only callers who reached an agent have a known wait (a caller who hung up was censored).
    ``within_25`` is the share with ``|estimate - actual| <= 0.25 * actual``; ``bias_s`` is the
    mean of ``estimate - actual`` (negative: callers waited longer than told).
    """

    __slots__ = ("_abs_sum", "_bias_sum", "_count", "_ratios", "_within")

    def __init__(self, *, window: int = 2000) -> None:
        self._count = 0
        self._abs_sum = 0.0
        self._bias_sum = 0.0
        self._within = 0
        self._ratios: deque[float] = deque(maxlen=window)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[float, float]]) -> EstimateError:
        """Build from stored ``(estimate_s, actual_s)`` pairs, oldest first."""
        error = cls()
        for estimate_s, actual_s in pairs:
            error.add(estimate_s, actual_s)
        return error

    def add(self, estimate_s: float, actual_s: float) -> None:
        """One estimate given and the wait that followed."""
        _check_nonneg(estimate_s, "estimate_s")
        _check_nonneg(actual_s, "actual_s")
        diff = estimate_s - actual_s
        self._count += 1
        self._abs_sum += abs(diff)
        self._bias_sum += diff
        self._within += abs(diff) <= 0.25 * actual_s
        if estimate_s > 0:
            self._ratios.append(actual_s / estimate_s)

    @property
    def count(self) -> int:
        """Pairs recorded."""
        return self._count

    @property
    def mae_s(self) -> float | None:
        """Mean absolute error in seconds (``None`` with no pairs)."""
        return self._abs_sum / self._count if self._count else None

    @property
    def bias_s(self) -> float | None:
        """Mean of ``estimate - actual`` in seconds (``None`` with no pairs)."""
        return self._bias_sum / self._count if self._count else None

    @property
    def within_25(self) -> float | None:
        """Share of estimates within 25 % of the actual wait (``None`` with no pairs)."""
        return self._within / self._count if self._count else None

    def margin(self, quantile: float = MARGIN_QUANTILE, *, min_count: int = 30) -> float | None:
        """Safety margin so that about ``quantile`` of recent waits stay under the bound.

        The ``quantile`` of ``actual / estimate`` over the recent pairs, minus one, floored at
        0 and capped at :data:`MAX_MARGIN`; ``None`` with fewer than ``min_count`` pairs.
        """
        if not 0 < quantile < 1:
            raise ValueError("quantile must be in (0, 1)")
        if len(self._ratios) < min_count:
            return None
        ordered = sorted(self._ratios)
        index = min(len(ordered) - 1, math.ceil(quantile * len(ordered)) - 1)
        return min(MAX_MARGIN, max(0.0, ordered[index] - 1.0))


# --- the announcement ----------------------------------------------------------------------


def conservative_bound_s(estimate_s: float, margin: float = DEFAULT_MARGIN) -> float:
    """Smallest announceable bound at or above ``estimate_s * (1 + margin)``, in seconds.

    The steps are :data:`BOUND_STEPS_MIN` minutes, then whole hours; never below one minute
    and never below the estimate.
    """
    _check_nonneg(estimate_s, "estimate_s")
    _check_nonneg(margin, "margin")
    needed_s = estimate_s * (1.0 + margin)
    for minutes in BOUND_STEPS_MIN:
        if needed_s <= minutes * 60.0:
            return minutes * 60.0
    return math.ceil(needed_s / 3600.0) * 3600.0


@dataclass(frozen=True, slots=True)
class Announcement:
    """What a queued caller is told: the bound in seconds and the sentence."""

    bound_s: float
    text: str
    lang: str


#: (minute, minutes, hour, hours) per language.
_UNITS = {
    "es": ("minuto", "minutos", "hora", "horas"),
    "en": ("minute", "minutes", "hour", "hours"),
    "ca": ("minut", "minuts", "hora", "hores"),
}
#: (no one ahead, one ahead, {n} ahead, the estimate) per language.
_PLACES = {
    "es": (
        "Usted es la próxima persona en ser atendida. ",
        "Hay 1 persona delante de usted. ",
        "Hay {n} personas delante de usted. ",
        "El tiempo de espera estimado es de menos de {amount}.",
    ),
    "en": (
        "You are next in line. ",
        "There is 1 person ahead of you. ",
        "There are {n} people ahead of you. ",
        "Your estimated wait is less than {amount}.",
    ),
    "ca": (
        "Vostè és la propera persona que serà atesa. ",
        "Hi ha 1 persona davant seu. ",
        "Hi ha {n} persones davant seu. ",
        "El temps d'espera estimat és de menys de {amount}.",
    ),
}


def _unit(value: int, lang: str, minutes: bool) -> str:
    one, many = _UNITS[lang][0:2] if minutes else _UNITS[lang][2:4]
    return f"{value} {one if value == 1 else many}"


def announce_bound(
    estimate_s: float,
    lang: str = "es",
    *,
    callers_ahead: int | None = None,
    margin: float | None = None,
) -> Announcement:
    """The sentence a caller hears: their place and a conservative bound (W1).

    Parameters
    ----------
    estimate_s:
        The estimated wait (:func:`estimate_wait`).
    lang:
        ``"es"`` or ``"en"`` (a region such as ``"es-PE"`` is accepted).
    callers_ahead:
        Callers ahead, to state the position; ``None`` leaves it out.
    margin:
        Safety margin (:meth:`EstimateError.margin`); ``None`` uses :data:`DEFAULT_MARGIN`.

    Returns
    -------
    Announcement
        For example "Hay 3 personas delante de usted. El tiempo de espera estimado es de menos
        de 5 minutos."
    """
    base = lang.replace("_", "-").split("-")[0].lower()
    if base not in _PLACES:
        raise ValueError(f"no announcement in language {lang!r} ({', '.join(_PLACES)})")
    if callers_ahead is not None and callers_ahead < 0:
        raise ValueError("callers_ahead must be >= 0")
    bound_s = conservative_bound_s(estimate_s, DEFAULT_MARGIN if margin is None else margin)
    if bound_s <= 3600.0:
        amount = _unit(round(bound_s / 60.0), base, minutes=True)
    else:
        amount = _unit(round(bound_s / 3600.0), base, minutes=False)
    first, one, many, wait = _PLACES[base]
    if callers_ahead is None:
        place = ""
    elif callers_ahead == 0:
        place = first
    elif callers_ahead == 1:
        place = one
    else:
        place = many.format(n=callers_ahead)
    text = place + wait.format(amount=amount)
    return Announcement(bound_s=bound_s, text=text, lang=base)
