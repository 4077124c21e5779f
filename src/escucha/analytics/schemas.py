"""Shapes of call-log analytics: the call-record table, options and results (W3, W4, W5, M1, C6).

``CALL_COLUMNS`` is the shared contract of the call-record table ("calls"): the importers
write it, the simulator writes it, the KPI engine reads it. ``EXTRA_COLUMNS`` are optional
columns some sources know (the escucha event log); they are null where unknown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import pyarrow as pa

from escucha.numerics.patience import (
    DEFAULT_SURVIVAL_LEVEL,
    DEFAULT_SURVIVAL_POINTS_S,
    DEFAULT_WAIT_POINTS_S,
    PatienceSummary,
)

CALL_COLUMNS: Final[Mapping[str, pa.DataType]] = {
    "call_id": pa.string(),
    "queue": pa.string(),
    "customer_id": pa.string(),
    "call_type": pa.string(),
    "arrived_at": pa.timestamp("us", tz="UTC"),
    "queued": pa.bool_(),
    "wait_s": pa.float64(),
    "abandoned": pa.bool_(),
    "answered": pa.bool_(),
    "service_s": pa.float64(),
    "hold_s": pa.float64(),
    "holds": pa.int32(),
    "wrap_s": pa.float64(),
    "agent": pa.string(),
    "transfers": pa.int32(),
    "callback": pa.bool_(),
}
"""The call-record table: column name -> Arrow type (one row per call that reached the system).

``arrived_at`` is when the call entered the queue (or the system, if never queued);
``wait_s`` is the time in queue until answered or abandoned (0 when not queued);
``service_s`` is talk time (0 when not answered); ``callback`` marks a caller who took a
callback that kept their place.
"""

NULLABLE_CALL_COLUMNS: Final[frozenset[str]] = frozenset({"customer_id", "call_type", "agent"})

CALLS_SCHEMA: Final[pa.Schema] = pa.schema(
    [
        pa.field(name, typ, nullable=name in NULLABLE_CALL_COLUMNS)
        for name, typ in CALL_COLUMNS.items()
    ]
)

EXTRA_COLUMNS: Final[Mapping[str, pa.DataType]] = {
    "estimate_s": pa.float64(),
    "holds_unannounced": pa.int32(),
    "resolved": pa.bool_(),
    "callback_kept": pa.bool_(),
}
"""Optional columns: the first wait estimate announced, holds not announced to the caller, the
agent's "resolved" flag at wrap-up, and whether a requested callback was made on time
(null while it is not yet due)."""

DUCKDB_TYPES: Final[Mapping[str, str]] = {
    "call_id": "VARCHAR",
    "queue": "VARCHAR",
    "customer_id": "VARCHAR",
    "call_type": "VARCHAR",
    "arrived_at": "TIMESTAMPTZ",
    "queued": "BOOLEAN",
    "wait_s": "DOUBLE",
    "abandoned": "BOOLEAN",
    "answered": "BOOLEAN",
    "service_s": "DOUBLE",
    "hold_s": "DOUBLE",
    "holds": "INTEGER",
    "wrap_s": "DOUBLE",
    "agent": "VARCHAR",
    "transfers": "INTEGER",
    "callback": "BOOLEAN",
    "estimate_s": "DOUBLE",
    "holds_unannounced": "INTEGER",
    "resolved": "BOOLEAN",
    "callback_kept": "BOOLEAN",
}
"""DuckDB type of every call column, contract and extra."""

FORMATS: Final[tuple[str, ...]] = ("escucha", "asterisk", "anonymous-bank", "csv", "calls")
"""Input formats; ``calls`` is the call-record table itself (Parquet, or CSV with its names)."""

Format = Literal["auto", "escucha", "asterisk", "anonymous-bank", "csv", "calls"]

SlVariant = Literal[
    "offered_ex_short",
    "offered",
    "answered",
    "offered_ex_abandoned_within_t",
    "abandons_met",
]

SL_VARIANTS: Final[Mapping[str, str]] = {
    "offered_ex_short": "answered within T / (offered - short abandons)   [default]",
    "offered": "answered within T / offered",
    "answered": "answered within T / answered",
    "offered_ex_abandoned_within_t": "answered within T / (offered - abandoned within T)",
    "abandons_met": "(answered within T + abandoned within T) / offered",
}
"""Named service-level definitions. T is the answer threshold; "offered" counts queued calls;
short abandons are callers who hung up within ``short_abandon_s`` (misdials, second thoughts).

The default, ``offered_ex_short``, counts every caller who waited longer than the short-abandon
threshold: callers who hung up after waiting count against the service level, misdials do not.
``offered``, ``answered``, ``offered_ex_abandoned_within_t`` and ``abandons_met`` are the
Erlang module's definitions of the same name (:data:`escucha.numerics.erlang.SL_DEFINITIONS`), so
a plan and the log it is checked against speak of the same ratio."""

DEFAULT_SL_VARIANT: Final[SlVariant] = "offered_ex_short"


@dataclass(frozen=True)
class AnalysisOptions:
    """How to analyse a call log. Defaults follow common contact-center practice.

    Attributes
    ----------
    interval_min : int
        Reporting interval, minutes; widened automatically (and said so) when the log spans
        more than ``max_intervals`` of them.
    sl_threshold_s : float
        Answer threshold T of the service level (80/20 -> 20 s).
    sl_target : float
        Service-level goal drawn on the charts.
    sl_variant : str
        Which of :data:`SL_VARIANTS` is "the" service level.
    short_abandon_s : float
        Abandons after at most this wait are short abandons (misdials, second thoughts).
    fcr_days : float
        A contact is resolved first time when the same customer does not contact again within
        this many days.
    wait_points_s, survival_points_s : tuple of float
        Points of the abandonment-by-wait and survival tables.
    survival_level : float
        The recommended answer target is the wait at which patience survival falls to this.
    confidence : float
        Level of the Kaplan-Meier confidence band.
    patience_resolution_s : float
        Waits are counted in steps of this size (rounded up) for the patience curve.
    spain_threshold_s, spain_target : float
        The Spanish customer-service rule: 95 % of calls answered by a person within 180 s.
    lang : str
        Report language, ``"es"`` or ``"en"``.
    memory_limit : str
        DuckDB memory limit.
    threads : int or None
        DuckDB threads (None: all cores).
    max_intervals : int
        Widest interval table before the interval is widened.
    max_bad_rows_kept : int
        Bad rows kept in memory for display; all are counted.
    """

    interval_min: int = 30
    sl_threshold_s: float = 20.0
    sl_target: float = 0.8
    sl_variant: SlVariant = DEFAULT_SL_VARIANT
    short_abandon_s: float = 5.0
    fcr_days: float = 7.0
    wait_points_s: tuple[float, ...] = DEFAULT_WAIT_POINTS_S
    survival_points_s: tuple[float, ...] = DEFAULT_SURVIVAL_POINTS_S
    survival_level: float = DEFAULT_SURVIVAL_LEVEL
    confidence: float = 0.95
    patience_resolution_s: float = 0.01
    spain_threshold_s: float = 180.0
    spain_target: float = 0.95
    lang: Literal["es", "en"] = "es"
    memory_limit: str = "1GB"
    threads: int | None = None
    max_intervals: int = 3000
    max_bad_rows_kept: int = 1000

    def __post_init__(self) -> None:
        if self.interval_min <= 0:
            raise ValueError("interval_min must be positive")
        if self.sl_variant not in SL_VARIANTS:
            raise ValueError(f"unknown service-level variant {self.sl_variant!r}")
        if self.sl_threshold_s < 0 or self.short_abandon_s < 0 or self.fcr_days < 0:
            raise ValueError("thresholds must not be negative")
        if not 0 < self.survival_level < 1:
            raise ValueError("survival_level must be between 0 and 1")
        if self.patience_resolution_s <= 0:
            raise ValueError("patience_resolution_s must be positive")


@dataclass(frozen=True)
class BadRow:
    """A row an importer could not use: ``file:line: column: reason``."""

    file: str
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.column}: {self.reason}"


@dataclass
class ImportSummary:
    """What one importer made of one file."""

    file: str
    format: str
    rows_read: int = 0
    bad_rows: int = 0
    calls: int = 0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "rows_read": self.rows_read,
            "bad_rows": self.bad_rows,
            "calls": self.calls,
            "notes": list(self.notes),
        }


Row = dict[str, Any]


@dataclass(frozen=True)
class KpiTables:
    """KPIs overall and per interval, queue, agent and call type (one dict per group)."""

    overall: Row
    by_interval: list[Row]
    by_queue: list[Row]
    by_agent: list[Row]
    by_call_type: list[Row]
    interval_min: int
    has_agent_states: bool


@dataclass(frozen=True)
class ErlangCheckRow:
    """Erlang A prediction for one interval next to what happened."""

    interval_start_s: float
    arrivals_per_h: float
    aht_s: float
    agents: float
    p_abandon_measured: float
    p_abandon_predicted: float
    asa_measured_s: float
    asa_predicted_s: float
    sl_measured: float
    sl_predicted: float


@dataclass
class AnalysisResult:
    """Everything a report shows; small (aggregates only), safe to keep or serialise."""

    options: AnalysisOptions
    imports: list[ImportSummary]
    bad_rows: list[BadRow]
    bad_row_count: int
    kpis: KpiTables
    patience: PatienceSummary | None
    summary: dict[str, Any]
    erlang_check: list[ErlangCheckRow] | None = None
    erlang_note: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document: the contract keys plus ``kpis``, ``bad_rows``, ``files``."""
        out: dict[str, Any] = dict(self.summary)
        out["kpis"] = {
            "overall": self.kpis.overall,
            "by_queue": self.kpis.by_queue,
            "by_agent": self.kpis.by_agent,
            "by_call_type": self.kpis.by_call_type,
            "interval_min": self.kpis.interval_min,
            "by_interval": self.kpis.by_interval,
        }
        out["bad_rows"] = {
            "count": self.bad_row_count,
            "shown": [str(b) for b in self.bad_rows],
        }
        out["files"] = [i.to_json() for i in self.imports]
        if self.erlang_check is not None:
            out["erlang_a_check"] = [vars(r) for r in self.erlang_check]
        cleaned: dict[str, Any] = clean_json(out)
        return cleaned


def clean_json(value: Any) -> Any:
    """Replace NaN and infinities by None so the document is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value
