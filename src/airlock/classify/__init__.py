"""Classifiers: turn an Action into an Assessment.

Each action kind has one classifier function, total by contract: it never raises, it finishes in
bounded time, and whatever it cannot understand becomes an effect of risk `unknown`. The gate
still wraps every call (an exception becomes an unknown assessment), but a classifier that
raises is a bug.

    classify_shell(command)          shell.py    tree-sitter-bash, rule packs in data/rules
    classify_sql(text, dialect)      sql.py      libpg_query (postgast) and sqlglot
    classify_http(request)           http.py     methods, GraphQL (graphql-core), providers
    classify_file(path, write)       files.py    reads and writes of local files
"""

from __future__ import annotations

from typing import Protocol, assert_never

from airlock.model import (
    Action,
    Assessment,
    FileAccess,
    HttpRequest,
    McpCall,
    ShellCommand,
    SqlQuery,
)

# Anything larger is not parsed at all: it is unknown. Parsers are fast, but a bound on input
# size is what keeps their worst case bounded.
MAX_INPUT_BYTES = 100 * 1024


class Classifier(Protocol):
    def classify(self, action: Action) -> Assessment: ...


class KindDispatch:
    """The production classifier: sends each action to the classifier for its kind."""

    def classify(self, action: Action) -> Assessment:
        from airlock.classify.files import classify_file
        from airlock.classify.http import classify_http
        from airlock.classify.shell import classify_shell
        from airlock.classify.sql import classify_sql

        payload = action.payload
        if isinstance(payload, ShellCommand):
            return classify_shell(payload.command)
        if isinstance(payload, SqlQuery):
            return classify_sql(payload.text, payload.dialect)
        if isinstance(payload, HttpRequest):
            return classify_http(payload)
        if isinstance(payload, FileAccess):
            return classify_file(payload.path, write=payload.write)
        if isinstance(payload, McpCall):
            return Assessment.unknown(
                f"no classifier knows MCP tool {payload.server}.{payload.tool}",
                classifier="mcp")
        assert_never(payload)  # a new payload type without a classifier fails here, closed


class FixedClassifier:
    """In-memory twin for tests: returns the assessment it was given (or per action id)."""

    def __init__(self, assessment: Assessment) -> None:
        self.assessment = assessment
        self.seen: list[Action] = []

    def classify(self, action: Action) -> Assessment:
        self.seen.append(action)
        return self.assessment
