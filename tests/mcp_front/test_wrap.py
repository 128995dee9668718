"""`airlock mcp wrap`: the SDK's own client, through `airlock mcp wrap --`, to a real stdio MCP
server written with the SDK (tests/mcp_front/toy_server.py). Held calls are answered as tool errors
and never reach the server; reads and judged-harmless calls do, in both protocol eras."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from airlock.config import load_config
from airlock.model import Principal, PrincipalKind
from airlock.runtime import Runtime
from airlock.store import ApprovalStatus

TOY = Path(__file__).with_name("toy_server.py")
CONFIG = """
state_dir = "{state}"

[principals.alice]
kind = "human"

[vault]
enabled = false  # nothing here can be backed up; the vault's part is tested elsewhere
"""


def approve(tmp_path: Path, approval_id: str) -> None:
    runtime = Runtime(load_config(str(tmp_path / "airlock.toml")))
    try:
        runtime.desk.decide(approval_id, Principal("alice", PrincipalKind.HUMAN), approve=True,
                            reason="", via="test")
    finally:
        runtime.close()


def _params(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> StdioServerParameters:
    config = tmp_path / "airlock.toml"
    if not config.exists():
        config.write_text(CONFIG.format(state=tmp_path / "state"))
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "airlock", "--config", str(config), "mcp", "wrap", "--name", "infra", *extra,
              "--", sys.executable, str(TOY)],
        env={**os.environ, "TOY_MCP_LOG": str(tmp_path / "calls.jsonl"), "AIRLOCK_CONFIG": "",
             **(env or {})},
        cwd=str(tmp_path))


def _reached(tmp_path: Path) -> list[dict[str, Any]]:
    log = tmp_path / "calls.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # the per-request era and the handshake era
def test_a_wrapped_servers_destructive_tool_is_held_and_its_reads_pass(
        tmp_path: Path, mode: str) -> None:
    async def session() -> dict[str, Any]:
        async with Client(_params(tmp_path), mode=mode) as client:
            listed = await client.list_tools()
            read = await client.call_tool("list_volumes", {})
            select = await client.call_tool("run_sql", {"sql": "SELECT 1"})
            delete = await client.call_tool("delete_volume", {"volume_id": "vol-1"})
            drop = await client.call_tool("run_sql", {"sql": "DROP TABLE users"})
            hidden = await client.call_tool("lookup", {"note": "DROP TABLE users"})
            return {"tools": {t.name for t in listed.tools}, "read": read, "select": select,
                    "delete": delete, "drop": drop, "hidden": hidden}

    got = anyio.run(session)
    assert got["tools"] == {"run_sql", "delete_volume", "list_volumes", "lookup"}
    assert not got["read"].is_error and "vol-1, vol-2" in _text(got["read"])
    assert not got["select"].is_error and "ran: SELECT 1" in _text(got["select"])
    for held in ("delete", "drop", "hidden"):
        result = got[held]
        assert result.is_error, held
        assert "airlock held" in _text(result) and "airlock approve apr_" in _text(result)
    assert [c["tool"] for c in _reached(tmp_path)] == ["list_volumes", "run_sql"]

    runtime = Runtime(load_config(str(tmp_path / "airlock.toml")))
    pending = runtime.store.list_approvals(status=ApprovalStatus.PENDING)
    assert {p.summary.split(" ")[0] for p in pending} == {"infra.delete_volume", "infra.run_sql",
                                                          "infra.lookup"}
    delete = next(p for p in pending if p.summary.startswith("infra.delete_volume"))
    assert delete.approvals_required == 2  # destroying a whole volume in (unknown =) production
    runtime.close()


def test_an_approved_call_runs_once(tmp_path: Path) -> None:
    async def call() -> Any:
        async with Client(_params(tmp_path)) as client:
            await client.list_tools()
            return await client.call_tool("run_sql", {"sql": "DELETE FROM users WHERE id = 7"})

    first = anyio.run(call)
    assert first.is_error
    approval_id = _text(first).split("approval ")[1].split(" ")[0]
    approve(tmp_path, approval_id)
    second = anyio.run(call)
    assert not second.is_error, _text(second)
    third = anyio.run(call)
    assert third.is_error  # once
    assert [c["arguments"] for c in _reached(tmp_path)] == [{"sql": "DELETE FROM users WHERE id = 7"}]
