"""The voice domain's session hooks: a new signal wakes the stream of the side it is for, a
consult the desks of both agents, and a PBX registration the agent's desk
(:mod:`escucha.db.changes`, ADR 25). Found by :func:`escucha.db.registry.load_models`."""

from __future__ import annotations

from escucha.db import changes
from escucha.voice.models import SipAccount, VoiceConsult, VoiceSignal


def _signal(s: VoiceSignal) -> tuple[str, ...]:
    if s.recipient == "agent":
        return (f"signals:agent:{s.user_id}",)
    return ("signals:callers",)


def _consult(c: VoiceConsult) -> tuple[str, ...]:
    return (f"agent:{c.from_user_id}", f"agent:{c.to_user_id}", f"contact:{c.contact_id}")


def install() -> None:
    changes.install()
    changes.register(VoiceSignal, _signal)
    changes.register(VoiceConsult, _consult)
    changes.register(SipAccount, lambda a: (f"agent:{a.user_id}",))
