"""The event log export: times without a zone are UTC, never a 500 (finding 12)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.contacts import service as contacts
from tests.conftest import START
from tests.factories import make_user


@pytest.mark.parametrize(
    ("since", "rows"),
    [
        ("0001-01-01T00:00:00", 3),  # no zone: read as UTC (used to be a 500)
        ("2026-11-23T09:00:30", 2),
        ("2026-11-23T10:00:30+01:00", 2),
        ("9999-12-31T23:59:59", 0),
    ],
)
def test_the_event_log_reads_a_time_without_a_zone_as_utc(
    client: TestClient, session: Session, since: str, rows: int
) -> None:
    user = make_user(session, username="jefa", role="supervisor")
    raw = auth_service.create_token(session, user, "t", now=START)
    contact = contacts.start_contact(session, channel="voice", now=START)
    contacts.transition(session, contact, "enqueue", at=START + timedelta(seconds=40))
    contacts.transition(session, contact, "cancel", at=START + timedelta(seconds=50))
    session.commit()
    headers = {"Authorization": f"Bearer {raw}"}
    for path in ("/api/v1/events.csv", "/api/v1/events.queue_log"):
        r = client.get(path, params={"since": since}, headers=headers)
        assert r.status_code == 200, r.text
    r = client.get("/api/v1/events.csv", params={"since": since}, headers=headers)
    assert len(list(csv.DictReader(io.StringIO(r.text)))) == rows
