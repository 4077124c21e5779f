"""The organisation's time zone and language: one reader, one fallback."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha import languages
from escucha.org import home
from escucha.org import service as org_service
from escucha.org.models import Organisation, Skill, Team
from escucha.tickets import planning
from escucha.yamlio import YamlFileError
from tests.factories import DEMO, demo, make_org


def test_before_an_organisation_the_catalog_defaults_hold(session: Session) -> None:
    assert home.zone_name(session) == languages.DEFAULT_ZONE == "Europe/Madrid"
    assert home.default_language(session) == languages.DEFAULT_LANGUAGE == "es"
    # Every former reader agrees now (one said UTC, another Madrid).
    assert planning.org_context(session).timezone == home.zone_name(session)


def test_the_organisation_zone_and_language_are_read_everywhere(session: Session) -> None:
    made = make_org(session, timezone="America/Lima")
    made.organisation.language = "ca"
    session.flush()
    assert home.zone_name(session) == "America/Lima"
    assert str(home.zone(session)) == "America/Lima"
    assert home.default_language(session) == "ca"
    ctx = planning.org_context(session)
    assert (ctx.timezone, ctx.language) == ("America/Lima", "ca")


def test_a_customer_zone_and_language_come_first_when_known(session: Session) -> None:
    make_org(session, timezone="America/Lima")
    assert home.customer_zone(session, "Europe/Madrid") == "Europe/Madrid"
    assert home.customer_zone(session, "Mars/Olympus") == "America/Lima"
    assert home.customer_zone(session, None) == "America/Lima"
    assert home.customer_language(session, "ca-ES") == "ca"
    assert home.customer_language(session, "fr") == "es"


def test_an_unknown_stored_zone_falls_back_once(session: Session) -> None:
    made = make_org(session)
    made.organisation.timezone = "Nowhere/Town"
    made.organisation.language = "xx"
    session.flush()
    assert home.zone_name(session) == languages.DEFAULT_ZONE
    assert home.default_language(session) == languages.DEFAULT_LANGUAGE
    assert session.get(Organisation, made.organisation.id) is not None


def test_team_names_per_language_come_from_the_org_yaml(session: Session) -> None:
    demo(session)
    faults = session.scalar(select(Team).where(Team.name == "averias"))
    assert faults is not None
    assert faults.display_name == "Averías"  # the organisation's language
    assert (faults.label("en"), faults.label("ca"), faults.label("fr")) == (
        "Faults",
        "Avaries",
        "Averías",
    )
    labels = home.team_labels(session, "en")
    assert labels["averias"] == labels["Averías"] == "Faults"
    exported = org_service.export_org(session)
    team = next(t for t in exported["teams"] if t["name"] == "averias")
    assert team["display_name"] == {"es": "Averías", "en": "Faults", "ca": "Avaries"}


def test_skill_names_per_language_come_from_the_org_yaml(session: Session) -> None:
    demo(session)
    english = session.scalar(select(Skill).where(Skill.name == "ingles"))
    assert english is not None
    assert english.description == "Atención en inglés"  # the organisation's language
    assert (english.label("en"), english.label("ca"), english.label("fr")) == (
        "Service in English",
        "Atenció en anglès",
        "Atención en inglés",
    )
    exported = org_service.export_org(session)
    skill = next(s for s in exported["skills"] if s["name"] == "ingles")
    assert skill["description"]["en"] == "Service in English"
    again = org_service.parse_org(yaml.safe_dump(exported, allow_unicode=True), "org.yaml")[0]
    assert next(s for s in again.skills if s.name == "ingles").description == skill["description"]


def test_a_team_name_in_an_unknown_language_is_refused() -> None:
    text = DEMO.read_text(encoding="utf-8").replace('en: "Faults"', 'fr: "Pannes"')
    with pytest.raises(YamlFileError, match="unknown language 'fr'"):
        org_service.parse_org(text, "org.yaml")
