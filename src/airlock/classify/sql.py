"""SQL classification (placeholder until the libpg_query/sqlglot classifier lands): unknown."""

from __future__ import annotations

from airlock.model import Assessment


def classify_sql(text: str, dialect: str = "postgres") -> Assessment:
    return Assessment.unknown("SQL is not classified yet", classifier="sql")
