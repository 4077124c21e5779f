"""The staffing targets that ``escucha staff`` and ``escucha plan`` both take as options."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from escucha.numerics.staffing import ServiceLevelTarget

TargetTime = Annotated[float, typer.Option("--target-time", help="Service-level time, seconds.")]
TargetAsa = Annotated[float | None, typer.Option("--target-asa", help="Maximum ASA, seconds.")]
MaxAbandon = Annotated[
    float | None, typer.Option("--max-abandon", help="Maximum share abandoning (0-1).")
]
MaxOccupancy = Annotated[
    float | None, typer.Option("--max-occupancy", help="Maximum occupancy (0-1).")
]
Spain = Annotated[
    bool,
    typer.Option("--spain-95-180", help="Also require 95% answered within 180 s (Spain)."),
]
Patience = Annotated[
    float | None,
    typer.Option("--patience", help="Mean caller patience, seconds: use Erlang A."),
]
AsJson = Annotated[bool, typer.Option("--json", help="JSON on stdout, nothing else.")]


def service_levels(
    target_sl: float | None, target_time_s: float, spain: bool
) -> list[ServiceLevelTarget]:
    """``--target-sl`` within ``--target-time``, then Spain's 95 % in 180 s when asked.

    Raises ``ValueError`` on a share outside (0, 1] or a time below zero.
    """
    # Imported when the command runs, so the CLI starts fast.
    from escucha.numerics.staffing import SPAIN_95_180, ServiceLevelTarget

    levels = [] if target_sl is None else [ServiceLevelTarget(target_sl, target_time_s)]
    if spain:
        levels.append(SPAIN_95_180)
    return levels
