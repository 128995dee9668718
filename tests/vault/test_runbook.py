"""`airlock runbook`: generated from the real state, and — the point of it — followed literally
after a DROP, it brings the table back."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.pgcluster import Cluster
from tests.vault.helpers import approve, content_of, run, sql_json

CONFIG = """
state_dir = "{state}"

[environments.production]
[environments.staging]

[resources.app]
kind = "postgres"
environment = "production"
description = "the shop's orders"
url = "{url}"
stored_on = ["app-disk"]

[resources.app-disk]
kind = "volume"
environment = "production"
match = ["railway:volume:vol-1"]

[resources.order-exports]
kind = "other"
environment = "production"
match = ["other:exports"]
stored_on = ["app"]

[principals.agent]
kind = "agent"

[principals.alice]
kind = "human"

[principals.bob]
kind = "human"

[vault]
path = "{vault}"
"""

SHOP = ("CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);"
        "CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL "
        "  REFERENCES customers (id), item text, placed timestamptz DEFAULT now());"
        "INSERT INTO customers SELECT i, 'customer ' || i FROM generate_series(1, 40) i;"
        "INSERT INTO orders SELECT i, 1 + i % 40, 'item ' || i FROM generate_series(1, 800) i")


def _setup(tmp_path: Path, url: str, vault_dir: Path) -> None:
    (tmp_path / "airlock.toml").write_text(textwrap.dedent(CONFIG.format(
        state=tmp_path / "state", url=url, vault=vault_dir)), encoding="utf-8")
    for name in ("alice", "bob"):
        enrolled = run(tmp_path, "approver", "add", name)
        assert enrolled.returncode == 0, enrolled.stderr
    issued = run(tmp_path, "token", "create", "--principal", "agent", "--env", "production")
    assert issued.returncode == 0, issued.stderr
    (tmp_path / "agent.token").write_text(issued.stdout.strip().splitlines()[-1])


def _shell_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```$", markdown, flags=re.MULTILINE | re.DOTALL)


@pytest.mark.postgres
def test_the_runbook_followed_literally_brings_a_dropped_table_back(
        tmp_path: Path, pg_cluster: Cluster, pg_database: str, vault_dir: Path) -> None:
    dbname = pg_database.rsplit("/", 1)[1]
    pg_cluster.psql(SHOP, dbname)
    before = content_of(pg_cluster, pg_database, "orders", order="id")
    _setup(tmp_path, pg_database, vault_dir)
    backup = run(tmp_path, "backup", "app", "--json")
    assert backup.returncode == 0, backup.stderr
    assert run(tmp_path, "drill", "app").returncode == 0

    # the agent drops a production table: held, approved by a human, snapshot first
    code, held = sql_json(tmp_path, "DROP TABLE orders")
    assert code == 3 and held["status"] == "held", held
    approve(tmp_path / "state", held["approval_id"])
    code, dropped = sql_json(tmp_path, "DROP TABLE orders")
    assert code == 0 and dropped["snapshots"], dropped
    assert pg_cluster.psql("SELECT to_regclass('orders') IS NULL", dbname).strip() == "t"

    result = run(tmp_path, "runbook", "app", "--format", "md")
    assert result.returncode == 0, result.stderr
    book = result.stdout
    # from the real state: snapshots and ages, the vault, approvers, the policy, drills, radius
    [table_snapshot] = dropped["snapshots"]
    [full_backup] = json.loads(backup.stdout)
    assert table_snapshot in book and full_backup["id"] in book
    assert "postgres-table" in book and "postgres-database" in book
    assert str(vault_dir) in book
    assert "Enrolled approvers: alice, bob." in book
    assert re.search(r"DROP DATABASE \(all of it\): hold, 2 approval\(s\)", book), book
    assert re.search(r"DROP TABLE \(a table of it\): hold, 1 approval\(s\)", book), book
    assert re.search(r"PASS — snap_\w+ \(postgres-database\)", book), book
    assert "- order-exports (other, production): stored on app" in book
    assert "app itself is lost with: app-disk (volume, production)." in book
    assert "production" in book and "the shop's orders" in book
    assert f"undo {dropped['action_id']}" in book

    # follow it: every shell block, as printed, in order
    blocks = _shell_blocks(book)
    assert len(blocks) == 3, book
    # the reader's shell, with airlock installed (this venv's `airlock` first on PATH) and no
    # terminal; somewhere else than the configuration's folder
    shell_env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                       f"{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    shell_env.pop("AIRLOCK_CONFIG", None)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for block in blocks:
        done = subprocess.run(["bash", "-e", "-c", block], cwd=elsewhere, capture_output=True,
                              text=True, timeout=300, env=shell_env, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, (block, done.stdout, done.stderr)
    assert content_of(pg_cluster, pg_database, "orders", order="id") == before
    fk = pg_cluster.psql("SELECT count(*) FROM pg_constraint WHERE conrelid = 'orders'::regclass "
                         "AND contype = 'f' AND convalidated", dbname).strip()
    assert fk == "1"


@pytest.mark.postgres
def test_runbook_html_is_escaped_and_json_has_the_same_facts(
        tmp_path: Path, pg_cluster: Cluster, pg_database: str, vault_dir: Path) -> None:
    _setup(tmp_path, pg_database, vault_dir)
    toml = tmp_path / "airlock.toml"
    toml.write_text(toml.read_text().replace(
        'description = "the shop\'s orders"',
        'description = "<script>alert(1)</script> & co"'), encoding="utf-8")
    page = run(tmp_path, "runbook", "app", "--format", "html")
    assert page.returncode == 0, page.stderr
    assert "<script" not in page.stdout.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page.stdout
    assert "no snapshot of app" in page.stdout  # nothing to restore is said first
    data = json.loads(run(tmp_path, "runbook", "app", "--json").stdout)
    assert data["resource"] == "app" and data["production"] is True
    assert data["snapshots"] == [] and data["steps"] == []
    assert data["approvers"] == ["alice", "bob"]
    assert [n["name"] for n in data["blast_radius"]] == ["order-exports"]
    assert data["last_drill"] is None


def test_runbook_of_an_unknown_resource_says_which_exist(tmp_path: Path) -> None:
    (tmp_path / "airlock.toml").write_text(textwrap.dedent("""
        state_dir = "state"
        [environments.staging]
        [resources.files]
        kind = "other"
        environment = "staging"
        match = ["other:x"]
        """), encoding="utf-8")
    result = run(tmp_path, "runbook", "nope")
    assert result.returncode == 2
    assert "no resource named 'nope'" in result.stderr and "files" in result.stderr
    bad = run(tmp_path, "runbook", "files", "--format", "pdf")
    assert bad.returncode == 2 and "md, html, json" in bad.stderr
