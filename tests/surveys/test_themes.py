"""Voice-of-the-customer themes (M3): grouping, stable keys, editable labels, weekly trend."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from escucha.surveys.themes import Comment, find_themes, relabel, week_start

BILLING = [
    "Me cobraron dos veces la factura de marzo",
    "La factura de abril trae un cobro duplicado",
    "Otra vez un cobro de más en la factura",
    "Factura con importe equivocado, cobro indebido",
]
WAITING = [
    "Esperé cuarenta minutos al teléfono con música",
    "Demasiada espera al teléfono, cuarenta minutos",
    "La espera al teléfono fue eterna, casi una hora",
    "Minutos y minutos de espera con la música",
]
TECHNICIAN = [
    "The technician never showed up for the appointment",
    "Technician missed the installation appointment again",
    "No technician came, appointment wasted",
    "The appointment was cancelled and no technician arrived",
]


def _comments() -> list[Comment]:
    texts = BILLING + WAITING + TECHNICIAN
    return [
        Comment(f"t{i}", text, date(2024, 5, 6 + (i % 3) * 7), "complaint" if i % 2 else "survey")
        for i, text in enumerate(texts)
    ]


def _groups(report_themes: object) -> set[frozenset[str]]:
    return {frozenset(t.member_ids) for t in report_themes}  # type: ignore[attr-defined]


def test_separable_texts_fall_into_their_themes() -> None:
    report = find_themes(_comments(), seed=3)
    assert report.k == 3
    assert report.silhouette is not None
    assert report.silhouette > 0
    expected = {
        frozenset(f"t{i}" for i in range(0, 4)),
        frozenset(f"t{i}" for i in range(4, 8)),
        frozenset(f"t{i}" for i in range(8, 12)),
    }
    assert _groups(report.themes) == expected
    by_first = {t.member_ids[0]: t for t in report.themes}
    assert "factura" in by_first["t0"].top_terms
    assert "technician" in by_first["t8"].top_terms
    assert "teléfono" in by_first["t4"].top_terms  # shown with its accent
    assert all(t.label == ", ".join(t.top_terms[:3]) for t in report.themes)


def test_same_seed_same_themes_and_keys() -> None:
    first = find_themes(_comments(), seed=11)
    again = find_themes(_comments(), seed=11)
    assert first == again
    assert len({t.key for t in first.themes}) == len(first.themes)


def test_labels_are_editable_by_key() -> None:
    report = find_themes(_comments(), k=3, seed=0)
    key = report.themes[0].key
    labelled = relabel(
        report, {key: "Cobros duplicados", "unknown-key": "x", report.themes[1].key: " "}
    )
    assert labelled.themes[0].label == "Cobros duplicados"
    assert labelled.themes[1].label == report.themes[1].label
    again = find_themes(_comments(), k=3, seed=0, labels={key: "Cobros duplicados"})
    assert again.themes[0].label == "Cobros duplicados"


def test_weekly_trend_counts_members_by_iso_week() -> None:
    report = find_themes(_comments(), k=3, seed=0)
    billing = next(t for t in report.themes if "t0" in t.member_ids)
    # t0..t3 are dated 6, 13, 20 and 6 May 2024 (all Mondays).
    assert billing.weekly == {"2024-05-06": 2, "2024-05-13": 1, "2024-05-20": 1}
    assert week_start(datetime(2024, 5, 12, 23, 0, tzinfo=UTC)) == date(2024, 5, 6)
    assert week_start(date(2024, 5, 13)) == date(2024, 5, 13)


def test_extra_stop_words_keep_people_out_of_themes() -> None:
    texts = [Comment(f"n{i}", f"Laura was rude about my refund {i}") for i in range(3)] + [
        Comment(f"m{i}", f"Laura fixed the broken router {i}") for i in range(3)
    ]
    report = find_themes(texts, k=2, seed=0, extra_stop_words=["Laura"])
    assert all("laura" not in " ".join(t.top_terms).lower() for t in report.themes)
    assert any(t.weekly == {} for t in report.themes)  # undated texts have no trend


def test_small_and_degenerate_inputs() -> None:
    assert find_themes([]).themes == ()
    only_stop = find_themes([Comment("a", "de la que"), Comment("b", "the and")])
    assert only_stop.themes == ()
    assert only_stop.n_texts == 2
    same = [Comment(str(i), "factura duplicada") for i in range(4)]
    single = find_themes(same, seed=0)
    assert single.k == 1
    assert single.themes[0].size == 4
    capped = find_themes(same, k=3, seed=0)
    assert capped.k == 1
    with pytest.raises(ValueError, match="unique"):
        find_themes([Comment("a", "x y z"), Comment("a", "y z w")])
    with pytest.raises(ValueError, match="at least 1"):
        find_themes(same, k=0)
