"""Discovery: what lies inside resources, bounded, cached by an injected clock, and failing
visibly; `airlock inventory` shows it as a tree and as JSON."""

from __future__ import annotations

import json
import socket
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airlock.inventory import Inventory
from airlock.inventory.discovery import Discovery
from airlock.inventory.render import inventory_json, reached_in_database
from tests.apiproxy.test_railway import PROJECT as RAILWAY_PROJECT  # the same project, as Railway answers it
from tests.cli import airlock
from tests.factories import make_config
from tests.pgcluster import Cluster

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BASE = '[environments.production]\n[environments.staging]\n[principals.agent]\nkind = "agent"\n'


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_folder_is_counted_and_cached_for_the_ttl(tmp_path: Path) -> None:
    data = tmp_path / "uploads"
    (data / "a").mkdir(parents=True)
    (data / "a" / "one.bin").write_bytes(b"x" * 100)
    (data / "two.bin").write_bytes(b"y" * 50)
    config = make_config(f'[resources.uploads]\nkind = "path"\nenvironment = "production"\n'
                         f'path = "{data}"\n', base=BASE)
    clock = Clock()
    discovery = Discovery(config, ttl=timedelta(minutes=5), clock=clock)
    res = config.resources["uploads"]
    first = discovery.discover(res)
    assert first.status == "ok" and first.folder is not None
    assert (first.folder.files, first.folder.size_bytes) == (2, 150)
    (data / "three.bin").write_bytes(b"z")
    clock.now = T0 + timedelta(minutes=4)
    assert discovery.discover(res) is first  # within the TTL: not asked again
    clock.now = T0 + timedelta(minutes=5)
    again = discovery.discover(res)
    assert again.folder is not None and again.folder.files == 3 and again.at == clock.now


def test_a_sqlite_file_is_read_without_being_written(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        db.executemany("INSERT INTO users (name) VALUES (?)", [("a",), ("b",), ("c",)])
    before = path.read_bytes()
    config = make_config(f'[resources.app]\nkind = "sqlite"\nenvironment = "staging"\n'
                         f'path = "{path}"\n', base=BASE)
    found = Discovery(config).discover(config.resources["app"])
    assert found.status == "ok"
    assert [(t.name, t.rows) for t in found.sqlite_tables] == [("users", 3)]
    assert path.read_bytes() == before and not (tmp_path / "app.db-journal").exists()


def test_an_unreachable_database_is_said_plainly_and_the_password_is_not(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://app:hunter2@127.0.0.1:{port}/app"
    text = f'[resources.app-db]\nkind = "postgres"\nenvironment = "production"\nurl = "{url}"\n'
    # a plain URL in the file may not carry a password (config refuses it); the env one does
    config = make_config(text.replace("app:hunter2@", "app@"), base=BASE)
    found = Discovery(config, connect_timeout=2).discover(config.resources["app-db"])
    assert found.status == "unreachable" and "cannot connect" in found.error
    # the CLI: a tree that says so, with the configured credential never printed
    (tmp_path / "airlock.toml").write_text(
        BASE + '[resources.app-db]\nkind = "postgres"\nenvironment = "production"\n'
               'url = { env = "APP_DB_URL" }\n')
    shown = airlock("inventory", cwd=tmp_path, env={"APP_DB_URL": url})
    assert shown.returncode == 0, shown.stderr
    assert "could not reach app-db: cannot connect to" in shown.stdout
    assert "hunter2" not in shown.stdout + shown.stderr
    offline = airlock("inventory", "--offline", "--json", cwd=tmp_path,
                      env={"APP_DB_URL": url})
    [res] = json.loads(offline.stdout)["resources"]
    assert res["discovered"] is None and res["environment"] == "production"
    unknown = airlock("inventory", "nope", cwd=tmp_path, env={"APP_DB_URL": url})
    assert unknown.returncode == 2 and "no resource named 'nope'" in unknown.stderr
    # it connects with airlock's credentials: a command for people, never for agents
    judged = airlock("check", "--json", "airlock inventory", cwd=tmp_path,
                     env={"APP_DB_URL": url})
    assert json.loads(judged.stdout)["verdict"] == "deny", judged.stdout


@pytest.mark.postgres
def test_a_postgres_catalog_lists_tables_rows_and_what_a_drop_reaches(
        pg_cluster: Cluster, pg_database: str, tmp_path: Path) -> None:
    dbname = pg_database.rsplit("/", 1)[1]
    pg_cluster.psql("""
        CREATE SCHEMA shop; CREATE SCHEMA reports;
        CREATE TABLE shop.customers (id int PRIMARY KEY, region text);
        CREATE TABLE shop.orders (id int PRIMARY KEY,
                                  customer_id int REFERENCES shop.customers ON DELETE CASCADE);
        CREATE TABLE shop.notes (id int PRIMARY KEY,
                                 customer_id int REFERENCES shop.customers ON DELETE SET NULL);
        CREATE VIEW reports.eu_orders AS SELECT o.* FROM shop.orders o
          JOIN shop.customers c ON c.id = o.customer_id WHERE c.region = 'eu';
        CREATE VIEW reports.eu_count AS SELECT count(*) FROM reports.eu_orders;
        INSERT INTO shop.customers SELECT i, 'eu' FROM generate_series(1, 1200) i;
        INSERT INTO shop.orders SELECT i, 1 + (i - 1) % 1200 FROM generate_series(1, 4800) i;
        ANALYZE;
    """, dbname)
    config = make_config(f'[resources.app-db]\nkind = "postgres"\nenvironment = "production"\n'
                         f'url = "{pg_database}"\n', base=BASE)
    found = Discovery(config).discover(config.resources["app-db"])
    assert found.status == "ok" and found.catalog is not None, found.error
    rows = {r.qualified: r.rows for r in found.catalog.relations}
    assert rows["shop.customers"] == 1200 and rows["shop.orders"] == 4800
    assert "reports.eu_orders" in rows
    reached = dict(reached_in_database(found.catalog, "shop.customers"))
    assert reached["shop.orders"] == "ON DELETE CASCADE from shop.customers"
    assert reached["shop.notes"] == "ON DELETE SET NULL from shop.customers"
    assert reached["reports.eu_orders"].startswith("view from shop.")  # another schema
    assert reached["reports.eu_count"] == "view from reports.eu_orders"  # to any depth
    shown = inventory_json(config, Inventory.from_config(config), {"app-db": found})
    links = shown["resources"][0]["discovered"]["postgres"]["links"]
    assert {"from": "shop.orders", "to": "shop.customers", "on_delete": "c"} in [
        {k: link[k] for k in ("from", "to", "on_delete")} for link in links]

    (tmp_path / "airlock.toml").write_text(
        BASE + '[resources.app-db]\nkind = "postgres"\nenvironment = "production"\n'
               'url = { env = "APP_DB_URL" }\n')
    tree = airlock("inventory", cwd=tmp_path, env={"APP_DB_URL": pg_database})
    assert tree.returncode == 0, tree.stderr
    assert "schema shop" in tree.stdout and "≈ 4,800 rows" in tree.stdout
    assert "→ reports.eu_orders" in tree.stdout




def test_railway_volumes_come_from_the_api_proxys_lookup(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from airlock.fronts.apiproxy.railway import RailwayLookup
    from airlock.fronts.apiproxy.settings import ProxiedResource
    from tests.inventory.scenario import RAILWAY_API_TOML

    monkeypatch.setenv("AIRLOCK_TEST_RAILWAY_TOKEN", "not-a-real-token")
    config = make_config(RAILWAY_API_TOML, base=BASE)
    res = config.resources["railway"]
    proxied = ProxiedResource(railway_projects=("proj-1",))
    asked: list[str] = []

    def fetch(project: str) -> object:
        asked.append(project)
        return {"data": {"project": RAILWAY_PROJECT}}

    found = Discovery(config, railway={"railway": RailwayLookup(config, res, proxied,
                                                                fetch=fetch)}).discover(res)
    assert asked == ["proj-1"] and found.status == "ok"
    assert found.railway["volumes"]["vol-shared"]["mounted"] == [
        {"environment": "staging", "service": "postgres"},
        {"environment": "production", "service": "postgres"}]

    def down(project: str) -> object:
        raise OSError("connection refused")

    broken = Discovery(config, railway={"railway": RailwayLookup(config, res, proxied,
                                                                 fetch=down)}).discover(res)
    assert broken.status == "unreachable" and "Railway did not answer" in broken.error
    unconfigured = Discovery(config).discover(res)
    assert unconfigured.status == "none" and "railway_projects" in unconfigured.error
