"""The desk's SIP phone with real SIP software (#18, ADR 23).

Kamailio (Debian, with its WebSocket module) stands in for the PBX as registrar and proxy on
loopback; baresip is the far end of the call (its microphone a 440 Hz WAV, what it receives
written to a WAV); the agent's desk runs in Debian's Chromium, its microphone a 660 Hz WAV.
The desk registers with the account escucha keeps for Ana, baresip calls her, the desk answers
by itself and both ends hear the other's tone (FFT of what baresip recorded, WebAudio analysis
of what the page receives). Keys go out as RTP events; mute silences the agent. Hold is
escucha's, on the PBX (ADR 30: the customer leaves the bridge for music on hold over ARI), so
the phone sends no re-INVITE: the call through Kamailio keeps its one INVITE and its sound both
ways while held (baresip 1.0, which restarts DTLS on a re-INVITE, stays in the call). Nothing is
timed: each step waits, bounded, for what it expects.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from escucha.auth.models import User
from escucha.config import Settings
from escucha.routing.models import AgentStatus
from escucha.voice.models import SipAccount
from tests.factories import make_sip_account
from tests.system import siptools
from tests.system.conftest import LiveServer, running_server
from tests.system.test_browser_voice import (
    PAGES,
    _log_in,
    _page,
    _wait,
    chromium,
    demo_open,  # noqa: F401  (a fixture)
    figure,
    hear,
    playwright,  # noqa: F401  (a fixture)
    screenshot,
    wait_heard,
)

pytestmark = [pytest.mark.system, pytest.mark.browser]

FAR_HZ, AGENT_HZ = 440.0, 660.0
#: What baresip must hear of the agent: the share of 100-4000 Hz energy near 660 Hz.
HEARD = 0.8


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[siptools.Kamailio]:
    with siptools.kamailio(tmp_path / "kamailio") as k:
        yield k


@pytest.fixture
def sip_server(settings: Settings, tmp_path: Path, pbx: siptools.Kamailio) -> Iterator[LiveServer]:
    """``escucha serve`` whose agents' browser phones register to the Kamailio above."""
    extra = {"ESCUCHA_SIP_WS_URL": pbx.ws_url, "ESCUCHA_SIP_DOMAIN": "127.0.0.1"}
    with running_server(settings, tmp_path, **extra) as server:
        yield server


def _account(session: Session, user_id: int) -> SipAccount:
    session.expire_all()
    account = session.get(SipAccount, user_id)
    assert account is not None
    return account


def _agent_state(session: Session, user_id: int) -> str | None:
    session.expire_all()
    status = session.get(AgentStatus, user_id)
    return status.state if status is not None else None


def _sent_packets(page: Any) -> int:
    found: int = page.evaluate(
        """async () => {
          const pc = window.EscuchaVoice.phone.pc();
          if (!pc) { return -1; }
          let n = 0;
          (await pc.getStats()).forEach((s) => {
            if (s.type === "outbound-rtp" && s.kind === "audio") { n += s.packetsSent; }
          });
          return n;
        }"""
    )
    return found


def _directions(page: Any) -> list[str]:
    """The audio direction of the last negotiated local and remote descriptions."""
    found: list[str] = page.evaluate(
        """() => {
          const pc = window.EscuchaVoice.phone.pc();
          const dir = (d) => {
            const m = d && d.sdp.match(/a=(sendrecv|sendonly|recvonly|inactive)/);
            return m ? m[1] : "sendrecv";
          };
          return pc ? [dir(pc.currentLocalDescription), dir(pc.currentRemoteDescription)] : [];
        }"""
    )
    return found


def _registered_desk(browser: Any, url: str, session: Session, ana: User) -> tuple[Any, float]:
    """Ana's desk, logged in, its phone registered (and escucha told): the page and the
    seconds from log-in to registration."""
    PAGES.clear()
    page = _page(browser, url)
    started = time.monotonic()
    _log_in(page, url, "ana")
    registered = page.locator("[data-softphone][data-sip-registration=registered]")
    try:
        registered.wait_for()
    except Exception as exc:
        state = page.locator("[data-softphone]").get_attribute("data-sip-registration")
        raise AssertionError(f"not registered ({state}): {page.escucha_logs}") from exc
    registered_s = time.monotonic() - started
    page.get_by_text("Teléfono registrado").wait_for()
    _wait(
        lambda: _account(session, ana.id).registration == "registered",
        what="the desk reported its registration",
    )
    return page, registered_s


def test_the_desk_registers_to_the_pbx_answers_and_both_ends_hear_each_other(
    demo_open: None,  # noqa: F811
    session: Session,
    pbx: siptools.Kamailio,
    sip_server: LiveServer,
    playwright: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    siptools.need(siptools.BARESIP, "baresip")
    ana = session.query(User).filter_by(username="ana").one()
    make_sip_account(session, ana)
    session.commit()
    url = sip_server.url
    agent_wav = siptools.tone_wav(tmp_path / "agent-660.wav", AGENT_HZ, seconds=6, rate=48_000)
    # baresip's aufile wants the codec's rate and channels (Opus: 48 kHz stereo)
    far_wav = siptools.tone_wav(
        tmp_path / "far-440.wav", FAR_HZ, seconds=60, rate=48_000, channels=2
    )
    with chromium(playwright, agent_wav, loopback=False) as browser:
        page, registered_s = _registered_desk(browser, url, session, ana)
        # registered: the desk may go available
        page.get_by_role("button", name="Disponible").click()
        _wait(lambda: _agent_state(session, ana.id) == "available", what="Ana available")

        with siptools.baresip(
            tmp_path / "baresip", far_wav, user="customer", proxy=pbx.sip_port
        ) as far:
            dialled = time.monotonic()
            far.command("dial", "sip:ana@127.0.0.1")
            far.wait_event("CALL_ESTABLISHED")
            answered_s = time.monotonic() - dialled
            at_agent = wait_heard(page, FAR_HZ)
            heard_s = time.monotonic() - dialled
            assert (hear(page, AGENT_HZ) or {"share": 1})["share"] < 0.1  # not its own tone
            page.get_by_text("Hablando con el cliente").wait_for()
            screenshot(page, "sip-01-agent-talking")

            # a key on the desk's keypad reaches the far end as an RTP event
            page.locator("[data-sp-key='5']").click()
            far.wait_event("CALL_DTMF_END")
            assert "received event: '5'" in far.log.read_text(errors="replace")

            # the agent's tone while talking, then mute: 100 packets (2 s) of silence
            before_mute = _sent_packets(page)
            _wait(lambda: _sent_packets(page) > before_mute + 100, what="2 s sent")
            page.locator("[data-sp-mute]").click()
            muted_at = _sent_packets(page)
            _wait(lambda: _sent_packets(page) > muted_at + 100, what="2 s sent muted")

            far.command("hangup")
            far.wait_event("CALL_CLOSED")
            page.get_by_text("El sonido de la llamada ha terminado").wait_for()
            assert page.evaluate("() => window.EscuchaVoice.state.call") is None
            recorded = far.received()
            far.stop()  # the WAV's header is complete once baresip closes it

        assert recorded is not None, "baresip recorded nothing"
        samples, rate = siptools.read_pcm(recorded)
        talking, muted = siptools.last_sound(samples, rate)
        share, peak, rms_talking = siptools.tone_share(talking, rate, AGENT_HZ)
        assert share >= HEARD, (share, peak)
        assert abs(peak - AGENT_HZ) < 10
        # muted: the quiet at the end lasted the 2 s sent muted
        assert len(muted) >= 1.5 * rate, len(muted) / rate
        _, _, rms_muted = siptools.tone_share(muted, rate, AGENT_HZ)
        assert rms_talking > 0.01
        assert rms_muted < 0.1 * rms_talking, (rms_muted, rms_talking)

        # the desk closes: the registration goes, and escucha is told
        page.evaluate("() => window.EscuchaVoice.phone.unregister()")
        _wait(
            lambda: _account(session, ana.id).registration == "unregistered",
            what="the desk reported it is no longer registered",
        )
    figure(
        f"SIP desk through Kamailio: registered in {registered_s:.2f} s after log-in, "
        f"answered {answered_s:.2f} s after baresip dialled, far end's 440 Hz heard in the page "
        f"after {heard_s:.2f} s (share {at_agent['share']:.3f}); baresip heard 660 Hz with "
        f"share {share:.3f} (FFT peak {peak:.1f} Hz), muted level {rms_muted / rms_talking:.4f} "
        "of the talking level"
    )


def _invites(pbx: siptools.Kamailio) -> list[str]:
    """The Call-IDs of the INVITEs Kamailio relayed (a re-INVITE repeats its call's)."""
    return [
        line.rsplit(" ", 1)[-1]
        for line in pbx.log.read_text(errors="replace").splitlines()
        if "escucha-invite " in line
    ]


def test_hold_on_the_desk_sends_no_re_invite_and_the_call_keeps_its_sound(
    demo_open: None,  # noqa: F811
    session: Session,
    pbx: siptools.Kamailio,
    sip_server: LiveServer,
    playwright: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    siptools.need(siptools.BARESIP, "baresip")
    ana = session.query(User).filter_by(username="ana").one()
    make_sip_account(session, ana)
    session.commit()
    url = sip_server.url
    agent_wav = siptools.tone_wav(tmp_path / "agent-660.wav", AGENT_HZ, seconds=6, rate=48_000)
    far_wav = siptools.tone_wav(
        tmp_path / "far-440.wav", FAR_HZ, seconds=60, rate=48_000, channels=2
    )
    with chromium(playwright, agent_wav, loopback=False) as browser:
        page, _ = _registered_desk(browser, url, session, ana)
        with siptools.baresip(
            tmp_path / "baresip", far_wav, user="customer", proxy=pbx.sip_port
        ) as far:
            far.command("dial", "sip:ana@127.0.0.1")
            far.wait_event("CALL_ESTABLISHED")
            wait_heard(page, FAR_HZ)
            assert len(_invites(pbx)) == 1

            page.evaluate("() => window.EscuchaVoice.phone.hold(true)")
            page.get_by_text("En espera: el cliente oye la música de espera").wait_for()
            assert page.evaluate("() => window.EscuchaVoice.phone.holding()") is True
            held_at = _sent_packets(page)
            _wait(lambda: _sent_packets(page) > held_at + 100, what="2 s sent while held")
            # no re-INVITE: the descriptions stay sendrecv, the far end stays in the call
            assert _directions(page) == ["sendrecv", "sendrecv"]
            assert len(_invites(pbx)) == 1
            assert not [e for e in far.events if e.get("type") == "CALL_CLOSED"]
            wait_heard(page, FAR_HZ)

            page.evaluate("() => window.EscuchaVoice.phone.hold(false)")
            page.get_by_text("Hablando con el cliente").wait_for()
            far.command("hangup")
            far.wait_event("CALL_CLOSED")
            page.get_by_text("El sonido de la llamada ha terminado").wait_for()
            recorded = far.received()
            far.stop()
        assert recorded is not None, "baresip recorded nothing"
        samples, rate = siptools.read_pcm(recorded)
        talking, _quiet = siptools.last_sound(samples, rate)
        share, peak, _rms = siptools.tone_share(talking, rate, AGENT_HZ)
        assert share >= HEARD, (share, peak)  # the agent's sound went on through the hold


def test_an_agent_with_a_desk_phone_gets_no_browser_phone_and_may_go_available(
    demo_open: None,  # noqa: F811
    session: Session,
    sip_server: LiveServer,
    playwright: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    ana = session.query(User).filter_by(username="ana").one()
    make_sip_account(session, ana, phone="desk", username="2001")
    session.commit()
    url = sip_server.url
    agent_wav = siptools.tone_wav(tmp_path / "agent-660.wav", AGENT_HZ, seconds=2, rate=48_000)
    with chromium(playwright, agent_wav, loopback=False) as browser:
        PAGES.clear()
        page = _page(browser, url)
        _log_in(page, url, "ana")
        page.locator("[data-softphone][data-phone=desk]").wait_for()
        page.get_by_text("Sus llamadas suenan en su teléfono de mesa (2001)").wait_for()
        assert page.locator("[data-sp-mute]").is_hidden()
        assert page.locator("[data-sp-test]").is_hidden()
        assert page.evaluate("() => typeof window.JsSIP") == "undefined"  # nothing registers
        page.get_by_role("button", name="Disponible").click()
        _wait(lambda: _agent_state(session, ana.id) == "available", what="Ana available")
        screenshot(page, "sip-02-desk-phone")
