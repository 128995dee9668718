"""Drills against a real PostgreSQL: tables with foreign keys (a drill must pass where `undo` of
the same snapshot works), and every kind of snapshot a resource has, not only its newest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pgcluster import Cluster
from tests.vault.helpers import content_of, run, sql_approved, sql_json, write_config

SHOP = ("CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);"
        "CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL "
        "  REFERENCES customers (id) ON DELETE CASCADE, item text);"
        "INSERT INTO customers SELECT i, 'customer ' || i FROM generate_series(1, 50) i;"
        "INSERT INTO orders SELECT i, 1 + i % 50, 'item ' || i FROM generate_series(1, 500) i")


def _sql(tmp_path: Path, statement: str) -> dict[str, object]:
    """Run a statement through the gate, approving it if it is held."""
    code, outcome = sql_json(tmp_path, statement)
    if code == 3:
        return sql_approved(tmp_path, statement, outcome)
    assert code == 0, outcome
    return outcome


def _drill(tmp_path: Path, *args: str) -> tuple[int, list[dict[str, object]], str]:
    result = run(tmp_path, "drill", "app", "--json", *args)
    try:
        return result.returncode, json.loads(result.stdout), result.stderr
    except json.JSONDecodeError:
        raise AssertionError(f"not JSON (exit {result.returncode}): {result.stdout}\n"
                             f"{result.stderr}") from None


@pytest.mark.postgres
def test_drill_of_a_table_with_a_foreign_key_passes_where_undo_works(
        tmp_path: Path, pg_cluster: Cluster, pg_database: str, vault_dir: Path) -> None:
    dbname = pg_database.rsplit("/", 1)[1]
    pg_cluster.psql(SHOP, dbname)
    before = content_of(pg_cluster, pg_database, "orders")
    write_config(tmp_path, pg_database, vault_dir)
    dropped = sql_approved(tmp_path, "DROP TABLE orders")
    # The snapshot of `orders` carries its foreign key into `customers`; the scratch database
    # has customers' schema but not its rows — the drill must still restore and check it.
    code, [report], stderr = _drill(tmp_path)
    assert code == 0, (report, stderr)
    assert report["ok"] and report["kind"] == "postgres-table"
    found = {c["what"]: c for c in report["checks"]}  # type: ignore[attr-defined]
    assert found["public.orders"]["found"]["rows"] == 500
    assert found["foreign keys"]["ok"]  # said, not hidden: checked against no rows
    # ... and undo of the same snapshot brings the same rows back, constraint and all
    undone = run(tmp_path, "undo", dropped["action_id"])
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert content_of(pg_cluster, pg_database, "orders") == before
    fk = pg_cluster.psql("SELECT convalidated FROM pg_constraint WHERE conrelid = "
                         "'orders'::regclass AND contype = 'f'", dbname).strip()
    assert fk == "t"
    leftovers = pg_cluster.psql("SELECT count(*) FROM pg_database WHERE datname LIKE "
                                "'airlock_drill_%'").strip()
    assert leftovers == "0"


@pytest.mark.postgres
def test_drill_checks_every_kind_of_snapshot_of_a_resource(
        tmp_path: Path, pg_cluster: Cluster, pg_database: str, vault_dir: Path) -> None:
    dbname = pg_database.rsplit("/", 1)[1]
    pg_cluster.psql(SHOP, dbname)
    write_config(tmp_path, pg_database, vault_dir)
    assert run(tmp_path, "backup", "app").returncode == 0
    _sql(tmp_path, "DELETE FROM customers WHERE id <= 5")  # rows, cascading to orders
    sql_approved(tmp_path, "DROP TABLE orders")
    code, reports, stderr = _drill(tmp_path)
    assert code == 0, (reports, stderr)
    kinds = sorted(str(r["kind"]) for r in reports)
    assert kinds == ["postgres-database", "postgres-rows", "postgres-table"]
    assert all(r["ok"] for r in reports)
    # --all drills every snapshot, older ones of a kind included
    _sql(tmp_path, "DELETE FROM customers WHERE id = 6")
    code, every, _ = _drill(tmp_path, "--all")
    assert code == 0 and len(every) == 4 and all(r["ok"] for r in every)
    # one snapshot by id
    one = str(every[0]["snapshot"])
    code, single, _ = _drill(tmp_path, "--snapshot", one)
    assert code == 0 and [r["snapshot"] for r in single] == [one]


DUMP = (b"SET statement_timeout = 0;\n"
        b"CREATE TABLE public.orders (id integer NOT NULL, customer integer NOT NULL);\n"
        b"COPY public.orders (id, customer) FROM stdin;\n"
        b"1\t1\n"
        b"2\t    ADD CONSTRAINT fake FOREIGN KEY (x) REFERENCES y(z);\n"  # row data, untouched
        b"\\.\n"
        b"ALTER TABLE ONLY public.orders\n"
        b"    ADD CONSTRAINT orders_pkey PRIMARY KEY (id);\n"
        b"ALTER TABLE ONLY public.orders\n"
        b"    ADD CONSTRAINT orders_customer_fkey FOREIGN KEY (customer) REFERENCES "
        b"public.customers(id) ON DELETE CASCADE;\n")


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, len(DUMP)])
def test_foreign_keys_become_not_valid_outside_copy_data_in_any_chunking(size: int) -> None:
    from airlock.vault.drill import ForeignKeysNotValid

    rewriter = ForeignKeysNotValid()
    chunks = [DUMP[i:i + size] for i in range(0, len(DUMP), size)]
    out = b"".join(rewriter.rewrite(iter(chunks)))
    assert rewriter.count == 1
    assert out == DUMP.replace(b"ON DELETE CASCADE;\n", b"ON DELETE CASCADE NOT VALID;\n")


def test_a_dump_cut_inside_copy_data_passes_through_unchanged() -> None:
    from airlock.vault.drill import ForeignKeysNotValid

    cut = DUMP[:DUMP.index(b"\\.\n")] + b"3\t"
    assert b"".join(ForeignKeysNotValid().rewrite(iter([cut]))) == cut


def test_drill_selection_takes_the_newest_of_each_kind() -> None:
    from airlock.vault.drill import drill_selection
    from airlock.vault.manifest import Manifest

    def m(i: str, resource: str, kind: str, at: str) -> Manifest:
        return Manifest(i, kind, resource, "staging", at, None, "k")

    all_ = [m("s1", "app", "postgres-database", "2026-01-01"),
            m("s2", "app", "postgres-table", "2026-01-02"),
            m("s3", "app", "postgres-database", "2026-01-03"),
            m("s4", "app", "postgres-rows", "2026-01-04"),
            m("s5", "files", "files", "2026-01-05")]
    assert [x.id for x in drill_selection(all_, "app")] == ["s2", "s3", "s4"]
    assert [x.id for x in drill_selection(all_, None)] == ["s2", "s3", "s4", "s5"]
    assert [x.id for x in drill_selection(all_, "app", every=True)] == ["s1", "s2", "s3", "s4"]
    assert [x.id for x in drill_selection(all_, None, snapshot="s1")] == ["s1"]
    assert drill_selection(all_, "nothing") == []
