"""Property (P5): any complaint text gets a number, or a clear 4xx with nothing half-written."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha.audit import service as audit
from escucha.audit.models import AuditEvent
from escucha.auth import service as auth_service
from escucha.jobs.models import Job
from escucha.notifications.models import Notification
from escucha.promises.models import Promise
from escucha.tickets.models import Ticket, TicketCounter, TicketMessage
from escucha.tickets.rules import clean_text, parse_ticket_number
from escucha.tickets.service import MAX_DESCRIPTION, attachments_of, safe_text
from tests.conftest import START
from tests.factories import make_org, make_user

ANY_CHAR = st.characters(blacklist_categories=())  # every code point, surrogates included
TEXT = st.one_of(
    st.none(),
    st.text(alphabet=ANY_CHAR, max_size=300),
    # Long texts around the limit: a unit repeated up to ~12 000 characters.
    st.builds(
        lambda unit, times: unit * times,
        st.text(alphabet=ANY_CHAR, min_size=1, max_size=20),
        st.integers(min_value=1, max_value=600),
    ),
    st.sampled_from(
        [
            "x" * MAX_DESCRIPTION,
            "x" * (MAX_DESCRIPTION + 1),
            "Sois unos sinvergüenzas",
            "quiero poner una reclamación",
        ]
    ),
)
TABLES = (Ticket, TicketMessage, TicketCounter, Promise, Notification, Job, AuditEvent)


def _counts(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        m.__tablename__: int(session.scalar(select(func.count()).select_from(m)) or 0)
        for m in TABLES
    }


@pytest.fixture
def token(session: Session) -> str:
    make_org(session)
    user = make_user(session, username="integration", role="agent")
    raw = auth_service.create_token(session, user, "web", now=START)
    session.commit()
    return raw


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(description=TEXT, subject=st.text(alphabet=ANY_CHAR, max_size=400), name=TEXT)
def test_any_complaint_gets_a_number_or_a_clear_4xx_with_nothing_written(
    client: TestClient,
    session: Session,
    token: str,
    description: str | None,
    subject: str,
    name: str | None,
) -> None:
    before = _counts(session)
    payload: dict[str, Any] = {"description": description, "subject": subject, "name": name}
    # Encoded with \u escapes, so lone surrogates travel as a real client could send them.
    r = client.post(
        "/api/v1/complaints",
        content=json.dumps(payload),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    stored = clean_text(safe_text(description))
    if r.status_code == 201:
        body = r.json()
        assert str(parse_ticket_number(body["number"])) == body["number"]
        session.expire_all()
        ticket = session.scalar(select(Ticket).where(Ticket.number == body["number"]))
        assert ticket is not None
        assert ticket.kind == "complaint"
        if len(stored) <= MAX_DESCRIPTION:
            assert ticket.description == stored
        else:  # shown cut, kept whole as a file (ADR 27)
            assert len(ticket.description) <= MAX_DESCRIPTION
            (whole,) = attachments_of(session, ticket.id)
            assert whole.data.decode("utf-8") == stored
        assert ticket.description_missing == (stored == "")
        after = _counts(session)
        assert after["tickets"] == before["tickets"] + 1
        assert after["audit_events"] == before["audit_events"] + 1
    else:
        assert 400 <= r.status_code < 500, r.text
        assert _counts(session) == before
    assert audit.verify(session).ok
