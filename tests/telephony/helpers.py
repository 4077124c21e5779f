"""The demo organisation, loaded quickly: its passwords hashed with cheap argon2 settings."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from tests.acd_helpers import demo

CHEAP = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


def fast_demo(session: Session, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """``tests.acd_helpers.demo`` without the cost of hashing five real passwords."""
    monkeypatch.setattr(auth_service, "_hasher", CHEAP)
    return demo(session)
