"""Telephony tests load the demo organisation often: hash its passwords cheaply."""

from __future__ import annotations

import pytest

from escucha.auth import service as auth_service
from tests.telephony.helpers import CHEAP


@pytest.fixture(autouse=True)
def _cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth_service, "_hasher", CHEAP)
