"""MCP tool calls: judged by everything their arguments could make the server do, or unknown.

An MCP tool is a name and a JSON object of arguments, implemented by a server airlock cannot see
into: any string in the arguments may be what the server runs. So every string, however deep in
objects and arrays, is judged if it could be SQL, a command or a URL, and the worst verdict wins:

- by its name (wherever it sits): `sql`, `query`, `statement`, … are SQL (in the `dialect` named
  beside them or above, else PostgreSQL); `command`, `cmd`, … a shell command (a list of strings
  there is one argv, `command` + `args` too; each of `commands` is a command line); `url`, `uri`,
  … an HTTP request, with `method`, `headers` and `body` beside it;
- by its content, under any other name: text that parses as SQL (`Drop table users`, not
  `Update the docs`), a command line whose command is a program the shell classifier knows
  (`rm -rf /srv`), an `http(s)://` URL (a GET).

A call whose arguments cannot be read — not JSON, not an object, a key given twice (parsers
disagree on which one counts), nested or numerous beyond the budget — is unknown, and so is a
tool none of whose arguments is SQL, a command or a URL: held, like anything airlock cannot read.
Every effect names the tool as a target `mcp:<server>/<tool>`, so a configured resource can claim
a server's tools (`match = ["mcp:docs/*"]`) and a rule can let a known-harmless server through.

The names are a convention, not a contract: a `query` that is not SQL fails to parse and is
unknown, the safe direction. Content is sniffed for the arguments a server might run although
nothing names them so — at the price of holding, say, a file-writing tool whose content is SQL.
"""

from __future__ import annotations

import functools
import json
import posixpath
import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from airlock.model import Assessment, Effect, HttpRequest, McpCall, Risk, Target, Verb

SQL_ARGUMENTS = frozenset({"sql", "query", "statement", "sqlquery", "sqlstatement", "queries",
                           "statements", "sqls"})
ONE_COMMAND = frozenset({"command", "cmd", "cmdline", "commandline", "shellcommand", "argv"})
MANY_COMMANDS = frozenset({"commands", "cmds"})
SHELL_ARGUMENTS = ONE_COMMAND | MANY_COMMANDS
URL_ARGUMENTS = frozenset({"url", "uri", "urls", "uris", "endpoint", "href"})
REQUEST_PARTS = frozenset({"method", "headers", "body"})  # read with a URL beside them
MAX_DEPTH = 32
MAX_PARTS = 64  # strings judged per call; beyond, the call is unknown
_CLASSIFIER = "mcp"
_SEPARATORS = re.compile(r"[;&|\n()`]|\$\(")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


class _Unreadable(Exception):
    """The arguments cannot be judged as a whole."""


@dataclass(frozen=True, slots=True)
class _Part:
    where: str  # `argument options.sql`, `argument items[2] (reads as SQL)`
    kind: str  # sql | shell | http
    value: str | HttpRequest
    dialect: str = "postgres"


def classify_mcp(call: McpCall, *, classify_sql: Callable[[str, str], Assessment],
                 classify_shell: Callable[[str], Assessment],
                 classify_http: Callable[[HttpRequest], Assessment]) -> Assessment:
    """Judge an MCP call by every argument that could do something; never raises."""
    tool = Target("mcp", f"{call.server}/{call.tool}")
    try:
        arguments = json.loads(call.arguments_json, object_pairs_hook=_no_duplicates)
    except _Unreadable as exc:
        return _unknown(tool, str(exc))
    except (ValueError, RecursionError):
        return _unknown(tool, "its arguments are not valid JSON")
    if not isinstance(arguments, Mapping):
        return _unknown(tool, "its arguments are not a JSON object")
    try:
        parts = list(_parts(arguments))
    except _Unreadable as exc:
        return _unknown(tool, str(exc))
    except Exception as exc:  # total by contract
        return _unknown(tool, f"its arguments could not be read ({type(exc).__name__})")
    if not parts:
        return _unknown(tool, "airlock does not know what this tool does and none of its "
                              "arguments is SQL, a command or a URL")
    judges: dict[str, Callable[[_Part], Assessment]] = {
        "sql": lambda p: classify_sql(str(p.value), p.dialect),
        "shell": lambda p: classify_shell(str(p.value)),
        "http": lambda p: classify_http(p.value) if isinstance(p.value, HttpRequest)
        else classify_http(HttpRequest("GET", str(p.value))),
    }
    effects: list[Effect] = []
    complete = True
    for part in parts:
        assessment = judges[part.kind](part)
        complete = complete and assessment.complete
        for effect in assessment.effects:
            effects.append(Effect(effect.verb, effect.risk,
                                  f"{call.server}.{call.tool} {part.where}: {effect.reason}",
                                  effect.target or tool, effect.scope, effect.reversible))
    # The server itself does the work: whatever the arguments say, the tool also runs code
    # airlock cannot see. That part is a read at worst when every argument was understood.
    effects.append(Effect(Verb.EXECUTE, Risk.READ, f"calls MCP tool {call.server}.{call.tool}",
                          tool, "tool"))
    return Assessment.of(effects, classifier=_CLASSIFIER, complete=complete)


def _unknown(tool: Target, why: str) -> Assessment:
    return Assessment.of([Effect(Verb.UNKNOWN, Risk.UNKNOWN, f"MCP tool {tool.value}: {why}",
                                 tool, "tool")], classifier=_CLASSIFIER, complete=False)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _Unreadable(f"its arguments name {key!r} twice, and readers disagree on which "
                              "one counts")
        seen[key] = value
    return seen


# --------------------------------------------------------------------------------------------
# Finding what could run


def _name(key: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(key).lower())


def _parts(arguments: Mapping[str, Any]) -> Iterator[_Part]:
    count = 0
    # (value, path, key name it sits under, dialect in scope, depth)
    stack: list[tuple[Any, str, str, str, int]] = [(arguments, "", "", "postgres", 0)]
    while stack:
        value, path, name, dialect, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _Unreadable(f"its arguments are nested deeper than {MAX_DEPTH} levels")
        found: list[_Part] = []
        if isinstance(value, Mapping):
            own = value.get("dialect")
            dialect = own.lower() if isinstance(own, str) and own.strip() else dialect
            found.extend(_requests(value, path, dialect))
            found.extend(_argv(value, path))
            for key in reversed(list(value)):
                item = value[key]
                if _name(key) in REQUEST_PARTS and _has_url(value):
                    continue  # read as part of the request
                if _name(key) in URL_ARGUMENTS and isinstance(item, str):
                    continue  # a request already
                stack.append((item, f"{path}.{key}" if path else str(key), _name(key), dialect,
                              depth + 1))
        elif isinstance(value, list):
            inner = name
            if name in ONE_COMMAND and value and all(isinstance(v, str) for v in value):
                # an argv (`["rm", "-rf", "/srv"]`); its words are read like any other string
                found.append(_Part(f"argument {path} (as one command)", "shell",
                                   shlex.join(value)))
                inner = ""
            for index in reversed(range(len(value))):
                stack.append((value[index], f"{path}[{index}]", inner, dialect, depth + 1))
        elif isinstance(value, str):
            part = _judged(value, path, name, dialect)
            if part is not None:
                found.append(part)
        for part in found:
            count += 1
            if count > MAX_PARTS:
                raise _Unreadable(f"more than {MAX_PARTS} of its arguments would have to be "
                                  "judged one by one")
            yield part


def _judged(value: str, path: str, name: str, dialect: str) -> _Part | None:
    where = f"argument {path}"
    if name in SQL_ARGUMENTS:
        return _Part(where, "sql", value, dialect)
    if name in SHELL_ARGUMENTS:
        return _Part(where, "shell", value)
    if name in URL_ARGUMENTS:
        return _Part(where, "http", value)
    if name == "dialect" or not value.strip():
        return None
    if value.lstrip().lower().startswith(("http://", "https://")):
        return _Part(f"{where} (reads as a URL)", "http", value.strip())
    if _looks_like_sql(value, dialect):
        return _Part(f"{where} (reads as SQL)", "sql", value, dialect)
    if _looks_like_command(value):
        return _Part(f"{where} (reads as a command)", "shell", value)
    return None


def _has_url(value: Mapping[str, Any]) -> bool:
    return any(_name(k) in URL_ARGUMENTS and isinstance(v, str) for k, v in value.items())


def _requests(value: Mapping[str, Any], path: str, dialect: str) -> Iterator[_Part]:
    for key, url in value.items():
        if _name(key) in URL_ARGUMENTS and isinstance(url, str):
            where = f"argument {path}.{key}" if path else f"argument {key}"
            yield _Part(where, "http", _request(value, url), dialect)


def _argv(value: Mapping[str, Any], path: str) -> Iterator[_Part]:
    """`{"command": "docker", "args": ["rm", "-f", "db"]}`: the command line they make."""
    command, args = None, None
    for key, item in value.items():
        if _name(key) in ("command", "cmd", "program", "executable") and isinstance(item, str):
            command = item
        elif _name(key) in ("args", "arguments", "argv") and isinstance(item, list) \
                and all(isinstance(a, str) for a in item):
            args = item
    if command is not None and args:
        yield _Part(f"argument {path + '.' if path else ''}command with its args", "shell",
                    shlex.join([command, *args]))


def _text(arguments: Mapping[str, Any], key: str) -> str | None:
    for k, value in arguments.items():
        if _name(k) == key and isinstance(value, str):
            return value
    return None


def _request(arguments: Mapping[str, Any], url: str) -> HttpRequest:
    method = (_text(arguments, "method") or "GET").upper()
    raw_headers = next((v for k, v in arguments.items() if _name(k) == "headers"), None)
    headers: tuple[tuple[str, str], ...] = ()
    if isinstance(raw_headers, Mapping):
        headers = tuple((str(k), str(v)) for k, v in raw_headers.items())
    body = next((v for k, v in arguments.items() if _name(k) == "body"), None)
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    return HttpRequest(method, url, headers, body)


def _looks_like_sql(value: str, dialect: str) -> bool:
    from airlock.classify.sql.dispatch import parses_as_sql

    return parses_as_sql(value, dialect if dialect in ("postgres", "mysql", "sqlite")
                         else "postgres")


def _looks_like_command(value: str) -> bool:
    """Some command position (the start, or after ; && || | ( $( `) names a program the shell
    classifier knows, after any VAR=value assignments."""
    known = _known_programs()
    for segment in _SEPARATORS.split(value):
        words = segment.split()
        while words and _ASSIGNMENT.match(words[0]):
            words.pop(0)
        if words and posixpath.basename(words[0]) in known:
            return True
    return False


@functools.cache
def _known_programs() -> frozenset[str]:
    from airlock.classify.shell.rules import registry
    from airlock.classify.shell.wrappers import WRAPPERS

    return frozenset(registry().programs) | frozenset(WRAPPERS) | {"eval", "exec", "source"}
