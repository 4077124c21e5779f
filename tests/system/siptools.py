"""Real SIP software from Debian for the tests: Kamailio as registrar and proxy (with its
WebSocket module), baresip as the far end of a call, sipp for load (ADR 23).

Each process gets its configuration written into the test's directory, listens on free
loopback ports and is killed when the test ends, whatever happened.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.system.conftest import free_port

KAMAILIO = "/usr/sbin/kamailio"
KAMAILIO_MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
BARESIP = "/usr/bin/baresip"
BARESIP_MODULES = Path("/usr/lib/baresip/modules")
SIPP = "/usr/bin/sipp"


def need(binary: str, package: str) -> None:
    if shutil.which(binary) is None:
        pytest.skip(f"{binary} is not installed (Debian package {package}; `make system-deps`)")


def wait_port(port: int, process: subprocess.Popen[bytes], log: Path, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"port {port} not open after {seconds} s:\n{log.read_text()[-3000:]}")


def end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# --- Kamailio -------------------------------------------------------------------------------

KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=2
tcp_children=2
listen=udp:127.0.0.1:{sip}
listen=tcp:127.0.0.1:{sip}
listen=tcp:127.0.0.1:{ws}
tcp_accept_no_cl=yes
mpath="{modules}/"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "xhttp.so"
loadmodule "websocket.so"
loadmodule "nathelper.so"
modparam("usrloc", "db_mode", 0)
modparam("nathelper|registrar", "received_avp", "$avp(RECEIVED)")
modparam("rr", "enable_double_rr", 1)

request_route {{
  if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
  if (is_method("INVITE")) {{ xlog("L_NOTICE", "escucha-invite $ci\n"); }}
  if (nat_uac_test(64)) {{
    force_rport();
    if (is_method("REGISTER")) {{ fix_nated_register(); }}
    else if (!add_contact_alias()) {{ sl_send_reply("400", "Bad contact"); exit; }}
  }}
  if (has_totag()) {{
    if (loose_route()) {{
      if ($du == "") {{ if (!handle_ruri_alias()) {{ sl_send_reply("400", "Bad alias"); exit; }} }}
      t_relay(); exit;
    }}
    # no route set (a UA that answered without Record-Route): to the address asked for
    if (!uri == myself) {{ t_relay(); exit; }}
    if (is_method("ACK")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    sl_send_reply("404", "Not here"); exit;
  }}
  if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
  if (is_method("REGISTER")) {{ if (!save("location")) {{ sl_reply_error(); }} exit; }}
  record_route();
  if (!lookup("location")) {{ sl_send_reply("404", "Not Found"); exit; }}
  t_on_reply("MANAGE_REPLY");
  if (!t_relay()) {{ sl_reply_error(); }}
  exit;
}}
onreply_route[MANAGE_REPLY] {{
  if (nat_uac_test(64)) {{ add_contact_alias(); }}
}}
event_route[xhttp:request] {{
  if ($Rp != {ws}) {{ xhttp_reply("403", "Forbidden", "", ""); exit; }}
  if ($hdr(Upgrade) =~ "websocket" && $hdr(Connection) =~ "Upgrade" && $rm =~ "GET") {{
    if (ws_handle_handshake()) {{ exit; }}
  }}
  xhttp_reply("404", "Not Found", "", "");
}}
"""


@dataclass
class Kamailio:
    sip_port: int
    ws_port: int
    log: Path

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"


@contextmanager
def kamailio(directory: Path) -> Iterator[Kamailio]:
    """A registrar and proxy on loopback: SIP on UDP/TCP, SIP over WebSocket for browsers."""
    need(KAMAILIO, "kamailio")
    if not (KAMAILIO_MODULES / "websocket.so").exists():
        pytest.skip("Kamailio's websocket module is missing (Debian kamailio-websocket-modules)")
    directory.mkdir(parents=True, exist_ok=True)
    sip, ws = free_port(), free_port()
    cfg = directory / "kamailio.cfg"
    cfg.write_text(KAMAILIO_CFG.format(sip=sip, ws=ws, modules=KAMAILIO_MODULES))
    log = directory / "kamailio.log"
    with log.open("ab") as fh:
        process = subprocess.Popen(
            [KAMAILIO, "-f", str(cfg), "-DD", "-E", "-Y", str(directory), "-m", "32", "-M", "8"],
            stdout=fh,
            stderr=fh,
            start_new_session=True,
        )
    try:
        wait_port(ws, process, log)
        wait_port(sip, process, log)
        yield Kamailio(sip, ws, log)
    finally:
        end(process)


# --- baresip ----------------------------------------------------------------------------------

BARESIP_CONFIG = """poll_method epoll
sip_listen 127.0.0.1:{sip}
audio_source aufile,{source}
audio_player aubridge,nowhere
audio_alert aubridge,nowhere
audio_srate 8000-48000
audio_channels 1
rtcp_mux yes
jitter_buffer_delay 5-10
module_path {modules}
module aufile.so
module aubridge.so
module g711.so
module opus.so
module sndfile.so
module stun.so
module ice.so
module dtls_srtp.so
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{ctrl}
snd_path {records}
ice_debug no
"""


class Baresip:
    """One baresip process driven through its ``ctrl_tcp`` module (JSON netstrings)."""

    def __init__(self, directory: Path, source_wav: Path, *, user: str, proxy: int) -> None:
        need(BARESIP, "baresip")
        self.dir = directory
        self.records = directory / "records"
        self.records.mkdir(parents=True, exist_ok=True)
        # baresip also listens on its SIP port + 1: ports apart from everything else
        self.sip_port = free_port()
        self.ctrl_port = free_port()
        (directory / "config").write_text(
            BARESIP_CONFIG.format(
                sip=self.sip_port,
                source=source_wav,
                modules=BARESIP_MODULES,
                ctrl=self.ctrl_port,
                records=self.records,
            )
        )
        (directory / "accounts").write_text(
            f'<sip:{user}@127.0.0.1>;regint=0;outbound="sip:127.0.0.1:{proxy};transport=udp";'
            "mediaenc=dtls_srtp;medianat=ice;audio_codecs=opus/48000/2,PCMU\n"
        )
        self.log = directory / "baresip.log"
        self.events: list[dict[str, Any]] = []
        self._buffer = b""
        self.process: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None

    def start(self) -> None:
        with self.log.open("ab") as fh:
            self.process = subprocess.Popen(
                [BARESIP, "-f", str(self.dir)],
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=fh,
                start_new_session=True,
            )
        wait_port(self.ctrl_port, self.process, self.log)
        self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)

    def stop(self) -> None:
        if self.sock is not None:
            self.sock.close()
        if self.process is not None:
            end(self.process)

    def command(self, command: str, params: str = "") -> None:
        assert self.sock is not None
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.sock.sendall(str(len(body)).encode() + b":" + body + b",")

    def _read(self, timeout: float) -> None:
        assert self.sock is not None
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return
        self._buffer += chunk
        while b":" in self._buffer:
            length, _, rest = self._buffer.partition(b":")
            if not length.isdigit() or len(rest) < int(length) + 1:
                return
            body, self._buffer = rest[: int(length)], rest[int(length) + 1 :]
            self.events.append(json.loads(body))

    def wait_event(self, kind: str, seconds: float = 15) -> dict[str, Any]:
        """The first event of this type (``CALL_ESTABLISHED``...), waiting at most ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get("type") == kind:
                    return event
            self._read(0.2)
        seen = [e.get("type") for e in self.events]
        raise AssertionError(
            f"no {kind} in {seconds} s; saw {seen}:\n{self.log.read_text()[-3000:]}"
        )

    def received(self) -> Path | None:
        """The WAV baresip wrote of what it received (``sndfile``: ``dump-*-dec.wav``)."""
        found = sorted(self.records.glob("dump-*-dec.wav"))
        return found[-1] if found else None


@contextmanager
def baresip(directory: Path, source_wav: Path, *, user: str, proxy: int) -> Iterator[Baresip]:
    phone = Baresip(directory, source_wav, user=user, proxy=proxy)
    try:
        phone.start()
        yield phone
    finally:
        phone.stop()


# --- sound --------------------------------------------------------------------------------------


def tone_wav(path: Path, hz: float, *, seconds: float, rate: int, channels: int = 1) -> Path:
    """A 16-bit WAV of a pure tone (baresip's ``aufile`` wants 48 kHz stereo for Opus)."""
    t = np.arange(int(seconds * rate)) / rate
    mono = (0.5 * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2")
    samples = np.repeat(mono, channels)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


def read_pcm(path: Path) -> tuple[np.ndarray[Any, Any], int]:
    """Samples of a 16-bit WAV still being written (its header's length may not be set)."""
    raw = path.read_bytes()
    with wave.open(str(path), "rb") as w:
        rate, channels = w.getframerate(), w.getnchannels()
    data = raw.find(b"data")
    body = raw[data + 8 :] if data >= 0 else raw[44:]
    body = body[: len(body) // (2 * channels) * 2 * channels]
    samples = np.frombuffer(body, dtype="<i2").astype(np.float64)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples / 32768.0, rate


def tone_share(samples: np.ndarray[Any, Any], rate: int, hz: float) -> tuple[float, float, float]:
    """(share of 100-4000 Hz energy within 25 Hz of ``hz``, the FFT's peak frequency, RMS)."""
    if len(samples) < rate // 10:
        return 0.0, 0.0, 0.0
    windowed = samples * np.hanning(len(samples))
    power = np.abs(np.fft.rfft(windowed)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    band = (freqs >= 100) & (freqs <= 4000)
    total = float(power[band].sum())
    at = float(power[band & (np.abs(freqs - hz) <= 25)].sum())
    peak = float(freqs[band][int(np.argmax(power[band]))]) if total > 0 else 0.0
    rms = float(np.sqrt(np.mean(samples**2)))
    return (at / total if total > 0 else 0.0), peak, rms


def last_sound(
    samples: np.ndarray[Any, Any], rate: int, *, seconds: float = 2.0, quiet: float = 0.003
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The quiet at the end of a recording (100 ms frames under ``quiet`` RMS, about -50 dBFS)
    and the ``seconds`` of sound before it. (The browser's automatic gain control lowers a
    steady tone within seconds: levels are compared with the sound just before, not the start.)
    """
    frame = rate // 10
    n = len(samples) // frame
    levels = np.sqrt(np.mean(samples[: n * frame].reshape(n, frame) ** 2, axis=1))
    last = n
    while last > 0 and levels[last - 1] < quiet:
        last -= 1
    start = max(0, last - int(seconds * 10))
    # the frame where the sound stops is half sound: the quiet counts from the next one
    return samples[start * frame : (last - 1) * frame], samples[(last + 1) * frame :]
