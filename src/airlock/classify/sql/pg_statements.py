"""The shape of each PostgreSQL statement type: what it does to the objects it names.

One handler per statement type, registered in `postgres.HANDLERS`. A type that is not here is
unknown. What a statement calls or nests is found by the walk in `postgres.py`, not here.

Judgements that are a matter of policy, and why:

- DROP of anything is destructive. DROP DATABASE is catastrophic, and so are DROP SCHEMA …
  CASCADE and DROP OWNED: each removes an unbounded set of objects (in practice often every
  table an application has), which is what makes dropping a database catastrophic. A plain
  DROP SCHEMA only succeeds on an empty schema, so it is merely destructive.
- Giving a role SUPERUSER, or membership in a role that runs programs or writes files on the
  server (pg_execute_server_program, pg_write_server_files, a cloud's superuser role), is
  destructive: such a role can do anything on the server, out of airlock's sight — it is handing
  out an unguarded credential. Other role and privilege changes are writes.
- ALTER COLUMN … TYPE is destructive: it rewrites every value, and a lossy conversion (numeric
  to integer, timestamp to date, or any USING expression) cannot be undone.
- ALTER SYSTEM is destructive: it changes the whole server, including settings that run shell
  commands (archive_command).
- COPY … TO a server file is destructive (it overwrites that file); COPY … PROGRAM runs a shell
  command on the server.
- DO, CALL, LOAD, a C-language function and EXECUTE of a prepared statement run code whose text
  is not in the input: unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airlock.classify.sql.pg_where import WhereReader, names_in, relation_names
from airlock.classify.sql.postgres import (
    HANDLERS,
    Walk,
    relation_name,
    set_values,
    setting,
    svals,
)
from airlock.classify.sql.truth import Reach, RowReach
from airlock.classify.sql.verdict import Judgement, dotted, ident, table, thing
from airlock.model import Risk, Verb

JsonNode = dict[str, Any]


def handles(*kinds: str) -> Callable[[Callable[[Walk, JsonNode], None]],
                                     Callable[[Walk, JsonNode], None]]:
    def register(fn: Callable[[Walk, JsonNode], None]) -> Callable[[Walk, JsonNode], None]:
        for kind in kinds:
            HANDLERS[kind] = fn
        return fn
    return register


def _write(w: Walk, reason: str, target: Any = None, scope: str = "", *,
           reversible: bool = True) -> None:
    w.j.add(Verb.WRITE, Risk.WRITE, reason, target, scope, reversible=reversible)


# --------------------------------------------------------------------------------------------
# Reading, sessions and transactions


@handles("VariableShowStmt", "ListenStmt", "UnlistenStmt", "DeclareCursorStmt", "FetchStmt",
         "ClosePortalStmt", "DiscardStmt", "DeallocateStmt", "ConstraintsSetStmt")
def _nothing(w: Walk, f: JsonNode) -> None:
    """Session-local, or reads whatever the walk finds inside (a cursor's query)."""


@handles("SelectStmt")
def _select(w: Walk, f: JsonNode) -> None:
    into = f.get("intoClause")
    if isinstance(into, dict) and isinstance(into.get("rel"), dict):
        name = relation_name(into["rel"])
        _write(w, f"SELECT … INTO creates table {name}", table(name), "table")


@handles("TransactionStmt")
def _transaction(w: Walk, f: JsonNode) -> None:
    kind = f.get("kind")
    if kind == "TRANS_STMT_COMMIT_PREPARED":
        _write(w, "COMMIT PREPARED makes permanent a transaction prepared earlier",
               reversible=False)
    elif kind == "TRANS_STMT_ROLLBACK_PREPARED":
        _write(w, "ROLLBACK PREPARED discards the work of a transaction prepared earlier",
               reversible=False)


@handles("VariableSetStmt")
def _set(w: Walk, f: JsonNode) -> None:
    setting(w, str(f.get("name", "")), "SET" if f.get("kind") != "VAR_RESET" else "RESET",
            set_values(f))


@handles("ExplainStmt")
def _explain(w: Walk, f: JsonNode) -> None:
    query = f.get("query")
    if not isinstance(query, dict):
        return
    if _explain_runs(w, f.get("options", [])):
        return  # EXPLAIN ANALYZE runs its statement: the walk judges it like any other
    w.inert.add(id(query))
    w.inert.update(id(v) for v in query.values())
    for name in sorted(_relations_in(query)):
        w.j.read(table(name), f"EXPLAIN plans a statement on {name} without running it")


def _explain_runs(w: Walk, options: list[Any]) -> bool:
    for option in options:
        fields = option.get("DefElem", {}) if isinstance(option, dict) else {}
        if fields.get("defname") != "analyze":
            continue
        arg = fields.get("arg")
        if not isinstance(arg, dict):
            return True
        w.j.saw_literal()  # (ANALYZE 0) and (ANALYZE 1) differ only in a literal
        value: dict[str, Any] = next(iter(arg.values()), {})
        raw = str(value.get("sval", value.get("boolval", value.get("ival", 0)))).lower()
        if raw not in ("off", "false", "no", "0", "f", "n", "of"):
            return True
    return False


def _relations_in(node: Any) -> set[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "relname" in item:
                found.add(relation_name(item))
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(item)
    return found


@handles("PrepareStmt")
def _prepare(w: Walk, f: JsonNode) -> None:
    """The body runs on every EXECUTE; the walk judges it as if it ran now."""


@handles("ExecuteStmt")
def _execute(w: Walk, f: JsonNode) -> None:
    w.j.add(Verb.EXECUTE, Risk.UNKNOWN,
            f"EXECUTE runs prepared statement {ident(str(f.get('name', '')))}, whose text is "
            "not part of this input")


@handles("DoStmt")
def _do(w: Walk, f: JsonNode) -> None:
    w.j.add(Verb.EXECUTE, Risk.UNKNOWN,
            "DO runs a procedural block, which can run any SQL (including dynamic SQL)")


@handles("CallStmt")
def _call(w: Walk, f: JsonNode) -> None:
    names = svals(f.get("funccall", {}).get("funcname", []))
    w.j.add(Verb.EXECUTE, Risk.UNKNOWN,
            f"CALL runs procedure {dotted(*names)}, which can do anything")


@handles("LoadStmt")
def _load(w: Walk, f: JsonNode) -> None:
    w.j.add(Verb.EXECUTE, Risk.UNKNOWN,
            "LOAD loads a shared library into the server, which can run any code")


@handles("ReturnStmt", "PLAssignStmt")
def _plpgsql(w: Walk, f: JsonNode) -> None:
    w.j.unknown("PL/pgSQL fragments are not statements airlock can judge on their own")


# --------------------------------------------------------------------------------------------
# Rows


@handles("InsertStmt")
def _insert(w: Walk, f: JsonNode) -> None:
    name = relation_name(f.get("relation", {}))
    _write(w, f"INSERT adds rows to {name}", table(name), "rows")
    conflict = f.get("onConflictClause")
    if isinstance(conflict, dict) and conflict.get("action") == "ONCONFLICT_UPDATE":
        _write(w, f"INSERT … ON CONFLICT DO UPDATE changes existing rows of {name}",
               table(name), "rows", reversible=False)


@handles("DeleteStmt")
def _delete(w: Walk, f: JsonNode) -> None:
    _rows(w, f, deleting=True)


@handles("UpdateStmt")
def _update(w: Walk, f: JsonNode) -> None:
    _rows(w, f, deleting=False)


def row_reach(j: Judgement, f: JsonNode, *, deleting: bool) -> RowReach:
    """Which rows of its target a DeleteStmt or UpdateStmt reaches, read from its text."""
    relation = f.get("relation", {})
    joined = "usingClause" if deleting else "fromClause"
    reader = WhereReader(j, relation_names(relation), names_in(f.get(joined, [])), relation)
    return reader.reach(f.get("whereClause"))


def _rows(w: Walk, f: JsonNode, *, deleting: bool) -> None:
    name = relation_name(f.get("relation", {}))
    found = row_reach(w.j, f, deleting=deleting)
    reach, why = found.reach, found.why
    verb = Verb.DELETE if deleting else Verb.WRITE
    word = "DELETE" if deleting else "UPDATE"
    if reach is Reach.ALL:
        does = "removes every row of" if deleting else "overwrites every row of"
        w.j.add(verb, Risk.DESTRUCTIVE, f"{word} {why} {does} {name}", table(name), "table")
    elif reach is Reach.NONE:
        w.j.add(verb, Risk.WRITE, f"{word} touches no row of {name}: its WHERE is never true",
                table(name), "rows")
    else:
        does = "removes" if deleting else "changes"
        w.j.add(verb, Risk.WRITE, f"{word} {does} the rows of {name} that its WHERE selects",
                table(name), "rows")


@handles("MergeStmt")
def _merge(w: Walk, f: JsonNode) -> None:
    relation = f.get("relation", {})
    name = relation_name(relation)
    reader = WhereReader(w.j, relation_names(relation), names_in(f.get("sourceRelation", {})),
                         relation)
    reach = reader.reach(f.get("joinCondition") or {"A_Const": {"isnull": False}}).reach
    for clause in f.get("mergeWhenClauses", []):
        c = clause.get("MergeWhenClause", {}) if isinstance(clause, dict) else {}
        command, match = c.get("commandType"), c.get("matchKind")
        if command == "CMD_INSERT":
            _write(w, f"MERGE adds rows to {name}", table(name), "rows")
        elif command in ("CMD_DELETE", "CMD_UPDATE"):
            verb = Verb.DELETE if command == "CMD_DELETE" else Verb.WRITE
            does = "removes" if command == "CMD_DELETE" else "overwrites"
            if match == "MERGE_WHEN_NOT_MATCHED_BY_SOURCE":
                w.j.add(verb, Risk.DESTRUCTIVE, f"MERGE … WHEN NOT MATCHED BY SOURCE {does} every "
                        f"row of {name} that the source lacks", table(name), "table")
            elif reach is Reach.ALL:
                w.j.add(verb, Risk.DESTRUCTIVE, f"MERGE with a join condition that matches "
                        f"every row {does} every row of {name}", table(name), "table")
            else:
                w.j.add(verb, Risk.WRITE, f"MERGE {does} the rows of {name} that match the "
                        "source", table(name), "rows")


@handles("TruncateStmt")
def _truncate(w: Walk, f: JsonNode) -> None:
    cascade = f.get("behavior") == "DROP_CASCADE"
    for rel in f.get("relations", []):
        w.claim(rel)
        name = relation_name(rel.get("RangeVar", {}))
        tail = " and of every table that references it" if cascade else ""
        w.j.add(Verb.DELETE, Risk.DESTRUCTIVE, f"TRUNCATE removes every row of {name}{tail}",
                table(name), "table")


@handles("CopyStmt")
def _copy(w: Walk, f: JsonNode) -> None:
    relation = f.get("relation")
    name = relation_name(relation) if isinstance(relation, dict) else None
    if f.get("is_program"):
        w.j.add(Verb.EXECUTE, Risk.DESTRUCTIVE,
                "COPY … PROGRAM runs a shell command on the database server", scope="server")
    if f.get("is_from"):
        if name:
            _write(w, f"COPY … FROM adds rows to {name}", table(name), "rows")
        return
    if name:
        w.j.read(table(name), f"COPY … TO reads {name}")
    if "filename" in f and not f.get("is_program"):
        w.j.add(Verb.WRITE, Risk.DESTRUCTIVE, "COPY … TO a file writes a file on the database "
                "server, replacing what was there", scope="server")


@handles("LockStmt")
def _lock(w: Walk, f: JsonNode) -> None:
    for rel in f.get("relations", []):
        w.claim(rel)
        name = relation_name(rel.get("RangeVar", {}))
        _write(w, f"LOCK TABLE blocks other sessions from {name} until the transaction ends",
               table(name), "table")


# --------------------------------------------------------------------------------------------
# Dropping


_KINDS = {
    "OBJECT_TABLE": "table", "OBJECT_FOREIGN_TABLE": "table", "OBJECT_VIEW": "view",
    "OBJECT_MATVIEW": "view", "OBJECT_PROCEDURE": "function", "OBJECT_ROUTINE": "function",
    "OBJECT_AGGREGATE": "function", "OBJECT_DOMAIN": "type",
}
_WORDS = {
    "OBJECT_MATVIEW": "MATERIALIZED VIEW", "OBJECT_FDW": "FOREIGN DATA WRAPPER",
    "OBJECT_FOREIGN_SERVER": "SERVER", "OBJECT_STATISTIC_EXT": "STATISTICS",
    "OBJECT_TSCONFIGURATION": "TEXT SEARCH CONFIGURATION",
    "OBJECT_TSDICTIONARY": "TEXT SEARCH DICTIONARY", "OBJECT_TSPARSER": "TEXT SEARCH PARSER",
    "OBJECT_TSTEMPLATE": "TEXT SEARCH TEMPLATE", "OBJECT_OPCLASS": "OPERATOR CLASS",
    "OBJECT_OPFAMILY": "OPERATOR FAMILY", "OBJECT_ACCESS_METHOD": "ACCESS METHOD",
}


def object_kind(objtype: str) -> str:
    return _KINDS.get(objtype) or objtype.removeprefix("OBJECT_").lower()


def _object_name(node: Any) -> str:
    parts: list[str] = []
    stack = [node]
    while stack:  # every name in written order (depth first, left to right)
        item = stack.pop()
        if isinstance(item, dict):
            if "String" in item and isinstance(item["String"], dict):
                parts.append(str(item["String"].get("sval", "")))
                continue
            if "objargs" in item or "objfuncargs" in item:  # a function: its name is enough
                item = {"objname": item.get("objname", [])}
            stack.extend(reversed([v for v in item.values() if isinstance(v, dict | list)]))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return dotted(*parts)


@handles("DropStmt")
def _drop(w: Walk, f: JsonNode) -> None:
    objtype = str(f.get("removeType", "OBJECT_TYPE_UNDEFINED"))
    kind = object_kind(objtype)
    word = _WORDS.get(objtype) or objtype.removeprefix("OBJECT_").replace("_", " ")
    cascade = f.get("behavior") == "DROP_CASCADE"
    for obj in f.get("objects", []):
        name = _object_name(obj)
        if kind == "schema" and cascade:
            w.j.add(Verb.DESTROY, Risk.CATASTROPHIC, f"DROP SCHEMA … CASCADE destroys schema "
                    f"{name} and every table, view and function in it", thing(kind, name),
                    "schema")
            continue
        rows = objtype == "OBJECT_TABLE"  # a foreign table's rows live on another server
        what = f"{kind} {name} and every row in it" if rows else f"{kind} {name}"
        tail = " and everything that depends on it" if cascade else ""
        w.j.add(Verb.DESTROY, Risk.DESTRUCTIVE, f"DROP {word} destroys {what}{tail}",
                thing(kind, name), kind)


@handles("DropdbStmt")
def _dropdb(w: Walk, f: JsonNode) -> None:
    name = ident(str(f.get("dbname", "")))
    w.j.add(Verb.DESTROY, Risk.CATASTROPHIC,
            f"DROP DATABASE destroys database {name} and everything in it",
            thing("database", name), "database")


@handles("DropOwnedStmt")
def _drop_owned(w: Walk, f: JsonNode) -> None:
    for role in _roles(f.get("roles", [])):
        w.j.add(Verb.DESTROY, Risk.CATASTROPHIC, f"DROP OWNED destroys every object that role "
                f"{role} owns in this database", thing("role", role), "database")


@handles("DropRoleStmt")
def _drop_role(w: Walk, f: JsonNode) -> None:
    for role in _roles(f.get("roles", [])):
        w.j.add(Verb.DESTROY, Risk.DESTRUCTIVE, f"DROP ROLE destroys role {role}",
                thing("role", role), "role")


@handles("DropTableSpaceStmt", "DropSubscriptionStmt", "DropUserMappingStmt")
def _drop_other(w: Walk, f: JsonNode) -> None:
    if "tablespacename" in f:
        kind, name = "tablespace", str(f["tablespacename"])
    elif "subname" in f:
        kind, name = "subscription", str(f["subname"])
    else:
        kind, name = "user_mapping", str(f.get("servername", ""))
    w.j.add(Verb.DESTROY, Risk.DESTRUCTIVE, f"DROP {kind.replace('_', ' ').upper()} destroys "
            f"{kind.replace('_', ' ')} {ident(name)}", thing(kind, ident(name)), kind)


def _roles(specs: list[Any]) -> list[str]:
    out = []
    for spec in specs:
        fields = spec.get("RoleSpec", spec) if isinstance(spec, dict) else {}
        special = str(fields.get("roletype", "")).removeprefix("ROLESPEC_").lower()
        out.append(ident(str(fields.get("rolename") or special)))
    return out
