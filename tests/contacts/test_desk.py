"""What the agent's desk shows of a customer (C2)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from escucha.callbacks import service as callbacks
from escucha.contacts import live
from escucha.contacts import service as contacts
from escucha.contacts.models import Contact, Customer
from escucha.promises import service as promises
from escucha.routing import service as routing
from tests.conftest import START
from tests.factories import caller, demo


def test_masks_keep_enough_to_recognise() -> None:
    assert live.mask_phone("+34600111001") == "+34600•••001"
    assert live.mask_phone(None) == ""
    assert live.mask_phone("12345") == "•••45"
    assert live.mask_email("pilar@example.com") == "p•••@example.com"
    assert live.mask_email("no-at-sign") == ""
