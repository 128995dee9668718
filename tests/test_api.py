"""`airlock up` end to end: a real server process, a real HTTP client, real tokens."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from airlock.approvals import decide
from airlock.model import Principal, PrincipalKind
from airlock.store import open_store
from tests.cli import airlock

CONFIG = """
[environments.production]
[environments.staging]

[resources.prod-db]
kind = "postgres"
environment = "production"
url = "postgresql://app@db.prod.internal:5432/app"

[resources.staging-db]
kind = "postgres"
environment = "staging"
url = "postgresql://app@db.staging.internal:5432/app"

[principals.agent]
kind = "agent"

[principals.alice]
kind = "human"

# These databases are names only (nothing listens there): this tests approvals, so there is no
# vault. With a vault, an approved DROP on a database airlock cannot reach never runs
# (tests/vault/test_fail_closed.py).
[vault]
enabled = false
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    (tmp_path / "airlock.toml").write_text(CONFIG)
    port = _port()
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "airlock", "up", "--port", str(port)],
                            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "NO_COLOR": "1"})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail(f"airlock up did not start: {(tmp_path / 'server.log').read_text()}")
        time.sleep(0.1)
    yield base, tmp_path
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


def token_for(project: Path, *env: str) -> str:
    args = [a for e in env for a in ("--env", e)]
    result = airlock("token", "create", "--principal", "agent", *args, cwd=project)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


def test_requests_need_a_valid_token(server: tuple[str, Path]) -> None:
    base, _ = server
    body = {"kind": "sql", "input": "SELECT 1", "resource": "staging-db"}
    assert httpx.post(f"{base}/v1/actions", json=body).status_code == 401
    bad = httpx.post(f"{base}/v1/actions", json=body,
                     headers={"Authorization": "Bearer alk_tok_" + "0" * 26 + "_" + "x" * 43})
    assert bad.status_code == 401 and "unknown token" in bad.json()["error"]


def test_staging_token_cannot_reach_production(server: tuple[str, Path]) -> None:
    base, project = server
    token = token_for(project, "staging")
    headers = {"Authorization": f"Bearer {token}"}
    answer = httpx.post(f"{base}/v1/actions", headers=headers,
                        json={"kind": "sql", "input": "SELECT 1", "resource": "prod-db"}).json()
    assert answer["verdict"] == "deny" and answer["rule"] == "scope"
    assert "production" in answer["reason"]


def test_bad_requests_get_clear_errors(server: tuple[str, Path]) -> None:
    base, project = server
    headers = {"Authorization": f"Bearer {token_for(project, 'staging')}"}
    cases = [
        (b"{not json", "not JSON"),
        (b'["x"]', "must be a JSON object"),
        (b'{"kind": "sql", "input": "x", "resource": "nowhere"}', "not configured"),
        (b'{"kind": "fax", "input": "x"}', "kind must be one of"),
    ]
    for body, message in cases:
        response = httpx.post(f"{base}/v1/actions", headers=headers, content=body)
        assert response.status_code == 400 and message in response.json()["error"]


def test_hold_then_approve_then_pass_once(server: tuple[str, Path]) -> None:
    base, project = server
    headers = {"Authorization": f"Bearer {token_for(project, 'staging')}"}
    body = {"kind": "sql", "input": "DROP TABLE users", "resource": "staging-db"}
    held = httpx.post(f"{base}/v1/actions", headers=headers, json=body).json()
    assert held["verdict"] == "hold" and held["approval_id"]
    status = httpx.get(f"{base}/v1/approvals/{held['approval_id']}", headers=headers).json()
    assert status["status"] == "pending"

    store = open_store(None, project / ".airlock")
    # no vault in this project: approving accepts, by name, that nothing is backed up first
    decide(store, held["approval_id"], Principal("alice", PrincipalKind.HUMAN), approve=True,
           without_backup=True)
    store.close()

    passed = httpx.post(f"{base}/v1/actions", headers=headers, json=body).json()
    assert passed["verdict"] == "allow" and passed["status"] == "allowed"
    again = httpx.post(f"{base}/v1/actions", headers=headers, json=body).json()
    assert again["verdict"] == "hold" and again["approval_id"] != held["approval_id"]
    assert airlock("audit", "verify", cwd=project).returncode == 0
