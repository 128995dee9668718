"""A table named in SQL that a shell command sends (`psql … -c 'DROP TABLE orders'`) belongs
to the database that command connects to: the approver sees one target, in that database's
resource and environment, and the backup taken first is of that table, not of the database.
Through the real `airlock hook claude` and `airlock check`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from airlock.store import open_store
from tests.cli import airlock
from tests.pgcluster import Cluster
from tests.vault.helpers import approve, write_config

pytestmark = pytest.mark.postgres


def _hook(tmp_path: Path, command: str) -> tuple[int, str]:
    payload = {"session_id": "s", "cwd": str(tmp_path), "hook_event_name": "PreToolUse",
               "tool_name": "Bash", "tool_input": {"command": command}}
    done = airlock("--config", str(tmp_path / "airlock.toml"), "hook", "claude", cwd=tmp_path,
                   input=json.dumps(payload), timeout=180)
    return done.returncode, done.stderr + done.stdout


def test_a_table_dropped_through_psql_is_its_databases_and_backed_up_alone(
        tmp_path: Path, pg_cluster: Cluster, pg_database: str, vault_dir: Path) -> None:
    dbname = pg_database.rsplit("/", 1)[1]
    pg_cluster.psql("CREATE TABLE orders (id int PRIMARY KEY, total int);"
                    "INSERT INTO orders SELECT i, i * 3 FROM generate_series(1, 500) i;"
                    "CREATE TABLE customers (id int PRIMARY KEY);"
                    "INSERT INTO customers SELECT generate_series(1, 50)", dbname)
    write_config(tmp_path, pg_database, vault_dir)
    command = f"psql '{pg_database}' -c 'DROP TABLE orders'"

    checked = airlock("--config", str(tmp_path / "airlock.toml"), "check", "--json", command,
                      cwd=tmp_path)
    view = json.loads(checked.stdout)
    assert [(t["target"], t["resource"], t["environments"]) for t in view["targets"]] == [
        ("table:orders", "app", ["staging"])]
    assert view["targets"][0]["within"].startswith("postgres:")

    code, said = _hook(tmp_path, command)
    assert code == 2 and "airlock held this action" in said, said
    approval_id = re.search(r"apr_\w+", said)
    assert approval_id is not None
    store = open_store(None, tmp_path / "state")
    try:
        record = store.get_approval(approval_id.group(0))
    finally:
        store.close()
    assert record is not None
    [step] = record.details["safety_plan"]["steps"]
    assert (step["target"], step["method"]) == ("table:orders", "postgres-table")

    approve(tmp_path / "state", approval_id.group(0))
    code, said = _hook(tmp_path, command)
    assert code == 0, said
    listed = airlock("--config", str(tmp_path / "airlock.toml"), "snapshots", "--json",
                     cwd=tmp_path)
    snapshots = json.loads(listed.stdout)
    assert len(snapshots) == 1 and "orders" in json.dumps(snapshots[0])
    assert "customers" not in json.dumps(snapshots[0])
