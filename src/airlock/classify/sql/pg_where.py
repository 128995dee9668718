"""How many rows a PostgreSQL WHERE (or MERGE join condition) reaches; see `truth.py`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeGuard

from airlock.classify.sql.libpg import JsonNode
from airlock.classify.sql.truth import (
    ALWAYS_TRUE,
    ROW_INDEPENDENT,
    WITHOUT_WHERE,
    Reach,
    Truth,
    Value,
    compare,
    conjunction,
    disjunction,
    negation,
)
from airlock.classify.sql.verdict import Judgement


def relation_names(fields: JsonNode) -> set[str]:
    """The names a RangeVar can be referred to by: its table name and its alias."""
    names = {str(fields.get("relname", ""))}
    alias = fields.get("alias")
    if isinstance(alias, dict) and alias.get("aliasname"):
        names.add(str(alias["aliasname"]))
    return names


def names_in(clause: Any) -> set[str]:
    """Every relation name and alias inside a FROM or USING clause."""
    found: set[str] = set()
    stack = [clause]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "relname" in item:
                found |= relation_names(item)
            elif isinstance(item.get("alias"), dict) and item["alias"].get("aliasname"):
                found.add(str(item["alias"]["aliasname"]))
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(item)
    return found


class WhereReader:
    """Reads one predicate against one target relation."""

    def __init__(self, j: Judgement, target: set[str], others: set[str]) -> None:
        self.j = j
        self.target = target  # names that mean the target's row
        self.others = others - target  # names of other relations joined in (USING, FROM)

    def reach(self, where: JsonNode | None) -> tuple[Reach, str]:
        if not where:
            return Reach.ALL, WITHOUT_WHERE
        if "CurrentOfExpr" in where:
            return Reach.SOME, ""
        if not self.depends_on_row(where):
            value = self.truth(where)
            if value.never_true:
                return Reach.NONE, ""
            return Reach.ALL, ALWAYS_TRUE if value is Truth.TRUE else ROW_INDEPENDENT
        if self.always_true(where):
            return Reach.ALL, ALWAYS_TRUE
        return Reach.SOME, ""

    # -- does the predicate look at the target's row at all?

    def depends_on_row(self, node: Any) -> bool:
        return any(self._is_row_column(fields, nested) for fields, nested in _column_refs(node))

    def _is_row_column(self, fields: JsonNode, nested: bool) -> bool:
        parts = fields.get("fields", [])
        if len(parts) < 2:
            return not nested  # a bare name in a subquery is most likely the subquery's own
        qualifier = _sval(parts[-2])
        if qualifier in self.target:
            return True
        # Outside subqueries an unknown qualifier (a rule's OLD or NEW) still means this row.
        return not nested and qualifier not in self.others

    # -- the value of a predicate that does not depend on the row

    def truth(self, node: Any) -> Truth:
        if not isinstance(node, dict) or len(node) != 1:
            return Truth.UNKNOWN
        kind, fields = next(iter(node.items()))
        if kind == "A_Const":
            value = self.constant(node)
            if value is None and not fields.get("isnull"):
                return Truth.UNKNOWN
            if value is None:
                return Truth.NULL
            return (Truth.TRUE if value else Truth.FALSE) if isinstance(value, bool) \
                else Truth.UNKNOWN
        if kind == "BoolExpr":
            args = [self.truth(a) for a in fields.get("args", [])]
            op = fields.get("boolop")
            if op == "AND_EXPR":
                return conjunction(args)
            if op == "OR_EXPR":
                return disjunction(args)
            return negation(args[0]) if op == "NOT_EXPR" and len(args) == 1 else Truth.UNKNOWN
        if kind == "A_Expr" and fields.get("kind") == "AEXPR_OP":
            name = fields.get("name", [])
            if len(name) != 1 or "lexpr" not in fields:
                return Truth.UNKNOWN
            left, right = self.value(fields["lexpr"]), self.value(fields.get("rexpr"))
            if not (_is_value(left) and _is_value(right)):
                return Truth.UNKNOWN
            return compare(_sval(name[0]), left, right)
        if kind == "NullTest":
            tested = self.value(fields.get("arg"))
            if not _is_value(tested):
                return Truth.UNKNOWN
            is_null = tested is None
            return Truth.TRUE if is_null == (fields.get("nulltesttype") == "IS_NULL") \
                else Truth.FALSE
        return Truth.UNKNOWN

    def constant(self, node: JsonNode) -> Value:
        """The value of an A_Const; reading it makes the verdict depend on literals."""
        self.j.saw_literal()
        fields = node["A_Const"]
        if "boolval" in fields:
            return bool(fields["boolval"].get("boolval", False))
        if "ival" in fields:
            return int(fields["ival"].get("ival", 0))
        if "fval" in fields:
            try:
                return float(fields["fval"].get("fval", "0"))
            except ValueError:
                return str(fields["fval"].get("fval"))
        if "sval" in fields:
            return str(fields["sval"].get("sval", ""))
        return None  # isnull, or a bit string: neither settles a comparison

    def value(self, node: Any) -> object:
        """The constant `node` stands for, or _NOT_CONSTANT."""
        if isinstance(node, dict) and "A_Const" in node:
            fields = node["A_Const"]
            if "bsval" in fields:
                self.j.saw_literal()
                return _NOT_CONSTANT
            return self.constant(node)
        if isinstance(node, dict) and "A_Expr" in node:  # unary minus on a number
            fields = node["A_Expr"]
            name = fields.get("name", [])
            if "lexpr" not in fields and len(name) == 1 and _sval(name[0]) == "-":
                inner = self.value(fields.get("rexpr"))
                if isinstance(inner, int | float) and not isinstance(inner, bool):
                    return -inner
        return _NOT_CONSTANT

    # -- tautologies over the row

    def always_true(self, node: Any) -> bool:
        if not isinstance(node, dict) or len(node) != 1:
            return False
        kind, fields = next(iter(node.items()))
        if kind == "BoolExpr":
            args = fields.get("args", [])
            if fields.get("boolop") == "OR_EXPR":
                return any(self._may_match_all(a) for a in args)
            if fields.get("boolop") == "AND_EXPR":
                return all(self._may_match_all(a) for a in args)
            return False
        if kind == "A_Expr":
            return self._tautology(fields)
        return False

    def _may_match_all(self, node: Any) -> bool:
        if self.depends_on_row(node):
            return self.always_true(node)
        return not self.truth(node).never_true

    def _tautology(self, fields: JsonNode) -> bool:
        name = [_sval(n) for n in fields.get("name", [])]
        kind = fields.get("kind")
        left, right = fields.get("lexpr"), fields.get("rexpr")
        if kind in ("AEXPR_OP", "AEXPR_NOT_DISTINCT") and name and name[-1] in ("=", "<=", ">="):
            # A column compared with itself holds for every row where it is not NULL.
            return left is not None and _same(left, right) and self.depends_on_row(left)
        if kind in ("AEXPR_LIKE", "AEXPR_ILIKE") and name and name[-1] in ("~~", "~~*") \
                and isinstance(right, dict) and "A_Const" in right:
            pattern = self.constant(right)  # LIKE '%' matches every non-NULL value
            return isinstance(pattern, str) and pattern != "" and set(pattern) == {"%"}
        return False


_NOT_CONSTANT = object()


def _is_value(value: object) -> TypeGuard[Value]:
    return value is not _NOT_CONSTANT


def _sval(node: Any) -> str:
    if isinstance(node, dict) and "String" in node:
        return str(node["String"].get("sval", ""))
    return ""


def _column_refs(root: Any) -> Iterator[tuple[JsonNode, bool]]:
    """Every ColumnRef under `root`, with whether it sits inside a subquery."""
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        item, nested = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "ColumnRef":
                    yield value, nested
                elif isinstance(value, dict | list):
                    stack.append((value, nested or key == "subselect"))
        elif isinstance(item, list):
            stack.extend((v, nested) for v in item)


def _same(a: Any, b: Any) -> bool:
    """Structural equality of two expressions, ignoring where they were written."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = (a.keys() | b.keys()) - {"location"}
        return all(_same(a.get(k), b.get(k)) for k in keys)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
