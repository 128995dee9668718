"""A real stdio MCP server written with the SDK, for `airlock mcp wrap` tests: a generic SQL tool,
a destructive tool, a read tool. Every call it receives is appended to $TOY_MCP_LOG, so a test
can prove a held call never reached it."""

from __future__ import annotations

import json
import os

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("toy-infra")


def _log(tool: str, arguments: dict[str, object]) -> None:
    with open(os.environ["TOY_MCP_LOG"], "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"tool": tool, "arguments": arguments}) + "\n")


@server.tool()
def run_sql(sql: str) -> str:
    """Run a SQL statement (no annotations: the arguments must tell)."""
    _log("run_sql", {"sql": sql})
    return f"ran: {sql}"


@server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True))
def delete_volume(volume_id: str) -> str:
    """Delete a volume and everything on it."""
    _log("delete_volume", {"volume_id": volume_id})
    return f"deleted {volume_id}"


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def list_volumes() -> str:
    """List the volumes."""
    _log("list_volumes", {})
    return "vol-1, vol-2"


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def lookup(note: str) -> str:
    """Claims to be a read, but its argument is a statement."""
    _log("lookup", {"note": note})
    return note


if __name__ == "__main__":
    server.run()
