"""AWS operations whose effect depends on the shape of their body, not only on their name.

- DynamoDB BatchWriteItem / TransactWriteItems mix puts and deletes in one call;
- DynamoDB ExecuteStatement and friends carry PartiQL, whose first keyword is the operation
  (DynamoDB runs exactly one statement per entry, so the keyword is the whole story);
- Route 53 ChangeResourceRecordSets deletes records when a change says Action DELETE.

Each reader returns effects, or raises `SpecialError` when the body cannot be read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from airlock.classify.providers.aws_xml import XmlError, descendants, parse_xml
from airlock.classify.providers.labels import make_effects
from airlock.model import Effect, Risk, Target, Verb


class SpecialError(ValueError):
    """A body the special reader cannot make sense of."""


Reader = Callable[[Mapping[str, Any], str, tuple[Target, ...]], list[Effect]]


def _table(name: Any) -> Target:
    return Target("aws:dynamodb:table", name if isinstance(name, str) and name else "?")


def batch_write_item(params: Mapping[str, Any], prefix: str,
                     context: tuple[Target, ...]) -> list[Effect]:
    items = params.get("RequestItems")
    if not isinstance(items, Mapping) or not items:
        raise SpecialError("BatchWriteItem has no RequestItems")
    effects: list[Effect] = []
    for table, requests in items.items():
        if not isinstance(requests, list):
            raise SpecialError(f"BatchWriteItem entries for {table} are not a list")
        kinds = {k for r in requests if isinstance(r, Mapping) for k in r}
        if not kinds <= {"PutRequest", "DeleteRequest"} or len(kinds) == 0:
            raise SpecialError(f"BatchWriteItem entries for {table} are not put or delete requests")
        deletes = sum(1 for r in requests if isinstance(r, Mapping) and "DeleteRequest" in r)
        if deletes:
            effects += make_effects(Verb.DELETE, Risk.DESTRUCTIVE,
                                    f"{prefix} deletes {deletes} item(s) of table {table}",
                                    (_table(table), *context), scope="item")
        else:
            effects += make_effects(Verb.WRITE, Risk.WRITE,
                                    f"{prefix} writes items to table {table}",
                                    (_table(table), *context), scope="item")
    return effects


def transact_write_items(params: Mapping[str, Any], prefix: str,
                         context: tuple[Target, ...]) -> list[Effect]:
    items = params.get("TransactItems")
    if not isinstance(items, list) or not items:
        raise SpecialError("TransactWriteItems has no TransactItems")
    effects: list[Effect] = []
    for item in items:
        if not isinstance(item, Mapping) or len(item) != 1:
            raise SpecialError("a TransactWriteItems entry is not one action")
        action, body = next(iter(item.items()))
        table = _table(body.get("TableName") if isinstance(body, Mapping) else None)
        if action == "Delete":
            effects += make_effects(Verb.DELETE, Risk.DESTRUCTIVE,
                                    f"{prefix} deletes an item of table {table.value}",
                                    (table, *context), scope="item")
        elif action in ("Put", "Update"):
            effects += make_effects(Verb.WRITE, Risk.WRITE,
                                    f"{prefix} writes an item of table {table.value}",
                                    (table, *context), scope="item")
        elif action == "ConditionCheck":
            effects += make_effects(Verb.READ, Risk.READ,
                                    f"{prefix} checks an item of table {table.value}",
                                    (table, *context))
        else:
            raise SpecialError(f"TransactWriteItems action {action!r} is not one airlock knows")
    return effects


_KEYWORD = re.compile(r"\s*([A-Za-z]+)")
_PARTIQL = {"SELECT": (Verb.READ, Risk.READ, "reads"),
            "INSERT": (Verb.WRITE, Risk.WRITE, "inserts into"),
            "UPDATE": (Verb.WRITE, Risk.WRITE, "updates"),
            "DELETE": (Verb.DELETE, Risk.DESTRUCTIVE, "deletes from")}


def partiql(params: Mapping[str, Any], prefix: str,
            context: tuple[Target, ...]) -> list[Effect]:
    statements: list[Any] = []
    if "Statement" in params:
        statements.append(params["Statement"])
    for key in ("Statements", "TransactStatements"):
        entries = params.get(key)
        if isinstance(entries, list):
            statements += [e.get("Statement") if isinstance(e, Mapping) else None
                           for e in entries]
    if not statements:
        raise SpecialError("the request carries no PartiQL statement")
    effects: list[Effect] = []
    for statement in statements:
        match = _KEYWORD.match(statement) if isinstance(statement, str) else None
        keyword = match.group(1).upper() if match else ""
        if keyword not in _PARTIQL:
            raise SpecialError(f"a PartiQL statement starts with {keyword or 'nothing'!r}")
        verb, risk, does = _PARTIQL[keyword]
        shown = " ".join(str(statement).split())[:80]
        effects += make_effects(verb, risk, f"{prefix} {does} a table: {shown}", context)
    return effects


def route53_changes(params: Mapping[str, Any], body: str) -> dict[str, Any]:
    """Route 53 parameters plus "Deletes": "true" when any change deletes records."""
    try:
        root = parse_xml(body)
    except XmlError as exc:
        raise SpecialError(f"the change batch cannot be read: {exc}") from None
    actions = [(node.text or "").strip().upper() for node in descendants(root, "Action")]
    if not actions:
        raise SpecialError("the change batch holds no change")
    return {**params, "Deletes": "true" if "DELETE" in actions else "false"}


READERS: dict[str, Reader] = {
    "dynamodb.BatchWriteItem": batch_write_item,
    "dynamodb.TransactWriteItems": transact_write_items,
    "dynamodb.ExecuteStatement": partiql,
    "dynamodb.BatchExecuteStatement": partiql,
    "dynamodb.ExecuteTransaction": partiql,
}
