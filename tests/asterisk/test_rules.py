"""The pure parts: ARI addresses, endpoint and trunk templates, causes, backoff, codecs, AMI."""

from __future__ import annotations

import pytest

from escucha.asterisk import rules as A
from escucha.config import load_settings
from escucha.errors import ConfigurationError


def test_the_events_address_follows_the_ari_address() -> None:
    assert (
        A.events_url("https://pbx.example.org:8089/ari/", "escucha")
        == "wss://pbx.example.org:8089/ari/events?app=escucha&subscribeAll=false"
    )
    assert A.events_url("http://10.0.0.5:8088/ari", "a b").startswith("ws://10.0.0.5:8088/ari/")
    with pytest.raises(A.TemplateError, match="not an http"):
        A.events_url("pbx.example.org:8088", "escucha")


def test_settings_refuse_an_ari_address_that_is_not_http() -> None:
    with pytest.raises(ConfigurationError, match="ESCUCHA_ARI_URL"):
        load_settings(ari_url="pbx.example.org:8088")
    assert load_settings(ari_url="http://10.0.0.5:8088/ari").ari_app == "escucha"


@pytest.mark.parametrize(
    ("template", "number", "endpoint"),
    [
        ("PJSIP/{number}@carrier", "+34600111222", "PJSIP/34600111222@carrier"),
        ("SIP/carrier/{number}", "600111222", "SIP/carrier/600111222"),
    ],
)
def test_a_trunk_template_dials_the_number(template: str, number: str, endpoint: str) -> None:
    assert A.dial_trunk(template, number) == endpoint


@pytest.mark.parametrize(
    "template",
    [
        "PJSIP/carrier",
        "PJSIP/{number}@x/{number}",
        "{number}@carrier",
        "PJSIP/{numero}@x",
        "PJSIP/{number}@{host}",
    ],
)
def test_a_bad_trunk_template_says_why(template: str) -> None:
    with pytest.raises(A.TemplateError, match=r"^trunk: "):
        A.check_trunk(template)


def test_a_number_with_letters_is_refused() -> None:
    with pytest.raises(A.TemplateError, match="not a phone number"):
        A.dial_trunk("PJSIP/{number}@carrier", "123;evil")


def test_agents_are_rung_at_their_endpoint_or_pjsip_by_username() -> None:
    assert A.agent_endpoint("", "ana") == "PJSIP/ana"
    assert A.agent_endpoint("SIP/200", "ana") == "SIP/200"
    assert A.check_endpoint(" PJSIP/ana ") == "PJSIP/ana"
    with pytest.raises(A.TemplateError):
        A.check_endpoint("ana")


def test_causes_backoff_and_codecs() -> None:
    assert [A.cause_status(c) for c in (17, 19, 21, 34, None)] == [
        "busy",
        "no-answer",
        "busy",
        "failed",
        "no-answer",
    ]
    assert [A.backoff_s(n) for n in (1, 2, 3, 6, 20)] == [0.5, 1.0, 2.0, 10.0, 10.0]
    good = A.codec_report({"allow": "!all,opus,ulaw", "webrtc": "yes"})
    assert (good.codecs, good.webrtc, good.problems) == (("opus", "ulaw"), True, [])
    assert A.codec_report({"allow": "g729", "webrtc": "yes"}).problems


def test_ami_framing() -> None:
    assert A.ami_action("Login", Username="u", Secret="s") == (
        b"Action: Login\r\nUsername: u\r\nSecret: s\r\n\r\n"
    )
    with pytest.raises(ValueError, match="line break"):
        A.ami_action("Login", Username="u\r\nAction: Originate")
    assert A.ami_message("Event: AgentConnect\r\nQueue: q\r\nQueue: other") == {
        "Event": "AgentConnect",
        "Queue": "q",
    }
    assert A.interface_user("Local/200@from-queue/n") == "200"


def test_a_call_recordings_name_says_its_contact_and_leg() -> None:
    for contact, leg in ((7, 1), (7, 2), (120, 3)):
        assert A.call_recording_leg(A.call_recording(contact, leg)) == (contact, leg)
    assert A.call_recording(7, 1) == "escucha-call-7"  # as before a call had legs
    for other in ("escucha-vm-7", "escucha-call-", "escucha-call-7-legx", "x-escucha-call-7"):
        assert A.call_recording_leg(other) is None
