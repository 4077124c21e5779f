"""Today as the floor counts it: local midnight in the organisation's time zone, and a share
of counts that is ``None`` when there is nothing to count."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def day_start(now: datetime, tz: str) -> datetime:
    """Local midnight of ``now`` in ``tz``, as an aware UTC time."""
    local = now.astimezone(ZoneInfo(tz))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(UTC)


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None
