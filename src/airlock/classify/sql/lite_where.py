"""How many rows a MySQL or SQLite WHERE reaches (sqlglot expressions); see `truth.py`.

Both servers read a number as a truth value (`WHERE 1` matches every row, `WHERE 0` none). The
WHERE is translated into `coverage.py`'s shapes like PostgreSQL's (`pg_where.py`): `x IS NOT
NULL`, `x IS NOT TRUE OR x`, `x <=> x`, `id IN (SELECT id FROM same_table)`, SQLite's `rowid`
(never NULL) are understood the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeGuard

from sqlglot import exp

from airlock.classify.sql.coverage import (
    AllOf,
    AnyOf,
    Cover,
    Fixed,
    Not,
    Pred,
    Test,
    always,
    always_true,
    between,
    boolean_test,
    constant_comparison,
    distinct_comparison,
    flat,
    literal_decides,
    membership,
    null_test,
    opaque,
    pair_comparison,
    self_comparison,
    truth_test,
)
from airlock.classify.sql.truth import (
    ALWAYS_TRUE,
    ROW_INDEPENDENT,
    WITHOUT_WHERE,
    Reach,
    RowReach,
    Truth,
    Value,
    assuming,
    compare,
    conjunction,
    disjunction,
    negation,
)
from airlock.classify.sql.verdict import Judgement

_COMPARISONS: dict[type[exp.Expr], str] = {
    exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.GT: ">", exp.LTE: "<=", exp.GTE: ">=",
    exp.NullSafeEQ: "IS NOT DISTINCT FROM", exp.NullSafeNEQ: "IS DISTINCT FROM",
}
_MIRROR = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "<>": "<>",
           "IS DISTINCT FROM": "IS DISTINCT FROM",
           "IS NOT DISTINCT FROM": "IS NOT DISTINCT FROM"}
# Columns every row of an (ordinary, rowid) SQLite table has, never NULL.
SQLITE_SYSTEM_COLUMNS = frozenset({"rowid", "_rowid_", "oid"})
NESTED_TOO_DEEPLY = "with a WHERE nested too deeply for airlock to read"
_NOT_CONSTANT = object()


def table_names(table: exp.Expr) -> set[str]:
    names = {table.name} if isinstance(table, exp.Table) and table.name else set()
    if table.alias:
        names.add(table.alias)
    return names


class LiteWhereReader:
    def __init__(self, j: Judgement, target: set[str], others: set[str],
                 relation: exp.Expr | None = None,
                 system: frozenset[str] = frozenset()) -> None:
        self.j = j
        self.target = target
        self.others = others - target
        self.relation = relation if isinstance(relation, exp.Table) else None
        self.system = system
        self._literals: dict[str, bool] = {}  # as in pg_where.WhereReader

    def reach(self, where: exp.Expr | None) -> RowReach:
        if where is None:
            return RowReach(Reach.ALL, WITHOUT_WHERE)
        try:
            if not self.depends_on_row(where):
                value = self.truth(where)
                if value.never_true:
                    return RowReach(Reach.NONE)
                return RowReach(Reach.ALL, ALWAYS_TRUE if value is Truth.TRUE
                                else ROW_INDEPENDENT)
            pred = self.pred(where)
            self._note_literals(pred)
            cover = always_true(pred)
        except RecursionError:  # what cannot be read counts as reaching every row
            return RowReach(Reach.ALL, NESTED_TOO_DEEPLY)
        if cover is None:
            return RowReach(Reach.SOME)
        if cover.exact:
            return RowReach(Reach.ALL, ALWAYS_TRUE)
        return RowReach(Reach.ALL, assuming(cover.columns, cover.integer), cover.columns,
                        cover.integer)

    def cover(self, node: exp.Expr) -> Cover | None:
        if not self.depends_on_row(node):
            return None if self.truth(node).never_true else Cover()
        pred = self.pred(node)
        self._note_literals(pred)
        return always_true(pred)

    def _note_literals(self, pred: Pred) -> None:
        if not self._literals:
            return
        counts: dict[object, int] = {}
        stack = [pred]
        while stack:
            item = stack.pop()
            if isinstance(item, Test):
                counts[item.key] = counts.get(item.key, 0) + 1
            elif isinstance(item, Not):
                stack.append(item.arg)
            elif isinstance(item, AllOf | AnyOf):
                stack.extend(item.args)
        if any(sensitive or counts.get(key, 0) > 1 for key, sensitive in self._literals.items()):
            self.j.saw_literal()

    # -- does it look at the row?

    def depends_on_row(self, node: exp.Expr) -> bool:
        return any(self._is_row_column(c, nested, hidden) for c, nested, hidden in _columns(node))

    def _is_row_column(self, column: exp.Column, nested: bool, hidden: frozenset[str]) -> bool:
        qualifier = column.table
        if not qualifier:
            return not nested
        if qualifier in hidden:
            return False
        return qualifier in self.target or (not nested and qualifier not in self.others)

    def columns(self, node: exp.Expr) -> frozenset[str]:
        return frozenset(c.name for c, nested, hidden in _columns(node)
                         if self._is_row_column(c, nested, hidden)
                         and c.name.lower() not in self.system)

    def key(self, node: exp.Expr) -> str:
        """A canonical form: the row's columns without their table, no parentheses."""
        def plain(n: exp.Expr) -> exp.Expr:
            if isinstance(n, exp.Column) and (not n.table or n.table in self.target):
                return exp.column(n.name)
            return n.this if isinstance(n, exp.Paren) else n
        return _unparen(node).copy().transform(plain).sql()

    # -- values that do not depend on the row

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
        if op is not None and "DISTINCT" not in op:
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

    def value(self, node: exp.Expr, *, note: bool = True) -> object:
        """The constant `node` stands for, or _NOT_CONSTANT."""
        node = _unparen(node)
        if isinstance(node, exp.Null):
            return None
        if isinstance(node, exp.Boolean):
            return bool(node.this)
        if isinstance(node, exp.Neg):
            inner = self.value(node.this, note=note)
            if isinstance(inner, int | float) and not isinstance(inner, bool):
                return -inner
            return _NOT_CONSTANT
        if isinstance(node, exp.Literal):
            if note:
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

    # -- the predicate as coverage.py's shapes

    def pred(self, node: exp.Expr) -> Pred:
        node = _unparen(node)
        if not self.depends_on_row(node):
            return Fixed(self.truth(node))
        if isinstance(node, exp.And):
            return flat(AllOf, [self.pred(node.this), self.pred(node.expression)])
        if isinstance(node, exp.Or):
            return flat(AnyOf, [self.pred(node.this), self.pred(node.expression)])
        if isinstance(node, exp.Not):
            return Not(self.pred(node.this))
        if isinstance(node, exp.Is):
            other = _unparen(node.expression)
            if isinstance(other, exp.Null):
                return null_test(self.key(node.this), self.columns(node.this), is_null=True)
            if isinstance(other, exp.Boolean):
                return boolean_test(self.test(node.this), "IS_TRUE" if other.this else "IS_FALSE")
            return self.comparison(node.this, other, "IS NOT DISTINCT FROM")  # SQLite's a IS b
        op = _COMPARISONS.get(type(node))
        if op is not None:
            return self.comparison(node.this, node.expression, op)
        if isinstance(node, exp.In):
            return self.membership(node)
        if isinstance(node, exp.Between) and not any(
                self.depends_on_row(node.args[k]) for k in ("low", "high") if node.args.get(k)):
            key = self.key(node.this)
            self._literals[key] = True
            return between(key, self.columns(node.this),
                           self.value(node.args.get("low") or exp.Null(), note=False),
                           self.value(node.args.get("high") or exp.Null(), note=False),
                           negated=False, symmetric=False)
        if isinstance(node, exp.Like | exp.ILike):
            pattern = self.value(node.expression)
            if isinstance(pattern, str) and pattern and set(pattern) == {"%"}:
                return always(self.key(node.this), self.columns(node.this),
                              false_when_null=False)
        if isinstance(node, exp.Exists):
            return self.exists(node)
        return truth_test(self.key(node), self.columns(node))

    def test(self, node: exp.Expr) -> Test:
        pred = self.pred(node)
        negated = False
        while isinstance(pred, Not):
            pred, negated = pred.arg, not negated
        if not isinstance(pred, Test):
            return truth_test(self.key(node), self.columns(node))
        return Test(pred.key, pred.false, pred.true, pred.columns) if negated else pred

    def comparison(self, left: exp.Expr, right: exp.Expr, op: str) -> Pred:
        row_left, row_right = self.depends_on_row(left), self.depends_on_row(right)
        if row_left and row_right:
            if self.key(left) == self.key(right):  # id = id, t.id <= id
                return self_comparison(self.key(left), self.columns(left), op)
            if "DISTINCT" in op:
                return opaque()
            return pair_comparison(self.key(left), self.key(right),
                                   self.columns(left) | self.columns(right), op)
        if not row_left:
            left, right, op = right, left, _MIRROR[op]
        value = self.value(right, note=False)
        key, columns = self.key(left), self.columns(left)
        if not _is_value(value):
            if "DISTINCT" in op:
                return opaque()
            return pair_comparison(key, self.key(right), columns, op)
        self._literals[key] = self._literals.get(key, False) or literal_decides(
            op, value, small_integers_apart=False)
        if "DISTINCT" in op:
            return distinct_comparison(key, columns, value, distinct=op == "IS DISTINCT FROM")
        if isinstance(value, str) and op not in ("=", "<>", "!="):
            # Text orders by a collation the statement does not name, but `name < 'm'` and
            # `name >= 'm'` still split every value between them.
            return pair_comparison(key, ("literal", value), columns, op)
        return constant_comparison(key, columns, op, value)

    def membership(self, node: exp.In) -> Pred:
        query = node.args.get("query")
        if query is not None:
            select = query.this if isinstance(query, exp.Subquery) else query
            inner = self._same_table(select)
            cover = self._same_values(node.this, select, inner) if inner is not None else None
            if cover is None:
                return truth_test(self.key(node), self.columns(node))
            return always(self.key(node.this), self.columns(node.this) | cover.columns,
                          false_when_null=False)
        items = node.expressions
        values = [self.value(item, note=False) for item in items]
        if not items or not all(_is_value(v) for v in values):
            self.j.saw_literal()
            return truth_test(self.key(node), self.columns(node))
        key = self.key(node.this)
        self._literals[key] = self._literals.get(key, False) or any(
            literal_decides("=", v, small_integers_apart=False) for v in values)
        return membership(key, self.columns(node.this), values, negated=False)

    def exists(self, node: exp.Exists) -> Pred:
        select = node.this
        inner = self._same_table(select)
        cover = self._correlated(select, inner) if inner is not None else None
        if cover is None:
            return truth_test(self.key(node), self.columns(node))
        return always(("exists", tuple(sorted(cover.columns))), cover.columns,
                      false_when_null=True)

    def _same_table(self, select: exp.Expr) -> set[str] | None:
        """The names the subquery's one FROM table goes by, when it is the target table and
        nothing but its WHERE can leave rows out."""
        if self.relation is None or not isinstance(select, exp.Select) or any(
                select.args.get(k) for k in ("limit", "offset", "having", "with_", "with",
                                             "joins", "laterals")):
            return None
        source = select.args.get("from_") or select.args.get("from")
        table = source.this if isinstance(source, exp.From) else None
        if not isinstance(table, exp.Table) or table.name != self.relation.name:
            return None
        if table.db and self.relation.db and table.db != self.relation.db:
            return None
        return {table.alias} if table.alias else {table.name}

    def _inner(self, inner: set[str]) -> LiteWhereReader:
        return LiteWhereReader(self.j, inner, self.target - inner, self.relation, self.system)

    def _same_values(self, tested: exp.Expr, select: exp.Select, inner: set[str]
                     ) -> Cover | None:
        tested = _unparen(tested)
        outer = list(tested.expressions) if isinstance(tested, exp.Tuple) else [tested]
        targets = list(select.expressions)
        if len(outer) != len(targets):
            return None
        reader = self._inner(inner)
        for mine, theirs in zip(outer, targets, strict=True):
            if not (isinstance(mine, exp.Column) and isinstance(theirs, exp.Column)) \
                    or mine.name != theirs.name \
                    or not self._is_row_column(mine, False, frozenset()) \
                    or not reader._is_row_column(theirs, False, frozenset()):
                return None
        where = select.args.get("where")
        if not isinstance(where, exp.Where):
            return Cover()
        if _mentions(where.this, self.target - inner):
            return None
        return reader.cover(where.this)

    def _correlated(self, select: exp.Expr, inner: set[str]) -> Cover | None:
        where = select.args.get("where")
        if not isinstance(where, exp.Where):
            return Cover()
        reader = self._inner(inner)
        outer = self.target - inner
        cover = Cover()
        for conjunct in _conjuncts(where.this):
            tie = _tie(conjunct, inner, outer, self.system)
            if tie is not None:
                cover = cover.join(tie)
                continue
            if _mentions(conjunct, outer):
                return None
            part = reader.cover(conjunct)
            if part is None:
                return None
            cover = cover.join(part)
        return cover


def _tie(node: exp.Expr, inner: set[str], outer: set[str], system: frozenset[str]
         ) -> Cover | None:
    node = _unparen(node)
    if not isinstance(node, exp.EQ | exp.NullSafeEQ):
        return None
    a, b = _unparen(node.this), _unparen(node.expression)
    if not (isinstance(a, exp.Column) and isinstance(b, exp.Column)) or a.name != b.name:
        return None
    if not ((a.table in outer and (b.table in inner or not b.table))
            or (b.table in outer and (a.table in inner or not a.table))):
        return None
    nullable = isinstance(node, exp.EQ) and a.name.lower() not in system
    return Cover(frozenset({a.name}) if nullable else frozenset())


def _conjuncts(node: exp.Expr) -> Iterator[exp.Expr]:
    stack = [node]
    while stack:
        item = _unparen(stack.pop())
        if isinstance(item, exp.And):
            stack.extend([item.expression, item.this])
        else:
            yield item


def _mentions(node: exp.Expr, names: set[str]) -> bool:
    return any(c.table in names and c.table not in hidden for c, _, hidden in _columns(node))


def _unparen(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _is_value(value: object) -> TypeGuard[Value]:
    return value is not _NOT_CONSTANT


def _columns(root: exp.Expr) -> Iterator[tuple[exp.Column, bool, frozenset[str]]]:
    """Every column reference: whether it sits inside a subquery, and the relation names the
    subqueries around it declare (they hide outer relations of the same name)."""
    stack: list[tuple[exp.Expr, bool, frozenset[str]]] = [(root, False, frozenset())]
    while stack:
        node, nested, hidden = stack.pop()
        if isinstance(node, exp.Column):
            yield node, nested, hidden
        inner = nested or isinstance(node, exp.Subquery | exp.Select)
        if isinstance(node, exp.Select):
            names: set[str] = set()
            for t in _from_tables(node):
                names.add(t.alias or t.name)
            hidden = hidden | frozenset(names)
        stack.extend((child, inner, hidden) for child in node.iter_expressions())


def _from_tables(select: exp.Select) -> Iterator[exp.Table]:
    source = select.args.get("from_") or select.args.get("from")
    for part in [source, *(select.args.get("joins") or [])]:
        if isinstance(part, exp.Expr) and isinstance(part.this, exp.Table):
            yield part.this
