"""The hottest Twilio webhooks run a fixed, short list of statements (issue 17): a caller who
joins a line (``/gather``), a pass of the wait loop (``/wait``) and the agent's leg answered
(``/agent``). Counted at the database, so a new query on these paths fails here first."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from escucha.app import create_app
from escucha.auth import service as auth_service
from escucha.clock import FrozenClock
from escucha.config import Settings
from escucha.org.models import AgentProfile
from escucha.routing import service as routing
from tests.conftest import START
from tests.telephony.test_twilio_webhooks import TOKEN, Twilio, twilio_body

#: PostgreSQL's advisory locks (the call's, the routing pass's) are not counted: SQLite has none.
LOCKS = "SELECT pg_advisory_xact_lock"
#: What each webhook may run at most, once the process keeps the queue's rates (ADR 25).
MOST = {"voice": 22, "gather": 20, "wait": 3, "agent": 8}


@contextmanager
def _statements(client: TestClient) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_c: object, _cur: object, statement: str, *_a: object) -> None:
        if not statement.startswith(LOCKS):
            seen.append(" ".join(statement.split()))

    engine = client.app.state.engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _call(twilio: Twilio, sid: str, number: str) -> dict[str, list[str]]:
    """One call through the IVR into the line and one pass of the wait loop; the statements
    each webhook ran."""
    ran: dict[str, list[str]] = {}
    voice = twilio_body("voice", CallSid=sid, From=number, Caller=number)
    body = twilio_body("gather", CallSid=sid, From=number, Caller=number)
    steps = (
        ("voice", "/telephony/twilio/voice", voice),
        ("gather", "/telephony/twilio/gather?n=1", {**body, "Digits": "2"}),
        ("wait", "/telephony/twilio/wait", body),
    )
    for name, path, data in steps:
        with _statements(twilio.client) as seen:
            r = twilio.post(path, data)
        assert r.status_code == 200, r.text
        ran[name] = list(seen)
    return ran


def test_the_hottest_webhooks_run_a_short_fixed_list_of_statements(
    settings: Settings, clock: FrozenClock, users: dict[str, int], session: Session
) -> None:
    twilio_settings = settings.model_copy(update={"twilio_auth_token": TOKEN})
    bot = auth_service.create_user(
        session, username="bot", display_name="Bot", role="agent", now=START
    )
    session.add(AgentProfile(user_id=bot.id, skills={"facturas": 2}, languages=["es"]))
    session.commit()
    with TestClient(create_app(twilio_settings, clock=clock)) as client:
        twilio = Twilio(client)
        _call(twilio, "CA" + "1" * 32, "+34600000001")  # the process reads the queue's rates
        first = _call(twilio, "CA" + "2" * 32, "+34600000002")
        for n in range(3, 6):  # more callers in line: the same statements
            again = _call(twilio, "CA" + str(n) * 32, f"+3460000000{n}")
            assert [len(again[k]) for k in again] == [len(first[k]) for k in first]
        for name, statements in first.items():
            assert len(statements) <= MOST[name], (name, statements)
        joined = first["gather"]
        assert sum(s.startswith("UPDATE routing_state") for s in joined) == 1  # one version move
        reads = [s for s in joined if s.startswith("SELECT")]
        assert not any("FROM agent_status" in s or "FROM agent_profiles" in s for s in reads)
        assert not any("FROM contacts WHERE contacts.state" in s for s in reads)  # no floor read

        # an agent comes: the caller at the head is offered and their line answered
        clock.advance(5)
        routing.set_agent_state(session, bot.id, "available", now=clock.now())
        session.commit()
        leg = twilio_body("agent", CallSid="CA" + "1" * 32 + "L", ParentCallSid="CA" + "1" * 32)
        with _statements(client) as seen:
            assert twilio.post("/telephony/twilio/agent", leg).status_code == 200
        assert len(seen) <= MOST["agent"], seen
        assert sum(s.startswith("UPDATE routing_state") for s in seen) == 1
