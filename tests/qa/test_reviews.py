"""Reviews on the database (C4, C5): scorecard versions, transcripts and suggestions, the score,
sampling, disputes, calibration agreement and reviewer drift."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.errors import Conflict, Forbidden, InvalidInput, NotFound
from escucha.numerics.agreement import krippendorff_alpha
from escucha.qa import reviews as qa
from escucha.qa import service
from escucha.qa.models import ScorecardVersion
from escucha.surveys.models import Survey
from escucha.yamlio import YamlFileError
from tests.conftest import START
from tests.factories import make_ended_contact, make_person, make_queues
from tests.qa.helpers import BAD_ES, GOOD_ES

NOW = START + timedelta(hours=2)


def _all_yes(card: qa.Scorecard) -> dict[str, str | None]:
    return {c.id: max(card.scales[c.scale], key=lambda o: o.points).value for c in card.criteria()}


@pytest.fixture
def people(session: Session) -> dict[str, int]:
    out = {
        name: make_person(session, name, role).id
        for name, role in (
            ("ana", "agent"),
            ("luis", "agent"),
            ("sofia", "supervisor"),
            ("rev2", "supervisor"),
            ("rev3", "supervisor"),
        )
    }
    session.flush()
    return out


def test_the_default_scorecard_is_stored_once_and_edits_add_versions(session: Session) -> None:
    first = qa.current_scorecard(session, now=NOW)
    assert first.scorecard_key == "default"
    assert first.version == 1
    assert qa.current_scorecard(session, now=NOW).id == first.id
    assert qa.save_scorecard(session, first.yaml_text, now=NOW, user_id=None).id == first.id
    edited = first.yaml_text.replace("pass_mark: 80", "pass_mark: 75")
    second = qa.save_scorecard(session, edited, now=NOW, user_id=None)
    assert second.version == 2
    assert qa.scorecard_of(second).pass_mark == 75
    assert qa.scorecard_of(second).version == 2
    assert qa.current_scorecard(session, now=NOW).id == second.id


def test_a_wrong_scorecard_is_refused_with_its_line(session: Session) -> None:
    text = qa.current_scorecard(session, now=NOW).yaml_text
    broken = text.replace("scale: yes_partly_no", "scale: stars")
    line = next(i for i, s in enumerate(broken.splitlines(), start=1) if "scale: stars" in s)
    with pytest.raises(YamlFileError) as err:
        qa.save_scorecard(session, broken, now=NOW, user_id=None)
    problem = err.value.problems[0]
    assert problem.line == line
    assert "unknown scale 'stars'" in problem.message
    assert (
        session.scalar(select(ScorecardVersion.version).order_by(ScorecardVersion.id.desc())) == 1
    )


def test_a_transcript_is_stored_analysed_and_suggests_answers(
    session: Session, people: dict[str, int]
) -> None:
    contact = make_ended_contact(session, agent_id=people["ana"], holds=[(40, 87, True)])
    row = qa.store_transcript(session, contact.id, GOOD_ES, now=NOW)
    assert row.format == "text"
    assert row.language == "es"
    expected = service.score_transcript(service.parse_transcript_text(GOOD_ES))
    assert row.auto_qa["criteria"]["greeting"]["met"] is expected.criteria["greeting"].met
    review = qa.start_review(session, contact.id, people["sofia"], now=NOW)
    card = qa.review_scorecard(session, review)
    for c in card.criteria():
        if c.detector:
            finding = expected.criteria[c.detector]
            assert review.suggested[c.id] == card.answer_for_finding(c.id, finding.met)
        else:
            assert c.id not in review.suggested
    # Replacing the transcript re-analyses it; a bad one is refused with where it is wrong.
    again = qa.store_transcript(session, contact.id, BAD_ES, now=NOW)
    assert again.id == row.id
    assert again.auto_qa["criteria"]["greeting"]["met"] is False
    with pytest.raises(InvalidInput, match="line 1"):
        qa.store_transcript(session, contact.id, "NARRADOR: hola", now=NOW)
    with pytest.raises(NotFound):
        qa.store_transcript(session, 999_999, GOOD_ES, now=NOW)


def test_suggestions_fill_only_unanswered_criteria(
    session: Session, people: dict[str, int]
) -> None:
    contact = make_ended_contact(session, agent_id=people["ana"])
    qa.store_transcript(session, contact.id, BAD_ES, now=NOW)
    review = qa.start_review(session, contact.id, people["sofia"], now=NOW)
    qa.save_draft(session, review.id, people["sofia"], {"greeting": "yes"}, now=NOW)
    qa.apply_suggestions(session, review.id, people["sofia"])
    assert review.answers["greeting"] == "yes"  # the reviewer's answer stays
    assert review.suggested["greeting"] == "no"
    assert review.answers["early_empathy"] == review.suggested["early_empathy"]
    assert "whole_situation" not in review.answers


def test_submitting_scores_with_the_documented_formula(
    session: Session, people: dict[str, int]
) -> None:
    contact = make_ended_contact(session, agent_id=people["ana"])
    review = qa.start_review(session, contact.id, people["sofia"], now=NOW)
    card = qa.review_scorecard(session, review)
    answers = _all_yes(card)
    answers["whole_situation"] = "partly"
    answers["recap"] = "no"
    answers["holds_announced"] = "na"
    with pytest.raises(InvalidInput, match="missing: greeting"):
        qa.submit_review(session, review.id, people["sofia"], {**answers, "greeting": ""}, now=NOW)
    with pytest.raises(InvalidInput, match="N/A is not allowed"):
        qa.submit_review(session, review.id, people["sofia"], {**answers, "recap": "na"}, now=NOW)
    qa.submit_review(session, review.id, people["sofia"], answers, notes=" bien ", now=NOW)
    expected = card.score(answers)
    assert review.status == "submitted"
    assert review.submitted_at == NOW
    assert review.notes == "bien"
    assert review.score == pytest.approx(expected.score, abs=0.01)
    # understanding: (2*1 + 1*0.5 + 1*1)/4; closing 0; other sections 1; weights 1,2,2,2,1
    assert review.score == pytest.approx(100 * (1 + 2 * 3.5 / 4 + 2 + 2 + 0) / 8, abs=0.01)
    assert review.critical_failure is False
    with pytest.raises(Conflict):
        qa.submit_review(session, review.id, people["sofia"], answers, now=NOW)


def test_a_failed_critical_criterion_zeroes_the_review(
    session: Session, people: dict[str, int]
) -> None:
    contact = make_ended_contact(session, agent_id=people["ana"])
    review = qa.start_review(session, contact.id, people["sofia"], now=NOW)
    answers = _all_yes(qa.review_scorecard(session, review))
    answers["honest_answers"] = "no"
    qa.submit_review(session, review.id, people["sofia"], answers, now=NOW)
    assert review.score == 0
    assert review.passed is False
    assert review.critical_failure is True
    assert review.critical_failures == ["honest_answers"]


def test_nobody_reviews_their_own_contact_or_edits_someone_elses_review(
    session: Session, people: dict[str, int]
) -> None:
    contact = make_ended_contact(session, agent_id=people["sofia"])
    with pytest.raises(Forbidden):
        qa.start_review(session, contact.id, people["sofia"], now=NOW)
    review = qa.start_review(session, contact.id, people["rev2"], now=NOW)
    assert qa.start_review(session, contact.id, people["rev2"], now=NOW).id == review.id
    with pytest.raises(Forbidden):
        qa.save_draft(session, review.id, people["rev3"], {"greeting": "yes"}, now=NOW)


def test_timeline_shows_holds_with_length_and_whether_announced(
    session: Session, people: dict[str, int]
) -> None:
    contact = make_ended_contact(
        session, agent_id=people["ana"], holds=[(30, 90, True), (150, 45, False)]
    )
    timeline = qa.contact_timeline(session, contact.id)
    holds = [t for t in timeline if t.event == "hold_started"]
    assert [(h.hold_s, h.announced) for h in holds] == [(90, True), (45, False)]
    assert timeline[0].offset_s == 0
    summary = qa.hold_summary(timeline)
    assert (summary.holds, summary.unannounced, summary.total_s, summary.longest_s) == (
        2,
        1,
        135,
        90,
    )


def test_sampling_strategies_choose_from_unreviewed_ended_contacts(
    session: Session, people: dict[str, int]
) -> None:
    make_queues(session)
    ana, luis = people["ana"], people["luis"]
    at = START - timedelta(days=1)
    plain = [make_ended_contact(session, agent_id=ana, arrived=at) for _ in range(3)]
    held = make_ended_contact(session, agent_id=luis, arrived=at, holds=[(10, 300, False)])
    short_hold = make_ended_contact(session, agent_id=luis, arrived=at, holds=[(10, 20, True)])
    complaint = make_ended_contact(session, agent_id=luis, arrived=at, queue="reclamaciones")
    unhappy = make_ended_contact(session, agent_id=ana, arrived=at)
    session.add(
        Survey(
            contact_id=unhappy.id,
            channel="sms",
            kinds=["csat"],
            created_at=at,
            sent_at=at,
            expires_at=at + timedelta(days=7),
            responded_at=at + timedelta(hours=1),
            csat=1,
        )
    )
    make_ended_contact(session, agent_id=ana, arrived=START - timedelta(days=30))  # too old
    make_ended_contact(session, agent_id=ana, arrived=at, state="wrap_up")  # not ended
    session.flush()
    since, until = START - timedelta(days=7), NOW
    kwargs = {"since": since, "until": until, "now": NOW, "reviewer_id": people["sofia"]}

    complaints = qa.sample_for_review(session, "complaints", 1, seed=1, **kwargs)
    assert [r.contact_id for r in complaints] == [complaint.id]
    assert complaints[0].sample == "complaints"
    holds = qa.sample_for_review(session, "longest_holds", 1, seed=1, **kwargs)
    assert [r.contact_id for r in holds] == [held.id]
    lowest = qa.sample_for_review(session, "lowest_scores", 5, seed=1, **kwargs)
    assert [r.contact_id for r in lowest] == [unhappy.id]
    per_agent = qa.sample_for_review(session, "per_agent", 1, seed=1, **kwargs)
    assert sorted(r.agent_id for r in per_agent) == sorted([ana, luis])
    rest = qa.sample_for_review(session, "random", 10, seed=1, **kwargs)
    chosen = {r.contact_id for r in complaints + holds + lowest + per_agent + rest}
    # every eligible contact once; the old and the unfinished ones never
    assert chosen == {c.id for c in [*plain, held, short_hold, complaint, unhappy]}
    assert qa.sample_for_review(session, "random", 10, seed=1, **kwargs) == []
    with pytest.raises(InvalidInput):
        qa.sample_for_review(session, "best_ones", 1, **kwargs)


def test_a_seed_repeats_a_random_sample(session: Session, people: dict[str, int]) -> None:
    for _ in range(12):
        make_ended_contact(session, agent_id=people["ana"], arrived=START - timedelta(hours=5))
    since = START - timedelta(days=1)
    first = [c.contact_id for c in qa.sampling_candidates(session, since=since, until=NOW)]
    from escucha.qa import rules

    a = rules.sample(
        qa.sampling_candidates(session, since=since, until=NOW),
        "random",
        4,
        np.random.default_rng(7),
    )
    b = rules.sample(
        qa.sampling_candidates(session, since=since, until=NOW),
        "random",
        4,
        np.random.default_rng(7),
    )
    assert len(first) == 12
    assert [c.contact_id for c in a] == [c.contact_id for c in b]


def _submitted(session: Session, people: dict[str, int], **changes: str) -> qa.Review:
    contact = make_ended_contact(session, agent_id=people["ana"])
    review = qa.start_review(session, contact.id, people["sofia"], now=NOW)
    answers = _all_yes(qa.review_scorecard(session, review))
    answers.update(changes)
    qa.submit_review(session, review.id, people["sofia"], answers, now=NOW)
    return review


def test_an_accepted_dispute_gives_the_best_answers_and_rescores(
    session: Session, people: dict[str, int]
) -> None:
    review = _submitted(session, people, recap="no", early_empathy="no")
    before = review.score
    with pytest.raises(Forbidden):
        qa.open_dispute(session, review.id, people["luis"], criteria=["recap"], reason="x", now=NOW)
    with pytest.raises(InvalidInput):
        qa.open_dispute(session, review.id, people["ana"], criteria=["recap"], reason=" ", now=NOW)
    with pytest.raises(InvalidInput):
        qa.open_dispute(session, review.id, people["ana"], criteria=["nope"], reason="x", now=NOW)
    dispute = qa.open_dispute(
        session,
        review.id,
        people["ana"],
        criteria=["recap", "early_empathy"],
        reason="Resumí al final, minuto 2:33",
        now=NOW,
    )
    with pytest.raises(Conflict):
        qa.open_dispute(session, review.id, people["ana"], criteria=["recap"], reason="x", now=NOW)
    with pytest.raises(Forbidden):
        qa.decide_dispute(session, dispute.id, people["ana"], "accept", now=NOW)
    qa.decide_dispute(session, dispute.id, people["rev2"], "accept", now=NOW)
    assert review.answers["recap"] == "yes"
    assert review.answers["early_empathy"] == "yes"
    assert review.score == pytest.approx(100)
    assert (dispute.score_before, dispute.score_after) == (before, review.score)
    assert dispute.changes == {"recap": ["no", "yes"], "early_empathy": ["no", "yes"]}
    with pytest.raises(Conflict):
        qa.decide_dispute(session, dispute.id, people["rev2"], "reject", now=NOW, note="x")


def test_partial_and_rejected_disputes(session: Session, people: dict[str, int]) -> None:
    review = _submitted(session, people, recap="no", early_empathy="no")
    before = review.score
    dispute = qa.open_dispute(
        session, review.id, people["ana"], criteria=["recap", "early_empathy"], reason="r", now=NOW
    )
    with pytest.raises(InvalidInput, match="only disputed"):
        qa.decide_dispute(
            session, dispute.id, people["rev2"], "partial", now=NOW, answers={"greeting": "no"}
        )
    with pytest.raises(InvalidInput, match="at least one"):
        qa.decide_dispute(
            session, dispute.id, people["rev2"], "partial", now=NOW, answers={"recap": "no"}
        )
    qa.decide_dispute(
        session, dispute.id, people["rev2"], "partial", now=NOW, answers={"recap": "yes"}
    )
    assert review.answers["recap"] == "yes"
    assert review.answers["early_empathy"] == "no"
    assert review.score is not None
    assert before is not None
    assert review.score > before
    assert dispute.decision == "partial"

    other = _submitted(session, people, recap="no")
    rejected = qa.open_dispute(
        session, other.id, people["ana"], criteria=["recap"], reason="r", now=NOW
    )
    with pytest.raises(InvalidInput, match="why"):
        qa.decide_dispute(session, rejected.id, people["rev2"], "reject", now=NOW)
    kept = other.score
    qa.decide_dispute(
        session, rejected.id, people["rev2"], "reject", now=NOW, note="No hubo resumen."
    )
    assert other.score == kept
    assert other.answers["recap"] == "no"
    assert rejected.changes == {}
    assert [d.dispute.id for d in qa.list_disputes(session, status="open")] == []


def test_calibration_is_blind_and_reports_krippendorff_alpha(
    session: Session, people: dict[str, int]
) -> None:
    contact = make_ended_contact(session, agent_id=people["ana"])
    first = qa.start_review(session, contact.id, people["sofia"], now=NOW)
    card = qa.review_scorecard(session, first)
    a = _all_yes(card)
    a.update(recap="no", whole_situation="partly", holds_announced="na")
    qa.submit_review(session, first.id, people["sofia"], a, now=NOW)
    one = qa.calibration_report(session, contact.id)
    assert one.alpha is None
    assert one.review_ids == (first.id,)

    second = qa.calibrate(session, contact.id, people["rev2"], now=NOW)
    assert second.kind == "calibration"
    assert second.calibration_id is not None
    assert qa.calibrate(session, contact.id, people["rev2"], now=NOW).id == second.id
    # the draft does not count
    assert qa.calibration_report(session, contact.id).review_ids == (first.id,)
    b = dict(a)
    b.update(recap="yes", whole_situation="no", greeting="no")
    qa.submit_review(session, second.id, people["rev2"], b, now=NOW + timedelta(minutes=5))

    report = qa.calibration_report(session, contact.id)
    ids = [c.id for c in card.criteria()]
    codes = {"yes": 1.0, "no": 0.0, "partly": 0.5, "na": math.nan}
    matrix = [[codes[x[i]] for i in ids] for x in (a, b)]
    assert report.alpha == pytest.approx(krippendorff_alpha(matrix, "interval"))
    assert report.alpha is not None
    assert report.alpha < 0.8
    assert report.reviewer_ids == (people["sofia"], people["rev2"])
    differ = [c.criterion_id for c in report.criteria if not c.agree]
    assert differ == ["greeting", "whole_situation", "recap"]
    assert report.percent_agreement == pytest.approx(9 / 12)  # both answering N/A agree
    assert report.score_spread == pytest.approx(abs(first.score - second.score))  # type: ignore[operator]
    # the original reviewer joining the session takes part with their review
    assert qa.calibrate(session, contact.id, people["sofia"], now=NOW).id == first.id
    cal = qa.calibration_of(session, contact.id)
    assert cal is not None
    assert set(cal.reviewer_ids) == {people["sofia"], people["rev2"]}


def test_identical_answers_agree_fully(session: Session, people: dict[str, int]) -> None:
    contact = make_ended_contact(session, agent_id=people["ana"])
    answers = None
    for name in ("sofia", "rev2", "rev3"):
        review = qa.calibrate(session, contact.id, people[name], now=NOW)
        card = qa.review_scorecard(session, review)
        answers = _all_yes(card)
        answers["recap"] = "no"
        qa.submit_review(session, review.id, people[name], answers, now=NOW)
    report = qa.calibration_report(session, contact.id)
    assert report.alpha == pytest.approx(1.0)
    assert report.percent_agreement == 1.0
    assert report.score_spread == 0


def test_reviewer_drift_finds_the_lenient_reviewer(
    session: Session, people: dict[str, int]
) -> None:
    for week in range(3):
        contact = make_ended_contact(session, agent_id=people["ana"])
        when = NOW + timedelta(days=7 * week)
        for name, recap in (("sofia", "no"), ("rev2", "no"), ("rev3", "yes")):
            review = qa.calibrate(session, contact.id, people[name], now=when)
            answers = _all_yes(qa.review_scorecard(session, review))
            answers["recap"] = recap
            answers["greeting"] = "no" if week == 2 and name == "rev3" else "yes"
            qa.submit_review(session, review.id, people[name], answers, now=when)
    drift = {d.name: d for d in qa.reviewer_drift_report(session)}
    assert drift["Rev3"].contacts == 3
    assert drift["Rev3"].mean_deviation is not None
    assert drift["Rev3"].mean_deviation > 0
    assert drift["Sofia"].mean_deviation is not None
    assert drift["Sofia"].mean_deviation < 0
    assert drift["Rev3"].slope_per_week is not None
    assert drift["Rev3"].slope_per_week < 0


def test_agent_qa_counts_reviews_not_calibrations(session: Session, people: dict[str, int]) -> None:
    review = _submitted(session, people, recap="no")
    contact = make_ended_contact(session, agent_id=people["ana"])
    cal = qa.calibrate(session, contact.id, people["rev2"], now=NOW)
    qa.submit_review(
        session, cal.id, people["rev2"], _all_yes(qa.review_scorecard(session, cal)), now=NOW
    )
    figures = qa.agent_qa(session, since=START, until=NOW + timedelta(days=1))
    ana = figures[people["ana"]]
    assert ana.reviews == 1
    assert ana.mean_score == pytest.approx(review.score)
    assert ana.weekly == {"2026-11-23": (1, pytest.approx(review.score))}
    assert ana.criteria["recap"] == (1, 0.0)
    assert ana.criteria["greeting"] == (1, 1.0)
    assert "holds_announced" in ana.criteria
