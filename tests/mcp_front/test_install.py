"""`airlock install … --wrap-mcp`: the harness's stdio MCP servers behind `airlock mcp wrap`, and
`airlock uninstall` giving the file back byte for byte."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from airlock.config import Config
from airlock.fronts.mcp.install import (
    ARGS_ABSENT,
    is_wrapped,
    survey,
    unwrap_all,
    wrap_command,
    wrap_servers,
)
from tests.cli import airlock

TOY = Path(__file__).with_name("toy_server.py")
SERVERS: dict[str, Any] = {
    "mcpServers": {
        "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
                   "env": {"GITHUB_TOKEN": "x"}},
        "bare": {"type": "stdio", "command": "/opt/bare-server"},  # no args key at all
        "empty": {"args": [], "command": "empty-server"},          # an empty one, args first
        "remote": {"type": "http", "url": "https://mcp.example.com/mcp"},
        "docs": {"httpUrl": "https://docs.example.com/mcp"},
    },
    "numStartups": 12, "projects": {"/home/dev/app": {"allowedTools": []}},
    "théme": "dark — ünïcode",
}


@pytest.mark.parametrize(("indent", "newline", "ascii_only"),
                         [(2, False, False), (4, True, False), ("\t", True, False),
                          (2, True, True)])
def test_wrap_then_unwrap_gives_the_file_back_byte_for_byte(
        tmp_path: Path, indent: int | str, newline: bool, ascii_only: bool) -> None:
    path = tmp_path / ".claude.json"
    original = json.dumps(SERVERS, indent=indent, ensure_ascii=ascii_only) + ("\n" if newline else "")
    path.write_text(original, encoding="utf-8")
    os.chmod(path, 0o640)
    config = Config(path=None, state_dir=tmp_path / "state")

    found = survey(path)
    assert found.wrappable == ("github", "bare", "empty")
    assert [name for name, _ in found.skipped] == ["remote", "docs"]
    assert wrap_servers(path, list(found.wrappable), wrap_command(config, "/py")) == \
        ["github", "bare", "empty"]
    after = json.loads(path.read_text(encoding="utf-8"))
    github = after["mcpServers"]["github"]
    assert github["command"] == "/py" and is_wrapped(github)
    assert github["args"][-3:] == ["--", "npx", "-y", "@modelcontextprotocol/server-github"][-3:]
    assert github["args"][github["args"].index("--") + 1] == "npx"
    assert github["env"] == {"GITHUB_TOKEN": "x"}
    assert ARGS_ABSENT in after["mcpServers"]["bare"]["args"]
    assert after["mcpServers"]["remote"] == SERVERS["mcpServers"]["remote"]
    assert survey(path).wrapped == ("github", "bare", "empty")
    assert wrap_servers(path, ["github"], wrap_command(config, "/py")) == []  # twice is once
    assert os.stat(path).st_mode & 0o777 == 0o640

    assert unwrap_all(path) == ["github", "bare", "empty"]
    assert path.read_bytes() == original.encode("utf-8")
    assert unwrap_all(path) == []


def test_install_wraps_the_servers_it_finds_and_uninstall_restores_them(tmp_path: Path) -> None:
    project = tmp_path / "app"
    (project / ".cursor").mkdir(parents=True)
    mcp_file = project / ".cursor" / "mcp.json"
    original = json.dumps({"mcpServers": {"toy": {
        "command": sys.executable, "args": [str(TOY)],
        "env": {"TOY_MCP_LOG": str(tmp_path / "calls.jsonl")}}}}, indent=2) + "\n"
    mcp_file.write_text(original)
    (tmp_path / "airlock.toml").write_text(f'state_dir = "{tmp_path / "state"}"\n'
                                           '[vault]\nenabled = false\n')
    env = {"HOME": str(tmp_path / "home"), "AIRLOCK_CONFIG": str(tmp_path / "airlock.toml")}

    listed = airlock("install", "cursor", "--project", "--dir", str(project), cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "run again with --wrap-mcp" in listed.stdout and mcp_file.read_text() == original

    done = airlock("install", "cursor", "--project", "--dir", str(project), "--wrap-mcp",
                   cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "wrapped MCP servers toy" in done.stdout
    entry = json.loads(mcp_file.read_text())["mcpServers"]["toy"]

    async def use() -> tuple[Any, Any]:  # the harness starts exactly what the file says
        params = StdioServerParameters(command=entry["command"], args=entry["args"],
                                       env={**os.environ, **entry["env"], "AIRLOCK_CONFIG": ""},
                                       cwd=str(project))
        async with Client(params) as client:
            await client.list_tools()
            return (await client.call_tool("list_volumes", {}),
                    await client.call_tool("delete_volume", {"volume_id": "vol-9"}))

    read, delete = anyio.run(use)
    assert not read.is_error
    assert delete.is_error and "airlock held" in delete.content[0].text
    assert "delete_volume" not in (tmp_path / "calls.jsonl").read_text()

    undone = airlock("uninstall", "cursor", "--project", "--dir", str(project), cwd=tmp_path,
                     env=env)
    assert undone.returncode == 0, undone.stderr
    assert "restored MCP servers toy" in undone.stdout
    assert mcp_file.read_bytes() == original.encode()
