"""Wait predictors, their error, and the bound a caller is told (W1)."""

from __future__ import annotations

import math
import random
import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escucha.routing.estimate import (
    BOUND_STEPS_MIN,
    DEFAULT_MARGIN,
    LES_WEIGHT,
    MARGIN_QUANTILE,
    AsteriskAverage,
    EstimateError,
    Predictor,
    QueueMeter,
    WaitInputs,
    announce_bound,
    asterisk_holdtime,
    conservative_bound_s,
    estimate_wait,
    hol_predictor,
    les_predictor,
    queue_length_predictor,
)

# --- queue-length predictor ------------------------------------------------------------------


def test_queue_length_with_abandonment_matches_the_hand_computation() -> None:
    # 2 agents, 100 s handling: s*mu = 0.02 per s; patience 200 s: theta = 0.005 per s.
    # 2 ahead: 1/0.02 + 1/0.025 + 1/0.03 = 50 + 40 + 33.33...
    assert queue_length_predictor(2, 2, 100.0, 200.0) == pytest.approx(50 + 40 + 100 / 3)


def test_queue_length_without_abandonment_is_the_classical_formula() -> None:
    assert queue_length_predictor(2, 2, 100.0) == pytest.approx(150.0)
    assert queue_length_predictor(0, 4, 300.0) == pytest.approx(75.0)


def test_head_of_line_waits_one_service_completion_whatever_the_patience() -> None:
    assert queue_length_predictor(0, 5, 250.0, 30.0) == pytest.approx(50.0)


@settings(max_examples=100, deadline=None)
@given(
    ahead=st.integers(min_value=0, max_value=500),
    agents=st.integers(min_value=1, max_value=300),
    service=st.floats(min_value=1.0, max_value=3600.0),
    patience=st.floats(min_value=1.0, max_value=3600.0),
)
def test_abandonment_shortens_the_wait_and_more_callers_ahead_lengthen_it(
    ahead: int, agents: int, service: float, patience: float
) -> None:
    with_abandonment = queue_length_predictor(ahead, agents, service, patience)
    without = queue_length_predictor(ahead, agents, service)
    assert 0 < with_abandonment <= without * (1 + 1e-12)
    assert queue_length_predictor(ahead + 1, agents, service, patience) > with_abandonment
    assert queue_length_predictor(ahead, agents + 1, service, patience) < with_abandonment


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, 2, 100.0), "callers_ahead"),
        ((0, 0, 100.0), "agents_staffed"),
        ((0, 2, 0.0), "mean_service_s"),
        ((0, 2, float("inf")), "mean_service_s"),
        ((0, 2, 100.0, 0.0), "mean_patience_s"),
    ],
)
def test_queue_length_rejects_impossible_inputs(args: tuple[float, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        queue_length_predictor(*args)  # type: ignore[arg-type]


# --- delay-history predictors -----------------------------------------------------------------


def test_les_and_hol_give_the_observed_delay_to_a_caller_joining_at_the_back() -> None:
    assert les_predictor(90.0) == 90.0
    assert les_predictor(90.0, position=3, queue_length=3) == 90.0
    assert hol_predictor(120.0, position=4, queue_length=4) == 120.0


def test_les_and_hol_scale_for_a_caller_further_forward() -> None:
    assert les_predictor(90.0, position=1, queue_length=3) == pytest.approx(30.0)
    assert hol_predictor(120.0, position=2, queue_length=4) == pytest.approx(60.0)


def test_hol_needs_someone_ahead_and_positions_must_fit_the_line() -> None:
    with pytest.raises(ValueError, match="position >= 2"):
        hol_predictor(120.0, position=1, queue_length=4)
    with pytest.raises(ValueError, match="queue_length"):
        les_predictor(10.0, position=5, queue_length=4)
    with pytest.raises(ValueError, match="les_wait_s"):
        les_predictor(-1.0)


# --- the chooser ----------------------------------------------------------------------------


def test_chooser_prefers_queue_length_once_service_is_measured() -> None:
    inputs = WaitInputs(
        callers_ahead=2,
        agents_staffed=2,
        mean_service_s=100.0,
        mean_patience_s=200.0,
        les_wait_s=999.0,
        hol_wait_s=999.0,
    )
    estimate = estimate_wait(inputs)
    assert estimate.predictor is Predictor.QUEUE_LENGTH
    ql = queue_length_predictor(2, 2, 100.0, 200.0)
    # ADR 20: the queue-length estimate is mixed with the last wait (LES) when one is known.
    assert estimate.estimate_s == pytest.approx((1 - LES_WEIGHT) * ql + LES_WEIGHT * 999.0)
    without_les = estimate_wait(replace(inputs, les_wait_s=None))
    assert without_les.estimate_s == pytest.approx(ql)


def test_chooser_falls_back_to_les_then_hol_then_the_default() -> None:
    no_service = WaitInputs(callers_ahead=3, agents_staffed=2, les_wait_s=80.0, hol_wait_s=60.0)
    assert estimate_wait(no_service).predictor is Predictor.LES
    assert estimate_wait(no_service).estimate_s == 80.0
    nobody_staffed = WaitInputs(callers_ahead=3, mean_service_s=100.0, les_wait_s=80.0)
    assert estimate_wait(nobody_staffed).predictor is Predictor.LES
    no_les = WaitInputs(callers_ahead=3, queue_length=8, hol_wait_s=60.0)
    hol = estimate_wait(no_les)
    assert hol.predictor is Predictor.HOL
    assert hol.estimate_s == pytest.approx(60.0 * 4 / 8)
    at_head = WaitInputs(callers_ahead=0, hol_wait_s=60.0, default_s=90.0)
    assert estimate_wait(at_head) == estimate_wait(WaitInputs(callers_ahead=0, default_s=90.0))
    assert estimate_wait(at_head).predictor is Predictor.DEFAULT
    assert estimate_wait(at_head).estimate_s == 90.0


def test_chooser_without_measured_patience_assumes_nobody_hangs_up() -> None:
    inputs = WaitInputs(callers_ahead=4, agents_staffed=2, mean_service_s=100.0)
    assert estimate_wait(inputs).estimate_s == pytest.approx(250.0)


def test_wait_inputs_validate() -> None:
    with pytest.raises(ValueError, match="queue_length"):
        WaitInputs(callers_ahead=3, queue_length=3)
    with pytest.raises(ValueError, match="callers_ahead"):
        WaitInputs(callers_ahead=-1)
    assert WaitInputs(callers_ahead=3).line_length == 4


# --- measurements ---------------------------------------------------------------------------


def test_asterisk_holdtime_is_the_quarter_weight_moving_average() -> None:
    assert asterisk_holdtime(40.0, 80.0) == 50.0
    average = AsteriskAverage()
    assert average.update(100.0) == 25.0
    assert average.update(100.0) == 43.75
    assert average.update(0.0) == pytest.approx(32.8125)


def test_queue_meter_measures_service_patience_and_les() -> None:
    meter = QueueMeter(window=3, min_samples=2)
    assert meter.mean_service_s is None
    meter.record_service(100.0)
    assert meter.mean_service_s is None
    meter.record_service(200.0)
    assert meter.mean_service_s == pytest.approx(150.0)
    meter.record_service(300.0)
    meter.record_service(400.0)  # the first leaves the window
    assert meter.mean_service_s == pytest.approx(300.0)

    meter.record_exit(10.0, abandoned=False)
    assert meter.mean_patience_s is None  # too few
    meter.record_exit(30.0, abandoned=True)
    meter.record_exit(20.0, abandoned=True)
    # censored MLE: 60 s waited in all, 2 hung up
    assert meter.mean_patience_s == pytest.approx(30.0)
    assert meter.les_wait_s == 10.0
    meter.record_exit(40.0, abandoned=False)  # the served 10 s leaves the window
    assert meter.mean_patience_s == pytest.approx(90.0 / 2)
    assert meter.les_wait_s == 40.0


def test_queue_meter_without_abandonment_has_no_patience() -> None:
    meter = QueueMeter(min_samples=1)
    meter.record_exit(30.0, abandoned=False)
    assert meter.mean_patience_s is None


def test_estimate_error_reports_mae_share_within_25_and_bias() -> None:
    error = EstimateError.from_pairs([(100.0, 80.0), (50.0, 60.0), (0.0, 10.0)])
    assert error.count == 3
    assert error.mae_s == pytest.approx(40.0 / 3)
    assert error.within_25 == pytest.approx(2 / 3)
    assert error.bias_s == pytest.approx(0.0)
    empty = EstimateError()
    assert (empty.mae_s, empty.within_25, empty.bias_s) == (None, None, None)


def test_margin_comes_from_the_measured_overruns() -> None:
    error = EstimateError()
    assert error.margin(min_count=1) is None
    for actual in range(1, 101):  # actual / estimate from 0.02 to 2.0
        error.add(50.0, float(actual))
    assert error.margin(0.9) == pytest.approx(90 / 50 - 1)
    assert error.margin(0.5) == 0.0
    # By default 95 % of recent waits stay under the bound (ADR 20).
    assert MARGIN_QUANTILE == 0.95
    assert error.margin() == pytest.approx(95 / 50 - 1)
    with pytest.raises(ValueError, match="quantile"):
        error.margin(1.0)


# --- the bound and the sentence ------------------------------------------------------------

_estimates = st.floats(min_value=0.0, max_value=6 * 3600.0, allow_nan=False)
_margins = st.floats(min_value=0.0, max_value=3.0, allow_nan=False)


def _is_step(bound_s: float) -> bool:
    minutes = bound_s / 60.0
    return minutes in BOUND_STEPS_MIN or (bound_s > 3600.0 and bound_s % 3600.0 == 0)


@settings(max_examples=300, deadline=None)
@given(estimate=_estimates, margin=_margins)
def test_bound_is_never_below_the_estimate_nor_below_a_minute(
    estimate: float, margin: float
) -> None:
    bound = conservative_bound_s(estimate, margin)
    assert bound >= estimate * (1 + margin)
    assert bound >= estimate
    assert bound >= 60.0
    assert _is_step(bound)


@settings(max_examples=200, deadline=None)
@given(a=_estimates, b=_estimates)
def test_bound_never_shrinks_when_the_estimate_grows(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert conservative_bound_s(low) <= conservative_bound_s(high)


def test_bound_steps() -> None:
    assert conservative_bound_s(0.0) == 60.0
    assert conservative_bound_s(48.0) == 60.0  # 48 * 1.25 = 60
    assert conservative_bound_s(49.0) == 120.0
    assert conservative_bound_s(200.0) == 300.0  # 250 s -> 5 min
    assert conservative_bound_s(200.0, margin=0.0) == 300.0
    assert conservative_bound_s(100.0, margin=0.0) == 120.0
    assert conservative_bound_s(3000.0) == 2 * 3600.0
    assert DEFAULT_MARGIN == 0.25


def test_announcement_in_spanish_and_english() -> None:
    es = announce_bound(200.0, "es", callers_ahead=3)
    assert es.text == (
        "Hay 3 personas delante de usted. El tiempo de espera estimado es de menos de 5 minutos."
    )
    assert es.bound_s == 300.0
    en = announce_bound(200.0, "en-GB", callers_ahead=3)
    assert en.text == "There are 3 people ahead of you. Your estimated wait is less than 5 minutes."
    assert en.lang == "en"
    assert announce_bound(10.0, "es", callers_ahead=1).text == (
        "Hay 1 persona delante de usted. El tiempo de espera estimado es de menos de 1 minuto."
    )
    assert announce_bound(10.0, "en", callers_ahead=0).text == (
        "You are next in line. Your estimated wait is less than 1 minute."
    )
    assert announce_bound(10.0, "es_PE", callers_ahead=0).text.startswith(
        "Usted es la próxima persona"
    )
    assert announce_bound(3000.0, "es").text == (
        "El tiempo de espera estimado es de menos de 2 horas."
    )
    assert announce_bound(2500.0, "en", margin=0.0).text == (
        "Your estimated wait is less than 45 minutes."
    )


def test_announcement_rejects_unknown_language_and_negative_position() -> None:
    with pytest.raises(ValueError, match="fr"):
        announce_bound(10.0, "fr")
    with pytest.raises(ValueError, match="callers_ahead"):
        announce_bound(10.0, "es", callers_ahead=-1)


@settings(max_examples=200, deadline=None)
@given(
    estimate=_estimates,
    lang=st.sampled_from(["es", "en"]),
    ahead=st.none() | st.integers(min_value=0, max_value=500),
    margin=st.none() | _margins,
)
def test_every_announcement_states_a_concrete_bound_not_below_the_estimate(
    estimate: float, lang: str, ahead: int | None, margin: float | None
) -> None:
    said = announce_bound(estimate, lang, callers_ahead=ahead, margin=margin)
    phrase = "menos de" if lang == "es" else "less than"
    match = re.search(rf"{phrase} (\d+) (\w+)\.$", said.text)
    assert match is not None, said.text
    amount, unit = int(match.group(1)), match.group(2)
    assert amount >= 1
    seconds = amount * (3600 if unit.startswith(("hora", "hour")) else 60)
    assert seconds == said.bound_s
    assert said.bound_s >= estimate
    assert unit in {"minuto", "minutos", "hora", "horas", "minute", "minutes", "hour", "hours"}
    assert (amount == 1) == (unit in {"minuto", "hora", "minute", "hour"})
    if ahead is not None and ahead >= 2:
        assert str(ahead) in said.text
    assert not math.isnan(said.bound_s)


def test_the_predictor_for_a_long_line_is_the_sum_it_stands_for() -> None:
    """Past 64 callers ahead the sum is a difference of digammas: the same number."""
    rng = random.Random(3)
    for _ in range(500):
        ahead, agents = rng.randrange(60, 30_000), rng.randrange(1, 1_000)
        service = rng.uniform(1.0, 2_000.0)
        patience = rng.choice((rng.uniform(0.5, 10.0), rng.uniform(10.0, 1e8)))
        rate, theta = agents / service, 1.0 / patience
        summed = math.fsum(1.0 / (rate + i * theta) for i in range(ahead + 1))
        got = queue_length_predictor(ahead, agents, service, patience)
        assert got == pytest.approx(summed, rel=1e-13)
