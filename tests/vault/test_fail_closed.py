"""If the snapshot fails, or airlock dies while taking it, the destructive action does not run,
and the vault and catalog show nothing half-done."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from airlock.vault.stores.local import LocalStore
from tests.pgcluster import Cluster
from tests.vault.helpers import agent_token, approve, run, sql_json, write_config

pytestmark = pytest.mark.postgres


def test_sigkill_during_a_snapshot_leaves_the_rows_and_a_consistent_vault(
        tmp_path: Path, pg_cluster: Cluster, pg_database: str, vault_dir: Path) -> None:
    dbname = pg_database.rsplit("/", 1)[1]
    pg_cluster.psql("CREATE TABLE ledger (id int PRIMARY KEY, entry text);"
                    "INSERT INTO ledger SELECT i, md5(i::text) || md5((i * 7)::text) "
                    "FROM generate_series(1, 50000) i", dbname)
    config = write_config(tmp_path, pg_database, vault_dir)
    blocker = psycopg.connect(pg_database)
    # Hold one row the DELETE will touch: the before-image reads up to it, then waits.
    blocker.execute("SELECT * FROM ledger WHERE id = 40000 FOR UPDATE")
    watcher = psycopg.connect(pg_database, autocommit=True)  # sees pg_stat_activity live
    env = {**os.environ, "NO_COLOR": "1"}
    token = agent_token(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "airlock", "--config", str(config), "sql",
                             "app", "DELETE FROM ledger WHERE id > 10", "--token", token],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'airlock-vault' "
                "AND wait_event_type = 'Lock'").fetchone()
            partial = list((vault_dir / ".partial").glob("*.part"))
            if waiting and waiting[0] and partial:
                break
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the snapshot never got under way"
            time.sleep(0.02)
        assert partial[0].is_file()  # a snapshot object was being written
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
        blocker.rollback()
        blocker.close()
        watcher.close()

    assert pg_cluster.psql("SELECT count(*) FROM ledger", dbname).strip() == "50000"
    assert list(LocalStore(vault_dir).list("snapshots/")) == []  # the partial is not listed
    listed = run(tmp_path, "snapshots", "--json")
    assert listed.returncode == 0 and listed.stdout.strip() == "[]"
    verify = run(tmp_path, "vault", "verify", "--json")
    assert verify.returncode == 0, verify.stdout
    report = json.loads(verify.stdout)
    assert report["snapshots_checked"] == 0 and report["catalog_missing_from_vault"] == []
    # and the same statement goes through once nothing blocks it
    code, outcome = sql_json(tmp_path, "DELETE FROM ledger WHERE id > 10")
    assert code == 0 and outcome["result"]["rowcount"] == 49990, outcome
    assert pg_cluster.psql("SELECT count(*) FROM ledger", dbname).strip() == "10"


def test_a_failing_snapshot_holds_the_action_and_says_why(
        tmp_path: Path, pg_cluster: Cluster, pg_database: str, vault_dir: Path) -> None:
    dbname = pg_database.rsplit("/", 1)[1]
    pg_cluster.psql("CREATE TABLE accounts (id int PRIMARY KEY); INSERT INTO accounts VALUES (1)",
                    dbname)
    tools = tmp_path / "broken-bin"
    tools.mkdir()
    (tools / "pg_dump").write_text("#!/bin/sh\necho 'pg_dump: error: disk quota exceeded' >&2\n"
                                   "exit 1\n")
    (tools / "pg_dump").chmod(0o755)
    write_config(tmp_path, pg_database, vault_dir, vault_extra=f'pg_bin = "{tools}"')
    code, first = sql_json(tmp_path, "DROP TABLE accounts")
    assert code == 3, first
    approve(tmp_path / "state", first["approval_id"])
    code, second = sql_json(tmp_path, "DROP TABLE accounts")
    assert code == 3 and second["status"] == "held", second
    assert "backup taken before this action failed" in second["reason"]
    assert "disk quota exceeded" in second["reason"] and "did not run" in second["reason"]
    assert pg_cluster.psql("SELECT count(*) FROM accounts", dbname).strip() == "1"
    assert list(LocalStore(vault_dir).list("snapshots/")) == []
    # the approval was not spent on a failed backup: fixing the tools lets the retry through
    write_config(tmp_path, pg_database, vault_dir, vault_extra=f'pg_bin = "{pg_cluster.bindir}"')
    code, third = sql_json(tmp_path, "DROP TABLE accounts")
    assert code == 0 and third["status"] == "executed", third


def test_an_unplannable_backup_of_a_configured_resource_never_becomes_no_backup(
        tmp_path: Path, vault_dir: Path) -> None:
    """The database does not answer when the hold is planned: approvers are told the backup will
    be planned again just before the action runs — and when it still cannot be taken, the
    approved action does not run. An approval never turns "backup failed" into "no backup"."""
    from airlock.approvals import decide
    from airlock.config import load_config
    from airlock.execute import FunctionExecutor
    from airlock.model import Action, ActionContext, Principal, PrincipalKind, SqlQuery, Status
    from airlock.runtime import Runtime
    from airlock.tokens import local_caller
    from airlock.vault.net import PLAN_AT_RUN

    write_config(tmp_path, "postgresql://app@127.0.0.1:1/app", vault_dir)  # nothing listens
    runtime = Runtime(load_config(tmp_path / "airlock.toml"))
    ran: list[Action] = []

    def run(action: Action) -> dict[str, object]:
        ran.append(action)
        return {}

    gate = runtime.gate(executor=FunctionExecutor(run))
    caller = local_caller(runtime.config, "agent")

    def submit() -> tuple[Status, str, str | None]:
        action = Action(SqlQuery("DROP TABLE users"), "agent", "test", ActionContext(resource="app"))
        outcome = gate.submit(action, caller)
        return outcome.status, outcome.reason, outcome.approval_id

    status, _, approval_id = submit()
    assert status is Status.HELD and approval_id
    approval = runtime.store.get_approval(approval_id)
    assert approval is not None
    steps = approval.details["safety_plan"]["steps"]
    assert [s["method"] for s in steps] == [PLAN_AT_RUN] and "does not run" in steps[0]["detail"]
    assert approval.details["safety_plan"]["unprotected"] == []

    decide(runtime.store, approval_id, Principal("alice", PrincipalKind.HUMAN), approve=True)
    status, reason, _ = submit()
    assert status is Status.HELD and "still cannot be planned" in reason and "does not run" in reason
    assert ran == []
    runtime.close()
