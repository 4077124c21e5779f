"""A warm transfer with real sound between three Chromiums (ADR 24).

The caller plays 440 Hz, Ana 660 Hz and Luis 880 Hz, each from its own fake microphone. Ana
puts the caller on hold and talks to Luis first: they hear each other while the caller hears
only the hold music; then Ana hands over and the caller and Luis hear each other. What each page
receives is measured in the page (an ``AnalyserNode``), as in ``test_browser_voice``; each check
waits for the sound to be there, never for a fixed time. The call is recorded leg by leg: Ana's
desk records the caller and Ana, Luis's desk the caller and Luis once he takes the call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.config import Settings
from escucha.contacts.models import ContactEvent
from escucha.voice.models import VoiceConsult, VoiceRecording
from tests.system.conftest import LiveServer, screenshot
from tests.system.test_browser_voice import (
    AGENT_HZ,
    ANALYSE,
    CALLER_HZ,
    HEARD,
    _ana_id,
    _contact,
    _log_in,
    _page,
    _talking,
    _wait,
    chromium,
    demo_open,  # noqa: F401 - a fixture
    figure,
    hear,
    playwright,  # noqa: F401 - a fixture
    recorded_tones,
    recording_server,  # noqa: F401 - a fixture
    tone_wav,
    wait_heard,
)

pytestmark = [pytest.mark.system, pytest.mark.browser]

COLLEAGUE_HZ = 880.0
#: The same measure on the consult's stream (the other agent's voice in a warm transfer).
REMOTE = "(V && V.state && V.state.remote)"
ANALYSE_CONSULT = ANALYSE.replace(
    f'source === "remote" ? {REMOTE} : null', "(V && V.consultState && V.consultState.remote)"
)


def hear_consult(page: Any, hz: float) -> dict[str, float] | None:
    found: dict[str, float] | None = page.evaluate(ANALYSE_CONSULT, [hz, "consult"])
    return found


def wait_consult(page: Any, hz: float, timeout_s: float = 20.0) -> dict[str, float]:
    last: list[dict[str, float] | None] = [None]

    def heard() -> bool:
        last[0] = hear_consult(page, hz)
        return last[0] is not None and last[0]["share"] >= HEARD

    _wait(heard, timeout_s, f"{hz} Hz in the consult: {last[0]}")
    assert last[0] is not None
    return last[0]


def _legs(session: Session, contact_id: int) -> list[VoiceRecording]:
    session.expire_all()
    return list(
        session.scalars(
            select(VoiceRecording)
            .where(VoiceRecording.contact_id == contact_id)
            .order_by(VoiceRecording.leg)
        )
    )


def test_ana_talks_to_luis_first_then_the_caller_talks_with_luis(
    demo_open: None,  # noqa: F811 - the fixture imported above
    recording_server: LiveServer,  # noqa: F811
    playwright: Any,  # noqa: F811
    tmp_path: Path,
    session: Session,
    settings: Settings,
) -> None:
    assert ANALYSE_CONSULT != ANALYSE
    url = recording_server.url
    wavs = {
        hz: tone_wav(tmp_path / f"tone-{int(hz)}.wav", hz)
        for hz in (CALLER_HZ, AGENT_HZ, COLLEAGUE_HZ)
    }
    luis_id = session.scalar(select(User.id).where(User.username == "luis"))
    assert luis_id is not None
    with (
        chromium(playwright, wavs[CALLER_HZ]) as cb,
        chromium(playwright, wavs[AGENT_HZ]) as ab,
        chromium(playwright, wavs[COLLEAGUE_HZ]) as lb,
    ):
        caller, ana, luis = _page(cb, url), _page(ab, url), _page(lb, url)
        contact = _talking(caller, ana, url, session)
        wait_heard(caller, AGENT_HZ)
        _log_in(luis, url, "luis")
        luis.get_by_role("button", name="Disponible").click()
        luis.locator(".desk[data-state=available]").wait_for()

        ana.get_by_label("Se lo he dicho al cliente", exact=True).check()
        ana.locator("section.contact").get_by_role("button", name="Poner en espera").click()
        ana.locator("section.contact.contact-on_hold").wait_for()
        wait_heard(caller, AGENT_HZ, heard=False)
        ana.locator("#consult-to").select_option(str(luis_id))
        ana.locator("#consult-note").fill("Factura duplicada de noviembre")
        ana.locator("form.consult-form button[type=submit]").click()
        luis.locator("section.consult-to").wait_for()
        screenshot(luis, "voice-05-colleague-asked")
        luis.locator("section.consult form[action$='/answer'] button").click()
        ana.locator("section.consult-from.consult-talking").wait_for()

        # Ana and Luis hear each other; the caller hears the hold music, none of their talk
        at_luis = wait_consult(luis, AGENT_HZ)
        at_ana = wait_consult(ana, COLLEAGUE_HZ)
        for hz in (AGENT_HZ, COLLEAGUE_HZ):
            during = hear(caller, hz)
            assert during is not None, hz
            assert during["share"] < 0.1, (hz, during)
        screenshot(ana, "voice-06-agent-consulting")

        ana.locator("section.consult form[action$='/hand-over'] button").click()
        luis.locator("section.contact.contact-connected").wait_for()
        at_caller = wait_heard(caller, COLLEAGUE_HZ)
        at_colleague = wait_heard(luis, CALLER_HZ)
        assert (hear(caller, AGENT_HZ) or {"share": 1})["share"] < 0.1  # Ana has left
        ana.locator(".desk[data-state=wrap_up]").wait_for()
        screenshot(luis, "voice-07-colleague-talking")
        figure(
            "warm transfer, share heard: consult "
            f"{at_luis['share']:.3f}/{at_ana['share']:.3f}, after hand-over caller "
            f"{at_caller['share']:.3f}, colleague {at_colleague['share']:.3f}"
        )

        # Luis's desk records his part as a second leg; Ana's keeps hers whole
        _wait(
            lambda: [r.chunks >= 1 for r in _legs(session, contact.id)] == [True, True],
            20,
            f"a piece of each leg: {[(r.leg, r.chunks) for r in _legs(session, contact.id)]}",
        )
        luis.locator("section.contact").get_by_role("button", name="Terminar la llamada").click()
        caller.locator("#phone.phase-ended").wait_for()
        luis.evaluate("() => window.EscuchaVoice.recorded")
        ana.evaluate("() => window.EscuchaVoice.recorded")
        first, second = _legs(session, contact.id)
        assert (first.leg, first.user_id, second.leg, second.user_id) == (
            1,
            _ana_id(session),
            2,
            luis_id,
        )
        assert first.started_at < second.started_at
        heard = [recorded_tones(caller, settings, rec) for rec in (first, second)]
        figure(
            "warm transfer recording, share of each leg's energy: "
            + "; ".join(
                f"leg {i + 1} {h['seconds']:.1f} s caller {h['caller']:.2f} ana {h['agent']:.2f} "
                f"luis {h['colleague']:.2f} 550 Hz {h['neither']:.4f}"
                for i, h in enumerate(heard)
            )
        )
        # Ana's leg: the caller and Ana; none of the consult (Luis) reached the recording
        assert heard[0]["caller"] > max(0.05, 5 * heard[0]["neither"])
        assert heard[0]["agent"] > max(0.05, 5 * heard[0]["neither"])
        assert heard[0]["colleague"] < 0.01
        # Luis's leg: the caller and Luis, and no Ana
        assert heard[1]["caller"] > max(0.05, 5 * heard[1]["neither"])
        assert heard[1]["colleague"] > max(0.05, 5 * heard[1]["neither"])
        assert heard[1]["agent"] < 0.01
        # each desk records its own agent on the first channel, the customer on the second
        for leg, agent in ((heard[0], "agent"), (heard[1], "colleague")):
            agent_side, customer_side = leg["channels"]
            assert agent_side[agent] > 0.3 > 0.01 > agent_side["caller"]
            assert customer_side["caller"] > 0.3 > 0.01 > customer_side[agent]

        # the review page plays both legs, in order, each named by its agent
        review = _page(cb, url)
        review.goto(f"{url}/login?next=/qa/contacts/{contact.id}")
        review.fill("input[name=username]", "sofia")
        review.fill("input[name=password]", "escucha-demo")
        review.get_by_role("button", name="Iniciar sesión").click()
        review.wait_for_url(f"{url}/qa/contacts/{contact.id}")
        legs = review.locator("[data-recording-leg]")
        assert legs.count() == 2
        assert "Ana" in legs.nth(0).inner_text()
        assert "Espera en el" in legs.nth(0).inner_text()  # the consult's hold is in Ana's leg
        assert "Luis" in legs.nth(1).inner_text()
        sources = [legs.nth(i).locator("audio").get_attribute("src") for i in range(legs.count())]
        assert sources == [f"/voice/recordings/{contact.id}/1", f"/voice/recordings/{contact.id}/2"]
        screenshot(review, "voice-08-review-two-legs")

    moved = _contact(session, contact.id)
    assert (moved.state, moved.agent_id) == ("wrap_up", luis_id)
    consult = session.scalar(select(VoiceConsult).where(VoiceConsult.contact_id == contact.id))
    assert consult is not None
    assert consult.outcome == "handed_over"
    warm = session.scalar(
        select(ContactEvent).where(
            ContactEvent.contact_id == contact.id, ContactEvent.event == "transferred"
        )
    )
    assert warm is not None
    assert warm.data["warm"] is True
    # Ana's last piece, given as the call left her desk, was kept in her leg
    assert first.updated_at >= warm.at
    assert second.started_at >= warm.at
