"""A bounded SIP load through the registrar on loopback (sipp against Kamailio, #18).

Each of the calls registers its own address (as a desk phone does), is then called through
the proxy (which finds the address it just registered), answered by a sipp UAS, and hung up.
The figures (rate, time, response times) go to ``test-artifacts/voice-figures.txt``.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.system import siptools
from tests.system.conftest import free_port
from tests.system.test_browser_voice import figure

pytestmark = [pytest.mark.system]

CALLS = 50
RATE = 25  # calls started per second

#: REGISTER sip:load<n>, then INVITE it through Kamailio, ACK, BYE: every step must succeed.
SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register then call">
  <send retrans="500">
    <![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:load[call_number]@127.0.0.1>;tag=[pid]SIPpTag00[call_number]
To: <sip:load[call_number]@127.0.0.1>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:load[call_number]@127.0.0.1:{uas}>
Expires: 60
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="200" rtd="register"/>
  <send retrans="500" start_rtd="call">
    <![CDATA[
INVITE sip:load[call_number]@127.0.0.1 SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:caller[call_number]@127.0.0.1>;tag=[pid]SIPpTag01[call_number]
To: <sip:load[call_number]@127.0.0.1>
Call-ID: [call_id]
CSeq: 2 INVITE
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=load 1 1 IN IP4 [local_ip]
s=-
c=IN IP4 [local_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="call" rrs="true"/>
  <send>
    <![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
From: <sip:caller[call_number]@127.0.0.1>;tag=[pid]SIPpTag01[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 2 ACK
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="200"/>
  <send retrans="500">
    <![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
From: <sip:caller[call_number]@127.0.0.1>;tag=[pid]SIPpTag01[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 3 BYE
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
  <ResponseTimeRepartition value="10, 20, 50, 100, 200, 500"/>
</scenario>
"""


def _stat(csv: Path, column: str) -> str:
    lines = [line.split(";") for line in csv.read_text().splitlines() if line.strip()]
    header, last = lines[0], lines[-1]
    return last[header.index(column)]


def test_fifty_register_and_call_scenarios_through_the_registrar_all_succeed(
    tmp_path: Path,
) -> None:
    siptools.need(siptools.SIPP, "sip-tester")
    with siptools.kamailio(tmp_path / "kamailio") as pbx:
        uas_port, uac_port = free_port(), free_port()
        scenario = tmp_path / "register-call.xml"
        scenario.write_text(SCENARIO.format(uas=uas_port))
        common = ["-i", "127.0.0.1", "-nostdin", "-timeout", "60s", "-timeout_error"]
        uas_log = tmp_path / "uas.log"
        with uas_log.open("wb") as fh:
            uas = subprocess.Popen(
                [siptools.SIPP, "-sn", "uas", "-p", str(uas_port), "-m", str(CALLS), *common],
                cwd=tmp_path,
                stdout=fh,
                stderr=fh,
                start_new_session=True,
            )
        try:
            started = time.monotonic()
            uac = subprocess.run(
                [
                    siptools.SIPP,
                    f"127.0.0.1:{pbx.sip_port}",
                    "-sf",
                    str(scenario),
                    "-p",
                    str(uac_port),
                    "-mp",
                    str(free_port()),
                    "-r",
                    str(RATE),
                    "-m",
                    str(CALLS),
                    "-l",
                    str(CALLS),
                    "-trace_stat",
                    "-stf",
                    str(tmp_path / "stats.csv"),
                    "-trace_err",
                    *common,
                ],
                cwd=tmp_path,
                capture_output=True,
                timeout=90,
            )
            elapsed = time.monotonic() - started
        finally:
            siptools.end(uas)
        stats = tmp_path / "stats.csv"
        detail = uac.stdout.decode(errors="replace")[-2000:] + uac.stderr.decode(errors="replace")
        assert uac.returncode == 0, detail
        assert stats.exists(), detail
        assert int(_stat(stats, "SuccessfulCall(C)")) == CALLS
        assert int(_stat(stats, "FailedCall(C)")) == 0
    figure(
        f"sipp through Kamailio: {CALLS} REGISTER+INVITE+BYE scenarios at {RATE}/s, "
        f"{_stat(stats, 'SuccessfulCall(C)')} succeeded, {_stat(stats, 'FailedCall(C)')} failed "
        f"in {elapsed:.2f} s; register response {_stat(stats, 'ResponseTimeregister(C)')}, "
        f"call setup {_stat(stats, 'ResponseTimecall(C)')} (mean, hh:mm:ss:ms)"
    )
