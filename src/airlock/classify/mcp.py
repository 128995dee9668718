"""MCP tool calls: judged by every argument, the tool's name and its server's annotations.

An MCP tool is a name and a JSON object of arguments, implemented by a server airlock cannot see
into. Three kinds of evidence, in order of trust:

1. **Arguments** (the agent chose them; the server acts on them). The whole object is walked,
   nested objects and lists too, and every argument that is a SQL text, a command line or a URL
   is classified as such — all of them, not the first:
   - `sql`, `statement`, `sql_query` (any case, `_`/`-` ignored): SQL, always;
   - `query`, `queries`, and any other string that *looks like* SQL (its first word is a SQL
     keyword, or it opens with a comment): SQL — under `query` whatever it parses to, elsewhere
     only when it parses (so a note saying "Update the docs" is not held as broken SQL);
   - `command`, `cmd`, `shell_command` (with a sibling `args`/`argv` list appended): shell;
   - `url`, `uri`, `endpoint`, `href` (with sibling `method`, `headers`, `body`): HTTP.
   A sibling `dialect` names the SQL dialect (default postgres).
2. **The tool's name**: a word that destroys (`delete`, `drop`, `purge`, …) makes the call
   destructive, catastrophic when it names a whole database, volume, bucket, backup, namespace
   or project (`delete_volume`); a word that writes (`create`, `update`, …) makes it a write.
   Names only raise risk.
3. **Annotations** (`readOnlyHint`, `destructiveHint`; given by `airlock mcp wrap`, which
   remembers `tools/list`): hints from a server that may be hostile, so they may raise risk but
   never lower it below what the arguments show. With the MCP defaults: `readOnlyHint: true` is
   a read, `destructiveHint: false` a write, anything else annotated destructive.

A call's risk is the worst of the three. When no argument shows anything, a call is a read only
when its server declares the tool read-only and its name does not contradict it; with no
evidence at all it is unknown — held, like anything airlock cannot read.

Every effect names the tool as a target `mcp:<server>/<tool>`, so a configured resource can claim
a server's tools (`match = ["mcp:docs/*"]`) and a rule can let a known-harmless server through.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from airlock.model import Assessment, Effect, HttpRequest, McpCall, Risk, Target, Verb

SQL_ARGUMENTS = frozenset({"sql", "statement", "statements", "sqlquery", "sqlstatement", "rawsql"})
SNIFFED_SQL_ARGUMENTS = frozenset({"query", "queries"})  # often a search phrase, not SQL
SHELL_ARGUMENTS = frozenset({"command", "cmd", "shellcommand", "commandline"})
SHELL_ARGV_SIBLINGS = ("args", "argv", "arguments")
URL_ARGUMENTS = frozenset({"url", "uri", "endpoint", "href"})
_CLASSIFIER = "mcp"
MAX_DEPTH = 32  # nesting beyond this is not walked: the call is unknown
MAX_NODES = 10_000

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


def classify_mcp(call: McpCall, *, classify_sql: Callable[[str, str], Assessment],
                 classify_shell: Callable[[str], Assessment],
                 classify_http: Callable[[HttpRequest], Assessment]) -> Assessment:
    """Judge an MCP call by its arguments, name and annotations; never raises."""
    tool = Target("mcp", f"{call.server}/{call.tool}")
    try:
        arguments = json.loads(call.arguments_json)
    except (ValueError, RecursionError):
        return _unknown(tool, "its arguments are not valid JSON")
    if not isinstance(arguments, Mapping):
        return _unknown(tool, "its arguments are not a JSON object")
    walk = _Walk(classify_sql, classify_shell, classify_http)
    walk.visit(arguments, "", 0)

    name_risk, name_reason = risk_of_name(call.tool)
    hint_risk, hint_reason = risk_of_annotations(call.annotations_json)
    label = f"{call.server}.{call.tool}"

    effects: list[Effect] = []
    complete = walk.complete
    for where, assessment in walk.parts:
        complete = complete and assessment.complete
        for effect in assessment.effects:
            effects.append(Effect(effect.verb, effect.risk, f"{label} {where}: {effect.reason}",
                                  effect.target or tool, effect.scope, effect.reversible))
    if not walk.complete:
        effects.append(Effect(Verb.UNKNOWN, Risk.UNKNOWN, f"MCP tool {label}: {walk.why}",
                              tool, "tool"))

    # The tool itself: what its name and its server say it does, on top of the arguments.
    said = [(r, why) for r, why in ((name_risk, name_reason), (hint_risk, hint_reason))
            if r is not None]
    if walk.parts:
        # The arguments show what the call does; the name and hints may only add to it.
        own = Risk.worst((r for r, _ in said), default=Risk.READ)
        reasons = [why for r, why in said if r.rank >= Risk.WRITE.rank] or \
            [f"calls MCP tool {label}"]
    elif hint_risk is None and not (name_risk is not None and name_risk.rank >= Risk.UNKNOWN.rank):
        return _unknown(tool, "airlock does not know what this tool does: none of its arguments "
                              "is SQL, a command or a URL, and its server declares nothing about "
                              "it" + (f" ({name_reason})" if name_reason else ""),
                        extra=effects)
    else:
        own = Risk.worst((r for r, _ in said), default=Risk.UNKNOWN)
        reasons = [why for r, why in said if r is own] or [why for _, why in said]
        complete = complete and own is not Risk.UNKNOWN
    verb = {Risk.READ: Verb.EXECUTE, Risk.WRITE: Verb.WRITE,
            Risk.UNKNOWN: Verb.UNKNOWN}.get(own, Verb.DESTROY)
    effects.append(Effect(verb, own, f"MCP tool {label}: {'; '.join(reasons)}", tool, "tool"))
    return Assessment.of(effects, classifier=_CLASSIFIER, complete=complete)


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
    `/*! … */` statement). Statements cannot start any other way."""
    head = text.lstrip().lstrip("(").lstrip()
    if head.startswith(("--", "/*", "#")):
        return True
    match = re.match(r"[A-Za-z]+", head)
    return match is not None and match.group(0).lower() in SQL_FIRST_WORDS


@dataclass
class _Walk:
    """Every argument, at any depth, that is SQL, a command or a URL, classified."""

    classify_sql: Callable[[str, str], Assessment]
    classify_shell: Callable[[str], Assessment]
    classify_http: Callable[[HttpRequest], Assessment]

    def __post_init__(self) -> None:
        self.parts: list[tuple[str, Assessment]] = []
        self.complete = True
        self.why = ""
        self.nodes = 0
        self.dialect = "postgres"

    def visit(self, value: Any, path: str, depth: int) -> None:
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            if self.complete:
                self.complete = False
                self.why = (f"its arguments nest deeper than {MAX_DEPTH} levels or hold more "
                            f"than {MAX_NODES} values; not all were read")
            return
        if isinstance(value, Mapping):
            dialect = _text(value, "dialect")
            outer, self.dialect = self.dialect, dialect or self.dialect
            consumed = _consumed(value)
            for name, item in value.items():
                if str(name).lower() not in consumed:
                    self._argument(str(name), item, value, _join(path, str(name)), depth)
            self.dialect = outer
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.visit(item, f"{path}[{index}]", depth + 1)
        elif isinstance(value, str) and looks_like_sql(value):
            self._sniff(value, path)

    def _argument(self, name: str, value: Any, siblings: Mapping[str, Any], path: str,
                  depth: int) -> None:
        key = re.sub(r"[_\-\s]", "", name.lower())
        where = f"argument {path}"
        if key in SQL_ARGUMENTS or (key in SNIFFED_SQL_ARGUMENTS and _sql_strings(value)):
            for text, at in _strings(value, path):
                self.parts.append((f"argument {at}", self.classify_sql(text, self.dialect)))
            return
        if key in SHELL_ARGUMENTS and isinstance(value, str):
            self.parts.append((where, self.classify_shell(_command_line(value, siblings))))
            return
        if key in URL_ARGUMENTS and isinstance(value, str):
            self.parts.append((where, self.classify_http(_request(siblings, value))))
            return
        self.visit(value, path, depth + 1)

    def _sniff(self, text: str, path: str) -> None:
        assessment = self.classify_sql(text, self.dialect)
        if assessment.complete:  # it parsed: a statement, whatever the argument is called
            self.parts.append((f"argument {path}", assessment))


def _consumed(arguments: Mapping[str, Any]) -> frozenset[str]:
    """Siblings that are only part of another argument (a URL's method; a command's argument
    list; the SQL dialect), judged with it rather than on their own. A URL's headers and body
    are walked as well: whatever the HTTP classifier makes of them, SQL in a body still counts."""
    keys = {re.sub(r"[_\-\s]", "", str(k).lower()) for k, v in arguments.items()
            if isinstance(v, str)}
    consumed = {"dialect"}
    if keys & URL_ARGUMENTS:
        consumed.add("method")
    if keys & SHELL_ARGUMENTS:  # an argv that is not a list or a string is walked like the rest
        consumed |= {name for name in SHELL_ARGV_SIBLINGS
                     if isinstance(arguments.get(name), (list, str))}
    return frozenset(consumed)


def _sql_strings(value: Any) -> bool:
    """A `query` argument is SQL when its text looks like SQL (else it is a search phrase)."""
    return any(looks_like_sql(text) for text, _ in _strings(value, ""))


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield value, path
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield item, f"{path}[{index}]"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _unknown(tool: Target, why: str, extra: list[Effect] | None = None) -> Assessment:
    return Assessment.of([*(extra or ()), Effect(Verb.UNKNOWN, Risk.UNKNOWN,
                                                 f"MCP tool {tool.value}: {why}", tool, "tool")],
                         classifier=_CLASSIFIER, complete=False)


def _text(arguments: Mapping[str, Any], key: str) -> str | None:
    value = arguments.get(key)
    return value if isinstance(value, str) else None


def _command_line(command: str, siblings: Mapping[str, Any]) -> str:
    """`command` and its sibling argument list, as the shell line the server would run: a
    `{"command": "rm", "args": ["-rf", "/"]}` is `rm -rf /`, not `rm`."""
    for name in SHELL_ARGV_SIBLINGS:
        argv = siblings.get(name)
        if isinstance(argv, list):
            return f"{command} {shlex.join(str(a) for a in argv)}" if argv else command
        if isinstance(argv, str):  # a server may append it to the line as it is
            return f"{command} {argv}"
    return command


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
