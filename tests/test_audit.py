"""The audit log is tamper-evident: any changed byte, removed record or reordering is found and
named — in the live store and in an export — through the real command line."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from airlock.audit import GENESIS, AuditRecord, MemoryAuditLog, seal, verify_records
from airlock.errors import AuditError
from tests.cli import airlock

CONFIG = """
[environments.staging]
[principals.agent]
kind = "agent"
"""


def test_seal_chains_records() -> None:
    log = MemoryAuditLog(b"k" * 32)
    a = log.record("action", "act_1", {"x": 1})
    b = log.record("decision", "act_1", {"y": [1, 2]})
    assert a is not None and b is not None
    assert (a.seq, a.prev, b.seq, b.prev) == (1, GENESIS, 2, a.hash)
    assert verify_records(log.records, b"k" * 32).ok


def test_wrong_key_is_detected() -> None:
    log = MemoryAuditLog(b"k" * 32)
    log.record("action", None, {})
    report = verify_records(log.records, b"j" * 32)
    assert not report.ok and "HMAC" in report.problem


def test_rewritten_chain_without_key_is_detected() -> None:
    # An attacker who recomputes every hash still cannot forge the HMACs.
    log = MemoryAuditLog(b"k" * 32)
    for n in range(3):
        log.record("action", None, {"n": n})
    forged, prev = [], None
    for rec in log.records:
        data = {"n": 99} if rec.seq == 2 else dict(rec.data)
        new = seal(prev, rec.kind, rec.action_id, data, b"attacker", at=rec.at)
        forged.append(new)
        prev = new
    assert verify_records(forged, None).ok  # the chain alone is consistent…
    report = verify_records(forged, b"k" * 32)
    assert not report.ok and report.bad_seq == 1  # …but not under airlock's key


@pytest.fixture(scope="module")
def populated_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("audit")
    (base / "airlock.toml").write_text(CONFIG)
    for n in range(4):
        result = airlock("token", "create", "--principal", "agent", "--env", "staging",
                         "--note", f"token {n}", cwd=base)
        assert result.returncode == 0, result.stderr
    return base


@pytest.fixture
def populated(populated_once: Path, tmp_path: Path) -> Path:
    """A private copy of a state folder holding four audit records."""
    copy = tmp_path / "state"
    shutil.copytree(populated_once, copy)
    return copy


def test_untouched_log_verifies(populated: Path) -> None:
    result = airlock("audit", "verify", cwd=populated)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK 4 records" in result.stdout and "HMACs" in result.stdout


def _tamper(state: Path, sql: str) -> None:
    conn = sqlite3.connect(state / ".airlock" / "state.db")
    # an attacker with the file can drop airlock's append-only triggers first
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute(sql)
    conn.commit()
    conn.close()


@pytest.mark.parametrize(("sql", "bad"), [
    ("UPDATE audit SET data = replace(data, 'token 2', 'token X') WHERE seq = 3", 3),
    ("UPDATE audit SET at = replace(at, '+00:00', '+00:01') WHERE seq = 2", 2),
    ("DELETE FROM audit WHERE seq = 2", 3),
    ("UPDATE audit SET seq = CASE seq WHEN 2 THEN 3 ELSE 2 END WHERE seq IN (2, 3)", 2),
])
def test_tampered_live_log_fails_naming_the_record(populated: Path, sql: str, bad: int) -> None:
    if "CASE" in sql:  # swapping two records' places needs the key out of the way
        sql = ("UPDATE audit SET seq = -seq WHERE seq IN (2, 3)")
        _tamper(populated, sql)
        _tamper_plain(populated, "UPDATE audit SET seq = 3 WHERE seq = -2")
        _tamper_plain(populated, "UPDATE audit SET seq = 2 WHERE seq = -3")
    else:
        _tamper(populated, sql)
    result = airlock("audit", "verify", cwd=populated)
    assert result.returncode == 1
    assert f"FAILED at record {bad}" in result.stdout, result.stdout


def _tamper_plain(state: Path, sql: str) -> None:
    conn = sqlite3.connect(state / ".airlock" / "state.db")
    conn.execute(sql)
    conn.commit()
    conn.close()


def _export(populated: Path) -> list[str]:
    result = airlock("audit", "export", "--jsonl", cwd=populated)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_export_verifies(populated: Path) -> None:
    lines = _export(populated)
    assert len(lines) == 4 and all(json.loads(line)["hash"] for line in lines)
    (populated / "export.jsonl").write_text("\n".join(lines) + "\n")
    result = airlock("audit", "verify", "--file", "export.jsonl", cwd=populated)
    assert result.returncode == 0 and "OK 4 records" in result.stdout


def _flip_one_byte(line: str) -> str:
    index = line.index("token ")  # inside the record's data
    return line[:index] + "T" + line[index + 1:]


@pytest.mark.parametrize(("mutate", "bad", "position"), [
    (lambda ls: [ls[0], _flip_one_byte(ls[1]), ls[2], ls[3]], 2, 2),
    (lambda ls: [ls[0], ls[2], ls[3]], 3, 2),
    (lambda ls: [ls[0], ls[2], ls[1], ls[3]], 3, 2),
    (lambda ls: [ls[1], ls[0], ls[2], ls[3]], 2, 1),
])
def test_tampered_export_fails_naming_the_record(populated: Path, mutate: object, bad: int,
                                                 position: int) -> None:
    lines = mutate(_export(populated))  # type: ignore[operator]
    (populated / "export.jsonl").write_text("\n".join(lines) + "\n")
    result = airlock("audit", "verify", "--file", "export.jsonl", cwd=populated)
    assert result.returncode == 1
    assert f"FAILED at record {bad} (line {position})" in result.stdout, result.stdout


def test_every_byte_of_a_record_matters(populated: Path) -> None:
    lines = _export(populated)
    key = bytes.fromhex((populated / ".airlock" / "audit.key").read_text().strip())
    record = lines[1]
    for index in range(0, len(record), 7):
        if record[index] in '{}":, ':
            continue  # structural bytes make it not JSON at all; checked below
        changed = record[:index] + ("0" if record[index] != "0" else "1") + record[index + 1:]
        try:
            json.loads(changed)
        except json.JSONDecodeError:
            continue
        rows = [json.loads(line) for line in (lines[0], changed, lines[2], lines[3])]
        try:
            report = verify_records([AuditRecord.from_json(r) for r in rows], key)
        except AuditError:
            continue  # no longer a record at all: also caught
        assert not report.ok, f"changing byte {index} ({record[index]!r}) went unnoticed"


def test_garbage_line_in_export_is_named(populated: Path) -> None:
    lines = _export(populated)
    lines[2] = "{not json"
    (populated / "export.jsonl").write_text("\n".join(lines) + "\n")
    result = airlock("audit", "verify", "--file", "export.jsonl", cwd=populated)
    assert result.returncode == 1 and "line 3" in result.stdout
