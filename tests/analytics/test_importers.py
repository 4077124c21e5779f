"""Importers: real-shaped samples of each format and malformed lines of every kind (W3, W5)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from escucha.analytics.importers import (
    ImportContext,
    LoadedMapping,
    Source,
    detect_format,
    finish_calls_view,
    import_source,
    load_mapping,
)
from escucha.analytics.schemas import CALLS_SCHEMA, ImportSummary
from escucha.errors import InvalidInput
from escucha.yamlio import YamlFileError

DATA = Path(__file__).parent / "data"


@dataclass
class Loaded:
    summary: ImportSummary
    calls: dict[str, dict[str, Any]]
    bad: list[tuple[int, str, str]]
    con: duckdb.DuckDBPyConnection


@pytest.fixture
def load() -> Iterator[Any]:
    cons: list[duckdb.DuckDBPyConnection] = []

    def _load(
        name: str | Path,
        fmt: str = "auto",
        mapping: LoadedMapping | None = None,
        lang: str = "en",
    ) -> Loaded:
        con = duckdb.connect()
        cons.append(con)
        con.execute("SET TimeZone = 'UTC'")
        ctx = ImportContext(con, lang=lang)
        path = name if isinstance(name, Path) else DATA / name
        summary = import_source(ctx, Source.from_path(path), fmt, mapping)
        finish_calls_view(ctx)
        cur = con.execute(
            "SELECT * EXCLUDE (arrived_at), epoch(arrived_at) AS arrived_s FROM calls "
            "ORDER BY call_id, queue"
        )
        names = [d[0] for d in cur.description]
        calls = {}
        for row in cur.fetchall():
            rec = dict(zip(names, row, strict=True))
            calls[
                f"{rec['call_id']}@{rec['queue']}" if rec["call_id"] in calls else rec["call_id"]
            ] = rec
        bad = [
            (int(line), str(col), str(reason))
            for line, col, reason in con.execute(
                "SELECT line, col, reason FROM bad_rows ORDER BY line, col"
            ).fetchall()
        ]
        return Loaded(summary, calls, bad, con)

    yield _load
    for con in cons:
        con.close()


def _epoch(year: int, month: int, day: int, hour: int, minute: int, second: int) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


# --------------------------------------------------------------------------------------------
# Format detection
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("anonymous_bank.txt", "anonymous-bank"),
        ("queue_log", "asterisk"),
        ("events.csv", "escucha"),
        ("patience.csv", "csv"),
    ],
)
def test_detect_format(name: str, expected: str) -> None:
    assert detect_format(Source.from_path(DATA / name)) == expected


def test_detect_format_needs_a_mapping_for_a_foreign_csv() -> None:
    source = Source.from_path(DATA / "vendor_calls.csv")
    with pytest.raises(InvalidInput, match="--format"):
        detect_format(source)
    assert detect_format(source, has_mapping=True) == "csv"


# --------------------------------------------------------------------------------------------
# Anonymous Bank
# --------------------------------------------------------------------------------------------


def test_anonymous_bank_sample(load: Any) -> None:
    r = load("anonymous_bank.txt")
    assert r.bad == []
    assert r.summary.rows_read == 10
    assert r.summary.calls == 9
    assert any("PHANTOM" in n for n in r.summary.notes)
    assert "44754" not in r.calls  # the PHANTOM row
    first = r.calls["44749"]
    assert first["queue"] == "PS"
    assert first["call_type"] == "2"
    assert first["customer_id"] == "27644400"
    assert first["arrived_s"] == _epoch(1999, 9, 1, 11, 45, 39)
    assert first["queued"] is True
    assert first["wait_s"] == 79
    assert first["answered"] is True
    assert first["abandoned"] is False
    assert first["service_s"] == 242
    assert first["agent"] == "DORIT"
    hung = r.calls["44751"]
    assert hung["customer_id"] is None  # 0 means unknown
    assert (hung["abandoned"], hung["answered"], hung["agent"]) == (True, False, None)
    assert hung["wait_s"] == 120
    in_vru = r.calls["44753"]
    assert (in_vru["queued"], in_vru["abandoned"], in_vru["wait_s"]) == (False, False, 0)
    assert in_vru["arrived_s"] == _epoch(1999, 9, 1, 15, 20, 0)
    # entered the VRU at 23:59:50, joined the queue at 0:00:03 the next day
    assert r.calls["44756"]["arrived_s"] == _epoch(1999, 9, 4, 0, 0, 3)


def test_anonymous_bank_bad_rows(load: Any) -> None:
    r = load("anonymous_bank_bad.txt")
    assert r.bad == [
        (3, "<row>", "expected 17 fields, found 16"),
        (4, "date", "not a date YYMMDD: '991301'"),
        (5, "vru_entry", "not a time H:MM:SS: '25:10:00'"),
        (6, "q_time", "not whole seconds: '7x'"),
        (7, "outcome", "not AGENT, HANG or PHANTOM: 'LOST'"),
        (8, "ser_start", "an answered (AGENT) call has no service start"),
        (9, "priority", "not 0, 1 or 2: '3'"),
        (10, "customer_id", "not a whole number: 'ABC'"),
        (12, "<line>", r.bad[8][2]),
        (13, "call_id", "empty"),
    ]
    assert r.bad[8][2].startswith("not valid UTF-8")
    assert sorted(r.calls) == ["44760", "44768"]
    assert r.summary.bad_rows == 10
    assert r.summary.rows_read == 12  # the blank line is not a row; the undecodable one is


def test_anonymous_bank_wrong_header(load: Any, tmp_path: Path) -> None:
    f = tmp_path / "ab.txt"
    f.write_text("vru+line\tcall_id\toops\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"ab.txt:1: header"):
        load(f, "anonymous-bank")


def test_empty_file_is_refused(load: Any, tmp_path: Path) -> None:
    f = tmp_path / "empty.txt"
    f.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="empty"):
        load(f, "anonymous-bank")


# --------------------------------------------------------------------------------------------
# Asterisk queue_log
# --------------------------------------------------------------------------------------------


def test_asterisk_sample(load: Any) -> None:
    r = load("queue_log")
    assert r.bad == []
    assert r.summary.calls == 8
    notes = " ".join(r.summary.notes)
    assert "1 calls with no outcome" in notes
    assert "QUEUESTART 1" in notes
    c = r.calls
    answered = c["1700000100.1"]
    assert (answered["wait_s"], answered["service_s"], answered["agent"]) == (12, 180, "SIP/1001")
    assert answered["customer_id"] == "600111222"
    assert answered["arrived_s"] == 1700000100
    abandoned = c["1700000200.3"]
    assert (abandoned["abandoned"], abandoned["answered"], abandoned["wait_s"]) == (True, False, 30)
    # timeouts, key presses and empty queues are neither answered nor abandoned
    for cid, wait in (("1700000300.4", 40), ("1700000400.5", 3), ("1700000800.11", 10)):
        assert (c[cid]["abandoned"], c[cid]["answered"], c[cid]["wait_s"]) == (False, False, wait)
    transferred = c["1700000500.6"]
    assert transferred["transfers"] == 1
    assert transferred["service_s"] == 120
    assert transferred["queue"] == "sales"
    assert c["1700000600.8"]["customer_id"] is None  # anonymous caller
    assert "1700001900.12" not in c  # still queued at the end
    states = r.con.execute(
        "SELECT agent, state, start_s, end_s FROM agent_states ORDER BY agent, start_s"
    ).fetchall()
    assert states == [
        ("SIP/1001", "available", 1700000000, 1700001000),
        ("SIP/1001", "paused", 1700001000, 1700001600),
        ("SIP/1001", "available", 1700001600, 1700001800),
        ("SIP/1002", "available", 1700000000, 1700001800),
    ]
    rna = r.con.execute("SELECT agent, n FROM agent_ring_no_answer").fetchall()
    assert rna == [("SIP/1002", 1)]


def test_asterisk_bad_rows(load: Any) -> None:
    r = load("queue_log_bad")
    got = [(line, col) for line, col, _ in r.bad]
    assert got == [
        (4, "<row>"),
        (5, "time"),
        (6, "event"),
        (7, "event"),
        (8, "holdtime (data1)"),
        (9, "calltime (data2)"),
        (10, "callid"),
        (11, "queue"),
        (12, "agent"),
        (13, "waittime (data3)"),
        (14, "<row>"),
        (15, "<line>"),
    ]
    reasons = {(line, col): reason for line, col, reason in r.bad}
    assert reasons[(6, "event")] == "unknown event: 'ENTERQUEU'"
    assert reasons[(7, "event")] == "empty"
    assert reasons[(4, "<row>")].endswith("found 3")
    assert sorted(r.calls) == ["callA", "callJ"]
    # an old-style ABANDON without waittime: the wait is the time since ENTERQUEUE
    assert r.calls["callJ"]["wait_s"] == 25
    assert r.calls["callJ"]["abandoned"] is True


def test_asterisk_log_starting_mid_call_and_with_agents_already_in(
    load: Any, tmp_path: Path
) -> None:
    f = tmp_path / "queue_log"
    f.write_text(
        "1700000050|NONE|q|SIP/9|PAUSE|break\n"
        "1700000100|NONE|q|SIP/9|UNPAUSE|\n"
        "1700000130|x1|q|SIP/9|CONNECT|30|x1.2|1\n"
        "1700000200|x1|q|SIP/9|COMPLETEAGENT|30|70|1\n"
        "1700000300|NONE|q|SIP/9|REMOVEMEMBER|\n"
        "1700000400|NONE|q|SIP/7|PAUSE|\n"
        "1700000500|NONE|q|SIP/7|UNPAUSE|\n",
        encoding="utf-8",
    )
    r = load(f)
    # no ENTERQUEUE: the arrival is the answer minus the wait
    assert r.calls["x1"]["arrived_s"] == 1700000100
    states = r.con.execute(
        "SELECT agent, state, start_s, end_s FROM agent_states ORDER BY agent, start_s"
    ).fetchall()
    assert states == [
        ("SIP/7", "paused", 1700000400, 1700000500),
        ("SIP/9", "paused", 1700000050, 1700000100),
        ("SIP/9", "available", 1700000100, 1700000300),
    ]


# --------------------------------------------------------------------------------------------
# escucha event log
# --------------------------------------------------------------------------------------------


def test_escucha_event_log_sample(load: Any) -> None:
    r = load("events.csv")
    assert r.bad == []
    assert r.summary.calls == 6
    assert any("still queued" in n for n in r.summary.notes)
    c1 = r.calls["c1"]
    assert c1["queue"] == "soporte"
    assert c1["arrived_s"] == _epoch(2024, 3, 4, 10, 0, 5)
    assert c1["wait_s"] == 40
    assert (c1["holds"], c1["hold_s"], c1["holds_unannounced"]) == (2, 50, 1)
    assert c1["service_s"] == 250  # 10:00:45-10:05:45 minus 50 s on hold
    assert c1["wrap_s"] == 30
    assert c1["resolved"] is True
    assert c1["estimate_s"] == 60
    assert c1["agent"] == "a1"
    c2 = r.calls["c2"]
    assert (c2["abandoned"], c2["wait_s"], c2["estimate_s"]) == (True, 60, 30)
    c3 = r.calls["c3"]
    assert (c3["callback"], c3["callback_kept"], c3["wait_s"]) == (True, True, 9)
    assert (c3["abandoned"], c3["answered"]) == (False, False)
    c4 = r.calls["c4"]
    assert (c4["queued"], c4["answered"], c4["wait_s"], c4["call_type"]) == (
        False,
        True,
        0,
        "callback",
    )
    assert c4["service_s"] == 240
    c5 = r.calls["c5"]
    assert (c5["transfers"], c5["service_s"], c5["wrap_s"], c5["queue"]) == (1, 180, 10, "ventas")
    c6 = r.calls["c6"]
    assert c6["callback_kept"] is False  # due at 11:40, the log goes on until 12:00
    assert "c7" not in r.calls


def test_escucha_callback_still_due_is_unknown(load: Any, tmp_path: Path) -> None:
    f = tmp_path / "events.csv"
    f.write_text(
        "contact_id,event,at,queue,agent,customer_id,channel,data\n"
        "k1,queued,2024-03-04T10:00:00Z,q,,C1,voice,\n"
        'k1,callback_requested,2024-03-04T10:00:30Z,q,,C1,voice,"{""due_at"": '
        '""2024-03-04T12:00:00Z""}"\n'
        "k1,ended,2024-03-04T10:00:31Z,q,,C1,voice,\n",
        encoding="utf-8",
    )
    r = load(f)
    assert r.calls["k1"]["callback"] is True
    assert r.calls["k1"]["callback_kept"] is None


def test_escucha_event_log_bad_rows(load: Any) -> None:
    r = load("events_bad.csv")
    assert [(line, col) for line, col, _ in r.bad] == [
        (5, "<row>"),
        (6, "event"),
        (7, "at"),
        (8, "data"),
        (9, "data"),
        (10, "data"),
        (11, "data"),
        (12, "data"),
        (13, "data"),
        (14, "data"),
        (15, "contact_id"),
        (17, "<line>"),
    ]
    reasons = [reason for _, _, reason in r.bad]
    assert reasons[1] == "unknown event: 'teleported'"
    assert reasons[3] == "not a JSON object: '{oops'"
    assert reasons[5] == "estimate_given needs estimate_s (seconds)"
    assert reasons[11].startswith("unreadable CSV")
    assert r.calls["c1"]["service_s"] == 180
    # c2's own "queued" row was bad: the call is kept, as not queued
    assert r.calls["c2"]["queued"] is False


def test_escucha_bad_rows_in_spanish(load: Any) -> None:
    r = load("events_bad.csv", lang="es")
    assert r.bad[1][2] == "evento desconocido: 'teleported'"


def test_escucha_wrong_header(load: Any, tmp_path: Path) -> None:
    f = tmp_path / "events.csv"
    f.write_text("contact_id,event,when\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"events.csv:1: header"):
        load(f, "escucha")


# --------------------------------------------------------------------------------------------
# CSV with a mapping
# --------------------------------------------------------------------------------------------


def test_csv_with_mapping(load: Any) -> None:
    r = load("vendor_calls.csv", "csv", load_mapping(DATA / "vendor_mapping.yaml"))
    assert r.bad == []
    one = r.calls["1"]
    assert one["arrived_s"] == _epoch(2024, 3, 4, 9, 0, 0)
    assert (one["wait_s"], one["answered"], one["abandoned"], one["service_s"]) == (
        12,
        True,
        False,
        200,
    )
    assert one["agent"] == "ana"
    assert r.calls["2"]["agent"] is None
    assert (r.calls["4"]["abandoned"], r.calls["4"]["wait_s"]) == (True, 70)
    assert r.calls["3"]["customer_id"] is None
    assert r.calls["3"]["queued"] is True  # not mapped: every call was queued


def test_csv_with_mapping_bad_rows(load: Any) -> None:
    r = load("vendor_calls_bad.csv", "csv", load_mapping(DATA / "vendor_mapping.yaml"))
    assert [(line, col) for line, col, _ in r.bad] == [
        (3, "WaitMs"),
        (4, "WaitMs"),
        (5, "Start"),
        (6, "<row>"),
        (7, "WaitMs"),
        (8, "TalkSec"),
    ]
    assert r.bad[4][2] == "empty"
    assert sorted(r.calls) == ["1", "8"]


def test_mapping_pointing_at_a_missing_column(load: Any, tmp_path: Path) -> None:
    m = tmp_path / "m.yaml"
    m.write_text(
        "delimiter: ';'\ncolumns:\n  wait_s: Espera\n  abandoned: Result\n", encoding="utf-8"
    )
    with pytest.raises(InvalidInput, match=r"m.yaml:3: columns.wait_s: column 'Espera'"):
        load("vendor_calls.csv", "csv", load_mapping(m))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("columns:\n  wait_s: w\n  abandoned: a\n  colour: c\n", "unknown call-record"),
        ("columns:\n  abandoned: a\n", "wait_s must be mapped"),
        ("columns:\n  wait_s: w\n", "abandoned or answered"),
        ("delimiter: ';;'\ncolumns:\n  wait_s: w\n  abandoned: a\n", "one character"),
        ("columns:\n  wait_s: {unit: ms}\n  abandoned: a\n", "either 'column' or 'value'"),
    ],
)
def test_bad_mapping_files(tmp_path: Path, text: str, message: str) -> None:
    m = tmp_path / "m.yaml"
    m.write_text(text, encoding="utf-8")
    with pytest.raises(YamlFileError, match=message):
        load_mapping(m)


def test_csv_with_call_record_names_and_constants(load: Any, tmp_path: Path) -> None:
    f = tmp_path / "calls.csv"
    f.write_text(
        "call_id,arrived_at,wait_s,answered,holds,callback\n"
        "a,1700000000,10,yes,2,no\n"
        "b,1700000060,20,no,0,si\n"
        "c,1700000120,5,maybe,0,no\n",
        encoding="utf-8",
    )
    m = tmp_path / "m.yaml"
    m.write_text(
        "columns:\n  call_id: call_id\n  arrived_at: {column: arrived_at, format: epoch}\n"
        "  wait_s: wait_s\n  answered: answered\n  holds: holds\n  callback: callback\n"
        "  queue: {value: main}\n",
        encoding="utf-8",
    )
    r = load(f, "csv", load_mapping(m))
    assert [(line, col) for line, col, _ in r.bad] == [(4, "answered")]
    a, b = r.calls["a"], r.calls["b"]
    assert (a["answered"], a["abandoned"], a["holds"], a["queue"]) == (True, False, 2, "main")
    assert (b["answered"], b["abandoned"], b["callback"]) == (False, True, True)
    assert a["arrived_s"] == 1700000000


def test_patience_csv_needs_no_mapping(load: Any) -> None:
    r = load("patience.csv")
    assert r.summary.calls == 10
    first = r.calls[f"{DATA / 'patience.csv'}:2"]
    assert (first["wait_s"], first["abandoned"], first["answered"]) == (5, True, False)


def test_foreign_csv_without_mapping_is_refused(load: Any) -> None:
    with pytest.raises(InvalidInput, match="--mapping"):
        load("vendor_calls.csv", "csv")


# --------------------------------------------------------------------------------------------
# The call table as Parquet
# --------------------------------------------------------------------------------------------


def _calls_table(n: int = 4) -> pa.Table:
    base = datetime(2024, 3, 4, 9, tzinfo=UTC)
    return pa.table(
        {
            "call_id": [f"p{i}" for i in range(n)],
            "queue": ["q"] * n,
            "customer_id": [None] * n,
            "call_type": [None] * n,
            "arrived_at": [base.replace(minute=i) for i in range(n)],
            "queued": [True] * n,
            "wait_s": [float(i * 10) for i in range(n)],
            "abandoned": [False] * n,
            "answered": [True] * n,
            "service_s": [100.0] * n,
            "hold_s": [0.0] * n,
            "holds": [0] * n,
            "wrap_s": [5.0] * n,
            "agent": ["a"] * n,
            "transfers": [0] * n,
            "callback": [False] * n,
        },
        schema=CALLS_SCHEMA,
    )


def test_parquet_call_table(load: Any, tmp_path: Path) -> None:
    table = _calls_table()
    table = table.set_column(6, "wait_s", pa.array([0.0, -1.0, 20.0, float("nan")]))
    table = table.set_column(7, "abandoned", pa.array([False, False, True, False]))
    f = tmp_path / "calls.parquet"
    pq.write_table(table, f)
    r = load(f)
    assert r.summary.format == "calls"
    assert r.summary.rows_read == 4
    assert r.bad == [
        (2, "wait_s", "missing or negative"),
        (3, "abandoned/answered", "both abandoned and answered"),
        (4, "wait_s", "missing or negative"),
    ]
    assert sorted(r.calls) == ["p0"]
    assert r.calls["p0"]["wrap_s"] == 5


def test_parquet_with_only_the_required_columns(load: Any, tmp_path: Path) -> None:
    f = tmp_path / "min.parquet"
    pq.write_table(
        pa.table(
            {
                "queued": [True, True],
                "wait_s": [3.0, 4.0],
                "abandoned": [True, False],
                "answered": [False, True],
            }
        ),
        f,
    )
    r = load(f)
    assert sorted(r.calls) == ["1", "2"]
    assert r.calls["2"]["queue"] == "default"
    assert any("absent columns" in n for n in r.summary.notes)


def test_parquet_missing_required_columns(load: Any, tmp_path: Path) -> None:
    f = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"wait_s": [1.0]}), f)
    with pytest.raises(InvalidInput, match="missing call-table columns: abandoned"):
        load(f)


def test_not_a_parquet_file(load: Any, tmp_path: Path) -> None:
    f = tmp_path / "x.parquet"
    f.write_bytes(b"PAR1 not really")
    with pytest.raises(InvalidInput, match="not a readable Parquet"):
        load(f)


def test_text_source_in_memory() -> None:
    text = (DATA / "events.csv").read_text(encoding="utf-8")
    con = duckdb.connect()
    ctx = ImportContext(con, lang="en")
    summary = import_source(ctx, Source.from_text(text), "escucha")
    assert summary.calls == 6
    assert summary.file == "<event-log>"
    con.close()


def test_unknown_format(load: Any) -> None:
    with pytest.raises(InvalidInput, match="unknown format"):
        load("queue_log", "cisco")


def test_asterisk_holds_marked_by_pauses_with_a_call_id(load: Any, tmp_path: Path) -> None:
    # escucha's own queue_log export marks holds as PAUSE/UNPAUSE carrying the call id
    f = tmp_path / "queue_log"
    f.write_text(
        "1700000000|NONE|q|agent/1|ADDMEMBER|\n"
        "1700000100|escucha-1|q|NONE|ENTERQUEUE||C1|1\n"
        "1700000110|escucha-1|q|agent/1|CONNECT|10|escucha-1|0\n"
        "1700000150|escucha-1|q|agent/1|PAUSE|hold\n"
        "1700000170|escucha-1|q|agent/1|UNPAUSE|hold\n"
        "1700000200|escucha-1|q|agent/1|PAUSE|hold\n"
        "1700000210|escucha-1|q|agent/1|UNPAUSE|hold\n"
        "1700000410|escucha-1|q|agent/1|COMPLETEAGENT|10|300|1\n"
        "1700001000|NONE|q|agent/1|REMOVEMEMBER|\n",
        encoding="utf-8",
    )
    r = load(f)
    call = r.calls["escucha-1"]
    assert (call["holds"], call["hold_s"], call["service_s"]) == (2, 30, 270)
    states = r.con.execute("SELECT agent, state, start_s, end_s FROM agent_states").fetchall()
    assert states == [("agent/1", "available", 1700000000, 1700001000)]
