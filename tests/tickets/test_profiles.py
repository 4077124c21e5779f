"""Regulatory profiles and the promises they plan (P4, P5)."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from escucha import yamlio
from escucha.errors import NotFound
from escucha.promises.calendars import holiday_dates
from escucha.promises.rules import (
    AllowanceUnit,
    BusinessCalendar,
    PromiseKind,
    business_time_between,
    in_business_hours,
)
from escucha.tickets.profiles import (
    CHANNELS,
    PROFILES_DIR,
    BreachAction,
    PlannedPromise,
    RegulatoryProfile,
    answer_language,
    appeal_deadline,
    available_profiles,
    is_deemed_accepted,
    kind_after_breach,
    load_builtin_profile,
    load_profile,
    load_profile_text,
    plan_promises,
    profile_legal_calendar,
)
from escucha.tickets.rules import TicketKind

MADRID = ZoneInfo("Europe/Madrid")
LIMA = ZoneInfo("America/Lima")
YEARS = (2026, 2027)


@pytest.fixture(scope="module")
def es() -> RegulatoryProfile:
    return load_builtin_profile("es-ley-10-2025")


@pytest.fixture(scope="module")
def pe() -> RegulatoryProfile:
    return load_builtin_profile("pe-osiptel")


@pytest.fixture(scope="module")
def generic() -> RegulatoryProfile:
    return load_builtin_profile("generic")


@pytest.fixture(scope="module")
def madrid_team() -> BusinessCalendar:
    return BusinessCalendar.from_hours(
        "Europe/Madrid",
        {"mon-fri": "09:00-19:00"},
        closed_dates=holiday_dates("ES", "MD", YEARS),
        known_until=date(2027, 12, 31),
    )


@pytest.fixture(scope="module")
def lima_team() -> BusinessCalendar:
    return BusinessCalendar.from_hours(
        "America/Lima",
        {"mon-sat": "08:00-20:00"},
        closed_dates=holiday_dates("PE", None, YEARS),
        known_until=date(2027, 12, 31),
    )


def by_kind(promises: tuple[PlannedPromise, ...]) -> dict[PromiseKind, PlannedPromise]:
    kinds = [p.kind for p in promises]
    assert len(kinds) == len(set(kinds))
    return {p.kind: p for p in promises}


# --- loading -------------------------------------------------------------------------------------


def test_builtin_profiles_load() -> None:
    assert available_profiles() == ["es-ley-10-2025", "generic", "pe-osiptel"]
    for profile_id in available_profiles():
        profile = load_builtin_profile(profile_id)
        assert profile.id == profile_id
        assert profile.title.es
        assert profile.title.en


def test_unknown_profile_is_not_found() -> None:
    with pytest.raises(NotFound, match="pe-osiptel"):
        load_builtin_profile("fr-something")


def test_bad_profile_names_file_line_and_path() -> None:
    text = (PROFILES_DIR / "generic.yaml").read_text(encoding="utf-8")
    typo = text.replace("{amount: 10, unit: business_days}", "{amount: 10, unit: bussiness_days}")
    line = next(n for n, row in enumerate(typo.splitlines(), start=1) if "bussiness_days" in row)
    with pytest.raises(yamlio.YamlFileError) as excinfo:
        load_profile_text(typo, "generic.yaml")
    message = str(excinfo.value)
    assert f"generic.yaml:{line}: promises[2].allowance.unit" in message


def test_profile_needs_an_immediate_complaint_acknowledgment() -> None:
    text = (PROFILES_DIR / "generic.yaml").read_text(encoding="utf-8")
    broken = text.replace(
        "allowance: {amount: 0, unit: minutes}", "allowance: {amount: 5, unit: minutes}"
    )
    with pytest.raises(yamlio.YamlFileError, match="acknowledgment at once"):
        load_profile_text(broken, "generic.yaml")


def test_profile_id_must_match_file_name(tmp_path: Path) -> None:
    target = tmp_path / "mine.yaml"
    target.write_text((PROFILES_DIR / "generic.yaml").read_text(encoding="utf-8"), "utf-8")
    with pytest.raises(yamlio.YamlFileError, match="must match the file name"):
        load_profile(target)


def test_unknown_channel_in_a_rule_is_reported() -> None:
    text = (PROFILES_DIR / "generic.yaml").read_text(encoding="utf-8")
    with pytest.raises(yamlio.YamlFileError, match="unknown channel 'fax'"):
        load_profile_text(text.replace("[email, web, sms, voicemail]", "[email, fax]"), "g.yaml")


# --- every profile: a number at once (P5) --------------------------------------------------------


@pytest.mark.parametrize("profile_id", ["generic", "es-ley-10-2025", "pe-osiptel"])
def test_every_kind_on_every_channel_is_acknowledged_at_once(
    profile_id: str, madrid_team: BusinessCalendar
) -> None:
    profile = load_builtin_profile(profile_id)
    legal = profile_legal_calendar(profile, years=YEARS)
    at = datetime(2026, 11, 10, 11, 0, tzinfo=MADRID)
    for kind, channel in itertools.product(TicketKind, CHANNELS):
        promises = by_kind(
            plan_promises(
                profile, kind=kind, channel=channel, at=at, calendar=madrid_team, legal=legal
            )
        )
        assert promises[PromiseKind.ACKNOWLEDGMENT].due == at, (kind, channel)
        # and something concrete beyond the acknowledgment for complaints
        if kind is TicketKind.COMPLAINT:
            assert promises[PromiseKind.RESOLUTION].due > at


# --- Spain, Ley 10/2025 --------------------------------------------------------------------------


def test_es_complaint_gets_ack_now_and_answer_within_15_working_days(
    es: RegulatoryProfile, madrid_team: BusinessCalendar
) -> None:
    legal = profile_legal_calendar(es, years=YEARS)
    at = datetime(2026, 12, 4, 10, 0, tzinfo=MADRID)  # Friday before the Constitution bridge
    promises = by_kind(
        plan_promises(es, kind="complaint", channel="web", at=at, calendar=madrid_team, legal=legal)
    )
    assert set(promises) == {
        PromiseKind.ACKNOWLEDGMENT,
        PromiseKind.FIRST_RESPONSE,
        PromiseKind.RESOLUTION,
    }
    assert promises[PromiseKind.ACKNOWLEDGMENT].due == at
    assert promises[PromiseKind.ACKNOWLEDGMENT].regulatory
    # 7 and 8 Dec are holidays in Madrid: first response when Wednesday 9 Dec closes.
    assert promises[PromiseKind.FIRST_RESPONSE].due == datetime(2026, 12, 9, 19, 0, tzinfo=MADRID)
    resolution = promises[PromiseKind.RESOLUTION]
    assert resolution.due == datetime(2026, 12, 31, 0, 0, tzinfo=MADRID)
    assert resolution.regulatory
    assert resolution.allowance.amount == 15
    assert resolution.allowance.unit is AllowanceUnit.BUSINESS_DAYS
    # Escalations at 50 % and 75 % of the team's open time, inside its hours.
    half, three_quarters = resolution.escalate_at
    total = business_time_between(madrid_team, at, resolution.due)
    assert business_time_between(madrid_team, at, half) == total * 0.5
    assert business_time_between(madrid_team, at, three_quarters) == total * 0.75
    assert in_business_hours(madrid_team, half)
    assert in_business_hours(madrid_team, three_quarters)


def test_es_voice_complaint_has_no_written_first_response(
    es: RegulatoryProfile, madrid_team: BusinessCalendar
) -> None:
    legal = profile_legal_calendar(es, years=YEARS)
    at = datetime(2026, 12, 4, 10, 0, tzinfo=MADRID)
    kinds = {
        p.kind
        for p in plan_promises(
            es, kind="complaint", channel="voice", at=at, calendar=madrid_team, legal=legal
        )
    }
    assert kinds == {PromiseKind.ACKNOWLEDGMENT, PromiseKind.RESOLUTION}


def test_es_kpi_language_and_ivr_rules(es: RegulatoryProfile) -> None:
    (kpi,) = es.kpis
    assert (kpi.share, kpi.threshold_s) == (0.95, 180)
    assert es.ivr.person_from_main_menu
    assert es.reference_code.at_once
    assert es.languages.answer_in_customer_language
    assert answer_language(es, "en-GB") == "en"
    assert answer_language(es, "es-ES") == "es"
    assert answer_language(es, "ca") == "es"
    assert answer_language(es, None) == "es"
    assert (es.holidays.country, es.holidays.subdivision) == ("ES", "MD")


# --- Peru, OSIPTEL -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("area", "days"),
    [("urban", 1), ("rural", 2), (None, 1)],
)
def test_pe_fault_repair_in_calendar_days(
    pe: RegulatoryProfile, lima_team: BusinessCalendar, area: str | None, days: int
) -> None:
    legal = profile_legal_calendar(pe, years=YEARS)
    at = datetime(2026, 7, 27, 10, 0, tzinfo=LIMA)  # day before the national holidays
    promises = by_kind(
        plan_promises(
            pe,
            kind="fault",
            channel="voice",
            at=at,
            calendar=lima_team,
            legal=legal,
            area=area,  # type: ignore[arg-type]
        )
    )
    repair = promises[PromiseKind.REPAIR]
    assert repair.due == at + timedelta(days=days)  # holidays do not stop the clock
    assert repair.on_breach is BreachAction.CONVERT_TO_COMPLAINT
    assert repair.regulatory


def test_pe_unrepaired_fault_becomes_a_quality_complaint(
    pe: RegulatoryProfile, generic: RegulatoryProfile, lima_team: BusinessCalendar
) -> None:
    legal = profile_legal_calendar(pe, years=YEARS)
    at = datetime(2026, 7, 27, 10, 0, tzinfo=LIMA)
    (repair,) = [
        p
        for p in plan_promises(
            pe, kind="fault", channel="voice", at=at, calendar=lima_team, legal=legal, area="urban"
        )
        if p.kind is PromiseKind.REPAIR
    ]
    converted = kind_after_breach(pe, TicketKind.FAULT, repair)
    assert converted == (TicketKind.COMPLAINT, "quality")
    assert kind_after_breach(pe, TicketKind.COMPLAINT, repair) is None
    assert kind_after_breach(generic, TicketKind.FAULT, BreachAction.CONVERT_TO_COMPLAINT) is None
    new_kind, topic = converted
    # The complaint runs from the breach: 28 and 29 Jul are holidays -> 30, 31 Jul, 3 Aug.
    complaint = by_kind(
        plan_promises(
            pe,
            kind=new_kind,
            channel="voice",
            at=repair.due,
            calendar=lima_team,
            legal=legal,
            topic=topic,
        )
    )
    resolution = complaint[PromiseKind.RESOLUTION]
    assert resolution.due == datetime(2026, 8, 4, 0, 0, tzinfo=LIMA)
    assert resolution.on_breach is BreachAction.DEEMED_ACCEPTED


def test_pe_other_complaints_have_15_working_days(
    pe: RegulatoryProfile, lima_team: BusinessCalendar
) -> None:
    legal = profile_legal_calendar(pe, years=YEARS)
    at = datetime(2026, 7, 27, 10, 0, tzinfo=LIMA)
    resolution = by_kind(
        plan_promises(
            pe,
            kind="complaint",
            channel="web",
            at=at,
            calendar=lima_team,
            legal=legal,
            topic="billing",
        )
    )[PromiseKind.RESOLUTION]
    assert resolution.allowance.amount == 15


def test_pe_notification_deemed_acceptance_and_appeal(
    pe: RegulatoryProfile, generic: RegulatoryProfile, lima_team: BusinessCalendar
) -> None:
    legal = profile_legal_calendar(pe, years=YEARS)
    resolved = datetime(2026, 7, 31, 12, 0, tzinfo=LIMA)
    (notification,) = plan_promises(
        pe,
        kind="complaint",
        channel="voice",
        at=resolved,
        calendar=lima_team,
        legal=legal,
        anchor="resolved",
    )
    # 3, 4, 5 Aug, (6 Aug Junín), 7, 10 Aug.
    assert notification.kind is PromiseKind.NOTIFICATION
    assert notification.due == datetime(2026, 8, 11, 0, 0, tzinfo=LIMA)

    due = datetime(2026, 8, 4, 0, 0, tzinfo=LIMA)
    second = timedelta(seconds=1)
    assert is_deemed_accepted(pe, resolution_due=due, answered_at=due + second, now=due + second)
    assert not is_deemed_accepted(pe, resolution_due=due, answered_at=due, now=due + second)
    assert is_deemed_accepted(pe, resolution_due=due, answered_at=None, now=due + second)
    assert not is_deemed_accepted(pe, resolution_due=due, answered_at=None, now=due)
    assert not is_deemed_accepted(generic, resolution_due=due, answered_at=None, now=due + second)

    notified = datetime(2026, 8, 3, 16, 0, tzinfo=LIMA)
    # 4, 5, 7, 10-14, 17-21, 24, 25 Aug: 15 working days.
    assert appeal_deadline(pe, notified_at=notified, calendar=lima_team, legal=legal) == datetime(
        2026, 8, 26, 0, 0, tzinfo=LIMA
    )
    assert pe.appeal is not None
    assert "TRASU" in pe.appeal.to.es
    with pytest.raises(ValueError, match="legal"):
        appeal_deadline(pe, notified_at=notified, calendar=lima_team)
    (forward,) = plan_promises(
        pe,
        kind="complaint",
        channel="web",
        at=notified,
        calendar=lima_team,
        legal=legal,
        anchor="appealed",
    )
    assert forward.kind is PromiseKind.REGULATORY_DEADLINE
    assert "TRASU" in forward.label("es")


def test_pe_code_for_every_request(pe: RegulatoryProfile) -> None:
    assert pe.reference_code.every_request_every_channel
    assert pe.deemed_accepted
    assert pe.fault_conversion is not None
    assert pe.fault_conversion.keep_number
    assert (pe.holidays.country, pe.holidays.timezone) == ("PE", "America/Lima")


# --- generic -------------------------------------------------------------------------------------


def test_generic_same_business_day_and_complaint_allowance(
    generic: RegulatoryProfile, madrid_team: BusinessCalendar
) -> None:
    at = datetime(2026, 11, 10, 11, 0, tzinfo=MADRID)
    query = by_kind(
        plan_promises(generic, kind="query", channel="voice", at=at, calendar=madrid_team)
    )
    assert query[PromiseKind.RESOLUTION].due == datetime(2026, 11, 10, 19, 0, tzinfo=MADRID)
    email = by_kind(
        plan_promises(generic, kind="query", channel="email", at=at, calendar=madrid_team)
    )
    assert email[PromiseKind.FIRST_RESPONSE].due == datetime(2026, 11, 10, 15, 0, tzinfo=MADRID)
    complaint = by_kind(
        plan_promises(generic, kind="complaint", channel="voice", at=at, calendar=madrid_team)
    )
    # Ten business days after Tuesday 10 Nov on the team calendar: Tuesday 24 Nov.
    assert complaint[PromiseKind.RESOLUTION].due == datetime(2026, 11, 24, 19, 0, tzinfo=MADRID)
    assert not generic.deemed_accepted
    # Fifteen business days: 11-13, 16-20, 23-27 Nov, 30 Nov, 1 Dec.
    assert appeal_deadline(generic, notified_at=at, calendar=madrid_team) == datetime(
        2026, 12, 1, 19, 0, tzinfo=MADRID
    )


def test_planning_input_errors(es: RegulatoryProfile, madrid_team: BusinessCalendar) -> None:
    at = datetime(2026, 11, 10, 11, 0, tzinfo=MADRID)
    with pytest.raises(ValueError, match="unknown channel"):
        plan_promises(es, kind="query", channel="fax", at=at, calendar=madrid_team)
    with pytest.raises(ValueError, match="legal"):
        plan_promises(es, kind="complaint", channel="voice", at=at, calendar=madrid_team)
    with pytest.raises(ValueError, match="not a valid"):
        plan_promises(es, kind="praise", channel="voice", at=at, calendar=madrid_team)


def test_generic_legal_calendar_without_country(generic: RegulatoryProfile) -> None:
    legal = profile_legal_calendar(generic, years=YEARS)
    assert legal.timezone == "UTC"
    assert not legal.closed_dates
