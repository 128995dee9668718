"""What an agent says about its own tool call, read from the harness's JSON.

Claude Code sends `tool_input.description` with a Bash call ("Run the test suite"), Gemini CLI
the same with `run_shell_command`; every harness names its session (`session_id`, or Cursor's
`conversation_id`). None of it is judged: it is the agent's account, shown to the approver as
such (`AgentStatement`), and an approval is never bound to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airlock.model import AgentStatement

_SESSION_KEYS = ("session_id", "conversation_id")


def agent_statement(harness: str, data: Mapping[str, Any]) -> AgentStatement | None:
    tool_input = data.get("tool_input")
    description = tool_input.get("description") if isinstance(tool_input, Mapping) else None
    session = next((data[k] for k in _SESSION_KEYS if isinstance(data.get(k), str)), None)
    return AgentStatement.of(description, session, harness)
