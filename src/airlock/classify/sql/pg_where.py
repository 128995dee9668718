"""How many rows a PostgreSQL WHERE (or MERGE join condition) reaches; see `truth.py`.

The WHERE is translated into `coverage.py`'s shapes, which decide whether it is true for every
row. What the translation knows about PostgreSQL:

- system columns (`ctid`, `xmin`, `tableoid`, …) are never NULL;
- a subquery over the target table itself gives back every row's value:
  `id IN (SELECT id FROM t)`, `id = ANY (SELECT …)`, `EXISTS (SELECT 1 FROM t s WHERE s.id =
  t.id)` are true for every row whose `id` is not NULL;
- names in a subquery's FROM hide the outer ones (`EXISTS (SELECT 1 FROM t WHERE t.x = 1)`
  does not depend on the outer row).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TypeGuard

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
from airlock.classify.sql.libpg import JsonNode
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

# Columns every row has and that are never NULL.
SYSTEM_COLUMNS = frozenset({"ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"})
_COMPARISONS = frozenset({"=", "<>", "!=", "<", ">", "<=", ">="})
_NUMERIC_TYPES = frozenset({"int2", "int4", "int8", "smallint", "integer", "bigint", "numeric",
                            "decimal", "float4", "float8", "real", "double precision"})
_MIRROR = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "<>": "<>", "!=": "<>",
           "IS DISTINCT FROM": "IS DISTINCT FROM",
           "IS NOT DISTINCT FROM": "IS NOT DISTINCT FROM"}
_BETWEEN = {"AEXPR_BETWEEN": (False, False), "AEXPR_NOT_BETWEEN": (True, False),
            "AEXPR_BETWEEN_SYM": (False, True), "AEXPR_NOT_BETWEEN_SYM": (True, True)}
_PATTERNS = frozenset({"AEXPR_LIKE", "AEXPR_ILIKE", "AEXPR_SIMILAR"})
NESTED_TOO_DEEPLY = "with a WHERE nested too deeply for airlock to read"


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


def visible_names(clause: Any) -> set[str]:
    """The names a FROM clause makes visible: an alias hides its table's own name."""
    found: set[str] = set()
    stack = [clause]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            alias = item.get("alias")
            if isinstance(alias, dict) and alias.get("aliasname"):
                found.add(str(alias["aliasname"]))
            elif "relname" in item:
                found.add(str(item["relname"]))
            if "subquery" not in item:  # a derived table's own FROM is not visible here
                stack.extend(v for k, v in item.items() if isinstance(v, dict | list)
                             and k != "alias")
        elif isinstance(item, list):
            stack.extend(item)
    return found


class WhereReader:
    """Reads one predicate against one target relation."""

    def __init__(self, j: Judgement, target: set[str], others: set[str],
                 relation: JsonNode | None = None) -> None:
        self.j = j
        self.target = target  # names that mean the target's row
        self.others = others - target  # names of other relations joined in (USING, FROM)
        self.relation = relation or {}  # the target's RangeVar: its subqueries are recognised
        # Keys of tests built from literals, and whether their literal alone could decide:
        # fingerprints ignore literals, so `_note_literals` says when a verdict read one.
        self._literals: dict[str, bool] = {}

    def reach(self, where: JsonNode | None) -> RowReach:
        if not where:
            return RowReach(Reach.ALL, WITHOUT_WHERE)
        if "CurrentOfExpr" in where:
            return RowReach(Reach.SOME)
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

    def cover(self, node: Any) -> Cover | None:
        """When `node` is true for every row (of a subquery's relation), and on what
        assumption."""
        if not self.depends_on_row(node):
            return None if self.truth(node).never_true else Cover()
        pred = self.pred(node)
        self._note_literals(pred)
        return always_true(pred)

    def _note_literals(self, pred: Pred) -> None:
        """A test on a literal alone (`id = 1`, `id <> 1`, `id IN (1, 2)`) never covers every
        value, whatever the literal; one that orders (`id > -2147483649`), or shares its
        expression with other tests (`id = 1 OR id <> 1`), may, depending on its value."""
        if not self._literals:
            return
        counts: dict[object, int] = {}
        for test in _tests(pred):
            counts[test.key] = counts.get(test.key, 0) + 1
        if any(sensitive or counts.get(key, 0) > 1 for key, sensitive in self._literals.items()):
            self.j.saw_literal()

    # -- does the predicate look at the target's row at all?

    def depends_on_row(self, node: Any) -> bool:
        return any(self._is_row_column(fields, nested, hidden)
                   for fields, nested, hidden in _column_refs(node))

    def _is_row_column(self, fields: JsonNode, nested: bool, hidden: frozenset[str]) -> bool:
        parts = fields.get("fields", [])
        if len(parts) < 2:
            return not nested  # a bare name in a subquery is most likely the subquery's own
        qualifier = _sval(parts[-2])
        if qualifier in hidden:
            return False  # a subquery's own relation of the same name
        if qualifier in self.target:
            return True
        # Outside subqueries an unknown qualifier (a rule's OLD or NEW) still means this row.
        return not nested and qualifier not in self.others

    def columns(self, node: Any) -> frozenset[str]:
        """The nullable columns of the row that `node` reads."""
        found = set()
        for fields, nested, hidden in _column_refs(node):
            if self._is_row_column(fields, nested, hidden):
                parts = fields.get("fields", [])
                name = _sval(parts[-1]) if parts else ""
                if name and name not in SYSTEM_COLUMNS:
                    found.add(name)
        return frozenset(found)

    def key(self, node: Any) -> str:
        """A canonical form of an expression: where it was written, and whether a column of the
        row was named with or without its table, do not matter."""
        return json.dumps(self._canonical(node), sort_keys=True)

    def _canonical(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self._canonical(v) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("ColumnRef")
        parts = ref.get("fields", []) if isinstance(ref, dict) else []
        # Only a bare name or one qualified by the target is surely the target's column (a
        # rule's OLD.a is another row's).
        if parts and (len(parts) == 1 or _sval(parts[-2]) in self.target):
            return {"row column": _sval(parts[-1])}
        return {k: self._canonical(v) for k, v in node.items() if k != "location"}

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

    def constant(self, node: JsonNode, *, note: bool = True) -> Value:
        """The value of an A_Const; reading it makes the verdict depend on literals (`note`:
        the caller records that itself, see `_note_literals`)."""
        if note:
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

    def value(self, node: Any, *, note: bool = True) -> object:
        """The constant `node` stands for, or _NOT_CONSTANT."""
        if isinstance(node, dict) and "A_Const" in node:
            fields = node["A_Const"]
            if "bsval" in fields:
                self.j.saw_literal()
                return _NOT_CONSTANT
            return self.constant(node, note=note)
        if isinstance(node, dict) and "A_Expr" in node:  # unary minus on a number
            fields = node["A_Expr"]
            name = fields.get("name", [])
            if "lexpr" not in fields and len(name) == 1 and _sval(name[0]) == "-":
                inner = self.value(fields.get("rexpr"), note=note)
                if isinstance(inner, int | float) and not isinstance(inner, bool):
                    return -inner
        if isinstance(node, dict) and "TypeCast" in node:  # '5'::int, 2147483649::int8
            fields = node["TypeCast"]
            inner = self.value(fields.get("arg"), note=note)
            names = [_sval(n) for n in fields.get("typeName", {}).get("names", [])]
            if not _is_value(inner) or inner is None or fields.get("typeName", {}).get(
                    "arrayBounds"):
                return _NOT_CONSTANT
            if names and names[-1] in _NUMERIC_TYPES:
                if isinstance(inner, bool):
                    return _NOT_CONSTANT
                try:
                    number = float(inner) if isinstance(inner, str) else inner
                except ValueError:
                    return _NOT_CONSTANT
                return int(number) if float(number).is_integer() and names[-1] in (
                    "int2", "int4", "int8", "smallint", "integer", "bigint") else number
            if names and names[-1] in ("bool", "boolean"):
                return inner if isinstance(inner, bool) else _NOT_CONSTANT
            return str(inner) if isinstance(inner, str) else _NOT_CONSTANT
        return _NOT_CONSTANT

    # -- the predicate as coverage.py's shapes

    def pred(self, node: Any) -> Pred:
        if not self.depends_on_row(node):
            return Fixed(self.truth(node))
        if not isinstance(node, dict) or len(node) != 1:
            return opaque()
        kind, fields = next(iter(node.items()))
        if not isinstance(fields, dict):
            return opaque()
        if kind == "BoolExpr":
            args = [self.pred(a) for a in fields.get("args", [])]
            op = fields.get("boolop")
            if op == "AND_EXPR" and args:
                return flat(AllOf, args)
            if op == "OR_EXPR" and args:
                return flat(AnyOf, args)
            return Not(args[0]) if op == "NOT_EXPR" and len(args) == 1 else opaque()
        if kind == "NullTest":
            arg = fields.get("arg")
            return null_test(self.key(arg), self.columns(arg),
                             is_null=fields.get("nulltesttype") == "IS_NULL")
        if kind == "BooleanTest":
            return boolean_test(self.test(fields.get("arg")), str(fields.get("booltesttype")))
        if kind == "A_Expr":
            return self.expression(node, fields)
        if kind == "SubLink":
            return self.sublink(node, fields)
        return truth_test(self.key(node), self.columns(node))

    def test(self, node: Any) -> Test:
        """`node` as one Test (a NOT turns its sets around); a compound is keyed as a whole."""
        pred = self.pred(node)
        negated = False
        while isinstance(pred, Not):
            pred, negated = pred.arg, not negated
        if not isinstance(pred, Test):
            return truth_test(self.key(node), self.columns(node))
        return Test(pred.key, pred.false, pred.true, pred.columns) if negated else pred

    def expression(self, node: JsonNode, f: JsonNode) -> Pred:
        kind = f.get("kind")
        names = [_sval(n) for n in f.get("name", [])]
        op = names[-1] if names and (len(names) == 1 or names[0] == "pg_catalog") else ""
        left, right = f.get("lexpr"), f.get("rexpr")
        if kind == "AEXPR_OP" and op in _COMPARISONS and left is not None:
            return self.comparison(left, right, op)
        if kind in ("AEXPR_DISTINCT", "AEXPR_NOT_DISTINCT") and op == "=":
            return self.comparison(left, right, "IS DISTINCT FROM" if kind == "AEXPR_DISTINCT"
                                   else "IS NOT DISTINCT FROM")
        items = _items(right)
        if kind == "AEXPR_IN" and op in ("=", "<>") and items is not None:
            return self._membership(left, items, negated=op == "<>")
        if (kind, op) in (("AEXPR_OP_ANY", "="), ("AEXPR_OP_ALL", "<>")) \
                and isinstance(right, dict) and "A_ArrayExpr" in right:
            elements = right["A_ArrayExpr"].get("elements", [])
            return self._membership(left, elements, negated=kind == "AEXPR_OP_ALL")
        if kind in _BETWEEN and items is not None and len(items) == 2 \
                and not self.depends_on_row(right):
            negated, symmetric = _BETWEEN[kind]
            key = self.key(left)
            self._literals[key] = True
            return between(key, self.columns(left), self.value(items[0], note=False),
                           self.value(items[1], note=False), negated=negated,
                           symmetric=symmetric)
        if kind in _PATTERNS and op:
            return self.pattern(left, right, op, kind)
        return truth_test(self.key(node), self.columns(node))

    def comparison(self, left: Any, right: Any, op: str) -> Pred:
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
        if _is_value(value):
            # = and <> of one constant decide nothing whatever the constant is; an order does.
            self._literals[key] = self._literals.get(key, False) or literal_decides(
                op, value, small_integers_apart=True)
        if not _is_value(value):
            # Compared with something fixed but unknown ($1, now()): the comparisons of the
            # two still fit together (`x > $1 OR x <= $1`).
            if "DISTINCT" in op:
                return opaque()
            return pair_comparison(key, self.key(right), columns, op)
        if "DISTINCT" in op:
            return distinct_comparison(key, columns, value, distinct=op == "IS DISTINCT FROM")
        if isinstance(value, str) and op not in ("=", "<>", "!="):
            # Text orders by a collation the statement does not name, but `name < 'm'` and
            # `name >= 'm'` still split every value between them.
            return pair_comparison(key, ("literal", value), columns, op)
        return constant_comparison(key, columns, op, value)

    def _membership(self, left: Any, items: list[Any], *, negated: bool) -> Pred:
        values = [self.value(item, note=False) for item in items]
        if left is None or not all(_is_value(v) for v in values):
            self.j.saw_literal()
            return opaque()
        key = self.key(left)
        self._literals[key] = self._literals.get(key, False) or any(
            literal_decides("=", v, small_integers_apart=True) for v in values)
        return membership(key, self.columns(left), values, negated=negated)

    def pattern(self, left: Any, right: Any, op: str, kind: str) -> Pred:
        negated = op.startswith("!")
        base = op.removeprefix("!")
        value = self.value(right)
        if kind != "AEXPR_SIMILAR" and isinstance(value, str) and value and set(value) == {"%"}:
            # LIKE '%' matches every non-NULL value.
            test = always(self.key(left), self.columns(left), false_when_null=False)
        else:
            test = truth_test(self.key({"pattern": [kind, base, left, right]}),
                              self.columns(left))
        return Not(test) if negated else test

    def sublink(self, node: JsonNode, f: JsonNode) -> Pred:
        kind = f.get("subLinkType")
        select = f.get("subselect", {})
        sub = select.get("SelectStmt") if isinstance(select, dict) else None
        inner = self._same_table(sub) if isinstance(sub, dict) else None
        if inner is None or not isinstance(sub, dict):
            return truth_test(self.key(node), self.columns(node))
        if kind == "EXISTS_SUBLINK":
            cover = self._correlated(sub.get("whereClause"), inner)
            if cover is None:
                return truth_test(self.key(node), self.columns(node))
            # EXISTS (SELECT … FROM t s WHERE s.id = t.id): the row finds itself unless id is
            # NULL; an EXISTS is never NULL.
            return always(("exists", tuple(sorted(cover.columns))), cover.columns,
                          false_when_null=True)
        operator = [_sval(n) for n in f.get("operName", [])]
        if kind == "ANY_SUBLINK" and operator in ([], ["="]):
            tested = f.get("testexpr")
            cover = self._same_values(tested, sub, inner)
            if cover is not None:
                return always(self.key(tested), self.columns(tested) | cover.columns,
                              false_when_null=False)
        return truth_test(self.key(node), self.columns(node))

    def _same_table(self, sub: JsonNode) -> set[str] | None:
        """The names a subquery's one FROM item goes by, when that item is the target table and
        nothing in the subquery can leave rows out but its WHERE."""
        target = self.relation.get("relname")
        if not target or sub.get("op", "SETOP_NONE") != "SETOP_NONE" or any(
                sub.get(k) for k in ("limitCount", "limitOffset", "havingClause", "withClause")):
            return None
        items = sub.get("fromClause", [])
        if len(items) != 1 or not isinstance(items[0], dict) or "RangeVar" not in items[0]:
            return None
        rel = items[0]["RangeVar"]
        schema, own = rel.get("schemaname"), self.relation.get("schemaname")
        if rel.get("relname") != target or (schema and own and schema != own):
            return None
        alias = rel.get("alias")
        return {str(alias["aliasname"])} if isinstance(alias, dict) and alias.get(
            "aliasname") else {str(target)}

    def _inner(self, inner: set[str]) -> WhereReader:
        return WhereReader(self.j, inner, self.target - inner, self.relation)

    def _same_values(self, tested: Any, sub: JsonNode, inner: set[str]) -> Cover | None:
        """`tested IN (SELECT cols FROM target …)` where cols are the same columns: the cover of
        the subquery's WHERE (every row's values come back), else None."""
        if tested is None:
            return None
        row = tested.get("RowExpr", {}).get("args") if isinstance(tested, dict) else None
        outer = row if isinstance(row, list) else [tested]
        targets = [t.get("ResTarget", {}).get("val") for t in sub.get("targetList", [])
                   if isinstance(t, dict)]
        if len(outer) != len(targets):
            return None
        reader = self._inner(inner)
        for mine, theirs in zip(outer, targets, strict=True):
            name = _column_name(mine)
            if not name or not self._is_row_ref(mine) or _column_name(theirs) != name \
                    or not reader._is_row_ref(theirs):
                return None
        where = sub.get("whereClause")
        if not where:
            return Cover()
        if _mentions(where, self.target - inner):
            return None  # the subquery's rows depend on the outer row
        return reader.cover(where)

    def _correlated(self, where: Any, inner: set[str]) -> Cover | None:
        """When EXISTS (SELECT … FROM target WHERE where) is true for every outer row: its WHERE
        holds for every row, apart from equalities that tie an inner column to the same outer
        column (the outer row then finds itself)."""
        if not where:
            return Cover()
        reader = self._inner(inner)
        outer_names = self.target - inner
        cover = Cover()
        for conjunct in _conjuncts(where):
            tie = self._tie(conjunct, inner, outer_names)
            if tie is not None:
                cover = cover.join(tie)
                continue
            if _mentions(conjunct, outer_names):
                return None
            part = reader.cover(conjunct)
            if part is None:
                return None
            cover = cover.join(part)
        return cover

    def _tie(self, node: Any, inner: set[str], outer: set[str]) -> Cover | None:
        fields = node.get("A_Expr") if isinstance(node, dict) else None
        if not isinstance(fields, dict) or [_sval(n) for n in fields.get("name", [])] != ["="] \
                or fields.get("kind") not in ("AEXPR_OP", "AEXPR_NOT_DISTINCT"):
            return None
        left, right = _qualified(fields.get("lexpr")), _qualified(fields.get("rexpr"))
        if left is None or right is None:
            return None
        (q1, c1), (q2, c2) = left, right
        if c1 != c2 or not ((q1 in outer and (q2 in inner or q2 == "")) or
                            (q2 in outer and (q1 in inner or q1 == ""))):
            return None
        nullable = fields["kind"] == "AEXPR_OP" and c1 not in SYSTEM_COLUMNS
        return Cover(frozenset({c1}) if nullable else frozenset())

    def _is_row_ref(self, node: Any) -> bool:
        fields = node.get("ColumnRef") if isinstance(node, dict) else None
        return isinstance(fields, dict) and self._is_row_column(fields, False, frozenset())


_NOT_CONSTANT = object()


def _tests(pred: Pred) -> Iterator[Test]:
    stack = [pred]
    while stack:
        item = stack.pop()
        if isinstance(item, Test):
            yield item
        elif isinstance(item, Not):
            stack.append(item.arg)
        elif isinstance(item, AllOf | AnyOf):
            stack.extend(item.args)


def _is_value(value: object) -> TypeGuard[Value]:
    return value is not _NOT_CONSTANT


def _sval(node: Any) -> str:
    if isinstance(node, dict) and "String" in node:
        return str(node["String"].get("sval", ""))
    return ""


def _items(node: Any) -> list[Any] | None:
    if isinstance(node, dict) and isinstance(node.get("List"), dict):
        items = node["List"].get("items", [])
        return items if isinstance(items, list) else None
    return None


def _column_name(node: Any) -> str:
    fields = node.get("ColumnRef") if isinstance(node, dict) else None
    parts = fields.get("fields", []) if isinstance(fields, dict) else []
    return _sval(parts[-1]) if parts else ""


def _qualified(node: Any) -> tuple[str, str] | None:
    """(qualifier or '', column) of a plain column reference."""
    fields = node.get("ColumnRef") if isinstance(node, dict) else None
    parts = [_sval(p) for p in fields.get("fields", [])] if isinstance(fields, dict) else []
    if len(parts) == 1 and parts[0]:
        return "", parts[0]
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    return None


def _conjuncts(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        item = stack.pop()
        fields = item.get("BoolExpr") if isinstance(item, dict) else None
        if isinstance(fields, dict) and fields.get("boolop") == "AND_EXPR":
            stack.extend(reversed(fields.get("args", [])))
        else:
            yield item


def _mentions(node: Any, names: set[str]) -> bool:
    for fields, _, hidden in _column_refs(node):
        parts = fields.get("fields", [])
        if len(parts) >= 2 and _sval(parts[-2]) in names and _sval(parts[-2]) not in hidden:
            return True
    return False


def _column_refs(root: Any) -> Iterator[tuple[JsonNode, bool, frozenset[str]]]:
    """Every ColumnRef under `root`: whether it sits inside a subquery, and which relation names
    the subqueries around it declare (they hide outer relations of the same name)."""
    stack: list[tuple[Any, bool, frozenset[str]]] = [(root, False, frozenset())]
    while stack:
        item, nested, hidden = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "ColumnRef":
                    yield value, nested, hidden
                elif isinstance(value, dict | list):
                    inner = hidden
                    if key == "SelectStmt" and isinstance(value, dict):
                        inner = hidden | frozenset(visible_names(value.get("fromClause", [])))
                    stack.append((value, nested or key == "subselect", inner))
        elif isinstance(item, list):
            stack.extend((v, nested, hidden) for v in item)

