"""The organisation's time zone and language: one reader, one fallback."""

from __future__ import annotations

from sqlalchemy.orm import Session

from escucha import languages
from escucha.contacts import live
from escucha.org import home
from escucha.org.models import Organisation
from escucha.tickets import service as tickets
from tests.factories import make_org


def test_before_an_organisation_the_catalog_defaults_hold(session: Session) -> None:
    assert home.zone_name(session) == languages.DEFAULT_ZONE == "Europe/Madrid"
    assert home.default_language(session) == languages.DEFAULT_LANGUAGE == "es"
    # Every former reader agrees now (one said UTC, another Madrid).
    assert live.org_timezone(session) == home.zone_name(session)
    assert tickets.org_context(session).timezone == home.zone_name(session)


def test_the_organisation_zone_and_language_are_read_everywhere(session: Session) -> None:
    made = make_org(session, timezone="America/Lima")
    made.organisation.language = "ca"
    session.flush()
    assert home.zone_name(session) == "America/Lima"
    assert str(home.zone(session)) == "America/Lima"
    assert home.default_language(session) == "ca"
    assert live.org_timezone(session) == "America/Lima"
    ctx = tickets.org_context(session)
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
