"""Where a wrapped server's tool calls are judged: this process's gate, or `airlock up`'s.

    LocalCallGate   the gate of a Runtime in this process (one OS user: airlock's state is
                    already within the agent's reach)
    RemoteCallGate  POST /v1/mcp/calls on `airlock up`, with the agent's airlock token (airlock
                    runs as its own OS user; this process holds nothing but the token)

Both answer a `Ruling` and never raise: anything that goes wrong is a refusal that says so.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Protocol

from airlock.errors import AirlockError
from airlock.fronts.context import action_context, front_action
from airlock.fronts.jsonforms import outcome_json
from airlock.fronts.mcp.relay import Ruling
from airlock.fronts.mcp.rulings import ruling_of
from airlock.model import Caller, McpCall, Outcome
from airlock.runtime import Runtime

__all__ = ["CALLS_PATH", "FRONT_WRAP", "CallGate", "LocalCallGate", "RemoteCallGate",
           "submit_call"]

log = logging.getLogger("airlock.mcp")

FRONT_WRAP = "mcp-wrap"
CALLS_PATH = "/v1/mcp/calls"
REMOTE_TIMEOUT_SECONDS = 60.0  # a backup may be taken before an approved call is released


class CallGate(Protocol):
    def rule(self, call: McpCall) -> Ruling: ...


def _what(call: McpCall) -> str:
    return f"the call of {call.server}.{call.tool}"


def submit_call(runtime: Runtime, call: McpCall, caller: Caller) -> Outcome:
    """A wrapped server's tool call, through the gate. Its context is the resource the server is
    mapped to in `[hooks] mcp_resources` (one mapping for hooks and wraps alike), else none:
    what it reaches is then in the unknown environment, which counts as production."""
    config = runtime.config
    context = action_context(config, resource=config.hooks.mcp_resources.get(call.server))
    return runtime.gate().submit(front_action(call, caller, FRONT_WRAP, context), caller)


class LocalCallGate:
    def __init__(self, runtime: Runtime, caller: Callable[[], Caller]) -> None:
        self.runtime = runtime
        self.caller = caller  # asked each time: a token may expire or be revoked meanwhile

    def rule(self, call: McpCall) -> Ruling:
        try:
            outcome = submit_call(self.runtime, call, self.caller())
        except AirlockError as exc:
            return Ruling(False, f"airlock refused {_what(call)}: {exc}. It did not run.")
        except Exception as exc:  # fail closed: a bug here must not forward the call
            log.exception("judging %s failed", _what(call))
            return Ruling(False, f"airlock could not judge {_what(call)} ({type(exc).__name__}: "
                                 f"{exc}); it did not run.")
        return ruling_of(outcome_json(outcome), _what(call))


class RemoteCallGate:
    def __init__(self, server_url: str, token: str, *,
                 timeout: float = REMOTE_TIMEOUT_SECONDS) -> None:
        self.url = server_url.rstrip("/") + CALLS_PATH
        self.token = token
        self.timeout = timeout

    def rule(self, call: McpCall) -> Ruling:
        body = {"server": call.server, "tool": call.tool,
                "arguments": json.loads(call.arguments_json),
                "annotations": json.loads(call.annotations_json) if call.annotations_json else None}
        request = urllib.request.Request(  # noqa: S310  (an http(s) URL the user configured)
            self.url, data=json.dumps(body).encode("utf-8"), method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer: Any = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = _error_of(exc.read())
            return Ruling(False, f"airlock refused {_what(call)} (HTTP {exc.code}: {detail}); "
                                 "it did not run.")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return Ruling(False, f"airlock at {self.url} could not be asked about {_what(call)} "
                                 f"({exc}); it did not run.")
        if not isinstance(answer, dict):
            return Ruling(False, f"airlock answered nonsense about {_what(call)}; it did not run.")
        return ruling_of(answer, _what(call))


def _error_of(body: bytes) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    return str(parsed.get("error", parsed)) if isinstance(parsed, dict) else str(parsed)
