"""What the agent's desk shows of a customer (C2)."""

from __future__ import annotations

from escucha.contacts import desk


def test_masks_keep_enough_to_recognise() -> None:
    assert desk.mask_phone("+34600111001") == "+34600•••001"
    assert desk.mask_phone(None) == ""
    assert desk.mask_phone("12345") == "•••45"
    assert desk.mask_email("pilar@example.com") == "p•••@example.com"
    assert desk.mask_email("no-at-sign") == ""
