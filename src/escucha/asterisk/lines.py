"""The calls escucha drives on an Asterisk PBX: ARI events in, the IVR's turns out (ADR 22).

Each caller's channel is a :class:`Line`. escucha's telephony service decides every turn, as
for Twilio and web calls (every state change through the contact's state machine); this module
plays it with ARI operations:

==================  ==========================================================================
turn action         ARI
==================  ==========================================================================
Say                 ``POST /channels/{id}/play`` of the prompt rendered to 8 kHz WAV, served
                    by escucha (``sound:<base url>/telephony/asterisk/audio/<hash>.wav``)
Gather (menu)       the prompts, then a timeout; ``ChannelDtmfReceived`` is the caller's key
                    (a key while a prompt plays stops it: barge-in)
Gather (wait)+Poll  music on hold (``POST /channels/{id}/moh``), the wait loop asked again every
                    ``poll_s``; the announcement (position and bound) stops the music while said
Connect             ``POST /channels`` (originate) to the agent's endpoint into the application;
                    when it answers (``StasisStart``) a mixing bridge joins both
Transfer            ``POST /channels/{id}/redirect`` to the trunk with the number
Record              ``POST /channels/{id}/record`` (voicemail; ``#`` ends it)
Hangup              ``DELETE /channels/{id}``
==================  ==========================================================================

The agent's desk changes the call through the database (hold, resume, transfer to a queue, the
end of the call); :meth:`Driver.tick` makes the line follow: hold takes the caller out of the
bridge onto music on hold (the agent's leg muted meanwhile, so the bridge's recording keeps no
aside), resume brings them back, a transfer puts them back in line, the end
hangs up both legs.

A warm transfer (ADR 24, on the PBX ADR 30) follows the desk's consult: with the customer on
hold (music on hold, out of the bridge), the colleague's phone is rung (``consult,<caller>``);
when it answers, the agent's leg leaves the customer's bridge for a new one with the
colleague. Handed over, the agent's leg hangs up and the customer joins the colleague's bridge;
cancelled or declined, the agent's leg goes back to the customer's bridge. A colleague's phone
that does not answer cancels the consult (the customer is back with the agent), and a customer
who hangs up meanwhile ends it; the agent hanging up after the colleague answered hands over,
as on a PBX's attended transfer.

Events can repeat and come late: each is taken once (its type, time and object); a channel
that is gone answers 404, which is normal; the end of a channel is written once.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from escucha.asterisk import rules as A
from escucha.asterisk import service as pbx
from escucha.asterisk.ari import AriClient, AriError
from escucha.config import Settings
from escucha.contacts.models import Contact
from escucha.routing import service as routing
from escucha.telephony import calls as telephony
from escucha.telephony import dialer, turns
from escucha.telephony import rules as R
from escucha.voice import service as voice
from escucha.voice.models import VoiceConsult

log = logging.getLogger("escucha.asterisk")

PROVIDER = "asterisk"
#: Seconds an agent's phone rings before the leg is given up.
RING_S = 20
#: Events remembered to recognise a repeated one.
SEEN_EVENTS = 4000
BRIDGE_PREFIX = "escucha-"

Speak = Callable[[R.Say], str]


@dataclass
class Line:
    """A caller's (or a called-back customer's) channel and what it is doing now."""

    channel: str
    contact_id: int
    seq: int = 1
    #: menu (waiting for a key), wait (in line), ringing (an agent's phone rings), talk,
    #: record (voicemail), done
    mode: str = "idle"
    pending: list[R.Say] = field(default_factory=list)
    playing: str | None = None
    after: R.Action | None = None
    deadline: float | None = None
    moh: bool = False
    agent_channel: str | None = None
    bridge: str | None = None
    held: bool = False
    plays: int = 0
    legs: int = 0
    #: A warm transfer: the consult, the colleague's leg and the bridge of the two agents.
    consult_id: int | None = None
    consult_leg: str | None = None
    consult_bridge: str | None = None


@dataclass
class Counters:
    calls: int = 0
    agent_legs: int = 0
    consults: int = 0
    prompts: int = 0
    keys: int = 0
    repeats: int = 0
    races: int = 0
    reconciled: int = 0
    closed_vanished: int = 0


class Driver:
    """Drives the lines of one PBX; one :class:`Driver` per node holding the lease."""

    def __init__(
        self,
        client: AriClient,
        settings: Settings,
        speak: Speak,
        *,
        poll_s: float = R.POLL_S,
        timeout_scale: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.settings = settings
        self.speak = speak
        self.poll_s = poll_s
        self.timeout_scale = timeout_scale
        self.mono = monotonic
        self.lines: dict[str, Line] = {}
        #: The agent's leg -> the caller's channel.
        self.legs: dict[str, str] = {}
        #: The leg of a colleague asked in a consult -> the caller's channel.
        self.consults: dict[str, str] = {}
        self.seen_events: OrderedDict[str, None] = OrderedDict()
        self.counters = Counters()

    # --- events ----------------------------------------------------------------------------

    def _once(self, event: dict[str, Any]) -> bool:
        """Whether this event is new (a repeated one is dropped)."""
        kind = str(event.get("type", ""))
        channel = (event.get("channel") or {}).get("id", "")
        thing = (
            event.get("digit")
            or (event.get("playback") or {}).get("id")
            or (event.get("recording") or {}).get("name")
            or ""
        )
        key = f"{kind}|{event.get('timestamp', '')}|{channel}|{thing}"
        if key in self.seen_events:
            self.counters.repeats += 1
            return False
        self.seen_events[key] = None
        while len(self.seen_events) > SEEN_EVENTS:
            self.seen_events.popitem(last=False)
        return True

    def handle(self, session: Session, event: dict[str, Any], *, now: datetime) -> None:
        """One ARI event, in its own transaction (the caller's)."""
        if not self._once(event):
            return
        kind = event.get("type")
        channel = event.get("channel") or {}
        cid = str(channel.get("id", ""))
        if kind == "StasisStart":
            self._stasis_start(session, channel, list(event.get("args") or []), now=now)
        elif kind == "ChannelDtmfReceived":
            self._key(session, cid, str(event.get("digit", "")), now=now)
        elif kind == "PlaybackFinished":
            self._played(session, str((event.get("playback") or {}).get("id", "")), now=now)
        elif kind == "RecordingFinished":
            self._recorded(session, event.get("recording") or {}, now=now)
        elif kind in ("StasisEnd", "ChannelDestroyed"):
            cause = int(event.get("cause") or 16) if kind == "ChannelDestroyed" else 16
            self._gone(session, cid, cause, now=now)

    def _stasis_start(
        self, session: Session, channel: dict[str, Any], args: list[str], *, now: datetime
    ) -> None:
        cid = str(channel.get("id", ""))
        if args[:1] == ["agent"] and len(args) > 1:
            self._agent_answered(session, cid, args[1], now=now)
        elif args[:1] == ["consult"] and len(args) > 1:
            self._colleague_answered(session, cid, args[1], now=now)
        elif args[:1] == ["callback"]:
            self._customer_answered(session, cid, now=now)
        elif cid and cid not in self.lines:
            self._incoming(session, channel, now=now)

    def _incoming(self, session: Session, channel: dict[str, Any], *, now: datetime) -> None:
        cid = str(channel["id"])
        number = str((channel.get("caller") or {}).get("number") or "") or None
        turn = telephony.incoming_call(
            session, provider=PROVIDER, call_ref=cid, from_number=number, now=now
        )
        pbx.add_channel(session, cid, turn.contact_id, "caller", now=now)
        line = Line(cid, turn.contact_id)
        self.lines[cid] = line
        self.counters.calls += 1
        self.client.answer(cid)
        self.run(session, line, turn, now=now)

    # --- playing a turn --------------------------------------------------------------------

    def run(self, session: Session, line: Line, turn: R.Turn, *, now: datetime) -> None:
        """Play ``turn`` on ``line`` (what was being said is cut)."""
        line.seq = turn.seq
        says: list[R.Say] = []
        after: R.Action | None = None
        for action in turn.actions:
            if isinstance(action, R.Say):
                says.append(action)
            elif isinstance(action, R.Gather):
                says.extend(action.prompts)
                after = action
            elif isinstance(action, R.Poll):
                after = after if isinstance(after, R.Gather) else action
            else:
                after = action
        if line.playing is not None:
            playing, line.playing = line.playing, None
            self.client.stop_playback(playing)
        if isinstance(after, R.Gather) and after.kind == "menu":
            line.mode = "menu"
        elif isinstance(after, R.Gather | R.Poll):
            line.mode = "wait"
        line.deadline = None
        line.after = after
        line.pending = says
        if says and line.moh:
            self.client.stop_moh(line.channel)
            line.moh = False
        self._next(session, line, now=now)

    def _next(self, session: Session, line: Line, *, now: datetime) -> None:
        if line.pending:
            say = line.pending.pop(0)
            line.plays += 1
            pid = f"{line.channel}-p{line.plays}"
            media = self.speak(say)
            self.counters.prompts += 1
            if self.client.play(line.channel, media, playback_id=pid, lang=say.language):
                line.playing = pid
            else:
                self.counters.races += 1
            return
        after = line.after
        scale = self.timeout_scale
        if isinstance(after, R.Gather) and after.kind == "menu":
            line.mode = "menu"
            line.deadline = self.mono() + after.timeout_s * scale
        elif isinstance(after, R.Gather | R.Poll):
            line.mode = "wait"
            if not line.moh:
                self.client.start_moh(line.channel)
                line.moh = True
            line.deadline = self.mono() + self.poll_s
        elif isinstance(after, R.Connect):
            self._connect(session, line, after.agent_id, now=now)
        elif isinstance(after, R.Transfer):
            self._transfer_out(session, line, after.number)
        elif isinstance(after, R.Record):
            line.mode = "record"
            self.client.record(line.channel, f"escucha-vm-{line.contact_id}", max_s=after.max_s)
        elif isinstance(after, R.Hangup):
            line.mode = "done"
            self.client.hangup(line.channel)

    def _played(self, session: Session, playback: str, *, now: datetime) -> None:
        for line in self.lines.values():
            if line.playing == playback:
                line.playing = None
                self._next(session, line, now=now)
                return

    def _key(self, session: Session, cid: str, digit: str, *, now: datetime) -> None:
        line = self.lines.get(cid)
        if line is None or not digit:
            return
        self.counters.keys += 1
        if line.mode == "menu":
            turn = telephony.caller_input(
                session, PROVIDER, cid, now=now, digits=digit, seq=line.seq
            )
        elif line.mode == "wait":
            turn = telephony.wait_turn(session, PROVIDER, cid, now=now, digits=digit)
        else:
            return  # talking, ringing, recording (``#`` ends it in Asterisk)
        self.run(session, line, turn, now=now)

    def _transfer_out(self, session: Session, line: Line, number: str) -> None:
        template = pbx.trunk(session)
        line.mode = "done"
        if not template:
            log.error("the IVR transfers to %s but the organisation has no trunk", number)
            self.client.hangup(line.channel)
            return
        if not self.client.redirect(line.channel, A.dial_trunk(template, number)):
            self.counters.races += 1

    # --- the agent's leg -------------------------------------------------------------------

    def _connect(self, session: Session, line: Line, agent_id: int, *, now: datetime) -> None:
        """Ring the agent: a new leg into the application; the caller keeps the music."""
        if line.agent_channel is not None and line.agent_channel in self.legs:
            return  # already ringing
        if not line.moh:
            self.client.start_moh(line.channel)
            line.moh = True
        line.legs += 1
        leg = f"{line.channel}-a{line.legs}"
        line.mode = "ringing"
        line.agent_channel = leg
        self.legs[leg] = line.channel
        pbx.add_channel(session, leg, line.contact_id, "agent", now=now, user_id=agent_id)
        self.counters.agent_legs += 1
        try:
            made = self.client.originate(
                pbx.agent_endpoint(session, agent_id),
                channel_id=leg,
                app_args=f"agent,{line.channel}",
                timeout_s=RING_S,
            )
        except AriError as exc:
            log.warning("the agent's phone cannot be rung: %s", exc)
            made = None
        if made is None:
            self._leg_failed(session, leg, "failed", now=now)

    def _agent_answered(self, session: Session, leg: str, caller: str, *, now: datetime) -> None:
        line = self.lines.get(caller)
        if line is None or line.agent_channel != leg or line.mode != "ringing":
            self.client.hangup(leg)  # a leg of a call that moved on
            return
        telephony.agent_leg(session, PROVIDER, caller, event="answered", now=now)
        row = pbx.channel_row(session, leg)
        if row is not None:
            row.answered_at = now
        contact = session.get(Contact, line.contact_id)
        if contact is None or contact.state not in ("connected", "on_hold"):
            self.client.hangup(leg)
            return
        bridge = f"{BRIDGE_PREFIX}{line.contact_id}-{line.legs}"
        self.client.create_bridge(bridge)
        if line.moh:
            self.client.stop_moh(line.channel)
            line.moh = False
        self.client.add_channel(bridge, line.channel)
        self.client.add_channel(bridge, leg)
        line.bridge = bridge
        line.mode = "talk"
        for cid in (leg, line.channel):
            found = pbx.channel_row(session, cid)
            if found is not None:
                found.bridge_id = bridge
        self._record(session, line, bridge)

    def _record(self, session: Session, line: Line, bridge: str) -> None:
        """Record the agent's bridge the customer has just entered: the next leg of the call's
        recording (the first agent's, then a colleague's after a hand-over, ...)."""
        if self.settings.record_calls:
            leg = pbx.agent_bridges(session, line.contact_id)
            self.client.record_bridge(bridge, A.call_recording(line.contact_id, max(leg, 1)))

    def _leg_failed(self, session: Session, leg: str, status: str, *, now: datetime) -> None:
        """The agent's phone did not answer (or could not ring): back in line."""
        caller = self.legs.pop(leg, None)
        pbx.end_channel(session, leg, now=now, cause=status)
        line = self.lines.get(caller or "")
        if line is None or line.agent_channel != leg:
            return
        line.agent_channel = None
        turn = telephony.agent_leg(
            session, PROVIDER, line.channel, event="ended", status=status, now=now
        )
        self.run(session, line, turn, now=now)

    def _agent_gone(self, session: Session, leg: str, *, now: datetime) -> None:
        caller = self.legs.pop(leg, None)
        line = self.lines.get(caller or "")
        if line is None or line.agent_channel != leg:
            return
        consult = session.get(VoiceConsult, line.consult_id) if line.consult_id else None
        if consult is not None and consult.ended_at is None and consult.answered_at is not None:
            # the agent hangs up while talking to the colleague: the customer goes to them
            voice.hand_over(session, consult.from_user_id, consult.id, now=now)
            self._hand_over(session, line, now=now)
            return
        self._drop_consult(session, line, "lost", now=now)
        line.agent_channel = None
        contact = session.get(Contact, line.contact_id)
        if contact is not None and contact.state in ("connected", "on_hold") and contact.agent_id:
            routing.end_call(session, contact.agent_id, contact.id, now=now, ended_by="agent")
        self._close_bridge(line)
        line.mode = "done"
        self.client.hangup(line.channel)

    def _close_bridge(self, line: Line) -> None:
        if line.bridge is not None:
            bridge, line.bridge = line.bridge, None
            self.client.destroy_bridge(bridge)

    # --- a warm transfer: the consult with a colleague -------------------------------------

    def _follow_consult(
        self, session: Session, line: Line, contact: Contact, *, now: datetime
    ) -> bool:
        """Make the line follow the desk's consult; ``True`` when it handed the customer over."""
        if line.consult_id is None:
            if contact.state == "on_hold" and line.held and line.agent_channel is not None:
                consult = voice.contact_consult(session, contact.id)
                if consult is not None:
                    self._ring_colleague(session, line, consult, now=now)
            return False
        consult = session.get(VoiceConsult, line.consult_id)
        if consult is None or consult.ended_at is None:
            return False
        if consult.outcome == "handed_over":
            self._hand_over(session, line, now=now)
            return True
        self._back_from_consult(session, line, now=now)
        return False

    def _ring_colleague(
        self, session: Session, line: Line, consult: VoiceConsult, *, now: datetime
    ) -> None:
        """The colleague's phone rings; the customer keeps the music on hold."""
        line.legs += 1
        leg = f"{line.channel}-c{line.legs}"
        line.consult_id = consult.id
        line.consult_leg = leg
        self.consults[leg] = line.channel
        pbx.add_channel(
            session, leg, line.contact_id, "consult", now=now, user_id=consult.to_user_id
        )
        self.counters.consults += 1
        try:
            made = self.client.originate(
                pbx.agent_endpoint(session, consult.to_user_id),
                channel_id=leg,
                app_args=f"consult,{line.channel}",
                timeout_s=RING_S,
            )
        except AriError as exc:
            log.warning("the colleague's phone cannot be rung: %s", exc)
            made = None
        if made is None and pbx.end_channel(session, leg, now=now, cause="failed"):
            self._colleague_gone(session, leg, line.contact_id, None, now=now)

    def _colleague_answered(
        self, session: Session, leg: str, caller: str, *, now: datetime
    ) -> None:
        """The colleague picked up: the agent leaves the customer's bridge to talk to them."""
        line = self.lines.get(caller)
        consult = session.get(VoiceConsult, line.consult_id) if line and line.consult_id else None
        if line is None or line.consult_leg != leg or consult is None or consult.ended_at:
            if pbx.end_channel(session, leg, now=now, cause="consult_over"):
                self.client.hangup(leg)  # a consult that ended while the phone rang
            return
        voice.answer_consult(session, consult.to_user_id, consult.id, now=now)
        row = pbx.channel_row(session, leg)
        if row is not None:
            row.answered_at = now
        bridge = f"{BRIDGE_PREFIX}{line.contact_id}-c{leg.rsplit('-c', 1)[-1]}"
        self.client.create_bridge(bridge)
        line.consult_bridge = bridge
        if line.agent_channel is not None:
            if line.bridge is not None:
                self.client.remove_channel(line.bridge, line.agent_channel)
            self.client.unmute(line.agent_channel)  # muted while alone on hold
            self.client.add_channel(bridge, line.agent_channel)
        self.client.add_channel(bridge, leg)
        if row is not None:
            row.bridge_id = bridge

    def _colleague_gone(
        self,
        session: Session,
        leg: str,
        contact_id: int,
        answered_at: datetime | None,
        *,
        now: datetime,
    ) -> None:
        """The colleague's leg ended: unanswered (the customer is back with the agent) or the
        colleague hung up after talking (declined: the customer stays on hold)."""
        caller = self.consults.pop(leg, None)
        consult = voice.contact_consult(session, contact_id)
        if consult is not None:
            if answered_at is None:
                voice.close_consult(session, consult, "unanswered", now=now)
            else:
                voice.close_consult(session, consult, "declined", now=now)
        line = self.lines.get(caller or "")
        if line is not None and line.consult_leg == leg:
            self._back_from_consult(session, line, now=now)

    def _back_from_consult(self, session: Session, line: Line, *, now: datetime) -> None:
        """The consult ended without a hand-over: the agent's leg goes back to the customer's
        bridge (the customer comes off hold when the contact is resumed)."""
        self._end_consult_leg(session, line, now=now)
        if line.consult_bridge is not None:
            bridge, line.consult_bridge = line.consult_bridge, None
            if line.agent_channel is not None:
                self.client.remove_channel(bridge, line.agent_channel)
                if line.bridge is not None and not self.client.add_channel(
                    line.bridge, line.agent_channel
                ):  # the customer's bridge went meanwhile (it was empty): made again
                    self.client.create_bridge(line.bridge)
                    self.client.add_channel(line.bridge, line.agent_channel)
                if line.held:  # still on hold (declined): muted again until resumed
                    self.client.mute(line.agent_channel)
            self.client.destroy_bridge(bridge)

    def _hand_over(self, session: Session, line: Line, *, now: datetime) -> None:
        """Handed over: the agent's leg hangs up and the customer joins the colleague's bridge."""
        first, new = line.agent_channel, line.consult_leg
        if first is not None:
            self.legs.pop(first, None)
            if pbx.end_channel(session, first, now=now, cause="handed_over"):
                self.client.hangup(first)
        self._close_bridge(line)
        line.consult_id = None
        line.consult_leg = None
        line.agent_channel = new
        line.bridge, line.consult_bridge = line.consult_bridge, None
        if new is not None:
            self.consults.pop(new, None)
            self.legs[new] = line.channel
            row = pbx.channel_row(session, new)
            if row is not None:
                row.role = "agent"  # from now on the colleague's leg is the call's agent
        if line.moh:
            self.client.stop_moh(line.channel)
        line.moh = line.held = False
        if line.bridge is not None:
            self.client.add_channel(line.bridge, line.channel)
            found = pbx.channel_row(session, line.channel)
            if found is not None:
                found.bridge_id = line.bridge
            self._record(session, line, line.bridge)

    def _drop_consult(self, session: Session, line: Line, outcome: str, *, now: datetime) -> None:
        """The call ends during a consult: the consult ends with ``outcome`` and the
        colleague's leg and the agents' bridge go."""
        if line.consult_id is None:
            return
        consult = session.get(VoiceConsult, line.consult_id)
        if consult is not None and consult.ended_at is None:
            voice.close_consult(session, consult, outcome, now=now)
        self._end_consult_leg(session, line, now=now)
        if line.consult_bridge is not None:
            bridge, line.consult_bridge = line.consult_bridge, None
            self.client.destroy_bridge(bridge)

    def _end_consult_leg(self, session: Session, line: Line, *, now: datetime) -> None:
        leg, line.consult_leg = line.consult_leg, None
        line.consult_id = None
        if leg is not None:
            self.consults.pop(leg, None)
            if pbx.end_channel(session, leg, now=now, cause="consult_over"):
                self.client.hangup(leg)

    # --- the end of a channel --------------------------------------------------------------

    def _gone(self, session: Session, cid: str, cause: int, *, now: datetime) -> None:
        row = pbx.channel_row(session, cid)
        if row is None or not pbx.end_channel(session, cid, now=now, cause=str(cause)):
            return
        if row.role == "consult":
            self._colleague_gone(session, cid, row.contact_id, row.answered_at, now=now)
            return
        if row.role == "agent":
            if row.answered_at is None:
                self._leg_failed(session, cid, A.cause_status(cause), now=now)
            else:
                self._agent_gone(session, cid, now=now)
            return
        status = (
            "completed"
            if row.answered_at is not None or row.role == "caller"
            else A.cause_status(cause)
        )
        line = self.lines.pop(cid, None)
        if line is not None:
            self._drop_consult(session, line, "customer_left", now=now)
        telephony.call_ended(session, PROVIDER, cid, status, now=now)
        if line is not None:
            if line.agent_channel is not None:
                self.legs.pop(line.agent_channel, None)
                pbx.end_channel(session, line.agent_channel, now=now, cause="caller_gone")
                self.client.hangup(line.agent_channel)
            self._close_bridge(line)

    # --- recordings ------------------------------------------------------------------------

    def _recorded(self, session: Session, recording: dict[str, Any], *, now: datetime) -> None:
        name = str(recording.get("name", ""))
        if name.startswith("escucha-vm-"):
            line = next(
                (x for x in self.lines.values() if f"escucha-vm-{x.contact_id}" == name), None
            )
            if line is None:
                return
            duration = recording.get("duration")
            url = f"{self.settings.ari_url.rstrip('/')}/recordings/stored/{name}/file"
            turn = telephony.leave_voicemail(
                session,
                PROVIDER,
                line.channel,
                now=now,
                recording_url=url,
                duration_s=float(duration) if isinstance(duration, int | float) else None,
            )
            self.run(session, line, turn, now=now)
        elif (found := A.call_recording_leg(name)) is not None:
            contact_id, leg = found
            contact = session.get(Contact, contact_id)
            data = self.client.stored_recording(name)
            if contact is None or data is None:
                return
            target = str(recording.get("target_uri", "")).removeprefix("bridge:")
            user = (
                pbx.bridge_agent(session, target)
                or contact.agent_id
                or pbx.answering_agent(session, contact.id)
            )
            duration = recording.get("duration")
            started = (
                now - timedelta(seconds=float(duration))
                if leg > 1 and isinstance(duration, int | float)
                else None
            )
            if user is not None:
                pbx.attach_recording(
                    session,
                    contact,
                    data,
                    user_id=user,
                    now=now,
                    settings=self.settings,
                    leg=leg,
                    started_at=started,
                )

    # --- outbound callbacks ----------------------------------------------------------------

    def dial_callbacks(self, session: Session, *, now: datetime) -> None:
        """Ring the customers of callbacks an agent asked to dial through the PBX's trunk."""
        for contact, cb in dialer.asterisk_dials(session):
            template = pbx.trunk(session)
            leg = f"escucha-cb-{cb.id}-{cb.attempts}"
            contact.provider_ref = turns.call_key(PROVIDER, leg)
            pbx.add_channel(session, leg, contact.id, "customer", now=now)
            made = None
            if template:
                try:
                    made = self.client.originate(
                        A.dial_trunk(template, cb.phone),
                        channel_id=leg,
                        app_args="callback",
                        timeout_s=30,
                    )
                except (AriError, A.TemplateError) as exc:
                    log.warning("callback %s cannot be dialled: %s", cb.id, exc)
            else:
                log.error("callbacks cannot be dialled: the organisation has no trunk")
            if made is None:
                pbx.end_channel(session, leg, now=now, cause="failed")
                telephony.call_ended(session, PROVIDER, leg, "failed", now=now)

    def _customer_answered(self, session: Session, cid: str, *, now: datetime) -> None:
        row = pbx.channel_row(session, cid)
        if row is None or row.ended_at is not None or cid in self.lines:
            return
        row.answered_at = now
        line = Line(cid, row.contact_id)
        self.lines[cid] = line
        self.counters.calls += 1
        turn = telephony.callback_answered(session, PROVIDER, cid, now=now)
        self.run(session, line, turn, now=now)

    # --- time passing: timeouts, the wait loop, the desk -----------------------------------

    def tick(self, session: Session, *, now: datetime) -> None:
        """Menu timeouts, passes of the wait loop, and the desk's hold/resume/transfer/end."""
        mono = self.mono()
        for line in list(self.lines.values()):
            if line.mode in ("talk", "ringing"):
                self._follow_desk(session, line, now=now)
            elif line.deadline is not None and mono >= line.deadline and line.playing is None:
                line.deadline = None
                if line.mode == "menu":
                    turn = telephony.caller_input(
                        session, PROVIDER, line.channel, now=now, seq=line.seq
                    )
                    self.run(session, line, turn, now=now)
                elif line.mode == "wait":
                    turn = telephony.wait_turn(session, PROVIDER, line.channel, now=now)
                    quiet = not turn.texts() and not any(
                        isinstance(a, R.Connect) for a in turn.actions
                    )
                    if turn.phase in ("queue", "offered") and quiet:
                        line.deadline = mono + self.poll_s  # nothing to say: the music goes on
                    else:
                        self.run(session, line, turn, now=now)
        self.dial_callbacks(session, now=now)

    def _follow_desk(self, session: Session, line: Line, *, now: datetime) -> None:
        contact = session.get(Contact, line.contact_id)
        if contact is None:
            return
        if self._follow_consult(session, line, contact, now=now):
            return
        state = contact.state
        if line.mode == "ringing":
            if state == "queued" and line.agent_channel is not None:  # declined on the desk
                leg, line.agent_channel = line.agent_channel, None
                self.legs.pop(leg, None)
                pbx.end_channel(session, leg, now=now, cause="declined")
                self.client.hangup(leg)
                self.run(session, line, telephony.current_turn(session, contact, now=now), now=now)
            return
        if state == "on_hold" and not line.held:
            if line.bridge is not None:
                self.client.remove_channel(line.bridge, line.channel)
            if line.agent_channel is not None:  # the agent's aside stays out of the recording
                self.client.mute(line.agent_channel)
            self.client.start_moh(line.channel)
            line.held = line.moh = True
        elif state == "connected" and line.held:
            self.client.stop_moh(line.channel)
            if line.agent_channel is not None:
                self.client.unmute(line.agent_channel)
            if line.bridge is not None:
                self.client.add_channel(line.bridge, line.channel)
            line.held = line.moh = False
        elif state in ("queued", "offered"):
            # transferred to another queue (or put back in line): in line again, or offered at
            # once to an agent already free there; the wait turn connects them
            self._drop_consult(session, line, "lost", now=now)
            if line.agent_channel is not None:
                leg, line.agent_channel = line.agent_channel, None
                self.legs.pop(leg, None)
                pbx.end_channel(session, leg, now=now, cause="transferred")
                self.client.hangup(leg)
            self._close_bridge(line)
            line.held = False
            turn = telephony.wait_turn(
                session, PROVIDER, line.channel, now=now, announce_every_s=0.0
            )
            self.run(session, line, turn, now=now)
        elif state in ("wrap_up", "ended"):  # the agent ended the call on the desk
            self._drop_consult(session, line, "lost", now=now)
            line.mode = "done"
            if line.agent_channel is not None:
                self.client.hangup(line.agent_channel)
            self.client.hangup(line.channel)

    def alive(self) -> list[str]:
        return [*self.lines, *self.legs, *self.consults]

    # --- after a (re)connection ------------------------------------------------------------

    def reconcile(self, session: Session, *, now: datetime) -> None:
        """Match escucha's calls with the PBX's channels and bridges: a call in progress is
        taken up where it is, one whose channel vanished closes when it was last seen, and a
        call that entered the application while nobody listened is answered."""
        live = {str(c.get("id")): c for c in self.client.channels()}
        rows = pbx.open_channels(session)
        known = {r.channel_id for r in rows}
        for row in rows:
            if row.channel_id in live:
                continue
            self.counters.closed_vanished += 1
            cause = 16 if row.answered_at is not None or row.role == "caller" else 19
            self._gone(session, row.channel_id, cause, now=row.seen_at)
        for row in rows:
            if row.role in ("agent", "consult") or row.channel_id not in live:
                continue
            if row.channel_id in self.lines:
                continue
            if row.ended_at is not None:
                continue
            self._take_up(session, row.channel_id, row.contact_id, rows, live, now=now)
        for cid, channel in live.items():
            plan = channel.get("dialplan") or {}
            ours = (
                plan.get("app_name") == "Stasis"
                and str(plan.get("app_data", "")).split(",")[0] == self.client.app
            )
            if cid not in known and cid not in self.lines and ours:
                self.counters.reconciled += 1
                self._incoming(session, channel, now=now)
        for bridge in self.client.bridges():
            bid = str(bridge.get("id", ""))
            if bid.startswith(BRIDGE_PREFIX) and not bridge.get("channels"):
                self.client.destroy_bridge(bid)

    def _take_up(
        self,
        session: Session,
        cid: str,
        contact_id: int,
        rows: list[Any],
        live: dict[str, Any],
        *,
        now: datetime,
    ) -> None:
        contact = session.get(Contact, contact_id)
        if contact is None:
            return
        self.counters.reconciled += 1
        line = Line(cid, contact_id)
        self.lines[cid] = line
        legs = [
            r
            for r in rows
            if r.role == "agent" and r.contact_id == contact_id and r.ended_at is None
        ]
        leg = next((r for r in legs if r.channel_id in live), None)
        line.legs = len([r for r in rows if r.contact_id == contact_id and r.role == "agent"])
        if leg is not None and contact.state in ("connected", "on_hold", "offered"):
            line.agent_channel = leg.channel_id
            self.legs[leg.channel_id] = cid
            line.bridge = leg.bridge_id
            if leg.answered_at is not None:
                line.mode = "talk"
                line.held = contact.state == "on_hold"
                line.moh = line.held
            else:
                line.mode = "ringing"
                line.moh = True
            self._take_up_consult(session, line, rows, live)
            return
        self.run(session, line, telephony.current_turn(session, contact, now=now), now=now)

    def _take_up_consult(
        self, session: Session, line: Line, rows: list[Any], live: dict[str, Any]
    ) -> None:
        """A consult under way when this node took the line up: its leg and bridge."""
        consult = voice.contact_consult(session, line.contact_id)
        leg = next(
            (
                r
                for r in rows
                if r.role == "consult" and r.contact_id == line.contact_id and r.channel_id in live
            ),
            None,
        )
        if consult is None or leg is None or leg.ended_at is not None:
            return
        line.consult_id = consult.id
        line.consult_leg = leg.channel_id
        line.consult_bridge = leg.bridge_id
        self.consults[leg.channel_id] = line.channel
