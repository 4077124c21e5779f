"""Real calls with sound between two Chromiums through a real server (W1, C1; ADR 16).

The caller's Chromium plays a 440 Hz tone as its microphone and the agent's a 660 Hz tone, each
from its own WAV (Chromium's fake capture device). What each page receives is measured in the
page: the far end's stream, attached to an ``<audio>`` element, goes through a WebAudio
``AnalyserNode``; the test reads the share of energy at the expected frequency. Nothing is
timed: each check waits for the sound (or its absence) to be there.
"""

from __future__ import annotations

import base64
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha.config import Settings
from escucha.contacts.models import Contact, ContactEvent
from escucha.org import service as org_service
from escucha.routing.models import AgentStatus
from escucha.voice import rules as voice_rules
from escucha.voice.models import AgentDesk, VoiceLeg, VoiceRecording
from tests.conftest import START
from tests.system.conftest import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    free_port,
    screenshot,
    server_env,
    start_server,
    stop,
    wait_ready,
)
from tests.system.test_browser_desk import _demo_open_around_the_clock

pytestmark = [pytest.mark.system, pytest.mark.browser]

TIMEOUT_MS = 20_000
CALLER_HZ, AGENT_HZ = 440.0, 660.0
#: What one page hears of the other: the share of energy within 25 Hz of the expected tone.
HEARD = 0.6

#: Measure what arrives: ``{share, power}`` at ``target`` Hz over 100-4000 Hz, on the remote
#: stream the page plays (``EscuchaVoice.state.remote``), averaged over five analyser frames.
ANALYSE = """
async ([target, source]) => {
  const V = window.EscuchaVoice;
  const stream = source === "remote" ? (V && V.state && V.state.remote) : null;
  if (!stream || !stream.getAudioTracks().length) { return null; }
  const ac = new AudioContext();
  await ac.resume();
  const src = ac.createMediaStreamSource(stream);
  const an = ac.createAnalyser();
  an.fftSize = 8192;
  an.smoothingTimeConstant = 0;
  src.connect(an);
  await new Promise((r) => setTimeout(r, 300));
  const bins = new Float32Array(an.frequencyBinCount);
  const acc = new Float64Array(an.frequencyBinCount);
  for (let k = 0; k < 5; k++) {
    an.getFloatFrequencyData(bins);
    for (let i = 0; i < bins.length; i++) {
      if (isFinite(bins[i])) { acc[i] += Math.pow(10, bins[i] / 10); }
    }
    await new Promise((r) => setTimeout(r, 120));
  }
  const hz = ac.sampleRate / an.fftSize;
  let total = 0, at = 0;
  for (let i = 0; i < acc.length; i++) {
    const f = i * hz;
    if (f < 100 || f > 4000) { continue; }
    total += acc[i];
    if (Math.abs(f - target) <= 25) { at += acc[i]; }
  }
  src.disconnect();
  await ac.close();
  return { share: total > 0 ? at / total : 0, power: at / 5, total: total / 5 };
}
"""


#: Decode a recording in the page and measure each tone's share of its energy (Goertzel): on
#: the channels mixed, and on each channel (the agent's first, the customer's second).
DECODE = """
async (b64) => {
  const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const ac = new AudioContext();
  const buf = await ac.decodeAudioData(bin.buffer);
  const sr = buf.sampleRate;
  const chans = [];
  for (let c = 0; c < buf.numberOfChannels; c++) { chans.push(buf.getChannelData(c)); }
  const mix = new Float32Array(buf.length);
  for (const y of chans) { for (let i = 0; i < y.length; i++) { mix[i] += y[i] / chans.length; } }
  // frames of 20 ms (50 Hz wide): a tone a few hertz off after the codec is still found
  const frame = Math.round(sr / 50);
  const power = (x, f) => {
    const k = 2 * Math.cos(2 * Math.PI * f / sr);
    let total = 0;
    for (let start = 0; start + frame <= x.length; start += frame) {
      let s1 = 0, s2 = 0;
      for (let i = start; i < start + frame; i++) {
        const s0 = x[i] + k * s1 - s2;
        s2 = s1;
        s1 = s0;
      }
      total += (s1 * s1 + s2 * s2 - k * s1 * s2) / frame;
    }
    return total;
  };
  const shares = (x) => {
    let energy = 0;
    for (let i = 0; i < x.length; i++) { energy += x[i] * x[i]; }
    energy = Math.max(energy, 1e-12);
    return {
      caller: 2 * power(x, 440) / energy,
      agent: 2 * power(x, 660) / energy,
      colleague: 2 * power(x, 880) / energy,
      neither: 2 * power(x, 550) / energy,
    };
  };
  await ac.close();
  return { seconds: buf.duration, ...shares(mix), channels: chans.map(shares) };
}
"""


def recorded_tones(page: Any, settings: Settings, rec: VoiceRecording) -> dict[str, Any]:
    """Each tone's share of a recorded leg's energy: its pieces joined, decoded in ``page``;
    ``channels`` has the same shares for each channel."""
    folder = settings.outbox_dir.parent / "recordings" / str(rec.contact_id)
    data = b"".join(
        (folder / voice_rules.piece_name(rec.leg, i)).read_bytes() for i in range(rec.chunks)
    )
    assert len(data) == rec.bytes
    found: dict[str, Any] = page.evaluate(DECODE, base64.b64encode(data).decode())
    return found


def figure(line: str) -> None:
    """A measured figure, appended to ``test-artifacts/voice-figures.txt`` with the load."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    with (ARTIFACTS / "voice-figures.txt").open("a", encoding="utf-8") as fh:
        fh.write(f"{line} (load average {load})\n")


def tone_wav(path: Path, hz: float, seconds: float = 6.0, rate: int = 48_000) -> Path:
    """A mono 16-bit WAV of a pure tone (Chromium loops it as the microphone)."""
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.5 * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


@pytest.fixture
def demo_open(session: Session, tmp_path: Path) -> None:
    org_service.apply_file(session, _demo_open_around_the_clock(tmp_path), now=START)
    session.commit()


@pytest.fixture
def recording_server(settings: Settings, tmp_path: Path) -> Iterator[LiveServer]:
    """``escucha serve`` (with its worker) recording web calls."""
    port = free_port()
    env = server_env(settings, port, ESCUCHA_RECORD_CALLS="1")
    log = tmp_path / "server.log"
    process = start_server(env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, log)
        yield LiveServer(url, process, env, log)
    finally:
        stop(process)


@pytest.fixture
def playwright() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (run `make test` as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@contextmanager
def chromium(playwright: Any, wav: Path, *, loopback: bool = True) -> Iterator[Any]:
    """One Chromium process whose microphone plays ``wav``. ``loopback=False`` leaves out
    ``--allow-loopback-in-peer-connection`` (baresip stays silent with it: DTLS on two pairs)."""
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}",
            "--autoplay-policy=no-user-gesture-required",
            *(["--allow-loopback-in-peer-connection"] if loopback else []),
        ],
    )
    try:
        yield browser
    finally:
        browser.close()


PAGES: list[Any] = []


def _page(browser: Any, url: str) -> Any:
    context = browser.new_context(locale="es-ES", viewport={"width": 1100, "height": 900})
    context.grant_permissions(["microphone"], origin=url)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    logs: list[str] = []
    page.on("console", lambda m: logs.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: logs.append(f"error: {e}"))
    page.escucha_logs = logs
    PAGES.append(page)
    return page


def hear(page: Any, hz: float) -> dict[str, float] | None:
    found: dict[str, float] | None = page.evaluate(ANALYSE, [hz, "remote"])
    return found


def wait_heard(
    page: Any, hz: float, *, heard: bool = True, timeout_s: float = 20.0
) -> dict[str, float]:
    """Wait until ``page`` hears ``hz`` (or, ``heard=False``, until it no longer does)."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, float] | None = None
    while time.monotonic() < deadline:
        last = hear(page, hz)
        if last is not None and (last["share"] >= HEARD) == heard:
            return last
        page.wait_for_timeout(200)
    status = page.locator("[data-sp-status], [data-voice-status]").first.inner_text()
    status += " " + str(
        page.evaluate(
            "() => { const c = window.EscuchaVoice.state.call; const pc = c && c.pc();"
            " return pc ? [pc.signalingState, pc.iceConnectionState, pc.connectionState,"
            " pc.localDescription && pc.localDescription.sdp.split('a=candidate').length - 1,"
            " pc.remoteDescription && pc.remoteDescription.sdp.split('a=candidate').length - 1]"
            " : null; }"
        )
    )
    logs = "\n---\n".join("\n".join(p.escucha_logs[-20:]) for p in PAGES)
    raise AssertionError(
        f"{'never heard' if heard else 'still heard'} {hz} Hz: {last}; {status!r}\n{logs}"
    )


def _contact(session: Session, contact_id: int) -> Contact:
    session.expire_all()
    contact = session.get(Contact, contact_id)
    assert contact is not None
    return contact


def _wait(check: Any, timeout_s: float = 15.0, what: str = "") -> float:
    """Seconds until ``check()`` is true."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if check():
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout_s}s: {what}")


def _dial(page: Any, url: str, digit: str = "2") -> None:
    page.goto(f"{url}/phone")
    page.fill("input[name=number]", "600 555 321")
    page.get_by_role("button", name="Llamar a").click()
    page.locator(".phone-keypad").get_by_role("button", name=digit, exact=True).click()
    page.locator("#phone.phase-queue").wait_for()


def _log_in(page: Any, url: str, user: str) -> None:
    page.goto(f"{url}/login?next=/agent")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", "escucha-demo")
    page.get_by_role("button", name="Iniciar sesión").click()
    page.wait_for_url(f"{url}/agent")


def _web_contact(session: Session) -> Contact:
    session.expire_all()
    contact = session.scalar(
        select(Contact)
        .join(VoiceLeg, VoiceLeg.contact_id == Contact.id)
        .where(VoiceLeg.side == "caller")
        .order_by(Contact.id.desc())
        .limit(1)
    )
    assert contact is not None
    return contact


def _talking(caller: Any, agent: Any, url: str, session: Session) -> Contact:
    """The caller dials and waits in line; Ana answers on her desk."""
    _dial(caller, url)
    contact = _web_contact(session)
    assert (contact.state, contact.queue) == ("queued", "facturas")  # key 2 reached the IVR
    assert contact.ivr_path == [{"node": "main", "key": "2"}]
    _log_in(agent, url, "ana")
    agent.get_by_role("button", name="Disponible").click()
    agent.locator("section.contact").get_by_role("button", name="Atender").click()
    agent.locator("section.contact.contact-connected").wait_for()
    return contact


def test_the_caller_and_the_agent_hear_each_other_hold_and_mute_silence_the_agent(
    demo_open: None,
    recording_server: LiveServer,
    playwright: Any,
    tmp_path: Path,
    session: Session,
    settings: Settings,
) -> None:
    url = recording_server.url
    caller_wav = tone_wav(tmp_path / "caller-440.wav", CALLER_HZ)
    agent_wav = tone_wav(tmp_path / "agent-660.wav", AGENT_HZ)
    with chromium(playwright, caller_wav) as cb, chromium(playwright, agent_wav) as ab:
        caller, agent = _page(cb, url), _page(ab, url)
        contact = _talking(caller, agent, url, session)

        # each side hears the other's tone, and not its own
        at_agent = wait_heard(agent, CALLER_HZ)
        at_caller = wait_heard(caller, AGENT_HZ)
        assert (hear(agent, AGENT_HZ) or {"share": 1})["share"] < 0.1
        assert (hear(caller, CALLER_HZ) or {"share": 1})["share"] < 0.1
        caller.locator("[data-voice-status]").get_by_text("Está hablando").wait_for()
        assert "persona" not in caller.locator("#phone").inner_text()  # only what is true now
        screenshot(agent, "voice-01-agent-talking")
        screenshot(caller, "voice-02-caller-talking")

        # hold: the caller hears the hold music instead of the agent; the agent still hears them
        agent.get_by_label("Se lo he dicho al cliente", exact=True).check()
        agent.locator("section.contact").get_by_role("button", name="Poner en espera").click()
        agent.locator("section.contact.contact-on_hold").wait_for()
        on_hold = wait_heard(caller, AGENT_HZ, heard=False)
        assert on_hold["total"] > at_caller["total"] * 1e-3  # music, not silence
        wait_heard(agent, CALLER_HZ)
        screenshot(agent, "voice-03-agent-hold")
        agent.locator("section.contact").get_by_role("button", name="Reanudar").click()
        agent.locator("section.contact.contact-connected").wait_for()
        wait_heard(caller, AGENT_HZ)

        # mute: what reaches the caller at 660 Hz falls by more than 30 dB
        agent.get_by_role("button", name="Silenciar").click()
        deadline = time.monotonic() + 15
        muted = hear(caller, AGENT_HZ)
        while muted is not None and muted["power"] > at_caller["power"] * 1e-3:
            assert time.monotonic() < deadline, f"still heard when muted: {muted}"
            caller.wait_for_timeout(200)
            muted = hear(caller, AGENT_HZ)
        agent.get_by_role("button", name="Activar micrófono").click()
        wait_heard(caller, AGENT_HZ)
        assert at_agent["share"] >= HEARD
        figure(f"share heard: agent {at_agent['share']:.3f}, caller {at_caller['share']:.3f}")

        # the agent ends the call: the caller's sound stops and the page says so
        agent.locator("section.contact").get_by_role("button", name="Terminar la llamada").click()
        caller.locator("#phone.phase-ended").wait_for()
        assert _contact(session, contact.id).state == "wrap_up"

        # the recording, made in the desk and sent in pieces, holds both tones
        agent.evaluate("() => window.EscuchaVoice.recorded")
        rec = session.scalar(select(VoiceRecording).where(VoiceRecording.contact_id == contact.id))
        assert rec is not None
        assert rec.chunks >= 2  # pieces of 5 s, sent while the call went on
        heard = recorded_tones(caller, settings, rec)
        figure(
            f"recording: {heard['seconds']:.1f} s, caller tone {heard['caller']:.2f}, "
            f"agent tone {heard['agent']:.2f}, 550 Hz {heard['neither']:.4f} of its energy"
        )
        # each tone stands well above a frequency nobody played as a tone (the spoken hold
        # message puts some speech there)
        assert heard["caller"] > max(0.05, 5 * heard["neither"])
        assert heard["agent"] > max(0.05, 5 * heard["neither"])
        # two channels, as contact centers record: the agent first, the customer second
        agent_side, customer_side = heard["channels"]
        figure(
            f"recording by channel: agent's has agent {agent_side['agent']:.2f} caller "
            f"{agent_side['caller']:.4f}; customer's has caller {customer_side['caller']:.2f} "
            f"agent {customer_side['agent']:.4f}"
        )
        assert agent_side["agent"] > 0.3 > 0.01 > agent_side["caller"]
        assert customer_side["caller"] > 0.3 > 0.01 > customer_side["agent"]


def test_a_caller_page_reloaded_mid_call_is_recorded_on_in_a_new_leg(
    demo_open: None,
    recording_server: LiveServer,
    playwright: Any,
    tmp_path: Path,
    session: Session,
    settings: Settings,
) -> None:
    """The desk's recorder follows the connection: a reload of the caller's page brings a new
    one, and the desk records it as the call's next leg instead of the old, silent stream."""
    url = recording_server.url
    caller_wav = tone_wav(tmp_path / "caller-440.wav", CALLER_HZ)
    agent_wav = tone_wav(tmp_path / "agent-660.wav", AGENT_HZ)

    def legs() -> list[VoiceRecording]:
        session.expire_all()
        return list(
            session.scalars(
                select(VoiceRecording)
                .where(VoiceRecording.contact_id == contact.id)
                .order_by(VoiceRecording.leg)
            )
        )

    with chromium(playwright, caller_wav) as cb, chromium(playwright, agent_wav) as ab:
        caller, agent = _page(cb, url), _page(ab, url)
        contact = _talking(caller, agent, url, session)
        wait_heard(agent, CALLER_HZ)
        _wait(lambda: [r.chunks >= 1 for r in legs()] == [True], 20, "a piece of the first leg")
        caller.reload()
        _wait(lambda: [r.chunks >= 1 for r in legs()] == [True, True], 30, "the second leg")
        wait_heard(agent, CALLER_HZ)
        agent.locator("section.contact").get_by_role("button", name="Terminar la llamada").click()
        agent.evaluate("() => window.EscuchaVoice.recorded")
    first, second = legs()
    assert first.user_id == second.user_id == contact.agent_id
    with chromium(playwright, caller_wav) as cb:
        heard = recorded_tones(_page(cb, url), settings, second)
    figure(
        f"recording after the caller's page reloaded: second leg {heard['seconds']:.1f} s, "
        f"caller tone {heard['caller']:.2f}, agent tone {heard['agent']:.2f}, "
        f"550 Hz {heard['neither']:.4f}"
    )
    assert heard["caller"] > max(0.05, 5 * heard["neither"])
    assert heard["agent"] > max(0.05, 5 * heard["neither"])


def test_a_closed_caller_tab_is_an_abandon_within_10_s_and_is_never_offered(
    demo_open: None, live_server: LiveServer, playwright: Any, tmp_path: Path, session: Session
) -> None:
    url = live_server.url
    caller_wav = tone_wav(tmp_path / "caller-440.wav", CALLER_HZ)
    with chromium(playwright, caller_wav) as cb:
        caller = _page(cb, url)
        _dial(caller, url)
        contact = _web_contact(session)
        caller.context.close()  # the tab (and its window) closed
        closed = time.monotonic()
    _wait(lambda: _contact(session, contact.id).state == "abandoned", 10, "abandoned")
    noticed_s = time.monotonic() - closed
    ended = _contact(session, contact.id).ended_at
    assert ended is not None
    events = [
        e.event
        for e in session.scalars(select(ContactEvent).where(ContactEvent.contact_id == contact.id))
    ]
    assert "offered" not in events
    assert "answered" not in events
    figure(f"closed caller tab noticed in {noticed_s:.1f} s")
    assert noticed_s < 10


def test_an_agent_tab_closed_mid_call_puts_the_caller_back_at_the_head_of_the_line(
    demo_open: None, live_server: LiveServer, playwright: Any, tmp_path: Path, session: Session
) -> None:
    url = live_server.url
    caller_wav = tone_wav(tmp_path / "caller-440.wav", CALLER_HZ)
    agent_wav = tone_wav(tmp_path / "agent-660.wav", AGENT_HZ)
    with chromium(playwright, caller_wav) as cb:
        caller = _page(cb, url)
        with chromium(playwright, agent_wav) as ab:
            agent = _page(ab, url)
            contact = _talking(caller, agent, url, session)
            wait_heard(caller, AGENT_HZ)
        gone = time.monotonic()  # the agent's browser is closed
        _wait(lambda: _contact(session, contact.id).state == "queued", 20, "back in line")
        back_s = time.monotonic() - gone
        caller.locator("#phone.phase-queue").wait_for()
        caller.locator("[data-voice-status]").get_by_text("vuelve a estar el primero").wait_for()
        screenshot(caller, "voice-04-caller-agent-lost")
    again = _contact(session, contact.id)
    assert again.priority >= 5
    assert again.agent_id is None
    note = session.scalar(
        select(ContactEvent)
        .where(ContactEvent.contact_id == contact.id, ContactEvent.event == "transferred")
        .limit(1)
    )
    assert note is not None
    assert "conexión con el agente" in note.data["note"]
    status = session.get(AgentStatus, _ana_id(session))
    assert status is not None
    assert status.state == "offline"
    figure(f"caller back in line {back_s:.1f} s after the agent's browser closed")
    assert back_s < 20


def _ana_id(session: Session) -> int:
    from escucha.auth.models import User

    uid = session.scalar(select(User.id).where(User.username == "ana"))
    assert uid is not None
    return uid


def test_an_open_desk_is_kept_alive_by_its_stream_and_beats_only_on_a_change(
    demo_open: None, live_server: LiveServer, playwright: Any, tmp_path: Path, session: Session
) -> None:
    """#17: the desk's softphone stream keeps it alive on the server; the page beats when the
    microphone's test changes, never every 2 s."""
    agent_wav = tone_wav(tmp_path / "agent-660.wav", AGENT_HZ)
    with chromium(playwright, agent_wav) as ab:
        agent = _page(ab, live_server.url)
        beats: list[float] = []
        agent.on(
            "request",
            lambda r: beats.append(time.monotonic()) if r.url.endswith("/agent/voice/beat") else 0,
        )
        _log_in(agent, live_server.url, "ana")
        agent.get_by_role("button", name="Disponible").click()  # tests the microphone first
        _wait(lambda: len(beats) >= 1, 15, "the opening beat")
        time.sleep(3.0)  # the microphone's test (1.5 s) and its beat, when its result changed
        opened = time.monotonic()
        time.sleep(3 * voice_rules.AGENT_CALL_GRACE_S / 2)
        quiet = [t for t in beats if t > opened]

        def marked_s() -> float:
            session.expire_all()
            desk = session.get(AgentDesk, _ana_id(session))
            assert desk is not None
            return (datetime.now(UTC) - desk.last_seen_at.replace(tzinfo=UTC)).total_seconds()

        fresh = marked_s()
    status = session.get(AgentStatus, _ana_id(session))
    assert status is not None
    assert status.state == "available"
    figure(
        f"open desk: {len(beats) - len(quiet)} beats opening, {len(quiet)} in the next 12 s; "
        f"last marked alive {fresh:.1f} s before"
    )
    assert quiet == []  # nothing changed: no beat
    assert fresh < voice_rules.AGENT_CALL_GRACE_S  # marked alive by its open stream
