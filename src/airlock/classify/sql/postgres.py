"""PostgreSQL statements judged from libpg_query's parse tree (the server's own grammar).

Each statement is judged twice over, by two small passes:

1. Its *shape*: one handler per statement type (`pg_statements.py`) says what the statement does
   to the objects it names — DELETE without WHERE, DROP SCHEMA … CASCADE, COPY … PROGRAM.
   A statement type with no handler is unknown.
2. A *walk* over every node of the tree finds what hides inside: function calls and operators
   (`functions.py`), tables read, and statements nested in other statements — data-modifying
   CTEs, PREPARE and EXPLAIN ANALYZE bodies, rule actions, `BEGIN ATOMIC` bodies — whose shapes
   are judged by the same handlers. Nothing nested is skipped unless a handler marks it inert
   (only plain EXPLAIN does: it plans its statement without running it).

Stored code (a view's query, a rule's actions, a SQL-standard function body) is judged as if it
ran now: it will run later without passing through airlock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from airlock.classify.sql import libpg
from airlock.classify.sql.functions import postgres_function
from airlock.classify.sql.libpg import JsonNode, PgSyntaxError
from airlock.classify.sql.pg_builtins import OPERATORS
from airlock.classify.sql.verdict import Judgement, dotted, table
from airlock.model import Risk, Verb


def judge_postgres(text: str, j: Judgement) -> None:
    try:
        stmts = libpg.parse(text)
    except PgSyntaxError as exc:
        # Whether a statement parses can hinge on a literal's value (`float(0)`), so a failure
        # is never shared with other statements of the same fingerprint.
        j.saw_literal()
        _judge_pieces(text, exc, j)
        return
    if not stmts:
        j.unknown("the text holds no SQL statement")
        return
    for raw in stmts:
        stmt = raw.get("stmt") if isinstance(raw, dict) else None
        if not isinstance(stmt, dict) or len(stmt) != 1:
            j.unknown("libpg_query returned a statement airlock cannot read")
            continue
        Walk(j).judge(stmt)


def _judge_pieces(text: str, exc: PgSyntaxError, j: Judgement) -> None:
    """Sent as one simple query, the text is rejected whole and nothing runs; but a client that
    splits it (psql does) runs the statements that parse. Those are judged too, so the verdict
    and the reviewer see the worst of what was attempted."""
    j.unknown(f"the SQL could not be parsed ({exc.message})")
    try:
        pieces = libpg.split(text)
    except PgSyntaxError:
        return
    if len(pieces) < 2:
        return
    for piece in pieces:
        try:
            stmts = libpg.parse(piece)
        except PgSyntaxError:
            continue
        for raw in stmts:
            stmt = raw.get("stmt") if isinstance(raw, dict) else None
            if isinstance(stmt, dict) and len(stmt) == 1:
                Walk(j).judge(stmt)


# Node types the walk stops at: calls, operators, tables, CTEs, and every statement type.
_WATCHED = frozenset({"FuncCall", "A_Expr", "RangeVar", "CommonTableExpr"}) | libpg.STATEMENT_KINDS

_MODIFYING = frozenset({"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"})

Handler = Callable[["Walk", JsonNode], None]
HANDLERS: dict[str, Handler] = {}  # filled by pg_statements, one entry per statement type


class Walk:
    """The state of judging one top-level statement."""

    def __init__(self, j: Judgement) -> None:
        self.j = j
        self.claimed: set[int] = set()  # RangeVars a handler has already turned into targets
        self.inert: set[int] = set()  # subtrees that are not executed (plain EXPLAIN's query)
        self.judged: set[int] = set()  # statements whose shape has been judged

    def judge(self, stmt: JsonNode) -> None:
        self.shape(stmt)
        self.walk(stmt)

    def shape(self, stmt: JsonNode) -> None:
        kind, fields = next(iter(stmt.items()))
        self.judged.add(id(fields))
        handler = HANDLERS.get(kind)
        if handler is None or not isinstance(fields, dict):
            self.j.unknown(f"airlock has no rule for {kind} statements")
            return
        handler(self, fields)

    def claim(self, rangevar: Any) -> None:
        if isinstance(rangevar, dict):
            self.claimed.add(id(rangevar.get("RangeVar", rangevar)))

    # -- the walk

    def walk(self, root: JsonNode) -> None:
        reads: list[JsonNode] = []
        cte_names: set[str] = set()
        inert, judged, claimed = self.inert, self.judged, self.claimed
        stack: list[Any] = [root]
        while stack:  # iterative: the tree may be deeper than Python's recursion limit
            item = stack.pop()
            if type(item) is list:
                stack.extend(item)
                continue
            if id(item) in inert:
                continue
            for key, value in item.items():
                kind = type(value)
                if kind is dict:
                    if key in _WATCHED:
                        if key == "FuncCall":
                            self.function(value)
                        elif key == "A_Expr":
                            self.operator(value)
                        elif key == "RangeVar":
                            if id(value) not in claimed:
                                reads.append(value)
                        elif key == "CommonTableExpr":
                            cte_names.add(str(value.get("ctename", "")))
                        elif id(value) not in judged and id(value) not in inert:
                            self.shape({key: value})  # a statement inside a statement
                            if key in _MODIFYING:
                                self.nested_modification(key)
                    stack.append(value)
                elif kind is list:
                    stack.append(value)
        for fields in reads:
            if "schemaname" not in fields and fields.get("relname") in cte_names:
                continue  # a CTE's own name, not a table
            name = relation_name(fields)
            self.j.read(table(name), f"reads {name}")

    def nested_modification(self, kind: str) -> None:
        # A data-modifying CTE, a PREPARE body, EXPLAIN ANALYZE or a rule body changes data from
        # inside another statement, where a reader (or a reviewer skimming a hold) does not look
        # for it; the issue names these destructive whatever their WHERE says.
        verb = kind.removesuffix("Stmt").upper()
        self.j.add(Verb.WRITE, Risk.DESTRUCTIVE,
                   f"a {verb} runs nested inside another statement (a data-modifying CTE, a "
                   "PREPARE body, EXPLAIN ANALYZE or a rule), where it is easily overlooked")

    def function(self, fields: JsonNode) -> None:
        names = [_sval(n) for n in fields.get("funcname", [])]
        if not names:
            return
        schema, name = (names[-2] if len(names) > 1 else None), names[-1]
        if name == "set_config" and schema in (None, "pg_catalog"):
            self.set_config(fields)
            return
        rule = postgres_function(schema, name)
        if rule is not None:
            shown = dotted(*names)
            self.j.add(rule.verb, rule.risk, f"{shown}() {rule.does}", scope="server")

    def set_config(self, fields: JsonNode) -> None:
        args = fields.get("args", [])
        first = args[0] if args else None
        if isinstance(first, dict) and "A_Const" in first and "sval" in first["A_Const"]:
            self.j.saw_literal()
            second = args[1] if len(args) > 1 else None
            value = None
            if isinstance(second, dict) and "sval" in second.get("A_Const", {}):
                value = identifier_list(str(second["A_Const"]["sval"].get("sval", "")))
            setting(self, str(first["A_Const"]["sval"].get("sval", "")), "set_config()", value)
            return
        self.j.add(Verb.WRITE, Risk.WRITE, "set_config() changes a session setting",
                   scope="session", reversible=True)

    def operator(self, fields: JsonNode) -> None:
        if fields.get("kind") not in ("AEXPR_OP", "AEXPR_OP_ANY", "AEXPR_OP_ALL"):
            return
        names = [_sval(n) for n in fields.get("name", [])]
        if not names:
            return
        if (len(names) > 1 and names[-2] != "pg_catalog") or names[-1] not in OPERATORS:
            self.j.unknown(f"uses operator {'.'.join(names)}, which airlock does not know; a "
                           "user-defined operator runs a function that can do anything")


# Settings that change how the server reads the text of later statements: after them, airlock's
# reading of a string literal (and so of where a statement ends) could differ from the server's.
LEXICAL_SETTINGS = frozenset({"standard_conforming_strings", "backslash_quote"})


def setting(walk: Walk, name: str, how: str, value: Sequence[str] | None = ()) -> None:
    """Judge a change of setting `name`. `value` is its new value as the server reads it (a
    list of names for search_path), () for a reset or default, None when it is computed."""
    name = name.strip().lower()
    if name == "search_path":
        _search_path(walk, how, value)
    elif name in LEXICAL_SETTINGS:
        walk.j.unknown(f"{how} changes {name}, which changes how the server reads string "
                       "literals, so airlock could read later statements differently")
    elif name == "session_replication_role":
        walk.j.add(Verb.WRITE, Risk.WRITE, f"{how} changes session_replication_role, which "
                   "switches off triggers and foreign-key checks", scope="session",
                   reversible=True)


def _search_path(walk: Walk, how: str, value: Sequence[str] | None) -> None:
    # pg_catalog is searched first unless the path names it later: then an unqualified built-in
    # name (lower, now, =) can resolve to a same-named function in an earlier schema, which
    # does whatever its author wrote — while airlock judges it as the harmless built-in.
    walk.j.saw_literal()  # the verdict depends on the value, which a fingerprint ignores
    if value is None:
        walk.j.unknown(f"{how} sets search_path to a computed value; built-in function names "
                       "could then resolve to user functions")
        return
    schemas = list(value)
    if "pg_catalog" in schemas and schemas.index("pg_catalog") > 0:
        walk.j.unknown(f"{how} puts {', '.join(schemas[:schemas.index('pg_catalog')])} before "
                       "pg_catalog in search_path, so built-in function and operator names could "
                       "resolve to user functions")


def set_values(setstmt: JsonNode) -> list[str] | None:
    """The values a VariableSetStmt sets, as the parser read them (identifiers already folded:
    `"PG_CATALOG"` stays upper case, `Evil` becomes `evil`); [] for DEFAULT/RESET; None when
    one is not a literal."""
    if setstmt.get("kind") != "VAR_SET_VALUE":
        return []
    parts = []
    for arg in setstmt.get("args", []):
        const = arg.get("A_Const") if isinstance(arg, dict) else None
        if not isinstance(const, dict) or "sval" not in const:
            return None
        parts.append(str(const["sval"].get("sval", "")))
    return parts


def identifier_list(text: str) -> list[str] | None:
    """A comma-separated list of identifiers as the server reads a setting's string value
    (`set_config('search_path', 'a, "B"', …)`): unquoted names fold to lower case, quoted ones
    keep theirs. None when the text is not such a list."""
    names: list[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t\n\r":
            i += 1
        if i < n and text[i] == '"':
            j, name = i + 1, []
            while True:
                if j >= n:
                    return None
                if text[j] == '"':
                    if j + 1 < n and text[j + 1] == '"':
                        name.append('"')
                        j += 2
                        continue
                    break
                name.append(text[j])
                j += 1
            names.append("".join(name))
            i = j + 1
        else:
            j = i
            while j < n and text[j] not in ', \t\n\r"':
                j += 1
            if j == i:
                return names if not names and i >= n else None
            names.append(text[i:j].lower())
            i = j
        while i < n and text[i] in " \t\n\r":
            i += 1
        if i >= n:
            return names
        if text[i] != ",":
            return None
        i += 1


def relation_name(fields: JsonNode) -> str:
    return dotted(fields.get("catalogname"), fields.get("schemaname"),
                  str(fields.get("relname", "")))


def _sval(node: Any) -> str:
    if isinstance(node, dict) and "String" in node:
        return str(node["String"].get("sval", ""))
    return ""


def svals(nodes: Any) -> list[str]:
    """The names in a list of String nodes (a qualified name as the parser gives it)."""
    return [_sval(n) for n in nodes] if isinstance(nodes, list) else []
