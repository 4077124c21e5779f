from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from escucha.logs import JsonFormatter, mask
from escucha.tickets.rules import format_ticket_number


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["database"] == "ok"
    assert r.json()["migration"] == r.json()["head"]


def test_readiness_fails_when_migrations_are_behind(client: TestClient, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["status"] == "unavailable"
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": r.json()["head"]})


def test_metrics_count_requests(client: TestClient) -> None:
    client.get("/healthz")
    body = client.get("/metrics").text
    assert 'escucha_http_requests_total{method="GET",route="/healthz",status="200"}' in body


def test_responses_carry_request_ids_and_security_headers(client: TestClient) -> None:
    r = client.get("/login", headers={"X-Request-ID": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp
    assert "script-src 'self'" in csp
    assert r.headers["x-frame-options"] == "DENY"


def test_api_errors_have_one_shape(client: TestClient) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert set(r.json()) == {"error", "detail"}


def test_openapi_is_published(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["info"]["title"] == "escucha"
    assert "/api/v1/org/queues" in spec["paths"]


@pytest.mark.parametrize(
    ("raw", "hidden"),
    [
        ("llamar al +34 600 123 456", "600 123 456"),
        ("tel 600123456", "600123456"),
        ("cliente ana.perez@example.es", "ana.perez@example.es"),
        ("Peru +51 1 234 5678", "234 5678"),
    ],
)
def test_logs_never_carry_phone_numbers_or_emails(raw: str, hidden: str) -> None:
    assert hidden not in mask(raw)
    record = logging.makeLogRecord({"msg": raw, "levelname": "INFO", "phone": raw})
    line = JsonFormatter().format(record)
    assert hidden not in line
    assert json.loads(line)["msg"] == mask(raw)


def test_masking_keeps_times_and_short_numbers() -> None:
    assert (
        mask("at 2026-11-22 19:41:23, 3 calls, queue 12")
        == "at 2026-11-22 19:41:23, 3 calls, queue 12"
    )


def test_masking_keeps_case_numbers_and_still_hides_the_phone_beside_them() -> None:
    """Finding 12: case numbers (``2026-0000042-7``) used to become ``<phone>``."""
    number = format_ticket_number(2026, 42)
    masked = mask(f"case {number} opened for 612345678; case {number} 600 123 456")
    assert masked == f"case {number} opened for <phone>; case {number} <phone>"
    # The same shape with a wrong check digit is not a case number: it is masked.
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert mask(f"llamar al {wrong}") == "llamar al <phone>"
