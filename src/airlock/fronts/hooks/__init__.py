"""Agent hooks: the gate in front of Claude Code, Cursor, Codex CLI and Gemini CLI tool calls.

    claude.py  cursor.py  codex.py  gemini.py
               one sans-io module per harness: its JSON → ToolCall, Reply → its exact answer
    base.py    ToolCall, Reply, Answer, Harness; checked field readers
    messages.py what the agent is told (held: approval id and "retry the same command")
    runner.py  one call end to end through the gate, failing closed (the in-process path)
    daemon.py  the Unix-socket server inside `airlock up` that answers the client quickly
    install.py merging airlock's hook into each harness's settings file, and removing it

The command a harness runs is `hookclient.py` (stdlib only, started with `python3 -I -S`): it
hands the call to the daemon, or runs `airlock hook HARNESS` in-process when no daemon answers,
and turns anything unexpected into that harness's blocking answer.
"""

from __future__ import annotations

from airlock.fronts.hooks import claude, codex, cursor, gemini
from airlock.fronts.hooks.base import Harness

HARNESSES: dict[str, Harness] = {h.name: h for h in (claude.HARNESS, cursor.HARNESS,
                                                      codex.HARNESS, gemini.HARNESS)}

__all__ = ["HARNESSES", "Harness"]
