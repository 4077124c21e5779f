"""Prompts as audio a PBX plays, and the organisation's PBX settings in its YAML."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha import yamlio
from escucha.asterisk import service as pbx
from escucha.config import Settings
from escucha.org import service as org_service
from escucha.org.models import AgentProfile, Organisation
from tests.factories import START

DEMO = Path(__file__).resolve().parents[2] / "src" / "escucha" / "org" / "demo.yaml"


def test_a_prompt_is_rendered_as_8khz_wav_and_served_to_the_pbx(
    settings: Settings, client: TestClient
) -> None:
    prompt = pbx.render_prompt("Su tiempo de espera es de menos de 4 minutos.", "es", settings)
    media = pbx.prompt_media(prompt, settings)
    assert media == f"sound:{settings.public_url}/telephony/asterisk/audio/{prompt.name}"
    again = pbx.render_prompt("Su tiempo de espera es de menos de 4 minutos.", "es", settings)
    assert again.path == prompt.path  # cached
    r = client.get(f"/telephony/asterisk/audio/{prompt.name}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(r.content)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        seconds = w.getnframes() / 8000
    assert seconds == pytest.approx(prompt.duration_s, abs=0.05)
    assert client.get("/telephony/asterisk/audio/../../etc.wav").status_code == 404
    assert client.get(f"/telephony/asterisk/audio/{'0' * 32}.wav").status_code == 404


def test_the_org_yaml_carries_the_trunk_and_agents_endpoints(session: Session) -> None:
    text = DEMO.read_text(encoding="utf-8")
    text = text.replace(
        "    skills: {facturas: 3, averias: 1, ingles: 2}\n",
        "    skills: {facturas: 3, averias: 1, ingles: 2}\n    pbx_endpoint: SIP/200\n",
    )
    text += "\npbx:\n  trunk: PJSIP/{number}@carrier\n"
    org, _doc = org_service.parse_org(text, "org.yaml")
    org_service.apply_org(session, org, now=START)
    session.flush()
    organisation = session.scalar(select(Organisation))
    assert organisation is not None
    assert organisation.pbx_trunk == "PJSIP/{number}@carrier"
    endpoints = pbx.agent_endpoints(session)
    assert endpoints["ana"] == "SIP/200"
    assert endpoints["luis"] == "PJSIP/luis"
    exported = org_service.export_org(session)
    assert exported["pbx"] == {"trunk": "PJSIP/{number}@carrier"}
    ana = next(u for u in exported["users"] if u["username"] == "ana")
    assert ana["pbx_endpoint"] == "SIP/200"
    profile = session.scalar(select(AgentProfile).where(AgentProfile.pbx_endpoint != ""))
    assert profile is not None


def test_a_bad_trunk_is_refused_with_where_and_why() -> None:
    text = DEMO.read_text(encoding="utf-8") + "\npbx:\n  trunk: PJSIP/carrier\n"
    with pytest.raises(yamlio.YamlFileError) as err:
        org_service.parse_org(text, "org.yaml")
    assert "pbx.trunk" in str(err.value)
    assert "must be an endpoint with one {number}" in str(err.value)
