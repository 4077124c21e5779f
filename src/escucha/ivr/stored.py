"""The organisation's IVR as it is stored (``Organisation.ivr``): read and saved whole by the
IVR editor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.errors import NotFound
from escucha.org.models import Organisation


def _organisation(session: Session) -> Organisation | None:
    return session.scalar(select(Organisation).order_by(Organisation.id).limit(1))


def stored_ivr(session: Session) -> dict[str, Any]:
    """The IVR mapping the organisation keeps (``{}`` when it has none, or no organisation
    is configured yet)."""
    org = _organisation(session)
    return dict(org.ivr) if org is not None and org.ivr else {}


def save_ivr(session: Session, ivr: Mapping[str, Any]) -> None:
    """Keep ``ivr`` (already checked) as the organisation's IVR."""
    org = _organisation(session)
    if org is None:
        raise NotFound("no organisation is configured yet: run escucha config apply")
    org.ivr = dict(ivr)
    session.flush()
