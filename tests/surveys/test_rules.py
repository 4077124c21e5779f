"""Survey measures against hand-computed values, and the word-of-mouth risk rule (M1, M4)."""

from __future__ import annotations

import math

import pytest

from escucha.i18n import gettext
from escucha.surveys import rules
from escucha.surveys.rules import CustomerFacts, RiskPolicy


def test_csat_hand_computed() -> None:
    # Answers 5, 4, 4, 3, 2, 1, 5, 5: satisfied (4-5) = 5 of 8 = 62.5%; mean = 29 / 8.
    result = rules.csat([5, 4, 4, 3, 2, 1, 5, 5])
    assert result.n == 8
    assert result.satisfied == 5
    assert result.satisfied_share == pytest.approx(0.625)
    assert result.mean == pytest.approx(3.625)


def test_ces_hand_computed() -> None:
    # Answers 7, 6, 5, 4, 3, 1: easy (5-7) = 3 of 6 = 50%; mean = 26 / 6.
    result = rules.ces([7, 6, 5, 4, 3, 1])
    assert (result.n, result.easy) == (6, 3)
    assert result.easy_share == pytest.approx(0.5)
    assert result.mean == pytest.approx(26 / 6)


def test_nps_hand_computed() -> None:
    # 10 answers: promoters 10, 9, 9 (3); passives 8, 7 (2); detractors 6, 5, 3, 0, 6 (5).
    # NPS = 30% - 50% = -20. Variance of the +1/0/-1 score: 0.3 + 0.5 - 0.2^2 = 0.76;
    # margin = 196 * sqrt(0.76 / 10).
    result = rules.nps([10, 9, 9, 8, 7, 6, 5, 3, 0, 6])
    assert (result.promoters, result.passives, result.detractors) == (3, 2, 5)
    assert result.nps == pytest.approx(-20.0)
    assert result.margin_95 == pytest.approx(196 * math.sqrt(0.076))


def test_nps_bounds() -> None:
    assert rules.nps([10, 9]).nps == 100.0
    assert rules.nps([0, 6, 3]).nps == -100.0
    assert rules.nps([7, 8]).nps == 0.0
    assert rules.nps([10, 10]).margin_95 == 0.0


def test_empty_sets_have_no_value() -> None:
    assert rules.csat([]).satisfied_share is None
    assert rules.csat([]).mean is None
    assert rules.ces([]).easy_share is None
    empty = rules.nps([])
    assert empty.nps is None
    assert empty.margin_95 is None
    assert empty.n == 0


@pytest.mark.parametrize(
    ("func", "bad"),
    [
        (rules.csat, [0]),
        (rules.csat, [6]),
        (rules.csat, [4.5]),
        (rules.ces, [8]),
        (rules.nps, [11]),
        (rules.nps, [-1]),
        (rules.nps, [True]),
    ],
)
def test_out_of_range_answers_are_rejected(func: object, bad: list[object]) -> None:
    with pytest.raises(ValueError, match="answer #0"):
        func(bad)  # type: ignore[operator]


def test_response_rate() -> None:
    assert rules.response_rate(40, 10) == pytest.approx(0.25)
    assert rules.response_rate(0, 0) is None
    with pytest.raises(ValueError, match="3 answers for 2"):
        rules.response_rate(2, 3)
    with pytest.raises(ValueError, match="negative"):
        rules.response_rate(-1, 0)


def test_risk_rule_reasons_in_order() -> None:
    facts = CustomerFacts(
        "c1",
        longest_wait_s=900,
        broken_promises=1,
        open_complaints=2,
        lowest_nps=3,
        repeat_contacts=4,
    )
    result = rules.assess_risk(facts)
    assert result.at_risk
    assert result.reasons == (
        "long_wait",
        "broken_promise",
        "low_score",
        "open_complaint",
        "repeat_contacts",
    )
    assert set(result.reasons) <= set(rules.RISK_REASONS)


@pytest.mark.parametrize(
    ("facts", "reasons"),
    [
        (CustomerFacts("a", longest_wait_s=599.0), ()),
        (CustomerFacts("a", longest_wait_s=600.0), ("long_wait",)),
        (CustomerFacts("a", lowest_csat=3, lowest_ces=4, lowest_nps=7), ()),
        (CustomerFacts("a", lowest_csat=2), ("low_score",)),
        (CustomerFacts("a", lowest_ces=3), ("low_score",)),
        (CustomerFacts("a", lowest_nps=6), ("low_score",)),
        (CustomerFacts("a", repeat_contacts=2), ()),
        (CustomerFacts("a"), ()),
    ],
)
def test_risk_rule_thresholds(facts: CustomerFacts, reasons: tuple[str, ...]) -> None:
    result = rules.assess_risk(facts)
    assert result.reasons == reasons
    assert result.at_risk is bool(reasons)


def test_risk_policy_is_configurable_and_list_is_sorted() -> None:
    strict = RiskPolicy(long_wait_s=60, low_csat_at_most=3)
    assert rules.assess_risk(CustomerFacts("a", longest_wait_s=61), strict).at_risk
    assert rules.assess_risk(CustomerFacts("a", lowest_csat=3), strict).reasons == ("low_score",)
    flagged = rules.customers_at_risk(
        [
            CustomerFacts("b", open_complaints=1),
            CustomerFacts("z", open_complaints=1, broken_promises=1),
            CustomerFacts("fine"),
            CustomerFacts("a", lowest_nps=0),
        ]
    )
    assert [f.customer_id for f in flagged] == ["z", "a", "b"]


def test_reason_texts_are_bilingual() -> None:
    for message in rules.RISK_REASONS.values():
        assert gettext("es", message) != message


# --- follow-ups (M4) -----------------------------------------------------------------------


def _f(i: int, hours: float, outcome: str) -> rules.FollowUpFact:
    from datetime import UTC, datetime, timedelta

    return rules.FollowUpFact(
        i, datetime(2026, 11, 23, 9, tzinfo=UTC) + timedelta(hours=hours), outcome
    )


def _at(hours: float) -> object:
    return _f(0, hours, "reached").at


@pytest.mark.parametrize(
    ("follow_ups", "last_contact", "expected"),
    [
        ([], None, (False, None, 0, False)),
        ([_f(1, 0, "reached")], None, (True, 1, 0, False)),
        ([_f(1, 0, "message_left")], _at(-5), (True, 1, 0, False)),
        ([_f(1, 0, "reached")], _at(0), (True, 1, 0, False)),  # the same instant: not since
        ([_f(1, 0, "reached")], _at(1), (False, 1, 0, True)),
        ([_f(1, 0, "not_reached"), _f(2, 1, "not_reached")], _at(-1), (False, 2, 2, False)),
        ([_f(1, 0, "not_reached"), _f(2, 2, "not_reached")], _at(1), (False, 2, 1, False)),
        ([_f(1, 0, "reached"), _f(2, 1, "not_reached")], None, (False, 2, 1, False)),
        ([_f(2, 1, "reached"), _f(1, 0, "not_reached")], None, (True, 2, 0, False)),  # by time
        ([_f(2, 0, "not_reached"), _f(1, 0, "reached")], None, (False, 2, 1, False)),  # then id
        ([_f(1, 0, "not_reached")], _at(3), (False, 1, 0, True)),
    ],
)
def test_follow_up_status(
    follow_ups: list[rules.FollowUpFact], last_contact: object, expected: tuple[object, ...]
) -> None:
    status = rules.follow_up_status(follow_ups, last_contact)  # type: ignore[arg-type]
    assert (status.followed_up, status.latest_id, status.attempts, status.contacted_since) == (
        expected
    )


def test_follow_up_status_refuses_an_unknown_outcome() -> None:
    with pytest.raises(ValueError, match="outcome"):
        rules.follow_up_status([_f(1, 0, "maybe")], None)


def test_notes_are_cleaned() -> None:
    assert rules.clean_note(None) == ""
    assert rules.clean_note(" a\x00b\x1bc\r\n\r\n\r\n\r\nd\ud800 ") == "abc\n\nd\ufffd"
    assert rules.clean_note("Cafe\u0301") == "Café"
