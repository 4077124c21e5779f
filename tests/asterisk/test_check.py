"""``escucha asterisk check`` against the ARI stand-in: what is missing, in plain words."""

from __future__ import annotations

import pytest
import typer
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from escucha.asterisk import service as pbx
from escucha.asterisk.check import check
from escucha.asterisk.consumer import AriConsumer
from escucha.cli.asterisk import register
from escucha.config import Settings
from escucha.org.models import Organisation
from tests.asterisk.standin import AriStandIn

runner = CliRunner()
GOOD = {"allow": "opus,ulaw", "webrtc": "yes"}


def _texts(session: Session, settings: Settings, level: str) -> list[str]:
    return [f.text for f in check(session, settings) if f.level == level]


def _ready(session: Session, standin: AriStandIn) -> None:
    """Every agent's endpoint with good codecs, and the trunk."""
    standin.endpoint_config = {"ana": GOOD, "luis": GOOD, "marta": GOOD}
    organisation = session.scalar(select(Organisation))
    assert organisation is not None
    organisation.pbx_trunk = "PJSIP/{number}@carrier"
    session.commit()


def test_a_bare_pbx_is_told_everything_it_lacks(
    ari_settings: Settings, standin: AriStandIn, session: Session, users: dict[str, int]
) -> None:
    standin.endpoint_config = {"ana": GOOD, "luis": {"allow": "g729", "webrtc": "no"}}
    pbx.set_agent_endpoint(session, users["marta"], "PJSIP/marta-desk")
    session.commit()
    missing = _texts(session, ari_settings, "missing")
    assert any("application 'escucha' is not registered" in t for t in missing)
    assert any("agent luis: PJSIP/luis allows none of opus" in t for t in missing)
    assert any("agent marta: endpoint PJSIP/marta-desk does not exist" in t for t in missing)
    assert any("the organisation has no trunk" in t for t in missing)
    ok = _texts(session, ari_settings, "ok")
    assert any("ARI reachable, Asterisk 22.5.0" in t for t in ok)
    assert any("agent ana: codecs opus, ulaw" in t for t in ok)


def test_wrong_credentials_and_an_unreachable_pbx_are_named(
    ari_settings: Settings, standin: AriStandIn, session: Session, users: dict[str, int]
) -> None:
    wrong = ari_settings.model_copy(update={"ari_password": "not-it"})
    assert any("ARI refused user 'escucha'" in t for t in _texts(session, wrong, "missing"))
    away = ari_settings.model_copy(update={"ari_url": "http://127.0.0.1:9/ari"})
    assert any("ARI is not reachable" in t for t in _texts(session, away, "missing"))
    unset = ari_settings.model_copy(update={"ari_url": ""})
    assert _texts(session, unset, "missing")[0].startswith("ESCUCHA_ARI_URL is not set")


def test_the_command_exits_1_until_the_pbx_is_ready_then_0(
    ari_settings: Settings,
    standin: AriStandIn,
    session: Session,
    users: dict[str, int],
    node: AriConsumer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in {
        "ESCUCHA_DATABASE_URL": ari_settings.database_url,
        "ESCUCHA_ARI_URL": ari_settings.ari_url,
        "ESCUCHA_ARI_USER": ari_settings.ari_user,
        "ESCUCHA_ARI_PASSWORD": ari_settings.ari_password,
        "ESCUCHA_BASE_URL": "https://escucha.example.org",
    }.items():
        monkeypatch.setenv(key, value)
    root = typer.Typer()
    register(root)
    first = runner.invoke(root, ["asterisk", "check"])
    assert first.exit_code == 1
    assert "MISSING the organisation has no trunk" in first.output
    _ready(session, standin)
    ready = runner.invoke(root, ["asterisk", "check"])
    assert ready.exit_code == 0, ready.output
    assert "ok      application 'escucha' registered" in ready.output
    assert "warning agent marta: PJSIP/marta exists but is offline" in ready.output
    assert "the PBX has everything escucha needs" in ready.output
