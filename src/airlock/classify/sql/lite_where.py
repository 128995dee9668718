"""How many rows a MySQL or SQLite WHERE reaches (sqlglot expressions); see `truth.py`.

Both servers read a number as a truth value (`WHERE 1` matches every row, `WHERE 0` none).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeGuard

from sqlglot import exp

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

_COMPARISONS: dict[type[exp.Expr], str] = {
    exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.GT: ">", exp.LTE: "<=", exp.GTE: ">=",
}
_NOT_CONSTANT = object()


def table_names(table: exp.Expr) -> set[str]:
    names = {table.name} if isinstance(table, exp.Table) and table.name else set()
    if table.alias:
        names.add(table.alias)
    return names


class LiteWhereReader:
    def __init__(self, j: Judgement, target: set[str], others: set[str]) -> None:
        self.j = j
        self.target = target
        self.others = others - target

    def reach(self, where: exp.Expr | None) -> tuple[Reach, str]:
        if where is None:
            return Reach.ALL, WITHOUT_WHERE
        if not self.depends_on_row(where):
            value = self.truth(where)
            if value.never_true:
                return Reach.NONE, ""
            return Reach.ALL, ALWAYS_TRUE if value is Truth.TRUE else ROW_INDEPENDENT
        if self.always_true(where):
            return Reach.ALL, ALWAYS_TRUE
        return Reach.SOME, ""

    def depends_on_row(self, node: exp.Expr) -> bool:
        for column, nested in _columns(node):
            qualifier = column.table
            if not qualifier:
                if not nested:
                    return True
            elif qualifier in self.target or (not nested and qualifier not in self.others):
                return True
        return False

    def truth(self, node: exp.Expr) -> Truth:
        node = _unparen(node)
        if isinstance(node, exp.And | exp.Or):
            parts = [self.truth(node.this), self.truth(node.expression)]
            return conjunction(parts) if isinstance(node, exp.And) else disjunction(parts)
        if isinstance(node, exp.Not):
            return negation(self.truth(node.this))
        if isinstance(node, exp.Is) and isinstance(_unparen(node.expression), exp.Null):
            value = self.value(node.this)
            if value is _NOT_CONSTANT:
                return Truth.UNKNOWN
            return Truth.TRUE if value is None else Truth.FALSE
        op = _COMPARISONS.get(type(node))
        if op is not None:
            left, right = self.value(node.this), self.value(node.expression)
            if not (_is_value(left) and _is_value(right)):
                return Truth.UNKNOWN
            return compare(op, left, right)
        value = self.value(node)
        if value is None:
            return Truth.NULL
        if isinstance(value, bool):
            return Truth.TRUE if value else Truth.FALSE
        if isinstance(value, int | float):
            return Truth.TRUE if value != 0 else Truth.FALSE
        return Truth.UNKNOWN

    def value(self, node: exp.Expr) -> object:
        """The constant `node` stands for, or _NOT_CONSTANT."""
        node = _unparen(node)
        if isinstance(node, exp.Null):
            return None
        if isinstance(node, exp.Boolean):
            return bool(node.this)
        if isinstance(node, exp.Neg):
            inner = self.value(node.this)
            if isinstance(inner, int | float) and not isinstance(inner, bool):
                return -inner
            return _NOT_CONSTANT
        if isinstance(node, exp.Literal):
            self.j.saw_literal()
            text = str(node.this)
            if node.is_string:
                return text
            try:
                return int(text)
            except ValueError:
                try:
                    return float(text)
                except ValueError:
                    return _NOT_CONSTANT
        return _NOT_CONSTANT

    def always_true(self, node: exp.Expr) -> bool:
        node = _unparen(node)
        if isinstance(node, exp.Or):
            return self._may_match_all(node.this) or self._may_match_all(node.expression)
        if isinstance(node, exp.And):
            return self._may_match_all(node.this) and self._may_match_all(node.expression)
        if isinstance(node, exp.EQ | exp.GTE | exp.LTE | exp.NullSafeEQ):
            return node.this == node.expression and self.depends_on_row(node.this)
        if isinstance(node, exp.Like):
            pattern = _unparen(node.expression)
            if isinstance(pattern, exp.Literal) and pattern.is_string:
                self.j.saw_literal()
                text = str(pattern.this)
                return text != "" and set(text) == {"%"}
        return False

    def _may_match_all(self, node: exp.Expr) -> bool:
        if self.depends_on_row(node):
            return self.always_true(node)
        return not self.truth(node).never_true


def _unparen(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _is_value(value: object) -> TypeGuard[Value]:
    return value is not _NOT_CONSTANT


def _columns(root: exp.Expr) -> Iterator[tuple[exp.Column, bool]]:
    """Every column reference, with whether it sits inside a subquery."""
    stack: list[tuple[exp.Expr, bool]] = [(root, False)]
    while stack:
        node, nested = stack.pop()
        if isinstance(node, exp.Column):
            yield node, nested
        inner = nested or isinstance(node, exp.Subquery | exp.Select)
        stack.extend((child, inner) for child in node.iter_expressions())
