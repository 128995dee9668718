"""The one DELETE or UPDATE of a PostgreSQL text, and the rows its WHERE reaches as the text
alone tells (`truth.RowReach`), and the columns its WHERE pins to one value each (`keys`): what
a live check against the database (`airlock.reach`) starts from. Pure: parsing only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airlock.classify.sql import libpg
from airlock.classify.sql.libpg import PgSyntaxError
from airlock.classify.sql.pg_statements import row_reach
from airlock.classify.sql.pg_where import relation_names
from airlock.classify.sql.postgres import relation_name
from airlock.classify.sql.truth import RowReach
from airlock.classify.sql.verdict import Judgement


@dataclass(frozen=True, slots=True)
class RowWrite:
    verb: str  # "DELETE" | "UPDATE"
    table: str  # as the classifier names it in its targets (`table:<table>`)
    reach: RowReach
    # Columns of the target that the WHERE, in a conjunction at its top, sets equal to a
    # constant (`id = 42 AND ...`): if they cover a unique key, the statement reaches at most
    # one row whatever the constants are. Empty when another relation takes part (FROM, USING,
    # WITH), whose columns an unqualified name could mean.
    keys: frozenset[str] = field(default_factory=frozenset)


def single_row_write(text: str) -> RowWrite | None:
    """The text's statement when it is exactly one DELETE or UPDATE, else None."""
    try:
        stmts = libpg.parse(text)
    except PgSyntaxError:
        return None
    if len(stmts) != 1 or not isinstance(stmts[0], dict):
        return None
    stmt = stmts[0].get("stmt")
    if not isinstance(stmt, dict) or len(stmt) != 1:
        return None
    kind, fields = next(iter(stmt.items()))
    if kind not in ("DeleteStmt", "UpdateStmt") or not isinstance(fields, dict):
        return None
    deleting = kind == "DeleteStmt"
    try:
        reach = row_reach(Judgement(), fields, deleting=deleting)
    except RecursionError:
        return None
    relation = fields.get("relation", {})
    others = fields.get("usingClause" if deleting else "fromClause") or fields.get("withClause")
    keys = frozenset() if others else pinned(fields.get("whereClause"), relation_names(relation))
    return RowWrite("DELETE" if deleting else "UPDATE", relation_name(relation), reach, keys)


def pinned(where: Any, names: set[str]) -> frozenset[str]:
    """The columns (of the relation called one of `names`) that the top-level AND of `where`
    sets equal to a plain non-NULL constant with the built-in `=`. Anything else in the
    conjunction only narrows it further, so it is ignored."""
    found: set[str] = set()
    stack = [where]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        both = node.get("BoolExpr")
        if isinstance(both, dict) and both.get("boolop") == "AND_EXPR":
            stack.extend(both.get("args") or [])
            continue
        test = node.get("A_Expr")
        if not isinstance(test, dict) or test.get("kind") != "AEXPR_OP" or \
                test.get("name") != [{"String": {"sval": "="}}]:
            continue
        for column, value in ((test.get("lexpr"), test.get("rexpr")),
                              (test.get("rexpr"), test.get("lexpr"))):
            name = _column(column, names)
            if name is not None and _constant(value):
                found.add(name)
    return frozenset(found)


def _column(node: Any, names: set[str]) -> str | None:
    ref = node.get("ColumnRef") if isinstance(node, dict) else None
    parts = ref.get("fields") if isinstance(ref, dict) else None
    if not isinstance(parts, list) or not 1 <= len(parts) <= 2:
        return None
    words = [p.get("String", {}).get("sval") if isinstance(p, dict) else None for p in parts]
    if not all(isinstance(w, str) for w in words) or (len(words) == 2 and words[0] not in names):
        return None
    return str(words[-1])


def _constant(node: Any) -> bool:
    const = node.get("A_Const") if isinstance(node, dict) else None
    return isinstance(const, dict) and not const.get("isnull") and \
        any(k in const for k in ("ival", "fval", "sval", "boolval", "bsval"))
