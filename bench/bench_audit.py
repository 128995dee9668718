"""Benchmark: the audit records of one allowed call (action, decision, outcome), sealed and
written to SQLite on disk — the API proxy's hot path (it must reach 2,000 calls a second).

    .venv/bin/python bench/bench_audit.py

Two paths over the same store, measured in the same run:

- `reference`: what `StoreAuditLog` did before records were serialised once — each record's data
  frozen as canonical JSON, parsed again, and sealed by `audit.seal` (which round-trips it through
  JSON once more and serialises it again to hash it); the store serialises it once more.
- `StoreAuditLog`: the log as it is (`record` ×3 inside `group()`), one relaxed commit per call.

And the CPU part alone, no store: `seal` ×3 against `_Entry.of` + `_seal_all` ×3.
Printed: calls (3-record groups) per second, µs per group, and the ratio to the reference.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airlock import audit
from airlock.audit import StoreAuditLog, seal, verify_records
from airlock.model import canonical_json, utcnow
from airlock.store.sqlite import SqliteStore
from common import Timing, ratio, time_each

KEY = b"k" * 32
ROUNDS = 3000


def _call(n: int) -> list[tuple[str, str, dict[str, Any]]]:
    """Records shaped like the gate's for one allowed HTTP call (gate.py)."""
    action_id = f"act_{n:08d}"
    return [
        ("action", action_id, {
            "principal": "agent-1", "principal_kind": "agent", "token": "tok_0123456789",
            "front": "api", "kind": "http",
            "content": {"method": "GET", "url": f"https://api.example.com/v1/items/{n}",
                        "headers": {"accept": "application/json", "user-agent": "agent/1.0"},
                        "body": None},
            "context": {"environment": "staging", "resource": "api.example.com"},
            "received_at": "2026-12-03T15:00:00.123456+00:00"}),
        ("decision", action_id, {
            "risk": "read", "complete": True, "classifier": "http",
            "reasons": ["GET is a read (RFC 9110: safe method)"],
            "effects": [{"risk": "read", "target": {"kind": "http", "name": "api.example.com"},
                         "why": "GET"}],
            "targets": [{"kind": "http", "name": "api.example.com"}],
            "decision": {"verdict": "allow", "snapshot_required": False,
                         "reason": "read within scope", "approvals_required": 0}}),
        ("outcome", action_id, {"status": "allowed", "reason": "read within scope — allowed",
                                "approval_id": None, "snapshots": []}),
    ]


def _reference_group(store: SqliteStore, records: list[tuple[str, str, dict[str, Any]]]) -> None:
    frozen = [(kind, aid, canonical_json(dict(data)), utcnow().isoformat())
              for kind, aid, data in records]

    def make(prev: Any) -> list[audit.AuditRecord]:
        out: list[audit.AuditRecord] = []
        for kind, aid, text, at in frozen:
            prev = seal(prev, kind, aid, json.loads(text), KEY, at)
            out.append(prev)
        return out

    store.append_audit_many(make, sync=False)


def _log_group(log: StoreAuditLog, records: list[tuple[str, str, dict[str, Any]]]) -> None:
    with log.group():
        for kind, aid, data in records:
            log.record(kind, aid, data)


def _time_log(log: StoreAuditLog, calls: list[list[tuple[str, str, dict[str, Any]]]]) -> Timing:
    return time_each("StoreAuditLog (group of 3)", calls, lambda c: _log_group(log, c))


def _on_disk(folder: Path, name: str,
             run: Callable[[SqliteStore], Timing]) -> Timing:
    store = SqliteStore(folder / f"{name}.db")
    try:
        timing = run(store)
        report = verify_records(store.audit_records(), KEY)
        assert report.ok and report.count == 3 * ROUNDS, report
        return timing
    finally:
        store.close()


def main() -> None:
    calls = [_call(n) for n in range(ROUNDS)]
    print(f"load average {os.getloadavg()[0]:.2f}; {ROUNDS} calls of 3 records each")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reference = _on_disk(folder, "reference", lambda store: time_each(
            "reference (seal ×3)", calls, lambda c: _reference_group(store, c)))
        log_timing = _on_disk(folder, "log", lambda store: _time_log(StoreAuditLog(store, KEY),
                                                                     calls))
    for timing in (reference, log_timing):
        print(timing.line(), f"  {timing.total_s / ROUNDS * 1e6:7.1f} µs per call")
    print(ratio(log_timing, reference))
    cpu_reference = time_each("seal ×3 (no store)", calls, _seal_reference)
    cpu_ours = time_each("_Entry.of+_seal_all ×3", calls, _seal_ours)
    for timing in (cpu_reference, cpu_ours):
        print(timing.line(), f"  {timing.total_s / ROUNDS * 1e6:7.1f} µs per call")
    print(ratio(cpu_ours, cpu_reference))


def _seal_reference(records: list[tuple[str, str, dict[str, Any]]]) -> None:
    prev = None
    for kind, aid, data in records:
        prev = seal(prev, kind, aid, json.loads(canonical_json(dict(data))), KEY,
                    utcnow().isoformat())


def _seal_ours(records: list[tuple[str, str, dict[str, Any]]]) -> None:
    entries = [audit._Entry.of(kind, aid, data) for kind, aid, data in records]
    audit._seal_all(entries, None, KEY)


if __name__ == "__main__":
    main()
