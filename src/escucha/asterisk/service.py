"""Asterisk, with the database: the lease on a PBX's events, channels, endpoints, recordings,
and prompts rendered as audio a PBX can play (ADR 22)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from escucha.asterisk import rules as A
from escucha.asterisk.models import AriChannel, AriLease
from escucha.auth.models import User
from escucha.config import Settings
from escucha.contacts.models import Contact
from escucha.errors import InvalidInput, NotFound
from escucha.ivr import audio
from escucha.org.models import AgentProfile, Organisation
from escucha.voice.models import VoiceRecording
from escucha.voice.rules import piece_name
from escucha.voice.service import recordings_dir, transcribe_leg

#: Asterisk's ``wav`` format: 8 kHz, 16-bit, mono.
PBX_RATE = 8000
#: The words-per-second rate prompts are spoken at (as on the browser phone).
PROMPT_RATE_WPS = 2.6

# --- the lease ------------------------------------------------------------------------------


def take_lease(session: Session, name: str, holder: str, *, now: datetime, ttl_s: float) -> bool:
    """Take or renew the lease on ``name`` for ``holder``: ``True`` while it is theirs.

    Another holder's lease is taken only once it has lapsed (``expires_at`` passed).
    """
    lease = session.scalar(select(AriLease).where(AriLease.name == name).with_for_update())
    until = now + timedelta(seconds=ttl_s)
    if lease is None:
        try:
            with session.begin_nested():
                session.add(AriLease(name=name, holder=holder, acquired_at=now, expires_at=until))
                session.flush()
        except IntegrityError:
            return False
        return True
    if lease.holder == holder:
        lease.expires_at = until
        return True
    if lease.expires_at > now:
        return False
    lease.holder = holder
    lease.acquired_at = now
    lease.expires_at = until
    lease.generation += 1
    return True


def release_lease(session: Session, name: str, holder: str, *, now: datetime) -> None:
    """Give the lease up at once (a clean stop), so another node need not wait for it."""
    session.execute(
        update(AriLease)
        .where(AriLease.name == name, AriLease.holder == holder)
        .values(expires_at=now)
    )


def lease_holder(session: Session, name: str) -> AriLease | None:
    return session.get(AriLease, name)


# --- channels -------------------------------------------------------------------------------


def channel_row(session: Session, channel_id: str) -> AriChannel | None:
    return session.scalar(select(AriChannel).where(AriChannel.channel_id == channel_id))


def add_channel(
    session: Session,
    channel_id: str,
    contact_id: int,
    role: str,
    *,
    now: datetime,
    user_id: int | None = None,
) -> AriChannel:
    """The row of a channel escucha drives (the existing one when it is known already)."""
    row = channel_row(session, channel_id)
    if row is None:
        row = AriChannel(
            channel_id=channel_id,
            contact_id=contact_id,
            role=role,
            user_id=user_id,
            created_at=now,
            seen_at=now,
        )
        session.add(row)
        session.flush()
    return row


def end_channel(session: Session, channel_id: str, *, now: datetime, cause: str) -> bool:
    """Mark a channel over; ``False`` when it was already (a repeated or late event)."""
    row = channel_row(session, channel_id)
    if row is None or row.ended_at is not None:
        return False
    row.ended_at = now
    row.end_cause = cause[:60]
    return True


def answering_agent(session: Session, contact_id: int) -> int | None:
    """The agent whose leg answered this contact's call last."""
    return session.scalar(
        select(AriChannel.user_id)
        .where(
            AriChannel.contact_id == contact_id,
            AriChannel.role == "agent",
            AriChannel.answered_at.is_not(None),
        )
        .order_by(AriChannel.id.desc())
        .limit(1)
    )


def bridge_agent(session: Session, bridge_id: str) -> int | None:
    """The agent whose leg was in this bridge first (a recording is theirs after a warm
    transfer handed the customer to a colleague in another bridge)."""
    if not bridge_id:
        return None
    return session.scalar(
        select(AriChannel.user_id)
        .where(
            AriChannel.bridge_id == bridge_id,
            AriChannel.role == "agent",
            AriChannel.user_id.is_not(None),
        )
        .order_by(AriChannel.id)
        .limit(1)
    )


def open_channels(session: Session) -> list[AriChannel]:
    return list(
        session.scalars(
            select(AriChannel).where(AriChannel.ended_at.is_(None)).order_by(AriChannel.id)
        )
    )


def seen(session: Session, channel_ids: list[str], *, now: datetime) -> None:
    """The channels were alive at ``now`` (the time a vanished one is closed at)."""
    if channel_ids:
        session.execute(
            update(AriChannel)
            .where(AriChannel.channel_id.in_(channel_ids), AriChannel.ended_at.is_(None))
            .values(seen_at=now)
        )


# --- agents and the trunk -------------------------------------------------------------------


def agent_endpoint(session: Session, user_id: int) -> str:
    """Where the PBX rings this agent (their endpoint, else ``PJSIP/<username>``)."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    configured = session.scalar(
        select(AgentProfile.pbx_endpoint).where(AgentProfile.user_id == user_id)
    )
    return A.agent_endpoint(configured or "", user.username)


def set_agent_endpoint(session: Session, user_id: int, endpoint: str) -> None:
    """Store an agent's endpoint (empty: ``PJSIP/<username>``); a bad one is refused."""
    if endpoint.strip():
        try:
            endpoint = A.check_endpoint(endpoint, "pbx_endpoint")
        except A.TemplateError as exc:
            raise InvalidInput(str(exc)) from exc
    profile = session.scalar(select(AgentProfile).where(AgentProfile.user_id == user_id))
    if profile is None:
        profile = AgentProfile(user_id=user_id)
        session.add(profile)
    profile.pbx_endpoint = endpoint.strip()
    session.flush()


def agent_endpoints(session: Session) -> dict[str, str]:
    """Every active agent's endpoint, by username."""
    rows = session.execute(
        select(User.id, User.username, AgentProfile.pbx_endpoint)
        .outerjoin(AgentProfile, AgentProfile.user_id == User.id)
        .where(User.role == "agent", User.active.is_(True))
        .order_by(User.username)
    )
    return {name: A.agent_endpoint(endpoint or "", name) for _id, name, endpoint in rows}


def trunk(session: Session) -> str:
    """The organisation's trunk template (empty when none is set)."""
    return session.scalar(select(Organisation.pbx_trunk).limit(1)) or ""


# --- recordings -----------------------------------------------------------------------------


def agent_bridges(session: Session, contact_id: int) -> int:
    """How many agents' bridges the customer has entered so far: the answered legs put in a
    bridge that are (or became, handed over) the call's agent. The n-th bridge is the n-th leg
    of the recording."""
    return int(
        session.scalar(
            select(func.count(AriChannel.id)).where(
                AriChannel.contact_id == contact_id,
                AriChannel.role == "agent",
                AriChannel.answered_at.is_not(None),
                AriChannel.bridge_id.is_not(None),
            )
        )
        or 0
    )


def attach_recording(
    session: Session,
    contact: Contact,
    data: bytes,
    *,
    user_id: int,
    now: datetime,
    settings: Settings,
    leg: int = 1,
    started_at: datetime | None = None,
) -> VoiceRecording | None:
    """Leg ``leg`` of the call's recording: the recording of the bridge of that agent (WAV,
    fetched from the PBX) attached to the contact, stored as web calls' legs are (one piece)
    and sent to transcription; a leg already attached is kept."""
    found = session.scalar(
        select(VoiceRecording).where(
            VoiceRecording.contact_id == contact.id, VoiceRecording.leg == leg
        )
    )
    if found is not None or not data:
        return found
    folder = recordings_dir(settings) / str(contact.id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / piece_name(leg, 0)).write_bytes(data)
    rec = VoiceRecording(
        contact_id=contact.id,
        leg=leg,
        user_id=user_id,
        content_type="audio/wav",
        chunks=1,
        bytes=len(data),
        started_at=started_at or contact.answered_at or now,
        updated_at=now,
    )
    session.add(rec)
    session.flush()
    transcribe_leg(session, rec, now=now, settings=settings)
    return rec


# --- prompts as audio -----------------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    name: str  # ``<hash>.wav``, served under /telephony/asterisk/audio/
    path: Path
    duration_s: float


def prompts_dir(settings: Settings) -> Path:
    return Path(settings.outbox_dir).parent / "ivr-audio-pbx"


def render_prompt(text: str, language: str, settings: Settings) -> Prompt:
    """``text`` as the PBX plays it, 8 kHz mono WAV, cached: the prompt recorded in the IVR
    editor when there is one, else spoken by espeak-ng (as the IVR's audio)."""
    source = audio.prompt_audio(text, language, rate_wps=PROMPT_RATE_WPS, settings=settings)
    folder = prompts_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.path.name
    if not target.exists():
        samples, rate = audio.read_mono(source.path)
        audio.write_wav(target, audio.resampled(samples, rate, PBX_RATE), PBX_RATE)
    return Prompt(target.name, target, source.duration_s)


def prompt_media(prompt: Prompt, settings: Settings) -> str:
    """The ARI media URI of a prompt: Asterisk fetches it from escucha over HTTP."""
    return f"sound:{settings.public_url}/telephony/asterisk/audio/{prompt.name}"
