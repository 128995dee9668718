"""The one DELETE or UPDATE of a PostgreSQL text, and the rows its WHERE reaches as the text
alone tells (`truth.RowReach`): what a live check against the database (`airlock.reach`) starts
from. Pure: parsing only."""

from __future__ import annotations

from dataclasses import dataclass

from airlock.classify.sql import libpg
from airlock.classify.sql.libpg import PgSyntaxError
from airlock.classify.sql.pg_statements import row_reach
from airlock.classify.sql.postgres import relation_name
from airlock.classify.sql.truth import RowReach
from airlock.classify.sql.verdict import Judgement


@dataclass(frozen=True, slots=True)
class RowWrite:
    verb: str  # "DELETE" | "UPDATE"
    table: str  # as the classifier names it in its targets (`table:<table>`)
    reach: RowReach


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
    return RowWrite("DELETE" if deleting else "UPDATE",
                    relation_name(fields.get("relation", {})), reach)
