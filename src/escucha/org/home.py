"""The organisation's time zone and default language: the only reader of both.

Every screen, message, IVR call, job and report that needs "the organisation's zone" or "the
organisation's language" asks here, so there is one fallback for each: before an organisation
is configured (or when its zone is not a known IANA name) the zone is
:data:`escucha.languages.DEFAULT_ZONE` and the language :data:`escucha.languages.DEFAULT_LANGUAGE`.
A customer's own zone and language, when known, come first; :func:`customer_zone` and
:func:`customer_language` apply that rule.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha import languages
from escucha.org.models import Organisation, Team


def _valid_zone(name: str | None) -> str | None:
    if not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def zone_name(session: Session) -> str:
    """The organisation's IANA time zone (``"Europe/Madrid"``)."""
    name = session.scalar(select(Organisation.timezone).order_by(Organisation.id).limit(1))
    return _valid_zone(name) or languages.DEFAULT_ZONE


def zone(session: Session) -> ZoneInfo:
    """The organisation's time zone as a :class:`~zoneinfo.ZoneInfo`."""
    return ZoneInfo(zone_name(session))


def default_language(session: Session) -> str:
    """The organisation's language, a code of the catalog (``"es"``)."""
    code = session.scalar(select(Organisation.language).order_by(Organisation.id).limit(1))
    return languages.resolve(code)


def customer_zone(session: Session, customer_tz: str | None) -> str:
    """A customer's zone when it is a known one, else the organisation's."""
    return _valid_zone(customer_tz) or zone_name(session)


def customer_language(session: Session, customer_lang: str | None) -> str:
    """A customer's language when the catalog has it, else the organisation's."""
    if languages.known(customer_lang):
        return languages.resolve(customer_lang)
    return default_language(session)


def team_labels(session: Session, lang: str) -> dict[str, str]:
    """Each team's name in ``lang``, keyed by its key and by its default display name (the
    name services and reports carry), so a screen shows "Faults" for "Averías" in English."""
    out: dict[str, str] = {}
    for team in session.scalars(select(Team)):
        label = team.label(lang)
        out[team.name] = label
        out[team.display_name] = label
    return out
