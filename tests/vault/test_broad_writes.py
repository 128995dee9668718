"""`airlock sql` asks the database how much of a table a DELETE/UPDATE reaches before running it
(reach.py): a broad one is held, and once approved runs after a before-image of its rows."""

from __future__ import annotations

from pathlib import Path

from tests.pgcluster import Cluster
from tests.vault.helpers import run, sql_approved, sql_json, write_config


def test_a_broad_delete_is_held_and_a_narrow_one_runs(
        tmp_path: Path, pg_cluster: Cluster, pg_database: str, vault_dir: Path) -> None:
    dbname = pg_database.rsplit("/", 1)[1]
    pg_cluster.psql("CREATE TABLE orders (id int PRIMARY KEY, total int);"
                    "INSERT INTO orders SELECT i, i % 97 FROM generate_series(1, 50000) i;"
                    "ANALYZE orders", dbname)
    write_config(tmp_path, pg_database, vault_dir)

    code, held = sql_json(tmp_path, "DELETE FROM orders WHERE id > 0")  # reads like a filter
    assert code == 3 and held["status"] == "held", held
    assert held["risk"] == "destructive"
    assert any("100% of public.orders" in e["reason"] for e in held["effects"]), held["effects"]
    assert pg_cluster.psql("SELECT count(*) FROM orders", dbname).strip() == "50000"

    code, narrow = sql_json(tmp_path, "DELETE FROM orders WHERE id > 49000")
    assert code == 0 and narrow["status"] == "executed", narrow
    assert narrow["result"]["rowcount"] == 1000

    done = sql_approved(tmp_path, "DELETE FROM orders WHERE id > 0", held)
    assert done["status"] == "executed" and done["result"]["rowcount"] == 49000, done
    snapshots = run(tmp_path, "snapshots", "--json")
    assert "49000 row(s) of public.orders" in snapshots.stdout, snapshots.stdout
