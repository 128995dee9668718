"""MCP tool calls: judged by every argument that could run, the tool's name and its server's
annotations; the worst wins, and what cannot be read is unknown.

An MCP tool is a name and a JSON object of arguments, implemented by a server airlock cannot see
into. Three kinds of evidence, in order of trust:

1. **Arguments** (the agent chose them; the server acts on them). Any string in them may be what
   the server runs, so every string, however deep in objects and arrays, is judged if it could
   be SQL, a command or a URL — all of them, not the first:
   - by its name (wherever it sits): `sql`, `query`, `statement`, … are SQL (in the `dialect`
     named beside them or above, else PostgreSQL); `command`, `cmd`, … a shell command (a list
     of strings there is one argv, `command` + `args` too, a string `args` appended; each of
     `commands` is a command line); `url`, `uri`, … an HTTP request, with `method`, `headers`
     and `body` beside it (headers and body are walked as well: SQL in a body still counts);
   - by its content, under any other name: text that parses as SQL (`Drop table users`, not
     `Update the docs`), a command line whose command is a program the shell classifier knows
     (`rm -rf /srv`), an `http(s)://` URL (a GET).
2. **The tool's name**: a word that destroys (`delete`, `drop`, `purge`, …) makes the call
   destructive, catastrophic when it names a whole database, volume, bucket, backup, namespace
   or project (`delete_volume`); a word that writes (`create`, `update`, …) makes it a write.
   Names only raise risk.
3. **Annotations** (`readOnlyHint`, `destructiveHint`; given by `airlock mcp wrap`, which
   remembers `tools/list`): hints from a server that may be hostile, so they may raise risk but
   never lower it below what the arguments show. With the MCP defaults: `readOnlyHint: true` is
   a read, `destructiveHint: false` a write, anything else annotated destructive.

Arguments that cannot be read — not JSON, not an object, a key given twice (parsers disagree on
which one counts), nested or numerous beyond the budget — make the call unknown (the name and
hints may only add to that). When no argument shows anything, a call is a read only when its
server declares the tool read-only and its name does not contradict it; with no evidence at all
it is unknown — held, like anything airlock cannot read. Every effect names the tool as a target
`mcp:<server>/<tool>`, so a configured resource can claim a server's tools
(`match = ["mcp:docs/*"]`) and a rule can let a known-harmless server through.

The names are a convention, not a contract: a `query` that is not SQL (a search phrase) fails to
parse and is unknown, the safe direction — a read-only hint does not lower that, since the
server's word is what is in doubt. Content is sniffed for the arguments a server might run
although nothing names them so, at the price of holding, say, a file-writing tool whose content
is SQL.
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
                           "statements", "sqls", "rawsql"})
SEARCHY_SQL_ARGUMENTS = frozenset({"query", "queries"})  # often a search phrase: said so when held
ONE_COMMAND = frozenset({"command", "cmd", "cmdline", "commandline", "shellcommand", "argv"})
MANY_COMMANDS = frozenset({"commands", "cmds"})
SHELL_ARGUMENTS = ONE_COMMAND | MANY_COMMANDS
PROGRAM_ARGUMENTS = frozenset({"command", "cmd", "program", "executable"})
ARGV_SIBLINGS = frozenset({"args", "arguments", "argv"})
URL_ARGUMENTS = frozenset({"url", "uri", "urls", "uris", "endpoint", "href"})
MAX_DEPTH = 32
MAX_PARTS = 64  # strings judged per call; beyond, the call is unknown
MAX_NODES = 10_000  # values walked per call; beyond, the call is unknown
_CLASSIFIER = "mcp"
_SEPARATORS = re.compile(r"[;&|\n()`]|\$\(")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# First words of statements in PostgreSQL, MySQL and SQLite.
SQL_FIRST_WORDS = _words("""
    abort alter analyze attach begin call checkpoint close cluster comment commit copy create
    deallocate declare delete detach discard do drop end execute explain fetch grant handler
    import insert kill listen load lock merge move notify optimize pragma prepare reassign
    refresh reindex release rename repair replace reset revoke rollback savepoint security
    select set show shutdown start table truncate unlisten update upsert use vacuum values with
""")

DESTROY_WORDS = _words("""
    delete del drop destroy remove rm purge truncate wipe erase kill terminate nuke obliterate
    reset revoke uninstall prune clear flush deprovision decommission teardown unlink rmdir
""")
WRITE_WORDS = _words("""
    create update set add write put insert edit modify patch post send push upload move mv
    rename copy cp deploy redeploy restart start stop merge commit apply replace save upsert
    enable disable assign unassign invite publish scale restore migrate install upgrade attach
    detach mutate change transfer import archive close reopen approve
""")
# A whole thing of one of these kinds, destroyed, is catastrophic (the built-in policy holds that
# for two approvers in production).
WHOLE_NOUNS = _words("""
    database databases db dbs volume volumes bucket buckets backup backups namespace namespaces
    project projects cluster clusters environment environments account accounts
""")
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


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
    """Judge an MCP call by every argument that could do something, its name and its
    server's annotations; never raises."""
    tool = Target("mcp", f"{call.server}/{call.tool}")
    label = f"{call.server}.{call.tool}"
    name_risk, name_reason = risk_of_name(call.tool)
    hint_risk, hint_reason = risk_of_annotations(call.annotations_json)
    # What the tool itself is said to do, by its name and by its server.
    said = [(r, why) for r, why in ((name_risk, name_reason), (hint_risk, hint_reason))
            if r is not None]
    try:
        parts = _read(call.arguments_json)
    except _Unreadable as exc:
        # Unknown whatever the hints say; a name or hint that says worse still counts.
        worse = [(r, why) for r, why in said if r.at_least(Risk.DESTRUCTIVE)]
        return _unknown(tool, str(exc), extra=[_tool_effect(label, tool, worse)] if worse else [])
    if not parts:
        if hint_risk is None and not (name_risk is not None and name_risk.at_least(Risk.UNKNOWN)):
            why = ("airlock does not know what this tool does: none of its arguments is SQL, a "
                   "command or a URL, and its server declares nothing about it")
            return _unknown(tool, why + (f" ({name_reason})" if name_reason else ""))
        effect = _tool_effect(label, tool, said)
        return Assessment.of([effect], classifier=_CLASSIFIER,
                             complete=effect.risk is not Risk.UNKNOWN)
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
            effects.append(Effect(effect.verb, effect.risk, f"{label} {part.where}: {effect.reason}",
                                  effect.target or tool, effect.scope, effect.reversible,
                                  effect.guard))
    # The server itself does the work: whatever the arguments say, the tool also runs code
    # airlock cannot see. That part is a read at worst when every argument was understood and
    # neither its name nor its server says otherwise; they may only add to the arguments.
    effects.append(_tool_effect(label, tool, said, at_least=Risk.READ))
    return Assessment.of(effects, classifier=_CLASSIFIER, complete=complete)


def _tool_effect(label: str, tool: Target, said: list[tuple[Risk, str]],
                 at_least: Risk | None = None) -> Effect:
    """The tool's own effect: the worst of what its name and server say (at least `at_least`)."""
    risk = Risk.worst([r for r, _ in said] + ([at_least] if at_least is not None else []))
    # With arguments judged, name only what adds to them (a write or worse).
    named = [why for r, why in said if r is risk and (at_least is None or r.at_least(Risk.WRITE))]
    verb = {Risk.READ: Verb.EXECUTE, Risk.WRITE: Verb.WRITE,
            Risk.UNKNOWN: Verb.UNKNOWN}.get(risk, Verb.DESTROY)
    reason = f"MCP tool {label}: {'; '.join(named)}" if named else f"calls MCP tool {label}"
    return Effect(verb, risk, reason, tool, "tool")


def _unknown(tool: Target, why: str, extra: list[Effect] | None = None) -> Assessment:
    return Assessment.of([*(extra or ()), Effect(Verb.UNKNOWN, Risk.UNKNOWN,
                                                 f"MCP tool {tool.value}: {why}", tool, "tool")],
                         classifier=_CLASSIFIER, complete=False)


def risk_of_name(name: str) -> tuple[Risk | None, str]:
    """What a tool's name says it does, if it says anything: only destroying and writing count
    (a name that sounds like a read proves nothing)."""
    words = [w.lower() for w in _WORD.findall(name)]
    destroys = [w for w in words if w in DESTROY_WORDS]
    if destroys:
        whole = [w for w in words if w in WHOLE_NOUNS]
        if whole:
            return Risk.CATASTROPHIC, f"its name says it {destroys[0]}s a whole {whole[0]}"
        return Risk.DESTRUCTIVE, f"its name says it {destroys[0]}s something"
    writes = [w for w in words if w in WRITE_WORDS]
    if writes:
        return Risk.WRITE, f"its name says it {writes[0]}s something"
    return None, ""


def risk_of_annotations(annotations_json: str) -> tuple[Risk | None, str]:
    """What the server declared, read with the MCP defaults (`readOnlyHint` false,
    `destructiveHint` true); None when it declared nothing. A hint that is not a boolean counts
    as not given."""
    if not annotations_json:
        return None, ""
    try:
        annotations = json.loads(annotations_json)
    except (ValueError, RecursionError):
        return Risk.UNKNOWN, "its server's annotations are not valid JSON"
    if not isinstance(annotations, Mapping):
        return Risk.UNKNOWN, "its server's annotations are not a JSON object"
    read_only = annotations.get("readOnlyHint")
    destructive = annotations.get("destructiveHint")
    if read_only is True and destructive is not True:
        return Risk.READ, "its server declares it read-only"
    if read_only is True:  # contradicts itself: believe the worse half
        return Risk.DESTRUCTIVE, "its server declares it both read-only and destructive"
    if destructive is False:
        return Risk.WRITE, "its server declares it writes but does not destroy"
    return Risk.DESTRUCTIVE, "its server declares it may destroy" if destructive is True else \
        "its server does not declare it read-only or harmless (MCP then assumes destructive)"


def looks_like_sql(text: str) -> bool:
    """Its first word is a SQL keyword, or it opens with a comment (which can hide a MySQL
    `/*! … */` statement). Statements cannot start any other way — but a `;` can come first, so
    this only words reasons; whether a string *is* SQL is the parser's call."""
    head = text.lstrip().lstrip("(").lstrip()
    if head.startswith(("--", "/*", "#")):
        return True
    match = re.match(r"[A-Za-z]+", head)
    return match is not None and match.group(0).lower() in SQL_FIRST_WORDS


def _read(arguments_json: str) -> list[_Part]:
    """Everything in the arguments that could run; raises _Unreadable when they cannot be
    judged as a whole."""
    try:
        arguments = json.loads(arguments_json, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError):
        raise _Unreadable("its arguments are not valid JSON") from None
    if not isinstance(arguments, Mapping):
        raise _Unreadable("its arguments are not a JSON object")
    try:
        return list(_parts(arguments))
    except _Unreadable:
        raise
    except Exception as exc:  # total by contract
        raise _Unreadable(f"its arguments could not be read ({type(exc).__name__})") from None


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
    nodes = 0
    # (value, path, key name it sits under, dialect in scope, depth)
    stack: list[tuple[Any, str, str, str, int]] = [(arguments, "", "", "postgres", 0)]
    while stack:
        value, path, name, dialect, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _Unreadable(f"its arguments are nested deeper than {MAX_DEPTH} levels")
        nodes += 1
        if nodes > MAX_NODES:
            raise _Unreadable(f"its arguments hold more than {MAX_NODES} values")
        found: list[_Part] = []
        if isinstance(value, Mapping):
            own = value.get("dialect")
            dialect = own.lower() if isinstance(own, str) and own.strip() else dialect
            found.extend(_requests(value, path, dialect))
            found.extend(_argv(value, path))
            url_beside = _has_url(value)
            for key in reversed(list(value)):
                item = value[key]
                if _name(key) == "method" and url_beside:
                    continue  # read as part of the request (its headers and body are walked too)
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
        if name in SEARCHY_SQL_ARGUMENTS and not looks_like_sql(value):
            # A search phrase, most likely; but a server may run it, so it is read as SQL
            where += " (read as SQL, as a query may be)"
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
    """`{"command": "docker", "args": ["rm", "-f", "db"]}`: the command line they make (a
    string `args` is appended as it is, as a server may do)."""
    command: str | None = None
    args: str | None = None
    for key, item in value.items():
        if _name(key) in PROGRAM_ARGUMENTS and isinstance(item, str):
            command = item
        elif _name(key) in ARGV_SIBLINGS:
            if isinstance(item, list) and item and \
                    all(isinstance(a, (str, int, float)) for a in item):
                args = shlex.join(str(a) for a in item)
            elif isinstance(item, str) and item.strip():
                args = item
    if command is not None and args is not None:
        yield _Part(f"argument {path + '.' if path else ''}command with its args", "shell",
                    f"{command} {args}")


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
