"""Arbitrary and mangled call logs: every importer gives a result or a clear error (W3, W5).

Inputs are the real-shaped samples with lines dropped, repeated, cut, fields replaced by
arbitrary text and random bytes spliced in, plus plain arbitrary bytes. Each import either
returns a summary whose bad rows point at a line of the input (``file:line: column: reason``)
or raises :class:`~escucha.errors.InvalidInput` naming the file, and then leaves no call rows
behind. Nothing else may escape.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escucha.analytics.importers import (
    ImportContext,
    LoadedMapping,
    Source,
    finish_calls_view,
    import_source,
    load_mapping,
)
from escucha.errors import InvalidInput
from escucha.yamlio import YamlFileError

DATA = Path(__file__).parent / "data"
NAME = "fuzz.log"
FUZZ = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _lines(name: str) -> list[bytes]:
    return (DATA / name).read_bytes().splitlines(keepends=True)


_noise = st.one_of(
    st.text(max_size=30).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=30),
    st.sampled_from([b"", b"\t", b";", b",", b"|", b'"', b"\r", b"\x00", b"-1", b"1e309", b"NaN"]),
)


@st.composite
def mangled(draw: st.DrawFn, sample: str) -> bytes:
    """The sample file with some of its lines damaged."""
    lines = _lines(sample)
    out: list[bytes] = []
    for line in lines:
        action = draw(st.sampled_from(["keep"] * 4 + ["drop", "twice", "cut", "field", "noise"]))
        if action == "keep":
            out.append(line)
        elif action == "twice":
            out += [line, line]
        elif action == "cut":
            out.append(line[: draw(st.integers(0, max(0, len(line) - 1)))])
        elif action == "field":
            sep = draw(st.sampled_from([b"\t", b";", b",", b"|"]))
            fields = line.rstrip(b"\r\n").split(sep)
            i = draw(st.integers(0, len(fields) - 1))
            fields[i] = draw(_noise)
            out.append(sep.join(fields) + b"\n")
        elif action == "noise":
            out.append(draw(_noise) + b"\n")
    return b"".join(out)


def _inputs(sample: str) -> st.SearchStrategy[bytes]:
    return st.one_of(mangled(sample), st.binary(max_size=300), st.just(b""))


def _check(data: bytes, fmt: str, mapping: LoadedMapping | None = None) -> None:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        ctx = ImportContext(con, lang="en")
        try:
            summary = import_source(ctx, Source(name=NAME, data=data), fmt, mapping)
        except InvalidInput as exc:
            refused: InvalidInput | None = exc
        else:
            refused = None
        if refused is not None:
            assert NAME in refused.message or "--format" in refused.message
            # nothing half-written
            assert con.execute("SELECT count(*) FROM calls_rows").fetchone() == (0,)
            return
        finish_calls_view(ctx)
        lines = data.count(b"\n") + 1
        calls = con.execute("SELECT count(*) FROM calls").fetchone()
        assert calls == (summary.calls,)
        assert 0 <= summary.bad_rows <= max(summary.rows_read, lines)
        for file, line, col, reason in con.execute(
            "SELECT file, line, col, reason FROM bad_rows"
        ).fetchall():
            assert file == NAME
            assert 1 <= line <= lines
            assert isinstance(col, str)
            assert reason
    finally:
        con.close()


@FUZZ
@given(data=_inputs("queue_log"))
def test_asterisk_queue_log(data: bytes) -> None:
    _check(data, "asterisk")


@FUZZ
@given(data=_inputs("events.csv"))
def test_escucha_event_log(data: bytes) -> None:
    _check(data, "escucha")


@FUZZ
@given(data=_inputs("anonymous_bank.txt"))
def test_anonymous_bank(data: bytes) -> None:
    _check(data, "anonymous-bank")


@FUZZ
@given(data=_inputs("vendor_calls.csv"))
def test_csv_through_a_mapping(data: bytes) -> None:
    _check(data, "csv", load_mapping(DATA / "vendor_mapping.yaml"))


@FUZZ
@given(data=_inputs("patience.csv"))
def test_csv_with_call_record_header(data: bytes) -> None:
    _check(data, "csv")


@FUZZ
@given(data=st.one_of(_inputs("events.csv"), _inputs("queue_log"), _inputs("anonymous_bank.txt")))
def test_detected_format(data: bytes) -> None:
    _check(data, "auto")


@FUZZ
@given(data=st.one_of(mangled("vendor_mapping.yaml"), st.text(max_size=200).map(str.encode)))
def test_mapping_file(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("mapping") / "mapping.yaml"
    path.write_bytes(data)
    try:
        loaded = load_mapping(path)
    except YamlFileError as exc:
        refused: YamlFileError | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.problems
        assert all(p.file == str(path) for p in refused.problems)
        assert all(p.message for p in refused.problems)
        return
    assert "wait_s" in loaded.mapping.columns
