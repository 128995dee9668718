"""The vault as the gate's safety net, on a real PostgreSQL server: plans say what will be taken
and how big it will be; what cannot be protected says why; the local vault refuses to share a
filesystem with what it protects; row before-images are exact inside the statement's
transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from airlock.classify import FixedClassifier
from airlock.config import Config
from airlock.model import (
    Action,
    ActionContext,
    Effect,
    ResolvedTarget,
    Risk,
    ShellCommand,
    SqlQuery,
    Status,
    Target,
    Verb,
)
from airlock.safety import SafetyPlan
from airlock.store.memory import MemoryStore
from airlock.upstream.postgres import PgConn
from airlock.upstream.transaction import ProtectedTransaction
from airlock.vault.core import Vault
from airlock.vault.crypto import VaultKey
from airlock.vault.errors import VaultError
from airlock.vault.net import VaultNet
from airlock.vault.restore import apply_restore, plan_restore, resolve_target
from airlock.vault.stores.local import LocalStore
from tests.factories import Twins, assessment, caller, make_config
from tests.pgcluster import Cluster

pytestmark = pytest.mark.postgres


def config_for(url: str, vault: Path, extra: str = "") -> Config:
    return make_config(f"""
[resources.app]
kind = "postgres"
environment = "staging"
url = "{url}"

[vault]
path = "{vault}"
{extra}
""", base='[environments.staging]\n[principals.agent]\nkind = "agent"\n')


def net_for(config: Config, key: VaultKey) -> tuple[VaultNet, Vault]:
    assert config.vault.path is not None
    vault = Vault(LocalStore(config.vault.path), key)
    return VaultNet(config=config, vault=lambda: vault, store=MemoryStore()), vault


def rows_effect(table: str, verb: Verb = Verb.DELETE, risk: Risk = Risk.WRITE) -> Effect:
    return Effect(verb, risk, "rows go", Target("table", table, contextual=True), "rows")


def placed(effects: list[Effect]) -> list[ResolvedTarget]:
    return [ResolvedTarget(e.target, "app", ("staging",)) for e in effects if e.target]


def sql_action(text: str) -> Action:
    return Action(SqlQuery(text), "agent", "sql", ActionContext(environment="staging",
                                                                resource="app"))


@pytest.fixture
def events(pg_cluster: Cluster, pg_database: str) -> str:
    pg_cluster.psql("CREATE TABLE events (id int PRIMARY KEY, kind text, body text);"
                    "INSERT INTO events SELECT i, 'k' || (i % 10), repeat('x', 100) "
                    "FROM generate_series(1, 20000) i; ANALYZE events;",
                    pg_database.rsplit("/", 1)[1])
    return pg_database


def test_plans_say_what_is_taken_and_how_big(events: str, vault_dir: Path, key: VaultKey) -> None:
    net, _ = net_for(config_for(events, vault_dir), key)
    delete = [rows_effect("events")]
    plan = net.plan(sql_action("DELETE FROM events WHERE kind = 'k3'"), assessment(*delete),
                    placed(delete))
    [step] = plan.steps
    assert step.method == "postgres-rows" and plan.complete
    assert "public.events" in step.detail and "2000 row(s)" in step.detail
    drop = [Effect(Verb.DESTROY, Risk.DESTRUCTIVE, "drop", Target("table", "events", True), "table")]
    plan = net.plan(sql_action("DROP TABLE events"), assessment(*drop), placed(drop))
    [step] = plan.steps
    assert step.method == "postgres-table"
    assert "expected ≈" in step.detail and "MB" in step.detail and "catalog statistics" in step.detail


def test_statements_without_an_exact_before_image_fall_back_to_the_table(
        events: str, vault_dir: Path, key: VaultKey) -> None:
    net, _ = net_for(config_for(events, vault_dir), key)
    delete = [rows_effect("events")]
    volatile = net.plan(sql_action("DELETE FROM events WHERE random() < 0.5"),
                        assessment(*delete), placed(delete))
    assert volatile.steps[0].method == "postgres-table-data"
    assert "volatile function(s) random" in volatile.steps[0].detail
    shell = Action(ShellCommand("psql -c 'DELETE FROM events WHERE id < 5'"), "agent", "hook",
                   ActionContext(resource="app"))
    from_shell = net.plan(shell, assessment(*delete), placed(delete))
    assert from_shell.steps[0].method == "postgres-table-data"
    assert "shell command" in from_shell.steps[0].detail
    insert = [rows_effect("events", Verb.WRITE)]
    assert net.plan(sql_action("INSERT INTO events VALUES (0, 'x', 'y')"), assessment(*insert),
                    placed(insert)) == SafetyPlan()


def test_what_cannot_be_protected_says_why(events: str, vault_dir: Path, key: VaultKey) -> None:
    net, _ = net_for(config_for(events, vault_dir), key)
    nowhere = Effect(Verb.DESTROY, Risk.DESTRUCTIVE, "drop", Target("table", "x"), "table")
    plan = net.plan(sql_action("DROP TABLE x"), assessment(nowhere),
                    [ResolvedTarget(nowhere.target, None, ("(unknown)",))])  # type: ignore[arg-type]
    assert plan.steps == () and "no configured resource owns it" in plan.unprotected[0][1]
    blind = Effect(Verb.UNKNOWN, Risk.UNKNOWN, "?")
    plan = net.plan(sql_action("?"), assessment(blind, complete=False), [])
    assert "cannot tell what" in plan.unprotected[0][1]
    index = Effect(Verb.DESTROY, Risk.DESTRUCTIVE, "drop", Target("index", "i", True), "index")
    plan = net.plan(sql_action("DROP INDEX i"), assessment(index), placed([index]))
    assert "no snapshotter for a PostgreSQL index" in plan.unprotected[0][1]


def test_a_local_vault_on_the_same_filesystem_is_refused(
        pg_cluster: Cluster, events: str, tmp_path: Path, key: VaultKey) -> None:
    same_fs_vault = tmp_path / "vault"  # /tmp, like the test server's data directory
    config = config_for(events, same_fs_vault, extra="")
    net, _ = net_for(config, key)
    drop = [Effect(Verb.DESTROY, Risk.DESTRUCTIVE, "drop", Target("table", "events", True), "table")]
    plan = net.plan(sql_action("DROP TABLE events"), assessment(*drop), placed(drop))
    assert plan.steps == ()
    assert "same filesystem" in plan.unprotected[0][1]
    # a rule that would allow it with a backup now holds it: no backup, a human decides
    twins = Twins(make_config(f"""
[resources.files]
kind = "sqlite"
environment = "staging"
path = "{tmp_path / 'app.db'}"

[vault]
path = "{same_fs_vault}"

[[policy.rules]]
name = "allow-with-backup"
verdict = "allow"
snapshot = true
""", base='[environments.staging]\n[principals.agent]\nkind = "agent"\n'),
        classifier=FixedClassifier(assessment(Effect(Verb.DESTROY, Risk.DESTRUCTIVE, "rm",
                                                     Target("path", str(tmp_path / "app.db")),
                                                     "file"))))
    sqlite3.connect(tmp_path / "app.db").close()
    vault = Vault(LocalStore(same_fs_vault), key)
    twins.gate.safety_net = VaultNet(config=twins.config, vault=lambda: vault, store=twins.store)
    outcome = twins.gate.submit(Action(ShellCommand(f"rm {tmp_path / 'app.db'}"), "agent",
                                       "hook"), caller())
    assert outcome.status is Status.HELD and "no backup is possible" in outcome.reason


def test_the_before_image_is_exact_under_concurrent_writes(
        pg_cluster: Cluster, events: str, vault_dir: Path, key: VaultKey) -> None:
    config = config_for(events, vault_dir)
    net, vault = net_for(config, key)
    text = "DELETE FROM events WHERE kind = 'k7'"
    effects = [rows_effect("events")]
    action = sql_action(text)
    with ProtectedTransaction("app", PgConn(events, pg_cluster.bindir)) as txn:
        bound = net.within(txn)
        plan = bound.plan(action, assessment(*effects), placed(effects))
        assert "exact" in plan.steps[0].detail
        protection = bound.protect(action, plan)
        [snapshot] = protection.ids
        assert protection.expected_rows == 2000
        with psycopg.connect(events, autocommit=True) as other:
            # a matching row committed after the capture, and a captured row another writer wants
            other.execute("INSERT INTO events VALUES (99999, 'k7', 'late')")
            other.execute("SET lock_timeout = '200ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("UPDATE events SET body = 'changed' WHERE id = 7")
        result = txn.execute(text, expected_rows=protection.expected_rows)
    assert result["rowcount"] == 2000
    dbname = events.rsplit("/", 1)[1]
    assert pg_cluster.psql("SELECT count(*) FROM events WHERE kind = 'k7'", dbname).strip() == "1"
    manifest = vault.manifest(snapshot)
    assert manifest.stats["objects"]["rows.0"]["rows"] == 2000 and manifest.action_id == action.id
    plan_back = plan_restore(vault, manifest, resolve_target(manifest, None, config))
    assert plan_back.creates == ("2000 row(s) of public.events",) and not plan_back.overwrites
    apply_restore(vault, plan_back, force=False)
    assert pg_cluster.psql("SELECT count(*) FROM events WHERE kind = 'k7'", dbname).strip() == "2001"


def test_a_statement_that_touches_other_rows_than_captured_is_rolled_back(
        pg_cluster: Cluster, events: str) -> None:
    with ProtectedTransaction("app", PgConn(events, pg_cluster.bindir)) as txn, \
            pytest.raises(VaultError, match="touched 3 row"):
        txn.execute("DELETE FROM events WHERE id <= 3", expected_rows=5)
    assert pg_cluster.psql("SELECT count(*) FROM events", events.rsplit("/", 1)[1]).strip() == "20000"


def test_cascades_are_captured_and_restored_parents_first(
        pg_cluster: Cluster, pg_database: str, vault_dir: Path, key: VaultKey) -> None:
    dbname = pg_database.rsplit("/", 1)[1]
    pg_cluster.psql("""
        CREATE TABLE teams (id int PRIMARY KEY, name text);
        CREATE TABLE members (id int PRIMARY KEY, team_id int REFERENCES teams ON DELETE CASCADE);
        CREATE TABLE badges (id int PRIMARY KEY, member_id int REFERENCES members ON DELETE CASCADE);
        CREATE TABLE notes (id int PRIMARY KEY, team_id int REFERENCES teams ON DELETE SET NULL);
        INSERT INTO teams SELECT i, 't' || i FROM generate_series(1, 10) i;
        INSERT INTO members SELECT i, 1 + i % 10 FROM generate_series(1, 100) i;
        INSERT INTO badges SELECT i, 1 + i % 100 FROM generate_series(1, 300) i;
        INSERT INTO notes SELECT i, 1 + i % 10 FROM generate_series(1, 50) i;
    """, dbname)
    snapshot_sql = ("SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM teams t) "
                    "|| (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM members t) "
                    "|| (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM badges t) "
                    "|| (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM notes t)")
    before = pg_cluster.psql(snapshot_sql, dbname)
    config = config_for(pg_database, vault_dir)
    net, vault = net_for(config, key)
    text = "DELETE FROM teams t USING members m WHERE m.team_id = t.id AND t.id <= 3"
    effects = [rows_effect("teams")]
    action = sql_action(text)
    with ProtectedTransaction("app", PgConn(pg_database, pg_cluster.bindir)) as txn:
        bound = net.within(txn)
        plan = bound.plan(action, assessment(*effects), placed(effects))
        assert "3 table(s) its cascades reach" in plan.steps[0].detail
        protection = bound.protect(action, plan)
        [snapshot] = protection.ids
        assert protection.expected_rows == 3  # the join matches each team ten times; captured once
        txn.execute(text, expected_rows=protection.expected_rows)
    assert pg_cluster.psql(snapshot_sql, dbname) != before
    manifest = vault.manifest(snapshot)
    assert {t["table"]: t["how"] for t in manifest.source["tables"]} == {
        "teams": "delete", "members": "delete", "badges": "delete", "notes": "set-null"}
    restore_plan = plan_restore(vault, manifest, resolve_target(manifest, None, config))
    assert any("notes" in line for line in restore_plan.overwrites)  # set back from NULL
    apply_restore(vault, restore_plan, force=True)
    assert pg_cluster.psql(snapshot_sql, dbname) == before
