"""Sample transcripts for the QA tests (contacts and users come from ``tests.factories``)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"
GOOD_ES = (DATA / "es" / "es01_cargo_duplicado.txt").read_text(encoding="utf-8")
BAD_ES = (DATA / "es" / "es02_sin_internet.txt").read_text(encoding="utf-8")
