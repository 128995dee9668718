"""Benchmark: the vault's snapshots and restores against PostgreSQL's own tools, measured in the
same run on a throwaway server.

    .venv/bin/python bench/bench_vault.py [--rounds N] [--db-sizes 100,1000] [--table-mb 10]

1. Snapshot before DROP TABLE of a ~10 MB table (closure query, pg_dump, zstd + AES-GCM, write,
   fsync, read back and verify, manifest) versus `pg_dump -Fc -t` of the same table.
   Goal: ratio ≤ 1.2.
2. The same snapshot with the table inside a 100 MB and a 1 GB database, versus the first.
   Goal: time independent of database size (ratio ≤ 1.2).
3. Undo of that drop (plan: digests and catalogs; apply: psql in one transaction) versus
   `pg_restore` of the -Fc dump. Goal: ratio ≤ 1.2.
4. Before-image for a DELETE touching 10% of a 1-million-row table, in the statement's
   transaction: time and stored size, next to the DELETE alone.

The vault is a folder on /dev/shm when it is another filesystem (as airlock requires), else a
temporary folder; the baseline dumps go to the same place.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import Timing, ratio

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the throwaway cluster shared with the tests

from tests.pgcluster import Cluster, find_bindir, running_cluster  # noqa: E402

from airlock.store.memory import MemoryStore  # noqa: E402
from airlock.upstream.postgres import PgConn  # noqa: E402
from airlock.upstream.transaction import ProtectedTransaction  # noqa: E402
from airlock.vault.catalog import Catalog  # noqa: E402
from airlock.vault.core import Vault  # noqa: E402
from airlock.vault.crypto import VaultKey  # noqa: E402
from airlock.vault.progress import human_size  # noqa: E402
from airlock.vault.restore import apply_restore, plan_restore, resolve_target  # noqa: E402
from airlock.vault.snapshot import postgres as pg_snap  # noqa: E402
from airlock.vault.snapshot.pgrows import parse_row_statement  # noqa: E402
from airlock.vault.stores.local import LocalStore  # noqa: E402


def timed(name: str, rounds: int, fn: object, before: object = None) -> Timing:
    samples = []
    for _ in range(rounds):
        if callable(before):
            before()
        start = time.perf_counter_ns()
        assert callable(fn)
        fn()
        samples.append(time.perf_counter_ns() - start)
    return Timing(name, tuple(samples))


def create_target(cluster: Cluster, db: str, mb: int) -> None:
    rows = mb * 10_000  # ~100 bytes a row on disk
    cluster.psql(f"""
        CREATE SEQUENCE ticket_numbers;
        CREATE TABLE target (id bigint PRIMARY KEY, ticket int DEFAULT nextval('ticket_numbers'),
                             owner text NOT NULL, body text, at timestamptz NOT NULL);
        INSERT INTO target (id, owner, body, at)
            SELECT i, 'owner' || (i % 997), md5(i::text) || md5((i * 3)::text),
                   '2026-01-01'::timestamptz + i * interval '1 second'
            FROM generate_series(1, {rows}) i;
        CREATE INDEX target_owner ON target (owner, at);
        CREATE VIEW recent_target AS SELECT id, owner FROM target WHERE at > '2026-01-02';
        ANALYZE target;""", db)


def grow_to(cluster: Cluster, db: str, mb: int) -> int:
    """Add filler tables until the database is about `mb` megabytes; its size."""
    size = int(cluster.psql("SELECT pg_database_size(current_database())", db))
    index = 0
    while size < mb * 1_000_000:
        missing_rows = max(10_000, (mb * 1_000_000 - size) // 130)
        batch = min(missing_rows, 2_000_000)
        cluster.psql(f"CREATE TABLE filler_{index} AS SELECT i AS id, repeat(md5(i::text), 2) AS "
                     f"pad FROM generate_series(1, {batch}) i", db)
        index += 1
        size = int(cluster.psql("SELECT pg_database_size(current_database())", db))
    return size


def snapshot_round(cluster: Cluster, db: str, vault: Vault) -> Timing:
    src = pg_snap.PgSource("bench", "bench", PgConn(cluster.url(db), cluster.bindir))
    return timed(f"snapshot ({db})", ROUNDS, lambda: _snapshot(src, vault))


def _snapshot(src: pg_snap.PgSource, vault: Vault) -> None:
    with src.conn.connect() as conn:
        pg_snap.take_table(vault, src, conn, "target", purpose="drop", action_id=None)


def main() -> None:
    global ROUNDS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--table-mb", type=int, default=10)
    parser.add_argument("--db-sizes", default="100,1000", help="MB, comma-separated")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    ROUNDS = args.rounds
    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL server binaries are needed (initdb, pg_ctl)")
    shm = Path("/dev/shm")  # noqa: S108  (tmpfs: another filesystem than the data, as required)
    base = shm if shm.is_dir() else Path(tempfile.gettempdir())
    work = Path(tempfile.mkdtemp(prefix="airlock-bench-vault-", dir=base))
    try:
        with running_cluster(bindir) as cluster:
            run(cluster, work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


ROUNDS = 5


def run(cluster: Cluster, work: Path, args: argparse.Namespace) -> None:
    key = VaultKey.generate()
    vault = Vault(LocalStore(work / "vault"), key, catalog=Catalog(MemoryStore()))
    cluster.psql("CREATE DATABASE bench")
    create_target(cluster, "bench", args.table_mb)
    table = cluster.psql("SELECT pg_size_pretty(pg_table_size('target'))", "bench").strip()
    print(f"table target: {table} (+ index, sequence, a dependent view); rounds {ROUNDS}")

    url = cluster.url("bench")
    dump = work / "target.dump"
    pg_dump = [str(cluster.bindir / "pg_dump"), "-Fc", "-t", "target", "-f", str(dump), url]
    baseline = timed("pg_dump -Fc -t", ROUNDS, lambda: subprocess.run(pg_dump, check=True))
    small = snapshot_round(cluster, "bench", vault)
    print(baseline.line())
    print(small.line())
    print("  " + ratio(small, baseline) + "   (goal ≤ 1.2)")
    newest = max(vault.manifests(), key=lambda m: m.created_at)
    print(f"  stored: {human_size(newest.size)} (zstd + AES-GCM) vs pg_dump -Fc "
          f"{human_size(dump.stat().st_size)}")

    for mb in (int(x) for x in args.db_sizes.split(",") if x):
        name = f"bench_{mb}"
        cluster.psql(f"CREATE DATABASE {name}")
        create_target(cluster, name, args.table_mb)
        size = grow_to(cluster, name, mb)
        big = snapshot_round(cluster, name, vault)
        print(f"database {name}: {human_size(size)}")
        print(big.line())
        print("  " + ratio(big, small) + "   (goal ≤ 1.2: independent of database size)")

    # ---- undo of the drop versus pg_restore -----------------------------------------------------
    manifest = newest
    drop = "DROP TABLE IF EXISTS target CASCADE"
    restore_cmd = [str(cluster.bindir / "pg_restore"), "-d", url, str(dump)]
    base_restore = timed("pg_restore", ROUNDS, lambda: subprocess.run(restore_cmd, check=True),
                         before=lambda: cluster.psql(drop, "bench"))

    def undo() -> None:
        plan = plan_restore(vault, manifest, resolve_target(manifest, url, None))
        apply_restore(vault, plan, force=False)

    ours = timed("undo (plan + apply)", ROUNDS, undo, before=lambda: cluster.psql(drop, "bench"))
    print(base_restore.line())
    print(ours.line())
    print("  " + ratio(ours, base_restore) + "   (goal ≤ 1.2)")

    # ---- before-image of a DELETE touching 10% of a large table ---------------------------------
    cluster.psql(f"CREATE TABLE million (id int PRIMARY KEY, a int, b text);"
                 f"INSERT INTO million SELECT i, i % 1000, md5(i::text) "
                 f"FROM generate_series(1, {args.rows}) i; ANALYZE million", "bench")
    statement = "DELETE FROM million WHERE id % 10 = 0"
    pg = PgConn(url, cluster.bindir)
    src = pg_snap.PgSource("bench", "bench", pg)
    sizes: list[int] = []

    def delete_only() -> None:
        with ProtectedTransaction("bench", pg) as txn:
            txn.conn.execute(statement)  # rolled back on close

    def capture_and_delete() -> None:
        with ProtectedTransaction("bench", pg) as txn:
            manifest, rows = pg_snap.take_rows(vault, src, txn.conn,
                                               parse_row_statement(statement), action_id=None)
            sizes.append(manifest.size)
            txn.conn.execute(statement)
            assert rows == args.rows // 10

    plain = timed("DELETE 10% (rolled back)", ROUNDS, delete_only)
    protected = timed("before-image + DELETE", ROUNDS, capture_and_delete)
    print(plain.line())
    print(protected.line())
    print(f"  before-image of {args.rows // 10} rows: stored {human_size(sizes[-1])}; "
          + ratio(protected, plain))


if __name__ == "__main__":
    os.environ.setdefault("PGCONNECT_TIMEOUT", "10")
    main()
