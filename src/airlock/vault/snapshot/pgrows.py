"""From a DELETE or UPDATE statement to the query that reads exactly the rows it will touch.

The statement is parsed by libpg_query (through postgast) and the capture query is *built from
its parse tree* — its own relation, alias, USING/FROM list, WITH clause and WHERE clause — then
deparsed; no SQL text is cut or pasted. The capture locks what it reads (`FOR UPDATE OF` the
target), so in the same REPEATABLE READ transaction the statement then touches exactly those
rows.

Statements this cannot capture exactly are refused with the reason (the caller then protects
the whole table instead): more than one statement, no WHERE (the whole table goes: a table
snapshot says more), `WHERE CURRENT OF`, and WITH clauses that modify data.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airlock.vault.snapshot.pgcatalog import Column, Reference
from airlock.vault.snapshot.pgtools import qualified, quote_ident

_postgast: Any = importlib.import_module("postgast")


class NotCapturable(Exception):
    """The rows this statement touches cannot be listed exactly; the message says why."""


@dataclass(frozen=True)
class RowStatement:
    verb: str  # "delete" | "update"
    node: Any  # the DeleteStmt / UpdateStmt protobuf message
    functions: tuple[str, ...]  # names of functions called anywhere in it

    @property
    def relation(self) -> Any:
        return self.node.relation

    @property
    def table(self) -> str:
        """The target as `to_regclass` must see it (quoted parts keep their exact case)."""
        rel = self.relation
        return qualified(rel.schemaname, rel.relname) if rel.schemaname else quote_ident(rel.relname)

    @property
    def reference(self) -> str:
        """How the statement refers to its target: its alias, else its name."""
        rel = self.relation
        return str(rel.alias.aliasname if rel.HasField("alias") else rel.relname)

    @property
    def extra_from(self) -> list[Any]:
        return list(self.node.using_clause if self.verb == "delete" else self.node.from_clause)

    def capture_sql(self, columns: tuple[Column, ...]) -> str:
        """SELECT of the writable columns of every row the statement touches, locked."""
        ref = quote_ident(self.reference)
        cols = ", ".join(f"{ref}.{quote_ident(c.name)}" for c in columns)
        if not self.extra_from:
            return _build_select(cols, [self.relation], self.node.where_clause,
                                 self.node.with_clause if self.node.HasField("with_clause") else None,
                                 self.reference)
        return self._by_identity(cols)

    def estimate_sql(self, columns: tuple[Column, ...]) -> str:
        """The capture query without its lock, for EXPLAIN only: a subquery with FOR UPDATE
        is not flattened, and the planner then estimates a cascade's semi-join worse (a SET
        NULL child: 600 rows for the true 240 in tests/vault/test_cascade_estimates.py)."""
        ref = quote_ident(self.reference)
        cols = ", ".join(f"{ref}.{quote_ident(c.name)}" for c in columns)
        if not self.extra_from:
            return _build_select(cols, [self.relation], self.node.where_clause,
                                 self.node.with_clause if self.node.HasField("with_clause") else None,
                                 None)
        return self._by_identity(cols, lock=False)

    def _by_identity(self, cols: str, *, lock: bool = True) -> str:
        # With a join (USING / FROM) one target row can match several times: pick the rows by
        # identity, then read each once.
        ref = quote_ident(self.reference)
        inner = _build_select(f"{ref}.tableoid, {ref}.ctid", [self.relation, *self.extra_from],
                              self.node.where_clause,
                              self.node.with_clause if self.node.HasField("with_clause") else None,
                              self.reference if lock else None)
        only = "" if self.relation.inh else "ONLY "
        alias = f" AS {ref}"
        target = f"{only}{self.table}{alias}"
        return (f"SELECT {cols} FROM {target} WHERE ({ref}.tableoid, {ref}.ctid) IN ({inner})"
                + (f" FOR UPDATE OF {ref}" if lock else ""))


def _build_select(targets: str, from_items: list[Any], where: Any, with_clause: Any,
                  lock_ref: str | None) -> str:
    template = _postgast.parse(f"SELECT {targets} FROM pg_catalog.pg_class FOR UPDATE OF x")
    select = template.stmts[0].stmt.select_stmt
    del select.from_clause[:]
    for item in from_items:
        node = select.from_clause.add()
        if item.DESCRIPTOR.name == "RangeVar":
            node.range_var.CopyFrom(item)
        else:
            node.CopyFrom(item)
    select.where_clause.CopyFrom(where)
    if with_clause is not None:
        select.with_clause.CopyFrom(with_clause)
    if lock_ref is None:  # for EXPLAIN only (estimate_sql)
        del select.locking_clause[:]
        return str(_postgast.deparse(template))
    lock = select.locking_clause[0].locking_clause
    del lock.locked_rels[:]
    rel = lock.locked_rels.add().range_var
    rel.relname = lock_ref
    rel.inh = True
    rel.relpersistence = "p"
    return str(_postgast.deparse(template))


def parse_row_statement(text: str) -> RowStatement:
    """The one DELETE or UPDATE in `text`, or NotCapturable."""
    try:
        result = _postgast.parse(text)
    except Exception as exc:  # postgast raises its own error type for syntax errors
        raise NotCapturable(f"the statement does not parse: {exc}") from None
    if len(result.stmts) != 1:
        raise NotCapturable(f"the text holds {len(result.stmts)} statements; a before-image is "
                            "taken for one DELETE or UPDATE at a time")
    stmt = result.stmts[0].stmt
    kind = stmt.WhichOneof("node")
    if kind == "delete_stmt":
        node, verb = stmt.delete_stmt, "delete"
    elif kind == "update_stmt":
        node, verb = stmt.update_stmt, "update"
    else:
        raise NotCapturable(f"{kind} is not a DELETE or UPDATE")
    if not node.HasField("where_clause"):
        raise NotCapturable("it has no WHERE: every row of the table is touched")
    if node.where_clause.WhichOneof("node") == "current_of_expr":
        raise NotCapturable("WHERE CURRENT OF depends on a cursor airlock cannot see")
    if node.HasField("with_clause"):
        for cte in node.with_clause.ctes:
            if cte.common_table_expr.ctequery.WhichOneof("node") != "select_stmt":
                raise NotCapturable("its WITH clause modifies data")
    functions = tuple(sorted(set(_function_names(node))))
    return RowStatement(verb, node, functions)


def inserts_only(text: str) -> bool:
    """True when every statement is an INSERT without ON CONFLICT DO UPDATE (it adds rows and
    destroys none)."""
    try:
        stmts = _postgast.parse(text).stmts
    except Exception:
        return False
    for raw in stmts:
        stmt = raw.stmt
        if stmt.WhichOneof("node") != "insert_stmt":
            return False
        conflict = stmt.insert_stmt.on_conflict_clause
        if stmt.insert_stmt.HasField("on_conflict_clause") and conflict.target_list:
            return False  # ON CONFLICT … DO UPDATE overwrites rows
    return bool(stmts)


def _function_names(message: Any) -> Iterator[str]:
    """Every function called anywhere under a protobuf message (for the volatility check)."""
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        items = value if descriptor.is_repeated else [value]
        for item in items:
            if descriptor.message_type.name == "FuncCall":
                names = [n.string.sval for n in item.funcname]
                if names:
                    yield names[-1]
            yield from _function_names(item)


def child_capture_sql(ref: Reference, columns: tuple[Column, ...], parent_sql: str, *,
                      lock: bool = True) -> str:
    """The rows of a referencing table that a cascade reaches from the parent's captured rows
    (`lock=False`: the same semi-join for EXPLAIN, over the parent's unlocked estimate_sql)."""
    alias = quote_ident("airlock_child")
    cols = ", ".join(f"{alias}.{quote_ident(c.name)}" for c in columns)
    fk = ", ".join(f"{alias}.{quote_ident(c)}" for c in ref.columns)
    keys = ", ".join(f"p.{quote_ident(c)}" for c in ref.referenced)
    return (f"SELECT {cols} FROM {qualified(ref.schema, ref.table)} AS {alias} "
            f"WHERE ({fk}) IN (SELECT {keys} FROM ({parent_sql}) AS p)"
            + (f" FOR UPDATE OF {alias}" if lock else ""))
