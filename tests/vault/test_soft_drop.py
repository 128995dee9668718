"""Soft drop: with `soft_drop = true`, DROP TABLE through `airlock sql` moves the table into a
quarantine schema instead; undo moves it back; purge drops it once its grace has passed."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from airlock.model import utcnow
from airlock.upstream.postgres import PgConn
from airlock.vault import quarantine
from airlock.vault.core import Vault
from airlock.vault.crypto import VaultKey
from airlock.vault.stores.local import LocalStore
from tests.pgcluster import Cluster
from tests.vault.helpers import content_of, run, schema_of, sql_approved, write_config

pytestmark = pytest.mark.postgres


def test_soft_drop_moves_the_table_aside_and_undo_puts_it_back(
        tmp_path: Path, pg_cluster: Cluster, pg_database: str, vault_dir: Path) -> None:
    dbname = pg_database.rsplit("/", 1)[1]
    pg_cluster.psql("CREATE TABLE sessions (id int PRIMARY KEY, token text);"
                    "CREATE INDEX ON sessions (token);"
                    "INSERT INTO sessions SELECT i, md5(i::text) FROM generate_series(1, 500) i",
                    dbname)
    schema_before = schema_of(pg_cluster, pg_database)
    content_before = content_of(pg_cluster, pg_database, "sessions")
    write_config(tmp_path, pg_database, vault_dir, resource_extra="soft_drop = true\ngrace = \"1m\"")

    outcome = sql_approved(tmp_path, "DROP TABLE sessions")
    assert outcome["status"] == "executed", outcome
    assert "soft drop" in outcome["result"]["status"]
    assert pg_cluster.psql("SELECT to_regclass('public.sessions') IS NULL", dbname).strip() == "t"
    hidden = pg_cluster.psql("SELECT string_agg(relname, ',') FROM pg_class c JOIN pg_namespace n "
                             "ON n.oid = c.relnamespace WHERE nspname = 'airlock_quarantine' "
                             "AND relkind = 'r'", dbname).strip()
    assert hidden.startswith("sessions__")
    listed = json.loads(run(tmp_path, "snapshots", "--json").stdout)
    assert listed[0]["kind"] == "postgres-quarantine"

    undo = run(tmp_path, "undo", outcome["action_id"])
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert content_of(pg_cluster, pg_database, "sessions") == content_before
    after = schema_of(pg_cluster, pg_database).splitlines()
    assert "\n".join(line for line in after if "airlock_quarantine" not in line) == schema_before


def test_purge_drops_quarantined_tables_after_their_grace(
        tmp_path: Path, pg_cluster: Cluster, pg_database: str, vault_dir: Path) -> None:
    dbname = pg_database.rsplit("/", 1)[1]
    pg_cluster.psql("CREATE TABLE tmp_import (id int)", dbname)
    write_config(tmp_path, pg_database, vault_dir, resource_extra="soft_drop = true\ngrace = \"1m\"")
    sql_approved(tmp_path, "DROP TABLE tmp_import")
    early = run(tmp_path, "vault", "purge", "app")
    assert early.returncode == 0 and "purged 0 table(s)" in early.stdout
    vault = Vault(LocalStore(vault_dir), VaultKey.from_text((tmp_path / "state" / "vault.key")
                                                            .read_text()))
    dropped = quarantine.purge(vault, "app", PgConn(pg_database, pg_cluster.bindir),
                               now=utcnow() + timedelta(minutes=2))
    assert len(dropped) == 1 and dropped[0].startswith('"airlock_quarantine"."tmp_import__')
    assert pg_cluster.psql("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                           "c.relnamespace WHERE nspname = 'airlock_quarantine'", dbname).strip() == "0"
