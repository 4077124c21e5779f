"""The voice domain's session hooks: a new signal wakes the stream of the side it is for
(:mod:`escucha.db.changes`, ADR 25). Found by :func:`escucha.db.registry.load_models`."""

from __future__ import annotations

from escucha.db import changes
from escucha.voice.models import VoiceSignal


def _signal(s: VoiceSignal) -> tuple[str, ...]:
    if s.recipient == "agent":
        return (f"signals:agent:{s.user_id}",)
    return ("signals:callers",)


def install() -> None:
    changes.install()
    changes.register(VoiceSignal, _signal)
