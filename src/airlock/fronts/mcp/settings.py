"""`[fronts.mcp]`: airlock's MCP server.

    [fronts.mcp]
    http = true        # `airlock up` serves the streamable HTTP transport at /mcp (bearer token)
    max_rows = 100     # rows a SQL tool returns at most (the rest is reported as truncated)

Which resource a wrapped server acts on is `[hooks] mcp_resources` (server → resource), one
mapping for the hooks and `airlock mcp wrap` alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from airlock.config.base import BuildContext, Strict
from airlock.config.sections import FrontSection

__all__ = ["MAX_ROWS", "SECTION", "McpFile", "McpSettings"]

# upstream.transaction.MAX_ROWS, not imported: loading the configuration must stay light
# (every hook call that falls back to `airlock hook` loads it).
MAX_ROWS = 200


class McpFile(Strict):
    http: bool = True
    max_rows: int = 100


@dataclass(frozen=True, slots=True)
class McpSettings:
    http: bool = True
    max_rows: int = 100


def build(parsed: McpFile, ctx: BuildContext) -> McpSettings:
    if not 1 <= parsed.max_rows <= MAX_ROWS:
        ctx.fail("max_rows", f"{parsed.max_rows} is outside 1..{MAX_ROWS} (a result "
                 "the model reads should stay small)")
    return McpSettings(http=parsed.http, max_rows=parsed.max_rows)


SECTION = FrontSection("mcp", McpFile, build)
