"""Today as the floor counts it: local midnight in the organisation's time zone, and a share
of counts that is ``None`` when there is nothing to count."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, func, or_, select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.callbacks.models import Callback
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact, ContactEvent, Customer, Estimate
from escucha.org import home
from escucha.org import models as org
from escucha.promises import service as promises
from escucha.promises.models import Promise
from escucha.routing.models import AgentStatus
from escucha.tickets.models import Ticket


def org_timezone(session: Session) -> str:
    """The organisation's time zone (its one reader is :mod:`escucha.org.home`)."""
    return home.zone_name(session)


def day_start(now: datetime, tz: str) -> datetime:
    """Local midnight of ``now`` in ``tz``, as an aware UTC time."""
    local = now.astimezone(ZoneInfo(tz))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(UTC)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None
