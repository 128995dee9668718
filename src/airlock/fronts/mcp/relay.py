"""`airlock mcp wrap`'s protocol core, sans-io: lines in, steps out.

    harness ──line──► from_client ─┬─ tools/call ──► Judge(call) ──► judged(…) ─┬─► Send(server)
                                    │                                             └─► Send(client):
                                    │                                   a tool result, isError, saying
                                    │                                   the approval id or the denial
                                    └─ anything else ─────────────────────────────► Send(server)
    server  ──line──► from_server ── remembers tools/list answers (annotations) ──► Send(client)

The MCP stdio transport is newline-delimited JSON-RPC. What the harness sends is parsed strictly
(one JSON object per line, no duplicate keys, at most `MAX_LINE` bytes) and what is forwarded to
the server is that parse, serialised again: the server reads exactly what airlock judged, never
a text two parsers could read differently. A line that cannot be parsed, and a JSON-RPC batch
(dropped from MCP in 2025-06-18), is answered with an error and not forwarded.

`tools/list` answers are remembered (name → annotations) so a `tools/call` is classified with
the tool's annotations; a call of a tool not seen in a list makes the relay ask the server for
the list itself first (`airlock-tools-N` ids, answered to nobody). What the server says is
forwarded as it came: nothing in it is judged but the annotations, which only raise risk.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airlock.model import McpCall

__all__ = ["MAX_LINE", "Judge", "Relay", "Ruling", "Send", "Step", "call_result"]

MAX_LINE = 32 * 1024 * 1024  # a tool call may carry a file's content
MAX_OWN_PAGES = 20  # how many pages of tools/list the relay fetches by itself
OWN_ID_PREFIX = "airlock-tools-"
PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion"
PARSE_ERROR, INVALID_REQUEST = -32700, -32600


@dataclass(frozen=True, slots=True)
class Send:
    to: Literal["client", "server"]
    line: bytes


@dataclass(frozen=True, slots=True)
class Judge:
    """Ask the gate about this call; then hand the answer to `Relay.judged`."""

    request: Mapping[str, Any]
    call: McpCall


Step = Send | Judge


@dataclass(frozen=True, slots=True)
class Ruling:
    """What the gate said about one tool call, as a front acts on it."""

    allowed: bool
    message: str = ""  # for the model when not allowed: what happened and what a human must do
    approval_id: str | None = None
    status: str = ""


class _DuplicateKey(ValueError):
    pass


def _strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(f"the key {key!r} appears twice")
        result[key] = value
    return result


def parse_strict(line: bytes) -> Any:
    """One JSON value; duplicate keys are refused (parsers disagree on which one wins)."""
    return json.loads(line.decode("utf-8"), object_pairs_hook=_strict_object)


def dump(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def call_result(request: Mapping[str, Any], text: str) -> dict[str, Any]:
    """A tool result the model reads (isError), answering `request` without the server."""
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": True}
    params = request.get("params")
    meta = params.get("_meta") if isinstance(params, Mapping) else None
    if isinstance(meta, Mapping) and PROTOCOL_VERSION_META in meta:
        result["resultType"] = "complete"  # the per-request era's results say what they are
    return {"jsonrpc": "2.0", "id": request.get("id"), "result": result}


def _error(request_id: Any, code: int, message: str) -> bytes:
    return dump({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}})


def _key(request_id: Any) -> str:
    return json.dumps(request_id)  # 1 and "1" are different ids


@dataclass
class Relay:
    """The state of one wrapped server: its tools' annotations and what is in flight."""

    server: str
    tools: dict[str, str] = field(default_factory=dict)  # name → annotations JSON ("" = none)
    _listing: set[str] = field(default_factory=set)  # ids of the harness's tools/list requests
    _own: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)  # own id → parked calls
    _own_pages: int = 0
    _own_count: int = 0

    # ---------------------------------------------------------------- harness → server
    def from_client(self, line: bytes) -> list[Step]:
        if not line.strip():
            return []
        if len(line) > MAX_LINE:
            return [Send("client", _error(None, INVALID_REQUEST,
                                          f"airlock: message over {MAX_LINE} bytes; not relayed"))]
        try:
            message = parse_strict(line)
        except (ValueError, RecursionError) as exc:
            return [Send("client", _error(None, PARSE_ERROR,
                                          f"airlock: not one JSON message ({exc}); not relayed"))]
        if not isinstance(message, dict):
            ids = [m.get("id") for m in message if isinstance(m, dict)] \
                if isinstance(message, list) else [None]
            return [Send("client", _error(i, INVALID_REQUEST, "airlock: JSON-RPC batches are not "
                                                              "relayed; send one message a line"))
                    for i in ids if i is not None] or \
                [Send("client", _error(None, INVALID_REQUEST, "airlock: not a JSON-RPC message"))]
        method = message.get("method")
        request_id = message.get("id")
        if isinstance(request_id, str) and request_id.startswith(OWN_ID_PREFIX):
            return [Send("client", _error(request_id, INVALID_REQUEST,
                                          f"airlock: ids starting {OWN_ID_PREFIX!r} are its own"))]
        if method == "tools/call" and "id" in message:
            return self._call(message)
        if method == "tools/call":  # a notification cannot be answered, so it cannot be held
            return []
        if method == "tools/list" and "id" in message:
            self._listing.add(_key(message["id"]))
        return [Send("server", dump(message))]

    def _call(self, request: Mapping[str, Any]) -> list[Step]:
        params = request.get("params")
        name = params.get("name") if isinstance(params, Mapping) else None
        if not isinstance(name, str):
            return [Send("client", _error(request.get("id"), INVALID_REQUEST,
                                          "airlock: tools/call needs params.name"))]
        if name not in self.tools and self._own_pages < MAX_OWN_PAGES:
            return self._fetch_tools([request])
        return [self._judge(request)]

    def _judge(self, request: Mapping[str, Any]) -> Judge:
        params = request["params"]
        arguments = params.get("arguments")
        arguments = {} if arguments is None else arguments
        return Judge(request, McpCall(self.server, params["name"], json.dumps(arguments),
                                      self.tools.get(params["name"], "")))

    def judged(self, step: Judge, ruling: Ruling) -> list[Step]:
        """The gate's answer: forward the very request that was judged, or answer it."""
        if ruling.allowed:
            return [Send("server", dump(step.request))]
        return [Send("client", dump(call_result(step.request, ruling.message)))]

    def _fetch_tools(self, parked: list[Mapping[str, Any]], cursor: Any = None) -> list[Step]:
        """Ask the server for its tools (one list at a time: later calls wait for it too)."""
        for waiting in self._own.values():
            waiting.extend(parked)
            return []
        self._own_count += 1
        self._own_pages += 1
        own_id = f"{OWN_ID_PREFIX}{self._own_count}"
        params: dict[str, Any] = {}
        first = parked[0].get("params") if parked else None
        if isinstance(first, Mapping) and isinstance(first.get("_meta"), Mapping):
            params["_meta"] = first["_meta"]  # the per-request era needs its envelope
        if cursor is not None:
            params["cursor"] = cursor
        self._own[_key(own_id)] = list(parked)
        return [Send("server", dump({"jsonrpc": "2.0", "id": own_id, "method": "tools/list",
                                     "params": params}))]

    # ---------------------------------------------------------------- server → harness
    def from_server(self, line: bytes) -> list[Step]:
        try:
            message = json.loads(line.decode("utf-8")) if line.strip() else None
        except (ValueError, RecursionError):
            message = None
        if not isinstance(message, dict):
            return [Send("client", line)] if line.strip() else []
        if message.get("method") == "notifications/tools/list_changed":
            self.tools.clear()  # ask again before judging the next call
            self._own_pages = 0
        if "id" in message and "method" not in message:
            key = _key(message["id"])
            if key in self._own:
                return self._own_answer(key, message)
            if key in self._listing:
                self._listing.discard(key)
                self._remember(message)
        return [Send("client", line)]

    def _own_answer(self, key: str, message: Mapping[str, Any]) -> list[Step]:
        parked = self._own.pop(key)
        cursor = self._remember(message)
        if cursor is not None and parked and self._own_pages < MAX_OWN_PAGES:
            return self._fetch_tools(parked, cursor)
        return [self._judge(request) for request in parked]

    def _remember(self, message: Mapping[str, Any]) -> Any:
        """Record the tools of a tools/list answer; returns its next cursor."""
        result = message.get("result")
        tools = result.get("tools") if isinstance(result, Mapping) else None
        if not isinstance(tools, list):
            return None
        for tool in tools:
            if isinstance(tool, Mapping) and isinstance(tool.get("name"), str):
                annotations = tool.get("annotations")
                self.tools[tool["name"]] = json.dumps(annotations, sort_keys=True) \
                    if isinstance(annotations, Mapping) else ""
        return result.get("nextCursor") if isinstance(result, Mapping) else None
