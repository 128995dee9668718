"""`airlock doctor` finds each planted weakness — one test per check — in a test workspace run in
this process (trial mode: the agent is this OS user). The clean bill on a real `airlock setup`,
and the checks only separate users can show, are in tests/setup/test_system.py."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from airlock.approvers import enrol
from airlock.audit import seal
from airlock.config import Config, load_config
from airlock.doctor import Severity
from airlock.fronts.hooks import install as installer
from airlock.fronts.hooks.daemon import HookDaemon
from airlock.fronts.hooks.runner import HookRunner
from airlock.model import Risk, Scope
from airlock.store import SnapshotRecord, TokenRecord
from airlock.tokens import issue_token
from tests.cli import airlock
from tests.doctor.conftest import NOW, World, severities

RAILWAY = "4f2c8a7e-1b2c-4d3e-8f9a-0b1c2d3e4f5a"


# ---- service ---------------------------------------------------------------------------------

def test_airlock_up_not_running(world: World) -> None:
    found = world.found("service", "service.running")
    assert severities(found) == {Severity.CRITICAL}
    assert "no one answers" in found[0].title and "airlock up" in found[0].fix


def test_airlock_up_running_as_the_agents_own_user(world: World) -> None:
    runtime = world.runtime()
    config = runtime.config
    with HookDaemon(HookRunner.from_runtime(runtime), config.state_dir / "hooks.sock").start(
            warm=False):
        found = world.found("service", "service.")
    assert [f.check for f in found] == ["service.user"]
    assert found[0].severity is Severity.CRITICAL and "agent's own user" in found[0].title
    assert f"process {os.getpid()}" in found[0].evidence[0]
    runtime.close()


# ---- access ----------------------------------------------------------------------------------

def test_the_agents_user_can_read_and_change_airlocks_files(world: World) -> None:
    runtime = world.runtime()
    runtime.audit_key  # noqa: B018  (creates the key files and the state)
    runtime.approvals_key  # noqa: B018
    runtime.store  # noqa: B018
    runtime.close()
    found = {f.check: f for f in world.run("access").findings}
    assert {"access.same-user", "access.state", "access.keys", "access.config",
            "access.code"} <= set(found)
    assert all(f.severity is Severity.CRITICAL for f in found.values())
    keys = "\n".join(found["access.keys"].evidence)
    assert "audit.key" in keys and "approvals.key" in keys
    assert "can write" in "\n".join(found["access.config"].evidence)


# ---- credentials -----------------------------------------------------------------------------

def test_credentials_in_the_workspace_and_home(world: World) -> None:
    (world.workspace / ".env").write_text(f"DEBUG=1\nRAILWAY_TOKEN={RAILWAY}\n")
    (world.home / ".ssh").mkdir()
    (world.home / ".ssh" / "id_ed25519").write_text(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
        "-----END OPENSSH PRIVATE KEY-----\n")
    found = {f.check: f for f in world.found("credentials", "credentials.files")
             + world.found("credentials", "credentials.other")}
    assert found["credentials.files"].severity is Severity.CRITICAL
    assert found["credentials.files"].evidence == (
        f"{world.workspace}/.env:2: Railway Token (RAILWAY_TOKEN)",)
    assert "credentials import" in found["credentials.files"].fix
    assert found["credentials.other"].severity is Severity.WARNING
    assert "id_ed25519" in found["credentials.other"].evidence[0]
    assert RAILWAY not in json.dumps([f.to_json() for f in found.values()])


def test_credentials_in_the_agents_environment(world: World,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAILWAY_TOKEN", RAILWAY)
    found = world.found("credentials", "credentials.environment")
    assert severities(found) == {Severity.CRITICAL}
    assert "$RAILWAY_TOKEN: Railway Token (RAILWAY_TOKEN)" in found[0].evidence
    assert RAILWAY not in json.dumps(found[0].to_json())


# ---- harnesses -------------------------------------------------------------------------------

def _install(world: World, harness: str, config: Config) -> Path:
    path = installer.settings_path(harness, project=None, home=world.home)
    installer.install(harness, config, path)
    return path


def test_a_harness_without_airlocks_hook(world: World) -> None:
    (world.home / ".claude").mkdir()
    (world.home / ".claude" / "settings.json").write_text('{"model": "opus"}')
    found = world.found("harnesses", "harness.claude")
    assert [f.check for f in found] == ["harness.claude.hook"]
    assert found[0].severity is Severity.CRITICAL
    assert "PreToolUse, PermissionRequest" in found[0].title
    _install(world, "claude", load_config(world.config_path))
    assert world.found("harnesses", "harness.") == []


def test_a_hook_whose_matcher_leaves_tools_out(world: World) -> None:
    path = _install(world, "claude", load_config(world.config_path))
    settings = json.loads(path.read_text())
    settings["hooks"]["PreToolUse"][0]["matcher"] = "Bash"
    path.write_text(json.dumps(settings))
    found = world.found("harnesses", "harness.claude")
    assert [f.check for f in found] == ["harness.claude.matcher"]
    assert "Read (PreToolUse)" in found[0].title and "mcp__x (PreToolUse)" in found[0].title
    assert "PermissionRequest" not in found[0].title  # that event still sees every tool


def test_hooks_switched_off_or_asking_another_airlock(world: World) -> None:
    config = load_config(world.config_path)
    _install(world, "claude", config)
    project = world.workspace / ".claude" / "settings.json"
    project.parent.mkdir()
    project.write_text('{"disableAllHooks": true}')
    path = _install(world, "gemini", config)
    path.write_text(path.read_text().replace(str(config.state_dir / "hooks.sock"),
                                             "/tmp/another/hooks.sock"))
    found = {f.check: f for f in world.found("harnesses", "harness.")}
    assert found["harness.claude.disabled"].severity is Severity.CRITICAL
    assert found["harness.gemini.socket"].severity is Severity.WARNING
    assert "/tmp/another/hooks.sock" in found["harness.gemini.socket"].evidence[0]


def test_every_harness_installed_is_clean(world: World) -> None:
    config = load_config(world.config_path)
    for harness in ("claude", "cursor", "codex", "gemini"):
        _install(world, harness, config)
    assert world.found("harnesses", "harness.") == []


# ---- backups ---------------------------------------------------------------------------------

def test_backups_on_the_same_filesystem(world: World) -> None:
    world.configure(f"""
        [resources.uploads]
        kind = "path"
        environment = "production"
        path = "{world.root / 'uploads'}"
    """)
    found = world.found("backups", "backups.same-filesystem")
    assert severities(found) == {Severity.CRITICAL}
    assert "uploads" in found[0].evidence[0]


def test_backups_on_the_same_volume(world: World) -> None:
    world.configure("""
        [resources.prod-volume]
        kind = "volume"
        environment = "staging"
        match = ["railway:volume:4f2c"]

        [resources.app-db]
        kind = "other"
        environment = "production"
        stored_on = ["prod-volume"]

        [resources.db-backups]
        kind = "other"
        environment = "production"
        stored_on = ["prod-volume"]
        backs_up = ["app-db"]
    """)
    found = world.found("backups", "backups.same-volume")
    assert severities(found) == {Severity.CRITICAL}
    assert found[0].evidence == ("losing prod-volume loses app-db and its backups in db-backups",)


def test_the_vault_bucket_is_a_resource_agents_reach(world: World) -> None:
    world.configure("""
        [vault]
        s3 = { bucket = "acme-backups" }

        [resources.backups]
        kind = "bucket"
        environment = "staging"
        match = ["aws:s3:bucket:acme-*"]
    """)
    found = world.found("backups", "backups.same-account")
    assert severities(found) == {Severity.CRITICAL}
    assert "coding-agent" in found[0].title


def _snapshot(world: World, resource: str, age: timedelta) -> None:
    runtime = world.runtime()
    runtime.store.add_snapshot(SnapshotRecord(
        id=f"snap_{resource}_{age.days}", kind="files", resource=resource, environment="production",
        created_at=(NOW - age).isoformat(), size=1, digest="0" * 64, location="test"))
    runtime.close()


def _drill(world: World, resource: str, age: timedelta, ok: bool) -> None:
    runtime = world.runtime()
    key = runtime.audit_key
    runtime.store.append_audit(lambda prev: seal(prev, "drill", None, {
        "resource": resource, "ok": ok}, key, at=(NOW - age).isoformat()))
    runtime.close()


def test_newest_backup_older_than_the_rpo(world: World) -> None:
    world.configure("""
        [vault]
        path = "/nonexistent-disk/vault"
        rpo = "24h"

        [resources.reports]
        kind = "sqlite"
        environment = "production"
        path = "reports.db"

        [resources.uploads]
        kind = "path"
        environment = "production"
        path = "uploads"
    """)
    _snapshot(world, "reports", timedelta(days=3))
    found = world.found("backups", "backups.rpo")
    assert severities(found) == {Severity.WARNING}
    assert found[0].evidence[0].startswith("reports: newest backup 3 days, 0:00:00 ago")
    assert found[0].evidence[1] == "uploads: no backup ever"
    _snapshot(world, "reports", timedelta(hours=2))
    _snapshot(world, "uploads", timedelta(hours=1))
    assert world.found("backups", "backups.rpo") == []


def test_no_passing_drill_within_the_interval(world: World) -> None:
    world.configure("""
        [vault]
        path = "/nonexistent-disk/vault"
        drill_every = "7d"

        [resources.reports]
        kind = "sqlite"
        environment = "production"
        path = "reports.db"
    """)
    _snapshot(world, "reports", timedelta(hours=1))
    _drill(world, "reports", timedelta(days=20), ok=True)
    _drill(world, "reports", timedelta(days=1), ok=False)  # a failed drill proves nothing
    found = world.found("backups", "backups.drill")
    assert severities(found) == {Severity.WARNING}
    assert found[0].evidence[0].startswith("reports: newest passing drill 20 days")
    _drill(world, "reports", timedelta(hours=3), ok=True)
    assert world.found("backups", "backups.drill") == []


# ---- tokens and approvers --------------------------------------------------------------------

def test_tokens_reaching_production_several_environments_or_living_long(world: World) -> None:
    world.configure("""
        [principals.deployer]
        kind = "agent"
    """)
    runtime = world.runtime()
    config = runtime.config
    prod = issue_token(runtime.store, config, principal="deployer", environments=["production"],
                       now=NOW)
    two = issue_token(runtime.store, config, principal="deployer",
                      environments=["staging", "local"], now=NOW)
    long = issue_token(runtime.store, config, principal="coding-agent", environments=["staging"],
                       ttl=timedelta(days=60), now=NOW)
    runtime.store.add_token(TokenRecord(
        id="tok_forever", principal="coding-agent", principal_kind=prod.record.principal_kind,
        scope=Scope(("staging",), ("*",), Risk.WRITE, None), secret_hash="0" * 64,
        created_at=NOW.isoformat()))
    issue_token(runtime.store, config, principal="coding-agent", environments=["staging"],
                now=NOW)  # one environment, eight hours: fine
    runtime.close()
    found = {f.check: f for f in world.found("tokens", "tokens.")}
    assert found["tokens.production"].severity is Severity.CRITICAL
    assert found["tokens.production"].evidence == (
        f"{prod.record.id} (deployer) reaches production",)
    assert found["tokens.environments"].evidence == (
        f"{two.record.id} (deployer) reaches local, staging",)
    assert set(found["tokens.expiry"].evidence) == {
        f"{long.record.id} (coding-agent) lives until "
        f"{(NOW + timedelta(days=60)).isoformat()}", "tok_forever (coding-agent) never expires"}


def test_fewer_approvers_than_a_hold_needs(world: World) -> None:
    runtime = world.runtime()
    enrol(runtime.store, runtime.config, runtime.approvals_key, "alice")
    runtime.close()
    found = world.found("tokens", "approvers.")
    assert severities(found) == {Severity.WARNING}
    assert "needs 2" in found[0].evidence[0] and "1 enrolled approver(s) (alice)" in found[0].title
    runtime = world.runtime()
    enrol(runtime.store, runtime.config, runtime.approvals_key, "bob")
    runtime.close()
    assert world.found("tokens", "approvers.") == []


# ---- the command ------------------------------------------------------------------------------

def test_the_command_prints_json_and_exits_1_on_a_critical(world: World) -> None:
    done = airlock("--config", str(world.config_path), "doctor", "--json", "--check", "service",
                   cwd=world.root)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["checked"] == ["service"] and report["clean"] is False
    assert report["findings"][0]["check"] == "service.running"
    assert set(report["findings"][0]) == {"check", "severity", "title", "evidence", "fix"}
    done = airlock("--config", str(world.config_path), "doctor", "--check", "backups",
                   cwd=world.root)
    assert done.returncode == 0 and "clean bill" in done.stdout


# ---- the audit log ----------------------------------------------------------------------------

def test_an_audit_log_that_does_not_verify(world: World) -> None:
    runtime = world.runtime()
    for n in range(3):
        runtime.audit.record("token_created", None, {"n": n})
    runtime.close()
    found = world.found("audit", "audit.")
    assert [(f.check, f.severity) for f in found] == [("audit.anchor", Severity.INFO)]

    db = sqlite3.connect(world.root / "state" / "state.db")  # an agent rewriting its history
    triggers = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='trigger'")]
    for name in triggers:
        db.execute(f'DROP TRIGGER "{name}"')
    db.execute("""UPDATE audit SET data = '{"n": 99}' WHERE seq = 2""")
    db.commit()
    db.close()
    found = world.found("audit", "audit.")
    assert [(f.check, f.severity) for f in found] == [("audit.chain", Severity.CRITICAL)]
    assert "record 2" in found[0].title
