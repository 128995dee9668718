"""Backups, restores from the vault alone, and drills — through the real command line, against
real PostgreSQL, SQLite, folders and the S3 protocol."""

from __future__ import annotations

import json
import os
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import pytest

from airlock.vault.crypto import VaultKey
from tests.cli import airlock
from tests.pgcluster import Cluster
from tests.vault.conftest import S3_ENV
from tests.vault.helpers import content_of, schema_of


@pytest.mark.postgres
def test_backup_to_s3_then_restore_from_the_bucket_alone(
        tmp_path: Path, pg_cluster: Cluster, pg_database: str, moto_endpoint: str,
        s3_bucket: str, s3: Any) -> None:
    dbname = pg_database.rsplit("/", 1)[1]
    pg_cluster.psql("CREATE TYPE mood AS ENUM ('ok', 'sad');"
                    "CREATE TABLE diary (id serial PRIMARY KEY, mood mood, text text);"
                    "INSERT INTO diary (mood, text) SELECT 'ok', 'day ' || i "
                    "FROM generate_series(1, 3000) i", dbname)
    key = VaultKey.generate()
    (tmp_path / "vault.key").write_text(key.hex())
    (tmp_path / "airlock.toml").write_text(textwrap.dedent(f"""
        state_dir = "state"
        [environments.production]
        [resources.app]
        kind = "postgres"
        environment = "production"
        url = "{pg_database}"
        [vault]
        key = {{ file = "vault.key" }}
        s3 = {{ bucket = "{s3_bucket}", prefix = "airlock", endpoint_url = "{moto_endpoint}", region = "us-east-1" }}
        """))
    env = {**S3_ENV, "AWS_ENDPOINT_URL": moto_endpoint}
    taken = airlock("--config", "airlock.toml", "backup", "app", "--json", cwd=tmp_path, env=env)
    assert taken.returncode == 0, taken.stderr
    [snapshot] = json.loads(taken.stdout)
    assert snapshot["kind"] == "postgres-database" and snapshot["size"] > 0
    # every object is locked in compliance mode
    listed = s3.list_objects_v2(Bucket=s3_bucket, Prefix=f"airlock/snapshots/{snapshot['id']}/")
    for obj in listed["Contents"]:
        assert s3.head_object(Bucket=s3_bucket, Key=obj["Key"])["ObjectLockMode"] == "COMPLIANCE"

    # airlock's state and configuration are gone; the bucket and the key are all there is
    bare = tmp_path / "elsewhere"
    bare.mkdir()
    location = f"s3://{s3_bucket}/airlock"
    seen = airlock("snapshots", "--vault", location, cwd=bare, env=env)
    assert seen.returncode == 0 and snapshot["id"] in seen.stdout
    restored_url = pg_cluster.url("restored_" + dbname)
    env_key = {**env, "AIRLOCK_VAULT_KEY": key.hex()}
    plan = airlock("restore", snapshot["id"], "--vault", location, "--into", restored_url,
                   "--plan", cwd=bare, env=env_key)
    assert plan.returncode == 0 and f"create     database restored_{dbname}" in plan.stdout
    without_key = airlock("restore", snapshot["id"], "--vault", location, "--into", restored_url,
                          cwd=bare, env=env)
    assert without_key.returncode == 2 and "--key-file" in without_key.stderr
    done = airlock("restore", snapshot["id"], "--vault", location, "--into", restored_url,
                   cwd=bare, env=env_key)
    assert done.returncode == 0, done.stderr
    assert schema_of(pg_cluster, restored_url) == schema_of(pg_cluster, pg_database)
    assert content_of(pg_cluster, restored_url, "diary") == content_of(pg_cluster, pg_database,
                                                                      "diary")
    verify = airlock("vault", "verify", "--vault", location, "--key-file",
                     str(tmp_path / "vault.key"), cwd=bare, env=env)
    assert verify.returncode == 0 and "1 snapshot(s) checked" in verify.stdout


@pytest.mark.postgres
def test_drill_restores_into_scratch_and_checks_rows_and_hashes(
        tmp_path: Path, pg_cluster: Cluster, pg_database: str, vault_dir: Path) -> None:
    from tests.vault.helpers import run, sql_approved, write_config

    dbname = pg_database.rsplit("/", 1)[1]
    pg_cluster.psql("CREATE SEQUENCE order_numbers; CREATE TABLE orders (id int PRIMARY KEY, "
                    "n int DEFAULT nextval('order_numbers'), item text);"
                    "INSERT INTO orders (id, item) SELECT i, 'item ' || i "
                    "FROM generate_series(1, 2000) i", dbname)
    write_config(tmp_path, pg_database, vault_dir)
    sql_approved(tmp_path, "DROP TABLE orders")
    result = run(tmp_path, "drill", "app", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    [report] = json.loads(result.stdout)
    assert report["ok"] and report["kind"] == "postgres-table"
    rows = {c["what"]: c["found"] for c in report["checks"]}
    assert rows["public.orders"]["rows"] == 2000
    leftovers = pg_cluster.psql("SELECT count(*) FROM pg_database WHERE datname LIKE "
                                "'airlock_drill_%'").strip()
    assert leftovers == "0"  # the scratch database is gone
    # damage the snapshot: the drill fails and says so
    [obj] = list((vault_dir / "snapshots").glob("*/dump.alv"))
    obj.chmod(0o600)
    with open(obj, "r+b") as f:
        f.seek(200)
        byte = f.read(1)
        f.seek(200)
        f.write(bytes([byte[0] ^ 0xFF]))
    failed = run(tmp_path, "drill", "app")
    assert failed.returncode == 1 and "FAIL" in failed.stdout and "sha256" in failed.stdout


def test_sqlite_and_folders_back_up_restore_and_drill(tmp_path: Path, vault_dir: Path) -> None:
    data = tmp_path / "data"
    (data / "docs").mkdir(parents=True)
    (data / "docs" / "a.md").write_text("# notes\n")
    (data / "blob.bin").write_bytes(os.urandom(200_000))
    os.symlink("docs/a.md", data / "latest")
    db = tmp_path / "app.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.executemany("INSERT INTO notes (body) VALUES (?)", [(f"n{i}",) for i in range(5000)])
    conn.commit()
    (tmp_path / "airlock.toml").write_text(textwrap.dedent(f"""
        state_dir = "state"
        [environments.staging]
        [resources.files]
        kind = "path"
        environment = "staging"
        path = "{data}"
        [resources.notes]
        kind = "sqlite"
        environment = "staging"
        path = "{db}"
        [vault]
        path = "{vault_dir}"
        """))
    backup = airlock("backup", "files", "notes", "--json", cwd=tmp_path)
    assert backup.returncode == 0, backup.stderr
    files_snap, notes_snap = (s["id"] for s in json.loads(backup.stdout))

    conn.execute("DELETE FROM notes WHERE id > 10")  # the live database moves on (WAL open)
    conn.commit()
    refused = airlock("restore", notes_snap, cwd=tmp_path)
    assert refused.returncode == 2 and "overwrite" in refused.stderr
    forced = airlock("restore", notes_snap, "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert conn.execute("SELECT count(*) FROM notes").fetchone() == (5000,)
    conn.close()

    (data / "docs" / "a.md").write_text("changed")
    (data / "blob.bin").unlink()
    plan = airlock("restore", files_snap, "--plan", cwd=tmp_path)
    assert "overwrite" in plan.stdout and "a.md" in plan.stdout
    elsewhere = tmp_path / "copy"
    assert airlock("restore", files_snap, "--into", str(elsewhere), cwd=tmp_path).returncode == 0
    assert (elsewhere / "data" / "docs" / "a.md").read_text() == "# notes\n"
    assert (elsewhere / "data" / "blob.bin").stat().st_size == 200_000
    assert os.readlink(elsewhere / "data" / "latest") == "docs/a.md"

    drill = airlock("drill", "--json", cwd=tmp_path)
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert {r["resource"]: r["ok"] for r in json.loads(drill.stdout)} == {"files": True,
                                                                          "notes": True}


def test_the_default_vault_beside_the_data_refuses_to_back_it_up(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    sqlite3.connect(db).close()
    (tmp_path / "airlock.toml").write_text(textwrap.dedent(f"""
        [environments.staging]
        [resources.notes]
        kind = "sqlite"
        environment = "staging"
        path = "{db}"
        """))
    result = airlock("backup", "notes", cwd=tmp_path)  # vault: ./.airlock/vault, same disk
    assert result.returncode == 2
    assert "same filesystem" in result.stderr and "[vault] path" in result.stderr
    assert not list((tmp_path / ".airlock" / "vault").glob("snapshots/*"))


def test_bad_vault_configuration_is_refused(tmp_path: Path) -> None:
    (tmp_path / "airlock.toml").write_text(textwrap.dedent("""
        [environments.staging]
        [resources.notes]
        kind = "sqlite"
        environment = "staging"
        path = "x.db"
        soft_drop = true
        backup_schedule = "soon"
        [vault]
        path = "/srv/vault"
        s3 = { bucket = "b" }
        retention = "0d"
        """))
    result = airlock("config", "check", cwd=tmp_path)
    assert result.returncode == 2
    for expected in ("either `path`", "vault.retention", "soft drop is for postgres",
                     "backup_schedule"):
        assert expected in result.stderr, result.stderr


def test_scheduled_backups_run_when_due(tmp_path: Path, vault_dir: Path) -> None:
    db = tmp_path / "app.db"
    sqlite3.connect(db).close()
    (tmp_path / "airlock.toml").write_text(textwrap.dedent(f"""
        [environments.staging]
        [resources.notes]
        kind = "sqlite"
        environment = "staging"
        path = "{db}"
        backup_schedule = "24h"
        [resources.other]
        kind = "sqlite"
        environment = "staging"
        path = "{db}"
        [vault]
        path = "{vault_dir}"
        """))
    first = airlock("backup", "--due", "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert [s["resource"] for s in json.loads(first.stdout)] == ["notes"]
    second = airlock("backup", "--due", cwd=tmp_path)
    assert second.returncode == 0 and "no scheduled backup is due" in second.stdout
    nothing = airlock("backup", cwd=tmp_path)
    assert nothing.returncode == 2 and "name a resource" in nothing.stderr


def test_the_service_takes_due_backups_and_records_failures(tmp_path: Path, vault_dir: Path) -> None:
    """What `airlock up` runs each minute: due backups are taken once per interval; a resource
    that cannot be backed up is recorded and does not stop the others."""
    from datetime import timedelta

    from airlock.config import load_config
    from airlock.model import utcnow
    from airlock.runtime import Runtime
    from airlock.vault.backup import take_due

    db = tmp_path / "app.db"
    sqlite3.connect(db).close()
    (tmp_path / "airlock.toml").write_text(textwrap.dedent(f"""
        state_dir = "{tmp_path / 'state'}"
        [environments.staging]
        [resources.broken]
        kind = "sqlite"
        environment = "staging"
        path = "{tmp_path / 'missing-dir' / 'gone.db'}"
        backup_schedule = "1h"
        [resources.notes]
        kind = "sqlite"
        environment = "staging"
        path = "{db}"
        backup_schedule = "1h"
        [vault]
        path = "{vault_dir}"
        """))
    runtime = Runtime(load_config(tmp_path / "airlock.toml"))
    try:
        taken = take_due(runtime.vault, runtime.config, runtime.store, runtime.audit)
        assert [m.resource for m in taken] == ["notes"]
        assert take_due(runtime.vault, runtime.config, runtime.store, runtime.audit) == []
        later = take_due(runtime.vault, runtime.config, runtime.store, runtime.audit,
                         now=utcnow() + timedelta(hours=2))
        assert [m.resource for m in later] == ["notes"]
        kinds = [(r.kind, r.data.get("resource")) for r in runtime.store.audit_records()]
        assert kinds.count(("backup", "notes")) == 2
        assert ("backup_failed", "broken") in kinds
    finally:
        runtime.close()
