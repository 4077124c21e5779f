"""The desk on Twilio's Voice JavaScript SDK, in a real Chromium against a real server (ADR 24).

No real Twilio call can be made here (no account, and no request leaves the machine): the test
checks that the desk loads the SDK from escucha's own vendored file, makes no request to any
other site, and builds the Twilio transport with an access token from the server. Calling
through Twilio itself is left to a test against a real account.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.config import Settings
from tests.system.conftest import LiveServer, running_server
from tests.system.test_browser_voice import _log_in, _page, chromium, demo_open, playwright
from tests.telephony.test_twilio_agents import ACCOUNT, APP, KEY, SECRET

__all__ = ["demo_open", "playwright"]  # fixtures the test uses

pytestmark = [pytest.mark.system, pytest.mark.browser]

SDK = "/static/vendor/twilio-voice-sdk-2.18.5.min.js"


@pytest.fixture
def twilio_server(settings: Settings, tmp_path: Path) -> Iterator[LiveServer]:
    twilio = {
        "ESCUCHA_TWILIO_ACCOUNT_SID": ACCOUNT,
        "ESCUCHA_TWILIO_API_KEY_SID": KEY,
        "ESCUCHA_TWILIO_API_KEY_SECRET": SECRET,
        "ESCUCHA_TWILIO_TWIML_APP_SID": APP,
    }
    with running_server(settings, tmp_path, **twilio) as server:
        yield server


BUILD = """
async () => {
  const V = window.EscuchaVoice;
  const call = V.transports.twilio({ tokenUrl: "/agent/voice/twilio-token" });
  const device = await call.ready();
  const shape = ["start", "hold", "mute", "dtmf", "hangup", "quality", "on", "contact"]
    .filter((k) => typeof call[k] === "function");
  return {
    shape,
    state: device.state,
    token: device.token,
    version: window.Twilio.Device.version,
    quality: await call.quality(),
  };
}
"""


def test_the_desk_loads_the_vendored_sdk_and_builds_the_twilio_transport_with_a_token(
    demo_open: None,
    twilio_server: LiveServer,
    playwright: Any,
    tmp_path: Path,
    session: Session,
) -> None:
    url = twilio_server.url
    with chromium(playwright, Path("/dev/null")) as browser:
        page = _page(browser, url)
        seen: list[str] = []
        page.on("request", lambda r: seen.append(r.url))
        page.context.route(
            "**/*",
            lambda route: route.continue_() if route.request.url.startswith(url) else route.abort(),
        )
        _log_in(page, url, "ana")
        assert page.evaluate("() => typeof window.Twilio.Device") == "function"
        built = page.evaluate(BUILD)
        page.wait_for_timeout(500)
    assert f"{url}{SDK}" in seen
    others = sorted({urlsplit(u).netloc for u in seen if not u.startswith(url)})
    assert others == []  # nothing from another site
    assert built["shape"] == ["start", "hold", "mute", "dtmf", "hangup", "quality", "on", "contact"]
    assert built["version"] == "2.18.5"
    assert built["state"] == "unregistered"  # an offline agent's desk does not register
    assert built["quality"] is None
    ana = session.scalar(select(User.id).where(User.username == "ana"))
    claims = jwt.decode(built["token"], SECRET, algorithms=["HS256"])
    assert claims["grants"]["identity"] == f"agent-{ana}"
