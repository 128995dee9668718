"""Each audit record's data is serialised once (`_Entry.of`) and sealed by splicing that text
into the body (`_Entry.seal`): it must give, byte for byte, what the reference `seal` gives —
the same hash, MAC and stored data column as before — for any JSON-like data, or old logs and
new ones would no longer verify alike."""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airlock.audit import (
    GENESIS,
    AuditHead,
    AuditRecord,
    ChainHead,
    _Entry,
    _seal_all,
    compute_hash,
    seal,
    verify_records,
)
from airlock.model import canonical_json
from airlock.store.sqlite import SqliteStore

KEY = b"k" * 32

# Text without surrogates (they are not UTF-8), but with every other kind of character: quotes,
# backslashes, controls, line separators, non-ASCII, astral.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
LEAVES = (st.none() | st.booleans() | st.integers() | TEXT
          | st.floats(allow_nan=False) | st.floats(allow_infinity=True, allow_nan=False))
VALUES = st.recursive(
    LEAVES,
    lambda inner: (st.lists(inner, max_size=4) | st.lists(inner, max_size=4).map(tuple)
                   | st.dictionaries(TEXT, inner, max_size=4)
                   | st.dictionaries(st.integers(), inner, max_size=4)  # reordered as strings
                   | st.dictionaries(st.floats(allow_nan=False), inner, max_size=3)
                   | st.dictionaries(st.booleans(), inner, max_size=2)),
    max_leaves=20)
DATA = (st.dictionaries(TEXT, VALUES, max_size=5) | st.dictionaries(st.integers(), VALUES,
                                                                    max_size=5))
HEADS = st.none() | st.builds(AuditHead, st.integers(0, 2**62), st.text("0123456789abcdef",
                                                                        min_size=64, max_size=64))
IDS = st.none() | TEXT


def reference(prev: ChainHead | None, entry: _Entry, data: dict[Any, Any]) -> AuditRecord:
    """What the log sealed before: the data frozen as canonical JSON, parsed, then `seal`."""
    return seal(prev, entry.kind, entry.action_id, json.loads(canonical_json(dict(data))), KEY,
                entry.at)


def entry_of(kind: str, action_id: str | None, data: dict[Any, Any], at: str) -> _Entry:
    return dataclasses.replace(_Entry.of(kind, action_id, data), at=at)


@settings(max_examples=400, deadline=None)
@given(DATA, HEADS, TEXT, IDS, TEXT.filter(bool))  # (an entry's time is never empty)
def test_the_fast_seal_is_the_reference_seal(data: dict[Any, Any], prev: AuditHead | None,
                                             kind: str, action_id: str | None, at: str) -> None:
    entry = entry_of(kind, action_id, data, at)
    assert canonical_json(entry.value) == entry.data  # a fixed point, as frozen
    fast, ref = entry.seal(prev, KEY), reference(prev, entry, data)
    assert fast == ref  # seq, at, kind, action_id, data, prev, hash and mac
    assert fast.data_text() == entry.data == canonical_json(ref.data)  # the stored column
    assert json.dumps(fast.data) == json.dumps(ref.data)  # the same keys in the same order
    assert compute_hash(fast.body()) == fast.hash  # what verify recomputes


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(TEXT, IDS, DATA), min_size=1, max_size=4))
def test_a_fast_sealed_chain_verifies(records: list[tuple[str, str | None, dict[Any, Any]]]
                                      ) -> None:
    entries = [_Entry.of(kind, action_id, data) for kind, action_id, data in records]
    sealed = _seal_all(entries, None, KEY)
    assert verify_records(sealed, KEY).ok
    assert verify_records([AuditRecord.from_json(json.loads(json.dumps(r.to_json())))
                           for r in sealed], KEY).ok  # exported and read back


TRICKY: list[dict[Any, Any]] = [
    {2: "b", 10: "a", -1: None},  # "10" < "2": the one round trip is not a fixed point
    {"n": {3: [1, (2, 3)], 20: {1.5: True, 1e16: False}}},
    {True: 1, False: 0},
    {"é": "ü\u2028\"\\\x00\x1f", "emoji": "\U0001f600", "tab": "\t"},
    {"f": [0.1, -0.0, 1e300, 5e-324, float("inf"), float("-inf")], "i": 2**70},
    {"nan": float("nan")},
    {"empty": {}, "list": [], "none": None},
]


@pytest.mark.parametrize("data", TRICKY)
def test_tricky_data_seals_as_the_reference(data: dict[Any, Any]) -> None:
    prev = AuditHead(41, "a" * 64)
    entry = entry_of("action", "act_1", data, "2026-01-01T00:00:00+00:00")
    fast, ref = entry.seal(prev, KEY), reference(prev, entry, data)
    assert (fast.hash, fast.mac, fast.seq, fast.prev) == (ref.hash, ref.mac, 42, "a" * 64)
    assert fast.data_text() == canonical_json(ref.data)
    assert compute_hash(fast.body()) == fast.hash


def test_unusual_types_in_the_body_fall_back_to_the_reference() -> None:
    entry = dataclasses.replace(_Entry.of("action", None, {"a": 1}), action_id=7)  # type: ignore[arg-type]
    fast = entry.seal(None, KEY)
    assert fast.hash == compute_hash(fast.body()) and fast.prev == GENESIS


def test_a_replaced_record_does_not_keep_the_sealed_text() -> None:
    record = _Entry.of("action", "a1", {"x": 1}).seal(None, KEY)
    assert record.data_text() == '{"x":1}'
    changed = dataclasses.replace(record, data={"x": 2})
    assert changed.data_text() == '{"x":2}'  # serialised from its own data, never stale


def _rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT seq, at, kind, action_id, data, prev, hash, mac FROM audit "
                            "ORDER BY seq").fetchall()


def test_the_stored_rows_are_byte_identical_to_the_reference_path() -> None:
    """The same entries written by the reference path (records `seal` made: the store
    serialises their data as it always did) and by the fast one: every column identical."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        fast_store, ref_store = SqliteStore(folder / "fast.db"), SqliteStore(folder / "ref.db")

        @settings(max_examples=60, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(st.lists(st.tuples(TEXT, IDS, DATA), min_size=1, max_size=3))
        def write_both(records: list[tuple[str, str | None, dict[Any, Any]]]) -> None:
            entries = [_Entry.of(kind, action_id, data) for kind, action_id, data in records]

            def make_reference(prev: ChainHead | None) -> list[AuditRecord]:
                out: list[AuditRecord] = []
                for entry, (_, _, data) in zip(entries, records, strict=True):
                    out.append(reference(prev, entry, data))
                    prev = out[-1]
                return out

            fast_store.append_audit_many(lambda prev: _seal_all(entries, prev, KEY), sync=False)
            ref_store.append_audit_many(make_reference, sync=False)

        try:
            write_both()
            fast_rows, ref_rows = _rows(folder / "fast.db"), _rows(folder / "ref.db")
            assert fast_rows == ref_rows and len(fast_rows) >= 60
            assert all(isinstance(row[4], str) for row in fast_rows)
            assert verify_records(fast_store.audit_records(), KEY).ok
        finally:
            fast_store.close()
            ref_store.close()


def test_nan_data_is_stored_as_the_reference_stores_it(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    try:
        written = store.append_audit_many(lambda prev: _seal_all(
            [_Entry.of("action", None, {"x": math.nan})], prev, KEY))
        assert _rows(tmp_path / "state.db")[0][4] == '{"x":NaN}'
        assert written[0].hash == compute_hash(written[0].body())
    finally:
        store.close()
