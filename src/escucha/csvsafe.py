"""Every CSV escucha writes goes through here, defused against formula injection.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some, a tab or
a carriage return) as a formula: a complaint whose topic is ``=HYPERLINK(...)`` would become a
link, ``=cmd|...`` a command, when a team opens the register. Following OWASP's advice on CSV
injection, every text cell that starts with one of those characters is written with a single
quote in front (``'=HYPERLINK(...)``), which spreadsheets show as text; quotes, commas and line
breaks inside a cell are quoted and doubled by :mod:`csv` as RFC 4180 says. Numbers are written
as numbers (a negative amount stays ``-5``). escucha's own readers take the quote off again
with :func:`restore`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""Characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection)."""


def defuse(value: Any) -> Any:
    """``value`` safe for a spreadsheet: text starting with a formula character gets ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def restore(value: str) -> str:
    """The text a defused cell held (for escucha's own readers of its CSV)."""
    if len(value) >= 2 and value[0] == "'" and value[1] in FORMULA_STARTS:
        return value[1:]
    return value


class SafeWriter:
    """``csv.writer`` whose rows are defused cell by cell."""

    def __init__(self, out: IO[str]) -> None:
        self._writer = csv.writer(out, lineterminator="\n")

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([defuse(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter:
    """``csv.DictWriter`` whose rows are defused cell by cell."""

    def __init__(self, out: IO[str], fieldnames: Sequence[str]) -> None:
        self._writer = csv.DictWriter(out, fieldnames=fieldnames, lineterminator="\n")

    def writeheader(self) -> None:
        self._writer.writeheader()

    def writerow(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow({key: defuse(value) for key, value in row.items()})
