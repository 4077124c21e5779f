"""A prompt recorded in the IVR editor is what calls hear: the PBX plays the recording's URI
(8 kHz, served by escucha), not the synthesised voice; the browser phone plays it too; a bad
file is refused with the reason, a text that changes from call to call cannot be recorded, and
a text changed since is said by the voice again."""

from __future__ import annotations

import io
import re
import wave

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from escucha.asterisk import service as pbx
from escucha.asterisk.consumer import speaker
from escucha.config import Settings
from escucha.ivr import audio
from tests.asterisk.conftest import NodeFactory, wait_until
from tests.asterisk.standin import AriStandIn
from tests.conftest import csrf_from, login

pytestmark = pytest.mark.skipif(
    audio.shutil.which(audio.ESPEAK) is None, reason="espeak-ng (Debian) speaks the others"
)

TONE_HZ = 1000.0


def _tone(hz: float, *, seconds: float = 1.0, rate: int = 16_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.4 * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


def _wav_of(pcm: bytes, rate: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


def _peak_hz(data: bytes) -> tuple[float, int]:
    with wave.open(io.BytesIO(data)) as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))]), rate


def _menu_field(page: str) -> tuple[str, str]:
    """The main menu's Spanish prompt in the editor's list: its field name and text."""
    found = re.search(
        r'<span lang="es">(Para una fuga[^<]*)</span>.*?action="/ivr/recorded/([^"/]+)"',
        page,
        re.S,
    )
    assert found, "no recordable main menu prompt"
    return found.group(2), found.group(1)


def _upload(client: TestClient, name: str, data: bytes) -> object:
    token = csrf_from(client.get("/ivr").text)
    return client.post(
        f"/ivr/recorded/{name}",
        data={"csrf_token": token},
        files={"file": ("saludo.wav", data, "audio/wav")},
        follow_redirects=False,
    )


def test_the_pbx_plays_the_recorded_prompt_not_the_voice(
    make_node: NodeFactory,
    ari_settings: Settings,
    standin: AriStandIn,
    client: TestClient,
    app: FastAPI,
    session: Session,
    users: dict[str, int],
) -> None:
    assert login(client, "sofia", "escucha-demo").status_code == 303
    page = client.get("/ivr").text
    assert "Voz sintética" in page
    # the greeting changes with the hour ({greeting}): the voice says it, no upload offered
    assert "Este texto cambia de una llamada a otra" in page
    name, text = _menu_field(page)
    # a bad file is refused with the reason
    refused = _upload(client, name, b"RIFF not a wav")
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "WAV" in refused.text  # type: ignore[attr-defined]
    kept = _upload(client, name, _tone(TONE_HZ))
    assert kept.status_code == 303  # type: ignore[attr-defined]
    page = client.get("/ivr?recorded=1").text
    assert "Grabación guardada" in page
    assert 'data-recorded="yes"' in page
    listened = client.get(f"/ivr/recorded/{name}.wav")
    assert _peak_hz(listened.content)[0] == pytest.approx(TONE_HZ, abs=2)

    node = make_node("recorded", speak=speaker(ari_settings))
    wait_until(node.connected.is_set)
    cid = standin.call_in()
    wait_until(lambda: len(standin.calls("POST", f"/channels/{cid}/play")) >= 2, what="the prompts")
    played = [p["media"] for p in standin.calls("POST", f"/channels/{cid}/play")]
    prefix = f"sound:{ari_settings.public_url}/telephony/asterisk/audio/"
    assert all(m.startswith(prefix) for m in played)
    menu = client.get(f"/telephony/asterisk/audio/{played[1].removeprefix(prefix)}")
    assert menu.status_code == 200
    assert _peak_hz(menu.content) == (pytest.approx(TONE_HZ, abs=2), 8000)
    recorded_menu = pbx.render_prompt(text, "es", ari_settings)
    assert played[1] == pbx.prompt_media(recorded_menu, ari_settings)
    # the greeting before it has no recording: the voice says it
    greeting = client.get(f"/telephony/asterisk/audio/{played[0].removeprefix(prefix)}")
    assert _peak_hz(greeting.content)[0] != pytest.approx(TONE_HZ, abs=20)
    standin.hangup(cid)

    # a recording of the text, not of the place: changed text, the voice says it again
    assert audio.recorded(text, "es", audio.recorded_dir(ari_settings)) is not None
    voiced = pbx.render_prompt(text + " Bienvenido.", "es", ari_settings)
    assert _peak_hz(voiced.path.read_bytes())[0] != pytest.approx(TONE_HZ, abs=20)
    # the browser phone plays it too: the greeting spoken, then the recorded menu
    with TestClient(app) as phone:
        token = csrf_from(phone.get("/phone").text)
        dialled = phone.post(
            "/phone/dial",
            data={"number": "600111222", "language": "es"},
            headers={"HX-Request": "true", "X-CSRF-Token": token},
        )
        found = re.search(r'src="(/phone/audio/[0-9a-f]{32}\.wav)"', dialled.text)
        assert found, dialled.text
        heard = phone.get(found.group(1)).content
    with wave.open(io.BytesIO(heard)) as w:
        rate = w.getframerate()
        tail = w.readframes(w.getnframes())[-2 * rate :]  # its last second
    assert _peak_hz(_wav_of(tail, rate))[0] == pytest.approx(TONE_HZ, abs=2)
    # back to the voice
    token = csrf_from(client.get("/ivr").text)
    back = client.post(
        f"/ivr/recorded/{name}/forget", data={"csrf_token": token}, follow_redirects=False
    )
    assert back.status_code == 303
    assert audio.recorded(text, "es", audio.recorded_dir(ari_settings)) is None
