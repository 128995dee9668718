"""Builders shared by the vault tests: a configuration on disk, approvals by a human, and what a
database looks like (schema without noise, content hashes)."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from airlock.approvals import decide
from airlock.model import Principal, PrincipalKind
from airlock.store import open_store
from tests.cli import airlock
from tests.pgcluster import Cluster

BASE = """
state_dir = "{state}"

[environments.staging]

[resources.app]
kind = "postgres"
environment = "staging"
url = "{url}"
{resource_extra}

[principals.agent]
kind = "agent"

[principals.alice]
kind = "human"

[vault]
path = "{vault}"
{vault_extra}

# Row changes are backed up too (the built-in policy snapshots only destructive actions).
[[policy.rules]]
name = "row-changes-backed-up"
risk = ["write"]
verdict = "allow"
snapshot = true
"""


def write_config(tmp_path: Path, url: str, vault: Path, *, resource_extra: str = "",
                 vault_extra: str = "", extra: str = "") -> Path:
    path = tmp_path / "airlock.toml"
    text = BASE.format(state=tmp_path / "state", url=url, vault=vault,
                       resource_extra=resource_extra, vault_extra=vault_extra)
    path.write_text(textwrap.dedent(text) + textwrap.dedent(extra), encoding="utf-8")
    return path


def approve(state_dir: Path, approval_id: str, who: str = "alice") -> None:
    store = open_store(None, state_dir)
    try:
        decide(store, approval_id, Principal(who, PrincipalKind.HUMAN), approve=True)
    finally:
        store.close()


def run(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return airlock("--config", str(tmp_path / "airlock.toml"), *args, cwd=tmp_path,
                   timeout=timeout)


def agent_token(tmp_path: Path) -> str:
    """The agent's token (`airlock sql` acts with airlock's credential, so it needs one),
    issued once per test folder."""
    cached = tmp_path / "agent.token"
    if cached.exists():
        return cached.read_text(encoding="utf-8")
    issued = run(tmp_path, "token", "create", "--principal", "agent", "--env", "staging")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().splitlines()[-1]
    cached.write_text(token, encoding="utf-8")
    return token


def sql_json(tmp_path: Path, statement: str) -> tuple[int, dict[str, Any]]:
    result = run(tmp_path, "sql", "app", statement, "--token", agent_token(tmp_path), "--json")
    try:
        return result.returncode, json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"not JSON (exit {result.returncode}): {result.stdout}\n"
                             f"{result.stderr}") from None


def sql_approved(tmp_path: Path, statement: str,
                 first: dict[str, Any] | None = None) -> dict[str, Any]:
    """Submit (unless `first` is that outcome), approve the hold as a human, submit again: the
    outcome of the retry."""
    if first is None:
        code, first = sql_json(tmp_path, statement)
        assert code == 3, first
    assert first["status"] == "held", first
    approve(tmp_path / "state", first["approval_id"])
    code, second = sql_json(tmp_path, statement)
    assert code == 0, second
    return second


_NOISE = re.compile(r"^\\(un)?restrict .*$|^--.*$", re.MULTILINE)


def schema_of(cluster: Cluster, url: str) -> str:
    out = subprocess.run([str(cluster.bindir / "pg_dump"), "--schema-only", "--dbname", url],
                         capture_output=True, text=True, check=True).stdout
    return "\n".join(line for line in _NOISE.sub("", out).splitlines() if line.strip())


def content_of(cluster: Cluster, url: str, table: str, order: str = "t::text") -> str:
    return cluster.psql(f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\\n' "
                        f"ORDER BY {order})), '') FROM {table} t", url.rsplit("/", 1)[1]).strip()
