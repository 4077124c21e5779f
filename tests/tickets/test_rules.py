"""Ticket numbers, verification codes, statuses and the complaint hint (P5, P6)."""

from __future__ import annotations

import itertools
import random

import pytest

from escucha.tickets.rules import (
    ALLOWED_TRANSITIONS,
    VERIFICATION_ALPHABET,
    InvalidTicketNumberError,
    InvalidTransitionError,
    TicketKind,
    TicketNumber,
    TicketStatus,
    allowed_next_statuses,
    can_change_kind,
    check_digit_typo,
    check_transition,
    classify_text,
    clean_text,
    cut_visible,
    damm_digit,
    damm_valid,
    format_ticket_number,
    nearest_rank,
    new_verification_code,
    parse_ticket_number,
    phrase_lists,
    speech_groups,
    validate_complaint_text,
    verification_code_matches,
    visible_length,
)

# --- Damm ----------------------------------------------------------------------------------------


def test_damm_known_value() -> None:
    # The worked example in Damm's scheme: 572 -> check digit 4.
    assert damm_digit("572") == "4"
    assert damm_valid("5724")
    assert not damm_valid("5723")


def test_damm_rejects_non_digits() -> None:
    with pytest.raises(ValueError, match="digits"):
        damm_digit("12a")
    with pytest.raises(ValueError, match="digits"):
        damm_digit("")
    assert not damm_valid("١٢٣")  # non-ASCII digits
    assert not damm_valid("7")


def _sample_payloads() -> list[str]:
    rng = random.Random(20261109)
    samples = ["00000000000", "99999999999", "20260000001", "12345678901"]
    samples += [f"{rng.randrange(10**11):011d}" for _ in range(150)]
    return samples


@pytest.mark.parametrize("payload", [*_sample_payloads()[:4], _sample_payloads()[10]])
def test_damm_appended_digit_validates(payload: str) -> None:
    assert damm_valid(payload + damm_digit(payload))


def test_every_single_digit_error_is_detected() -> None:
    checked = 0
    for payload in _sample_payloads():
        number = payload + damm_digit(payload)
        for position, wrong in itertools.product(range(len(number)), "0123456789"):
            if wrong == number[position]:
                continue
            mutated = number[:position] + wrong + number[position + 1 :]
            assert not damm_valid(mutated), (number, mutated)
            checked += 1
    assert checked == len(_sample_payloads()) * 12 * 9


def test_every_adjacent_transposition_is_detected() -> None:
    checked = 0
    for payload in _sample_payloads():
        number = payload + damm_digit(payload)
        for i in range(len(number) - 1):
            if number[i] == number[i + 1]:
                continue
            swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
            assert not damm_valid(swapped), (number, swapped)
            checked += 1
    assert checked > 1000


def test_damm_detects_errors_for_every_prefix_state() -> None:
    """Exhaustive over the quasigroup: any interim state, any digit pair, any position."""
    for prefix_digit, a, b in itertools.product("0123456789", repeat=3):
        if a == b:
            continue
        for suffix in ("", "7", "42"):
            good = prefix_digit + a + b + suffix
            good += damm_digit(good)
            assert not damm_valid(prefix_digit + b + a + suffix + good[-1])
            assert not damm_valid(prefix_digit + a + a + suffix + good[-1])


# --- ticket numbers ------------------------------------------------------------------------------


def test_documented_example() -> None:
    # The example in the module docstring and docs/guides/promises.md.
    assert format_ticket_number(2026, 12345) == "2026-0012345-1"


def test_format_and_parse_round_trip() -> None:
    text = format_ticket_number(2026, 12345)
    assert text.startswith("2026-0012345-")
    assert len(text) == 14
    assert damm_valid(text.replace("-", ""))
    parsed = parse_ticket_number(text)
    assert parsed == TicketNumber(2026, 12345)
    assert str(parsed) == text
    assert parsed.digits == text.replace("-", "")


@pytest.mark.parametrize(
    "variant",
    [
        "{d}",
        "{y} {s1} {s2} {c}",
        "{y}-{s1}-{s2}-{c}",
        "  {y}.{s1}.{s2}.{c}  ",
        "Nº {canon}",
        "nº: {canon}",
        "N° {canon}",
        "número {canon}",
        "numero {canon}",
        "#{canon}",
        "ticket {canon}",
        "Ref. {canon}",
        "{y}/{s}/{c}",
    ],
)
def test_parse_is_tolerant_to_how_people_write_it(variant: str) -> None:
    canon = format_ticket_number(2026, 12345)
    y, s, c = canon.split("-")
    text = variant.format(d=canon.replace("-", ""), y=y, s=s, s1=s[:3], s2=s[3:], c=c, canon=canon)
    assert parse_ticket_number(text) == TicketNumber(2026, 12345)


def test_parse_rejects_wrong_check_digit_and_other_text() -> None:
    canon = format_ticket_number(2026, 12345)
    wrong = canon[:-1] + str((int(canon[-1]) + 1) % 10)
    with pytest.raises(InvalidTicketNumberError, match="check digit"):
        parse_ticket_number(wrong)
    with pytest.raises(InvalidTicketNumberError, match="only digits"):
        parse_ticket_number("R-" + canon)
    with pytest.raises(InvalidTicketNumberError, match="at least"):
        parse_ticket_number("2026-123-4")
    with pytest.raises(InvalidTicketNumberError, match="only digits"):
        parse_ticket_number("2026-OO12345-1")


def test_long_sequences_grow_and_padding_is_canonical() -> None:
    big = format_ticket_number(2027, 123_456_789)
    assert big.split("-")[1] == "123456789"
    assert parse_ticket_number(big).sequence == 123_456_789
    # The same sequence with an extra leading zero is not a ticket number, even with a
    # matching check digit.
    padded = "2027" + "00012345"
    with pytest.raises(InvalidTicketNumberError):
        parse_ticket_number(padded + damm_digit(padded))


def test_speech_groups() -> None:
    canon = format_ticket_number(2026, 12345)
    assert speech_groups(canon) == ("2026", "001", "2345", canon[-1])
    assert "".join(speech_groups(canon)) == canon.replace("-", "")


def test_ticket_number_validates_fields() -> None:
    with pytest.raises(ValueError, match="year"):
        TicketNumber(26, 1)
    with pytest.raises(ValueError, match="sequence"):
        TicketNumber(2026, 0)


def test_number_carries_no_kind() -> None:
    # A fault turned complaint keeps its code: nothing in the number depends on the kind.
    number = format_ticket_number(2026, 7)
    assert all(ch.isdigit() or ch == "-" for ch in number)


# --- verification codes --------------------------------------------------------------------------


def test_verification_codes_use_an_unambiguous_alphabet() -> None:
    codes = {new_verification_code(random.Random(seed)) for seed in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 6
        assert set(code) <= set(VERIFICATION_ALPHABET)
    assert not set("0O1IL2Z5S8B") & set(VERIFICATION_ALPHABET)
    assert new_verification_code(random.Random(3)) == new_verification_code(random.Random(3))
    with pytest.raises(ValueError, match="at least 4"):
        new_verification_code(random.Random(1), 3)


def test_verification_code_matching_is_forgiving_on_format_only() -> None:
    assert verification_code_matches("FX9DKE", "fx9-dke")
    assert verification_code_matches("FX9DKE", " FX9 DKE ")
    assert not verification_code_matches("FX9DKE", "FX9DKF")
    assert not verification_code_matches("FX9DKE", "FX9DK")


# --- statuses and kinds --------------------------------------------------------------------------


def test_every_status_is_reachable_from_new_for_a_complaint() -> None:
    seen = {TicketStatus.NEW}
    frontier = [TicketStatus.NEW]
    while frontier:
        status = frontier.pop()
        for nxt in allowed_next_statuses(status, TicketKind.COMPLAINT):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(TicketStatus)


def test_appeals_are_for_complaints_only() -> None:
    assert check_transition("resolved", "appealed", "complaint") is TicketStatus.APPEALED
    assert check_transition("closed", "appealed", "complaint") is TicketStatus.APPEALED
    for kind in (TicketKind.QUERY, TicketKind.FAULT, TicketKind.REQUEST):
        with pytest.raises(InvalidTransitionError, match="appealed"):
            check_transition("resolved", "appealed", kind)


def test_tickets_close_only_after_being_resolved() -> None:
    for status, nexts in ALLOWED_TRANSITIONS.items():
        if TicketStatus.CLOSED in nexts:
            assert status is TicketStatus.RESOLVED
    with pytest.raises(InvalidTransitionError, match="new to closed"):
        check_transition("new", "closed", "complaint")
    with pytest.raises(InvalidTransitionError):
        check_transition("closed", "open", "fault")


def test_no_status_refuses_or_drops_a_ticket() -> None:
    names = {s.value for s in TicketStatus}
    assert not names & {"rejected", "refused", "cancelled", "deleted", "dropped"}


def test_kind_changes() -> None:
    assert can_change_kind("fault", "complaint")
    assert can_change_kind("query", "request")
    assert can_change_kind("complaint", "complaint")
    for other in ("query", "fault", "request"):
        assert not can_change_kind("complaint", other)


# --- complaint or troubleshooting ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Quiero poner una reclamación", "es"),
        ("Buenas, necesito la hoja de reclamaciones", "es"),
        ("Deme el libro de reclamaciones", "es-PE"),
        ("QUIERO PRESENTAR UN RECLAMO por el cobro", "es"),
        ("Me han cobrado dos veces la factura, es inaceptable", "es"),
        ("I want to file a complaint", "en"),
        ("This is unacceptable, I was overcharged again", "en"),
        ("Nobody called me back even though you promised", "en"),
        # Explicit wish to complain wins over any troubleshooting words (the OSIPTEL case).
        ("No tengo internet, va lento y no funciona; quiero presentar un reclamo", "es"),
        ("Internet doesn't work, no connection, I want to make a complaint", "en"),
    ],
)
def test_complaints_are_told_apart(text: str, lang: str) -> None:
    hint = classify_text(text, lang)
    assert hint.kind_hint is TicketKind.COMPLAINT
    assert hint.score > 0.5
    assert hint.matched_phrases


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("El router no funciona, sin conexión desde ayer", "es"),
        ("No tengo señal y la luz roja parpadea", "es"),
        ("My internet doesn't work, there is no connection", "en"),
        ("Not working since this morning, I restarted the router", "en"),
    ],
)
def test_troubleshooting_is_told_apart(text: str, lang: str) -> None:
    hint = classify_text(text, lang)
    assert hint.kind_hint is TicketKind.FAULT
    assert 0 < hint.score < 1


def test_explicit_complaint_reports_the_phrase_without_duplicates() -> None:
    hint = classify_text("Quiero poner una reclamación", "es")
    assert hint.matched_phrases == ("quiero poner una reclamacion",)
    assert hint.score == 1.0


def test_no_signal_gives_no_hint() -> None:
    assert classify_text("Hola, buenos días", "es") == (None, 0.0, ())
    assert classify_text("", "en").kind_hint is None


def test_both_languages_are_searched() -> None:
    assert classify_text("I want to complain", "es").kind_hint is TicketKind.COMPLAINT
    assert classify_text("no funciona", "en").kind_hint is TicketKind.FAULT


def test_phrase_lists_cover_both_languages() -> None:
    lists = phrase_lists()
    for side in ("complaint", "fault"):
        assert set(lists[side]) == {"es", "en"}
    assert "libro de reclamaciones" in lists["complaint"]["es"]


# --- complaint text ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t", None])
def test_empty_description_asks_and_never_blocks(text: str | None) -> None:
    (problem,) = validate_complaint_text(text)
    assert problem.code == "empty_description"
    assert not problem.blocking
    assert problem.status is None
    assert "registrada" in problem.message("es")
    assert "registered" in problem.message("en")


def test_a_long_description_is_said_and_never_blocks() -> None:
    (problem,) = validate_complaint_text("a" * 101, max_len=100)
    assert problem.code == "long_description"
    assert not problem.blocking
    assert problem.status is None
    assert "101" in problem.message("es")
    assert "100" in problem.message("es")
    assert "adjunto" in problem.message("es")
    assert "attached" in problem.message("en")
    assert validate_complaint_text("a" * 100, max_len=100) == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abc", 3),
        ("a\r\nb", 3),  # the form sends CRLF; the textarea counts one
        ("a\rb", 3),
        ("e\u0301", 1),  # NFC joins the accent to its letter, as String.normalize does
        ("🙃", 1),  # one code point, two UTF-16 units
        ("ñ" * 6500, 6500),
    ],
)
def test_visible_length_counts_as_the_form_does(text: str, expected: int) -> None:
    assert visible_length(text) == expected


def test_cut_visible_never_splits_a_character_from_its_marks() -> None:
    assert cut_visible("abcdef", 3) == "abc"
    assert cut_visible("ab", 3) == "ab"
    decomposed = "a" + "e\u0301" * 3  # letters followed by a combining accent
    assert cut_visible(decomposed, 2) == "a"
    family = "x👨\u200d👩\u200d👧"
    assert cut_visible(family, 3) == "x"
    assert cut_visible("ok👍🏽", 3) == "ok"


def test_a_wrong_check_digit_is_told_as_a_typo_and_nothing_else_is() -> None:
    good = format_ticket_number(2026, 12345)
    wrong = good[:-1] + str((int(good[-1]) + 1) % 10)
    assert check_digit_typo(wrong)
    assert check_digit_typo("Nº " + wrong.replace("-", " "))
    assert not check_digit_typo(good)
    assert not check_digit_typo("2026-12")  # too short to be a number
    assert not check_digit_typo("hello")
    assert not check_digit_typo("")


@pytest.mark.parametrize(
    "text",
    [
        "Sois unos ladrones y unos incompetentes",
        "Your company is a scam and I will tell everyone",
        "asdf qwer",
        "😡😡😡",
    ],
)
def test_no_rule_looks_at_what_a_complaint_says(text: str) -> None:
    assert validate_complaint_text(text) == ()


def test_clean_text() -> None:
    assert clean_text("  hola\x00 mundo\r\n\r\n\r\n\r\nadiós  ") == "hola mundo\n\nadiós"


def test_nearest_rank_takes_the_smallest_value_with_the_share_at_or_below() -> None:
    values = [float(v) for v in range(10, 0, -1)]  # any order
    assert nearest_rank(values, 0.8) == 8.0
    assert nearest_rank(values, 0.5) == 5.0
    assert nearest_rank(values, 1.0) == 10.0
    assert nearest_rank(values, 0.01) == 1.0
    assert nearest_rank([7.0], 0.8) == 7.0
    with pytest.raises(ValueError, match="no values"):
        nearest_rank([], 0.8)
    with pytest.raises(ValueError, match="share"):
        nearest_rank(values, 0.0)
