"""Schemathesis against the app's OpenAPI, in process, as an admin with an API token.

Every operation gets bounded generated requests (valid by the schema, then some invalid);
no answer may be a server error, and every documented answer must match its declared schema
and content type. The organisation is the demo one, with a contact and a ticket to act on.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.contacts import service as contacts
from escucha.tickets import opening
from tests.conftest import START
from tests.factories import caller, demo

EXAMPLES = 20
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def _arrange(session: Session) -> str:
    demo(session)
    caller(session, START, "600123456")
    opening.open_ticket(
        session,
        opening.Intake(channel="web", description="No me llega la factura.", email="a@e.es"),
        now=START,
        base_url="http://testserver",
    )
    contacts.find_or_create_customer(session, now=START, phone="600654321")
    admin = auth_service.authenticate(session, "admin", "escucha-admin")
    token = auth_service.create_token(session, admin, "fuzz", now=START, scope="admin")
    session.commit()
    return token


def test_every_operation_answers_within_its_schema(app: FastAPI, session: Session) -> None:
    _arrange(session)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    headers: dict[str, str] = {}
    failures: list[str] = []
    operations = 0
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        # a token per operation: DELETE /auth/tokens/{id} may revoke the one before
        token = auth_service.create_token(
            session, auth_service.find_user(session, "admin"), "fuzz", now=START, scope="admin"
        )
        session.commit()
        headers["Authorization"] = f"Bearer {token}"

        strategy = operation.as_strategy() | operation.as_strategy(
            generation_mode=GenerationMode.NEGATIVE
        )

        @given(case=strategy)
        @hsettings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            nonlocal calls
            calls += 1
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # first failure of each, reported together
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:1500]}")
    assert operations >= 40
    assert calls >= operations
    assert failures == [], "\n\n".join(failures)
