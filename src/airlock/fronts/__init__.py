"""Fronts: translate a wire format into Actions for the gate, and the gate's answer back.

    check.py      `airlock check` — one action from the command line, or JSON lines on stdin
    api.py        the HTTP API served by `airlock up` (ApiService)
    sql.py        `airlock sql` — runs a statement with airlock's credential, protected
    hooks/        the agent hooks of Claude Code, Cursor, Codex CLI and Gemini CLI
    mcp/          airlock's MCP server (stdio, /mcp in `airlock up`) and `airlock mcp wrap`

    context.py    what every front shares: where an action happens (resource, cwd, environment)
    jsonforms.py  the JSON forms two fronts say alike (a payload in, an outcome out)

A front does nothing but translate: every judgement happens in the gate (`gate.submit`, or
`submit_all` for several actions as one, and `wait` for an approval), real credentials are used
through `upstream/`, its settings are its own `[fronts.NAME]` section (config/sections.py), and
`airlock up` runs it as a service (services.py). No front imports another.
"""
