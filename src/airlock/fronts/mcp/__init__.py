"""The MCP front: airlock's own MCP server, and `airlock mcp wrap` in front of anyone else's.

    tools.py       airlock's tools (SQL, APIs, checking an action, waiting for an approval):
                   what each does, through the gate, with honest annotations
    server.py      those tools served with the official SDK: over stdio (in-process, or as a
                   thin client of `airlock up`) and as streamable HTTP mounted at /mcp by
                   `airlock up`, with the bearer token; POST /v1/mcp/calls for wraps
    relay.py       `airlock mcp wrap`'s protocol core, sans-io: tools/call judged, the rest passed
    wrap.py        the pipes and threads around the relay
    gatekeeper.py  where a wrapped call is judged: this process's gate, or `airlock up`'s
    rulings.py     the gate's outcome as the model reads it (a tool result, never a protocol error)
    settings.py    `[fronts.mcp]`
"""
