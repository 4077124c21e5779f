"""Offer a survey after every contact that ended recently and has none (M2). Idempotent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from escucha.jobs.registry import JobContext, periodic
from escucha.surveys.service import offer_recent_surveys

#: Contacts that ended this long ago or less are offered a survey.
LOOKBACK = timedelta(hours=1)


@periodic("surveys.offer_recent", every_s=300)
def offer_recent(session: Session, payload: dict[str, Any], ctx: JobContext) -> None:
    offer_recent_surveys(session, now=ctx.now, base_url=ctx.settings.public_url, within=LOOKBACK)
