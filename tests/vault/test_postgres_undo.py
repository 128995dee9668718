"""The vault's promises on a real PostgreSQL server, through the real command line:
a dropped table comes back identical, deleted rows come back exactly, a damaged snapshot is
named and refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.store import open_store
from tests.pgcluster import Cluster
from tests.vault.helpers import content_of, run, schema_of, sql_approved, sql_json, write_config

pytestmark = pytest.mark.postgres

SCHEMA = """
CREATE SEQUENCE invoice_numbers START 1000;
CREATE TABLE customers (id serial PRIMARY KEY, email text UNIQUE NOT NULL);
CREATE TABLE invoices (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id int NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    number int NOT NULL DEFAULT nextval('invoice_numbers'),
    amount numeric(10, 2) NOT NULL CHECK (amount >= 0),
    doubled numeric GENERATED ALWAYS AS (amount * 2) STORED,
    note text
);
CREATE INDEX invoices_by_customer ON invoices (customer_id, number);
CREATE VIEW big_invoices AS SELECT id, amount FROM invoices WHERE amount > 500;
CREATE TABLE payments (id serial PRIMARY KEY, invoice_id bigint REFERENCES invoices(id));
COMMENT ON TABLE invoices IS 'what customers owe';
GRANT SELECT ON invoices TO PUBLIC;
INSERT INTO customers (email) SELECT 'c' || i || '@example.com' FROM generate_series(1, 50) i;
INSERT INTO invoices (customer_id, amount, note)
    SELECT 1 + i % 50, (i * 7) % 1000, CASE WHEN i % 3 = 0 THEN NULL ELSE 'n' || i END
    FROM generate_series(1, 5000) i;
INSERT INTO payments (invoice_id) SELECT id FROM invoices WHERE id % 10 = 0;
"""


@pytest.fixture
def app(tmp_path: Path, pg_cluster: Cluster, pg_database: str, vault_dir: Path) -> str:
    dbname = pg_database.rsplit("/", 1)[1]
    pg_cluster.psql(SCHEMA, dbname)
    write_config(tmp_path, pg_database, vault_dir)
    return pg_database


def test_dropped_table_comes_back_identical(tmp_path: Path, pg_cluster: Cluster, app: str) -> None:
    schema_before = schema_of(pg_cluster, app)
    invoices_before = content_of(pg_cluster, app, "invoices")
    payments_before = content_of(pg_cluster, app, "payments")

    code, held = sql_json(tmp_path, "DROP TABLE invoices CASCADE")
    assert code == 3, held
    store = open_store(None, tmp_path / "state")
    try:  # approvers see what will be taken, and how big it will be, before they decide
        pending = store.get_approval(held["approval_id"])
        assert pending is not None
        [step] = pending.details["safety_plan"]["steps"]
    finally:
        store.close()
    assert step["method"] == "postgres-table" and "expected ≈" in step["detail"]
    assert "1 dependent view(s)" in step["detail"] and "1 foreign key(s)" in step["detail"]
    outcome = sql_approved(tmp_path, "DROP TABLE invoices CASCADE", first=held)
    assert outcome["status"] == "executed" and len(outcome["snapshots"]) == 1
    assert pg_cluster.psql("SELECT to_regclass('invoices') IS NULL", app.rsplit("/", 1)[1]).strip() == "t"
    assert schema_of(pg_cluster, app) != schema_before  # the view and a foreign key went too

    plan = run(tmp_path, "undo", outcome["action_id"], "--plan")
    assert plan.returncode == 0, plan.stderr
    assert "create     table public.invoices" in plan.stdout
    assert "view public.big_invoices" in plan.stdout and "payments_invoice_id_fkey" in plan.stdout

    result = run(tmp_path, "undo", outcome["action_id"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert schema_of(pg_cluster, app) == schema_before
    assert content_of(pg_cluster, app, "invoices") == invoices_before
    assert content_of(pg_cluster, app, "payments") == payments_before
    # the identity and the free-standing sequence carry on where they were
    dbname = app.rsplit("/", 1)[1]
    pg_cluster.psql("INSERT INTO invoices (customer_id, amount) VALUES (1, 1)", dbname)
    assert pg_cluster.psql("SELECT max(id) FROM invoices", dbname).strip() == "5001"


def test_deleted_rows_come_back_exactly(tmp_path: Path, pg_cluster: Cluster, pg_database: str,
                                        vault_dir: Path) -> None:
    dbname = pg_database.rsplit("/", 1)[1]
    pg_cluster.psql("CREATE TABLE events (id bigint PRIMARY KEY, kind text, payload jsonb, "
                    "at timestamptz);"
                    "INSERT INTO events SELECT i, 'k' || (i % 7), jsonb_build_object('i', i, "
                    "'s', repeat('x', i % 13)), '2026-01-01'::timestamptz + i * interval '1 min' "
                    "FROM generate_series(1, 100000) i", dbname)
    write_config(tmp_path, pg_database, vault_dir)
    before = content_of(pg_cluster, pg_database, "events")
    untouched = content_of(pg_cluster, pg_database, "(SELECT * FROM events WHERE id % 100 <> 7)")

    code, outcome = sql_json(tmp_path, "DELETE FROM events WHERE id % 100 = 7")
    assert code == 0 and outcome["status"] == "executed", outcome
    assert outcome["result"]["rowcount"] == 1000
    assert pg_cluster.psql("SELECT count(*) FROM events", dbname).strip() == "99000"
    snapshots = run(tmp_path, "snapshots", "--json")
    assert '"postgres-rows"' in snapshots.stdout and "1000 row(s) of public.events" in snapshots.stdout

    result = run(tmp_path, "undo", outcome["action_id"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert content_of(pg_cluster, pg_database, "events") == before
    assert content_of(pg_cluster, pg_database,
                      "(SELECT * FROM events WHERE id % 100 <> 7)") == untouched
    # a second undo would overwrite the rows that are back: refused without --force
    again = run(tmp_path, "undo", outcome["action_id"])
    assert again.returncode == 2 and "overwrite" in again.stderr


def test_a_corrupted_byte_is_named_and_the_restore_refused(tmp_path: Path, pg_cluster: Cluster,
                                                           app: str, vault_dir: Path) -> None:
    outcome = sql_approved(tmp_path, "DROP TABLE payments")
    snapshot = outcome["snapshots"][0]
    objects = sorted((vault_dir / "snapshots" / snapshot).glob("*.alv"))
    assert objects
    victim = objects[0]
    victim.chmod(0o600)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))

    verify = run(tmp_path, "vault", "verify")
    assert verify.returncode == 1
    assert snapshot in verify.stdout and victim.name in verify.stdout and "sha256" in verify.stdout

    restore = run(tmp_path, "restore", snapshot)
    assert restore.returncode == 2
    assert "damaged" in restore.stdout + restore.stderr
    dbname = app.rsplit("/", 1)[1]
    assert pg_cluster.psql("SELECT to_regclass('payments') IS NULL", dbname).strip() == "t"
    store = open_store(None, tmp_path / "state")
    try:
        record = store.get_snapshot(snapshot)
        assert record is not None and "sha256" in record.verify_problem
    finally:
        store.close()


def test_truncate_cascade_keeps_every_table_it_empties(tmp_path: Path, pg_cluster: Cluster,
                                                       app: str) -> None:
    tables = ("customers", "invoices", "payments")
    before = {t: content_of(pg_cluster, app, t) for t in tables}
    outcome = sql_approved(tmp_path, "TRUNCATE customers CASCADE")
    assert outcome["status"] == "executed"
    dbname = app.rsplit("/", 1)[1]
    assert pg_cluster.psql("SELECT count(*) FROM payments", dbname).strip() == "0"
    result = run(tmp_path, "undo", outcome["action_id"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert {t: content_of(pg_cluster, app, t) for t in tables} == before
