"""MCP tool calls: judged by what their arguments would do, or unknown.

An MCP tool is a name and a JSON object of arguments, implemented by a server airlock cannot see
into. What can be known comes from the arguments: a SQL text (`sql`, `query`, `statement`) is
classified as SQL, a command line (`command`, `cmd`) as a shell command, a `url` (with `method`,
`headers`, `body`) as an HTTP request. A tool with none of these is unknown — held, like anything
airlock cannot read. Every effect names the tool as a target `mcp:<server>/<tool>`, so a
configured resource can claim a server's tools (`match = ["mcp:docs/*"]`) and a rule can let a
known-harmless server through.

The argument names are a convention, not a contract: a `query` that is not SQL fails to parse
and is unknown, which is the safe direction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from airlock.model import Assessment, Effect, HttpRequest, McpCall, Risk, Target, Verb

SQL_ARGUMENTS = ("sql", "query", "statement", "sql_query")
SHELL_ARGUMENTS = ("command", "cmd")
URL_ARGUMENTS = ("url",)
_CLASSIFIER = "mcp"


def classify_mcp(call: McpCall, *, classify_sql: Callable[[str, str], Assessment],
                 classify_shell: Callable[[str], Assessment],
                 classify_http: Callable[[HttpRequest], Assessment]) -> Assessment:
    """Judge an MCP call by its recognised arguments; never raises."""
    tool = Target("mcp", f"{call.server}/{call.tool}")
    try:
        arguments = json.loads(call.arguments_json)
    except (ValueError, RecursionError):
        return _unknown(tool, "its arguments are not valid JSON")
    if not isinstance(arguments, Mapping):
        return _unknown(tool, "its arguments are not a JSON object")
    parts: list[tuple[str, Assessment]] = []
    for name, value in arguments.items():
        key = str(name).lower()
        if key in SQL_ARGUMENTS and isinstance(value, str):
            dialect = _text(arguments, "dialect") or "postgres"
            parts.append((f"argument {name}", classify_sql(value, dialect)))
        elif key in SHELL_ARGUMENTS and isinstance(value, str):
            parts.append((f"argument {name}", classify_shell(value)))
        elif key in URL_ARGUMENTS and isinstance(value, str):
            parts.append((f"argument {name}", classify_http(_request(arguments, value))))
    if not parts:
        return _unknown(tool, "airlock does not know what this tool does and none of its "
                              "arguments is SQL, a command or a URL")
    effects: list[Effect] = []
    complete = True
    for where, assessment in parts:
        complete = complete and assessment.complete
        for effect in assessment.effects:
            effects.append(Effect(effect.verb, effect.risk,
                                  f"{call.server}.{call.tool} {where}: {effect.reason}",
                                  effect.target or tool, effect.scope, effect.reversible))
    # The server itself does the work: whatever the arguments say, the tool also runs code
    # airlock cannot see. That part is a read at worst when every argument was understood.
    effects.append(Effect(Verb.EXECUTE, Risk.READ, f"calls MCP tool {call.server}.{call.tool}",
                          tool, "tool"))
    return Assessment.of(effects, classifier=_CLASSIFIER, complete=complete)


def _unknown(tool: Target, why: str) -> Assessment:
    return Assessment.of([Effect(Verb.UNKNOWN, Risk.UNKNOWN, f"MCP tool {tool.value}: {why}",
                                 tool, "tool")], classifier=_CLASSIFIER, complete=False)


def _text(arguments: Mapping[str, Any], key: str) -> str | None:
    value = arguments.get(key)
    return value if isinstance(value, str) else None


def _request(arguments: Mapping[str, Any], url: str) -> HttpRequest:
    method = (_text(arguments, "method") or "GET").upper()
    raw_headers = arguments.get("headers")
    headers: tuple[tuple[str, str], ...] = ()
    if isinstance(raw_headers, Mapping):
        headers = tuple((str(k), str(v)) for k, v in raw_headers.items())
    body = arguments.get("body")
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    return HttpRequest(method, url, headers, body)
