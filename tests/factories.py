"""Plain factory functions: ``make_user(session, **overrides)``."""

from __future__ import annotations

from itertools import count
from typing import Any

from sqlalchemy.orm import Session

from escucha.auth import service as auth_service
from escucha.auth.models import User
from tests.conftest import START

_n = count(1)


def make_user(session: Session, **overrides: Any) -> User:
    n = next(_n)
    fields: dict[str, Any] = {
        "username": f"user{n}",
        "display_name": f"User {n}",
        "role": "agent",
        "password": "correct-horse-battery",
        "now": START,
    }
    fields.update(overrides)
    return auth_service.create_user(session, **fields)
