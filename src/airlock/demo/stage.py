"""The stage the incident is replayed on: the rentals databases, the agent's workspace with its
leaked token, and airlock's configuration — everything written before anything is judged."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

import tomlkit

from airlock.demo import railway
from airlock.demo.parts import Cluster

PRODUCTION_DB = "rentals"
STAGING_DB = "rentals_staging"
DROPPED_TABLE = "rentals"
AGENT = "rentals-agent"
APPROVER = "dana"

# Deterministic rows (no clock, no random): the hash before the DROP and after the undo must be
# the same, and it is the same on every run.
SCHEMA = """
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL);
CREATE TABLE rentals (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers,
                      car text NOT NULL, starts date NOT NULL, days int NOT NULL,
                      price numeric(10, 2) NOT NULL);
INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com'
  FROM generate_series(1, 200) g;
INSERT INTO rentals SELECT g, 1 + g % 200, (ARRAY['sedan', 'van', 'convertible', 'pickup'])[1 + g % 4],
                           DATE '2024-01-01' + g % 365, 1 + g % 14, (19.5 + g % 80)::numeric(10, 2)
  FROM generate_series(1, 2000) g;
"""
ROW_HASH = f"SELECT count(*), md5(string_agg(r::text, ',' ORDER BY r.id)) FROM {DROPPED_TABLE} r"


def seed(cluster: Cluster) -> None:
    for db in (PRODUCTION_DB, STAGING_DB):
        cluster.execute(f'CREATE DATABASE "{db}"')
        cluster.execute(SCHEMA, db)


def table_exists(cluster: Cluster) -> bool:
    rows = cluster.execute(f"SELECT to_regclass('public.{DROPPED_TABLE}') IS NOT NULL",
                           PRODUCTION_DB)
    return bool(rows[0][0])


def row_hash(cluster: Cluster) -> tuple[int, str]:
    count, digest = cluster.execute(ROW_HASH, PRODUCTION_DB)[0]
    return int(str(count)), str(digest)


def write_workspace(home: Path, token: str) -> Path:
    """The agent's project, with the Railway token someone left in its .env."""
    workspace = home / "rentals-app"
    workspace.mkdir(parents=True)
    (workspace / ".env").write_text(textwrap.dedent(f"""\
        # local settings for the rentals app
        APP_ENV=staging
        RAILWAY_TOKEN={token}
        """), encoding="utf-8")
    (workspace / "README.md").write_text("rentals: the car rental app\n", encoding="utf-8")
    return workspace


@dataclass(frozen=True)
class Ports:
    api: int
    apiproxy: int
    production: int
    staging: int


def write_config(path: Path, *, state: Path, vault: Path, cluster: Cluster, ports: Ports) -> None:
    """airlock.toml before the credential is taken into custody: the databases (airlock holds
    their real URLs), Railway's service and what lives on it, the vault, the fronts."""
    service = "rentals-postgres"
    path.write_text(textwrap.dedent(f"""\
        # written by `airlock demo`; thrown away with it
        state_dir = "{state}"

        [environments.production]
        production = true
        [environments.staging]

        [principals.{AGENT}]
        kind = "agent"
        [principals.{APPROVER}]
        kind = "human"

        [resources.rentals]
        kind = "postgres"
        environment = "production"
        url = "{cluster.url(PRODUCTION_DB)}"
        stored_on = ["{service}"]
        description = "the production rentals database"

        [resources.rentals-staging]
        kind = "postgres"
        environment = "staging"
        url = "{cluster.url(STAGING_DB)}"
        stored_on = ["{service}"]
        description = "the staging rentals database"

        [resources.{service}]
        kind = "service"
        environment = "production"
        match = ["railway:service:{railway.SERVICE_ID}"]
        description = "Railway's postgres service; its one volume serves every environment"

        [resources.rentals-backups]
        kind = "volume"
        environment = "production"
        stored_on = ["{service}"]
        backs_up = ["rentals", "rentals-staging"]
        description = "the databases' backups, kept on that same volume"

        [vault]
        path = "{vault}"

        [fronts.pgwire]
        listen = {{ rentals = "127.0.0.1:{ports.production}", rentals-staging = "127.0.0.1:{ports.staging}" }}

        [fronts.apiproxy]
        listen = "127.0.0.1:{ports.apiproxy}"
        """), encoding="utf-8")


def point_at_demo_railway(path: Path, resource: str, railway_url: str) -> None:
    """After custody: the credential's resource talks to the demo's Railway, not the real one,
    and asks it where Railway ids live (the project query)."""
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    table = doc["resources"][resource]
    table["base_url"] = railway_url
    table["provider"] = "railway"
    table["description"] = "the demo's Railway (a local fixture), with the token taken from .env"
    apiproxy = doc["fronts"]["apiproxy"]
    resources = tomlkit.table(is_super_table=True)
    entry = tomlkit.table()
    entry["railway_projects"] = [railway.PROJECT_ID]
    resources[resource] = entry
    apiproxy["resources"] = resources
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")


def resource_names(path: Path) -> set[str]:
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    return set(json.loads(json.dumps(doc.get("resources", {}))))
