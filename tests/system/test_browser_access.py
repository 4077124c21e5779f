"""An admin makes an API token on ``/admin/tokens`` in Chromium, sees its value once, uses it,
and revokes it; logging out ends the session for a copy of the cookie too (issue 14, findings 6
and 11), against a real server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from tests.factories import make_user
from tests.system.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.system]

TIMEOUT_MS = 15_000


def test_an_admin_makes_uses_and_revokes_a_token_then_logs_out(
    live_server: LiveServer, browser: Any, session: Session
) -> None:
    make_user(session, username="root", role="admin")
    make_user(session, username="crm", role="agent")
    session.commit()
    url = live_server.url
    context = browser.new_context(locale="es-ES")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{url}/login?next=/admin/tokens")
    page.fill("#username", "root")
    page.fill("#password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/admin/tokens")
    page.select_option("#token-user", "crm")
    page.fill("#token-name", "crm-lectura")
    page.select_option("#token-scope", "read")
    page.fill("#token-days", "7")
    page.click("text=Crear token")
    raw = page.inner_text("#new-token").strip()
    assert raw.startswith("esc_")
    assert "crm-lectura" in page.inner_text("table")
    bearer = {"Authorization": f"Bearer {raw}"}
    with httpx.Client(base_url=url, timeout=20) as api:
        assert api.get("/api/v1/auth/me", headers=bearer).json()["username"] == "crm"
        assert api.post("/api/v1/contacts", json={}, headers=bearer).status_code == 403  # read
        page.goto(f"{url}/admin/tokens")
        assert raw not in page.content()  # shown once
        page.click("table tr:has-text('crm-lectura') button:has-text('Revocar')")
        page.wait_for_url(f"{url}/admin/tokens")
        assert "revocado" in page.inner_text("table tr:has-text('crm-lectura')")
        assert api.get("/api/v1/auth/me", headers=bearer).status_code == 401
    cookie = next(c for c in context.cookies() if c["name"] == "escucha_session")
    copied = {"escucha_session": cookie["value"]}
    with httpx.Client(base_url=url, timeout=20, cookies=copied) as thief:
        assert thief.get("/api/v1/auth/me").status_code == 200
        page.click("form[action='/logout'] button")
        page.wait_for_url(f"{url}/login")
        assert thief.get("/api/v1/auth/me").status_code == 401
    context.close()
