"""A damaged, unreadable or vanished state store denies every action — reads included — and says
what to do. SQLite files truncated, overwritten, emptied, stripped of tables, made read-only
(at start and under a running service); a PostgreSQL store whose server goes away. Through the
store itself, the gate, `airlock hook` as a process and the daemon of a real `airlock up`."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import psycopg
import pytest

from airlock.approvals import StoreApprovals
from airlock.audit import StoreAuditLog, seal
from airlock.config import Config
from airlock.errors import StoreError
from airlock.execute import Release
from airlock.gate import Gate
from airlock.model import Action, Caller, FileAccess, Status
from airlock.runtime import Runtime
from airlock.safety import NoVault
from airlock.store import Store, open_store
from airlock.store.postgres import PostgresStore
from airlock.store.sqlite import SqliteStore
from airlock.store.sqlstore import REQUIRED_TABLES, SCHEMA_VERSION
from airlock.tokens import local_caller
from tests.approvals.helpers import Server, start_server
from tests.conftest import require
from tests.hooks.conftest import client_command, fixture, make_world, raw
from tests.pgcluster import Cluster

READ: dict[str, Any] = {"hook_event_name": "PreToolUse", "tool_name": "Read", "cwd": "/tmp",
        "tool_input": {"file_path": "/etc/hostname"}}
WHAT_TO_DO = "restore the state database from a backup"


def _append(store: Store, n: int = 1, pad: str = "") -> None:
    store.append_audit(lambda prev: seal(prev, "test", None, {"n": n, "pad": pad}, b"k" * 32))


def _new_state(path: Path) -> None:
    store = SqliteStore(path)
    _append(store)
    store.close()


def _truncate(path: Path) -> None:
    path.write_bytes(b"")


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def _emptied(path: Path) -> None:  # a valid SQLite file with nothing in it
    path.unlink()
    sqlite3.connect(path).execute("VACUUM").connection.close()


def _foreign(path: Path) -> None:  # someone else's database under airlock's name
    path.unlink()
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (x)")


def _dropped_audit(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE audit")


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": _truncate, "garbage": _garbage, "emptied": _emptied, "foreign": _foreign,
    "audit table dropped": _dropped_audit}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_sqlite_state_is_refused_never_reinitialised(tmp_path: Path,
                                                               damage: str) -> None:
    path = tmp_path / "state.db"
    _new_state(path)
    for leftover in (path.with_name("state.db-wal"), path.with_name("state.db-shm")):
        leftover.unlink(missing_ok=True)
    DAMAGE[damage](path)
    before = path.read_bytes()
    with pytest.raises(StoreError) as error:
        SqliteStore(path)
    assert "is damaged" in str(error.value) and WHAT_TO_DO in str(error.value)
    assert path.read_bytes() == before  # nothing was "repaired" by starting afresh


def test_a_new_state_is_created_whole_and_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "state.db"
    store = SqliteStore(path)
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION) and store.get_meta("created_at")
    store.close()
    assert sorted(p.name for p in path.parent.iterdir() if not p.name.startswith("state.db")) == []
    assert path.stat().st_mode & 0o777 == 0o600
    SqliteStore(path).close()  # and it opens again


@pytest.mark.parametrize("damage", ["garbage in place", "table dropped"])
def test_damage_under_a_live_store_latches_every_call(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    assert store.list_tokens() == []
    if damage == "table dropped":
        with sqlite3.connect(path) as conn:
            conn.execute("DROP TABLE approvals")
        failing: Callable[[], object] = lambda: store.list_approvals()  # noqa: E731
    else:
        with path.open("r+b") as handle:  # overwritten where it lies, as `dd` would
            handle.write(os.urandom(path.stat().st_size))
        failing = lambda: store.list_approvals()  # noqa: E731
    with pytest.raises(StoreError, match="is damaged"):
        failing()
    # tokens were readable a moment ago and their table may still be: no matter, refused
    with pytest.raises(StoreError, match="is damaged"):
        store.list_tokens()
    with pytest.raises(StoreError, match="is damaged"):
        _append(store)
    store.close()


@pytest.mark.parametrize("change", ["deleted", "moved away", "replaced", "truncated"])
def test_the_file_changing_under_a_live_store_latches(tmp_path: Path, change: str) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    _append(store)
    if change == "deleted":
        path.unlink()
    elif change == "moved away":
        path.rename(tmp_path / "elsewhere.db")
    elif change == "replaced":  # another, healthy airlock database put in its place
        other = tmp_path / "other.db"
        SqliteStore(other).close()
        other.rename(path)
    else:
        os.truncate(path, 0)
    with pytest.raises(StoreError, match="is damaged") as error:
        store.list_tokens()
    assert WHAT_TO_DO in str(error.value)
    with pytest.raises(StoreError, match="is damaged"):
        _append(store)
    store.close()


def test_check_finds_a_corrupt_page_and_latches(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    for i in range(400):
        _append(store, i, "x" * 200)
    store.close()
    store = SqliteStore(path)
    assert store.check() == []
    with path.open("r+b") as handle:  # a page in the middle of the audit table, scribbled on
        handle.seek(path.stat().st_size // 2)
        handle.write(b"\xff" * 2048)
    problems = store.check()
    assert problems
    with pytest.raises(StoreError, match="is damaged"):
        store.get_token("tok_x")
    store.close()


def test_a_read_only_state_blocks_every_call(tmp_path: Path) -> None:
    """Read-only even for root (the immutable attribute), as an agent's chmod would make it for
    airlock's own user."""
    world = make_world(tmp_path / "w")
    world.runtime.close()
    state = world.config.state_dir / "state.db"
    _new_state(state)
    require(shutil.which("chattr") is not None and os.geteuid() == 0,
            "chattr and root (to make a file read-only for root)")
    if subprocess.run(["chattr", "+i", str(state)], capture_output=True).returncode != 0:
        require(False, "a filesystem that supports chattr +i")
    try:
        done = _hook(world.config.path, world.config.state_dir, READ)
        assert done.returncode == 2, done.stdout
        assert "readonly" in done.stderr and "denied to be safe" in done.stderr
        assert "Traceback" not in done.stderr
    finally:
        subprocess.run(["chattr", "-i", str(state)], check=True)


def _hook(config: Path | None, state: Path, data: Mapping[str, Any],
          harness: str = "claude") -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "airlock"]
    if config is not None:
        args += ["--config", str(config)]
    return subprocess.run([*args, "hook", harness, "--state-dir", str(state)],
                          input=json.dumps(data), capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "foreign"])
def test_airlock_hook_blocks_a_read_on_a_damaged_state(tmp_path: Path, damage: str) -> None:
    state = tmp_path / "state"
    first = _hook(None, state, READ)
    assert first.returncode == 0, first.stderr  # a healthy state allows the read
    (state / "state.db-wal").unlink(missing_ok=True)
    (state / "state.db-shm").unlink(missing_ok=True)
    DAMAGE[damage](state / "state.db")
    for harness, data in (("claude", READ), ("cursor", fixture("cursor", "before_read_file"))):
        done = _hook(None, state, data, harness)
        if harness == "cursor":
            answer = json.loads(done.stdout)
            assert answer["permission"] == "deny" and WHAT_TO_DO in answer["user_message"]
        else:
            assert done.returncode == 2 and WHAT_TO_DO in done.stderr, done


def test_the_gate_denies_a_read_when_postgresql_goes_away(pg_cluster: Cluster,
                                                          pg_database: str) -> None:
    store = PostgresStore(pg_database)
    world_gate = _gate_over(store)
    action = Action(FileAccess("/etc/hostname"), "coding-agent", "hook:claude")
    assert world_gate.submit(action, _caller()).status is Status.ALLOWED
    _take_away(pg_cluster, pg_database)
    try:
        outcome = world_gate.submit(Action(FileAccess("/etc/hostname"), "coding-agent",
                                           "hook:claude"), _caller())
        assert outcome.status is Status.DENIED
        assert "until it is, airlock denies every action" in outcome.reason or \
            "cannot connect" in outcome.reason
    finally:
        _bring_back(pg_cluster, pg_database)
        store.close()


def test_a_postgresql_store_missing_a_table_is_refused(pg_database: str) -> None:
    PostgresStore(pg_database).close()
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("DROP TABLE approvers")
    with pytest.raises(StoreError, match=r"is damaged.*approvers missing"):
        PostgresStore(pg_database)


def _take_away(cluster: Cluster, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    cluster.psql(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false; SELECT pg_terminate_backend(pid) "
                 f"FROM pg_stat_activity WHERE datname = '{name}'")


def _bring_back(cluster: Cluster, url: str) -> None:
    cluster.psql(f"ALTER DATABASE {url.rsplit('/', 1)[1]} ALLOW_CONNECTIONS true")


def _gate_over(store: PostgresStore) -> Gate:
    judge = Runtime(Config(path=None, state_dir=Path("/nonexistent"))).judge
    return Gate(judge=judge, approvals=StoreApprovals(store), safety_net=NoVault(),
                executor=Release(), audit=StoreAuditLog(store, b"k" * 32))


def _caller() -> Caller:
    return local_caller(Config(path=None, state_dir=Path("/nonexistent")), None)


# ---- under a running `airlock up` -------------------------------------------------------------

@pytest.fixture
def up_sqlite(tmp_path: Path) -> Iterator[Server]:
    (tmp_path / "airlock.toml").write_text(f'state_dir = "{tmp_path / "state"}"\n'
                                           "[vault]\nenabled = false\n")
    server = start_server(tmp_path)
    yield server
    server.stop()


def _ask_daemon(state: Path, data: Mapping[str, Any]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(client_command("claude", state / "hooks.sock"), input=raw(data),
                          capture_output=True, timeout=60)


def test_the_daemon_blocks_reads_once_its_sqlite_state_is_damaged(up_sqlite: Server,
                                                                  tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert _ask_daemon(state, READ).returncode == 0
    with (state / "state.db").open("r+b") as handle:  # overwritten in place under the service
        handle.write(os.urandom((state / "state.db").stat().st_size))
    for _ in range(3):  # and it stays refused
        done = _ask_daemon(state, READ)
        assert done.returncode == 2 and WHAT_TO_DO.encode() in done.stderr, done


def test_the_daemon_blocks_reads_while_its_postgresql_store_is_away(
        tmp_path: Path, pg_cluster: Cluster, pg_database: str) -> None:
    (tmp_path / "airlock.toml").write_text(
        f'state_dir = "{tmp_path / "state"}"\n[store]\nurl = "{pg_database}"\n'
        "[vault]\nenabled = false\n")
    server = start_server(tmp_path)
    try:
        state = tmp_path / "state"
        assert _ask_daemon(state, READ).returncode == 0
        _take_away(pg_cluster, pg_database)
        try:
            done = _ask_daemon(state, READ)
            assert done.returncode == 2 and b"denied to be safe" in done.stderr, done
            assert b"state database" in done.stderr and b"until it is" in done.stderr
        finally:
            _bring_back(pg_cluster, pg_database)
        deadline = time.monotonic() + 30  # back again: reads pass again (nothing latched)
        while _ask_daemon(state, READ).returncode != 0:
            assert time.monotonic() < deadline
            time.sleep(0.5)
    finally:
        server.stop()


def test_open_store_reports_damage_for_every_table(tmp_path: Path) -> None:
    for table in REQUIRED_TABLES:
        path = tmp_path / f"{table}.db"
        SqliteStore(path).close()
        with sqlite3.connect(path) as conn:
            conn.execute(f"DROP TABLE {table}")
        with pytest.raises(StoreError, match=f"{table} missing"):
            open_store(f"sqlite:{path}", tmp_path)
