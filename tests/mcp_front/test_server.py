"""airlock's MCP server, driven by the SDK's own client: over stdio (in-process, and as a thin
client of `airlock up`), and over streamable HTTP mounted by `airlock up` — listing the tools, a
read that runs, a destructive call held — against a real PostgreSQL; and `airlock mcp wrap
--server` asking `airlock up` about a wrapped server's calls."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters

from airlock.config import load_config
from airlock.model import Principal, PrincipalKind
from airlock.runtime import Runtime
from tests.approvals.helpers import agent_token, start_server
from tests.conftest import require
from tests.pgcluster import Cluster

TOY = Path(__file__).with_name("toy_server.py")
OTHER_FS = Path("/dev/shm")
CONFIG = """
state_dir = "{state}"

[environments.staging]

[resources.app]
kind = "postgres"
environment = "staging"
url = "{url}"

[principals.agent]
kind = "agent"

[principals.alice]
kind = "human"

[vault]
path = "{vault}"

[[policy.rules]]
name = "row-changes-backed-up"
risk = ["write"]
verdict = "allow"
snapshot = true
"""


@pytest.fixture
def project(tmp_path: Path, pg_cluster: Cluster, pg_database: str) -> Path:
    usable = OTHER_FS.is_dir() and os.stat(OTHER_FS).st_dev != os.stat(tmp_path).st_dev
    require(usable, f"a second filesystem for the vault ({OTHER_FS} as tmpfs)")
    vault = Path(subprocess.check_output(["mktemp", "-d", "-p", str(OTHER_FS)], text=True).strip())
    dbname = pg_database.rsplit("/", 1)[1]
    pg_cluster.psql("CREATE TABLE items (id int PRIMARY KEY, name text);"
                    "INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')", dbname)
    (tmp_path / "airlock.toml").write_text(textwrap.dedent(CONFIG.format(
        state=tmp_path / "state", url=pg_database, vault=vault)))
    return tmp_path


def _stdio(project: Path, *args: str, env: dict[str, str] | None = None) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "airlock", "--config", str(project / "airlock.toml"), "mcp", *args],
        env={**os.environ, "AIRLOCK_CONFIG": "", **(env or {})}, cwd=str(project))


def _approve(project: Path, approval_id: str) -> None:
    runtime = Runtime(load_config(str(project / "airlock.toml")))
    try:
        runtime.desk.decide(approval_id, Principal("alice", PrincipalKind.HUMAN), approve=True,
                            reason="", via="test")
    finally:
        runtime.close()


def _count(project: Path) -> int:
    runtime = Runtime(load_config(str(project / "airlock.toml")))
    try:
        from airlock.upstream.postgres import postgres_of

        with postgres_of(runtime.config.resources["app"], runtime.config).connect() as conn:
            row = conn.execute("SELECT count(*) FROM items").fetchone()
            assert row is not None
            return int(str(row[0]))
    finally:
        runtime.close()


async def _tour(client: Client) -> dict[str, Any]:
    """What every transport must do alike."""
    listed = await client.list_tools()
    read = await client.call_tool("query_sql", {"resource": "app",
                                                "sql": "SELECT id, name FROM items ORDER BY id"})
    drop = await client.call_tool("execute_sql", {"resource": "app", "sql": "DROP TABLE items"})
    return {"tools": {t.name: t.annotations for t in listed.tools}, "read": read, "drop": drop}


def _check_tour(got: dict[str, Any]) -> str:
    tools = got["tools"]
    assert set(tools) == {"list_resources", "query_sql", "execute_sql", "call_api",
                          "check_action", "wait_for_approval"}
    assert tools["query_sql"].read_only_hint is True
    assert tools["execute_sql"].destructive_hint is True and not tools["execute_sql"].read_only_hint
    assert tools["call_api"].open_world_hint is True
    read = got["read"]
    assert not read.is_error and read.structured_content["rows"] == [[1, "one"], [2, "two"],
                                                                     [3, "three"]]
    assert read.structured_content["columns"] == ["id", "name"]
    drop = got["drop"]
    assert drop.is_error and drop.structured_content["status"] == "held"
    approval_id: str = drop.structured_content["approval_id"]
    assert f"airlock approve {approval_id}" in drop.content[0].text
    return approval_id


def test_stdio_in_process_reads_holds_and_runs_what_a_human_approved(project: Path) -> None:
    async def first() -> dict[str, Any]:
        async with Client(_stdio(project)) as client:
            got = await _tour(client)
            got["not_a_read"] = await client.call_tool(
                "query_sql", {"resource": "app", "sql": "DELETE FROM items"})
            got["delete"] = await client.call_tool(
                "execute_sql", {"resource": "app", "sql": "DELETE FROM items WHERE id = 3"})
            got["check"] = await client.call_tool(
                "check_action", {"kind": "sql", "input": "TRUNCATE items", "resource": "app"})
            got["bad"] = await client.call_tool("execute_sql", {"resource": "nope", "sql": "x"})
            return got

    got = anyio.run(first)
    approval_id = _check_tour(got)
    assert got["not_a_read"].is_error and "reads only" in got["not_a_read"].content[0].text
    delete = got["delete"].structured_content  # a write in staging: runs, rows backed up first
    assert not got["delete"].is_error and delete["status"] == "executed"
    assert delete["row_count"] == 1 and delete["snapshots"]
    assert got["check"].structured_content["verdict"] == "hold"
    assert got["bad"].is_error and "not a configured postgres resource" in got["bad"].content[0].text
    assert _count(project) == 2

    async def wait_then_retry() -> tuple[Any, Any]:
        async with Client(_stdio(project)) as client:
            waited = await client.call_tool("wait_for_approval",
                                            {"approval_id": approval_id, "timeout_seconds": 1})
            _approve(project, approval_id)
            again = await client.call_tool("execute_sql",
                                           {"resource": "app", "sql": "DROP TABLE items"})
            return waited, again

    waited, again = anyio.run(wait_then_retry)
    assert waited.structured_content["status"] == "pending"
    assert not again.is_error and again.structured_content["status"] == "executed"
    assert again.structured_content["snapshots"]  # the table was dumped before it was dropped


def test_http_thin_client_and_wrap_through_airlock_up(project: Path) -> None:
    token = agent_token(project)
    server = start_server(project)
    try:
        base = server.base
        refused = httpx.post(f"{base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert refused.status_code == 401

        async def over_http() -> dict[str, Any]:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http, \
                    Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
                return await _tour(client)

        _check_tour(anyio.run(over_http))

        async def thin() -> dict[str, Any]:
            params = _stdio(project, "--server", base, env={"AIRLOCK_TOKEN": token})
            async with Client(params) as client:
                return await _tour(client)

        _check_tour(anyio.run(thin))

        async def wrapped() -> tuple[Any, Any]:
            params = StdioServerParameters(
                command=sys.executable,
                args=["-m", "airlock", "mcp", "wrap", "--name", "infra", "--server", base, "--",
                      sys.executable, str(TOY)],
                env={**os.environ, "AIRLOCK_CONFIG": "", "AIRLOCK_TOKEN": token,
                     "TOY_MCP_LOG": str(project / "calls.jsonl")}, cwd=str(project))
            async with Client(params) as client:
                await client.list_tools()
                return (await client.call_tool("list_volumes", {}),
                        await client.call_tool("delete_volume", {"volume_id": "vol-1"}))

        read, delete = anyio.run(wrapped)
        assert not read.is_error
        assert delete.is_error and "airlock held" in delete.content[0].text
        assert "delete_volume" not in (project / "calls.jsonl").read_text()
    finally:
        server.stop()
    assert _count(project) == 3  # every DROP was held
