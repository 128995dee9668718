"""Classifiers: turn an Action into an Assessment.

Each action kind has one classifier function, total by contract: it never raises, it finishes in
bounded time, and whatever it cannot understand becomes an effect of risk `unknown`. The gate
still wraps every call (an exception becomes an unknown assessment), but a classifier that
raises is a bug.

    classify_shell(command, cwd, reader)  shell/  tree-sitter-bash, rule packs in data/rules;
                                                 the scripts a command runs, read and judged
    classify_sql(text, dialect)      sql.py      libpg_query (postgast) and sqlglot
    classify_http(request)           http.py     methods, GraphQL (graphql-core), providers
    classify_file(path, write)       files.py    reads and writes of local files
    classify_file_access(access)     secrets_files.py  the same, plus credential files (names,
                                                 locations, detect-secrets) and airlock's own
    classify_mcp(call)               mcp.py      MCP tool calls: arguments, name, server annotations
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, assert_never

from airlock.model import (
    Action,
    Assessment,
    FileAccess,
    HttpRequest,
    McpCall,
    ShellCommand,
    SqlQuery,
)

if TYPE_CHECKING:
    from airlock.classify.secrets_files import FileRules
    from airlock.classify.shell.files import ScriptReader

# Anything larger is not parsed at all: it is unknown. Parsers are fast, but a bound on input
# size is what keeps their worst case bounded.
MAX_INPUT_BYTES = 100 * 1024


class Classifier(Protocol):
    def classify(self, action: Action) -> Assessment: ...


class KindDispatch:
    """The production classifier: sends each action to the classifier for its kind.

    `files` carries what the configuration says about files (credential files agents may read,
    airlock's own files); without it only the built-in credential rules apply. `scripts` reads
    the files a shell command runs (default: this machine's, bounded), so `bash deploy.sh` is
    judged by what deploy.sh contains."""

    def __init__(self, files: FileRules | None = None,
                 scripts: ScriptReader | None = None) -> None:
        self.files = files
        if scripts is None:
            from airlock.classify.shell.files import DiskReader

            scripts = DiskReader()
        self.scripts = scripts

    def classify(self, action: Action) -> Assessment:
        # Each classifier is imported when its kind first comes: an `ls` in a one-shot hook
        # process must not pay for the SQL parser (sqlglot) or the HTTP rules.
        payload = action.payload
        if isinstance(payload, ShellCommand):
            from airlock.classify.shell import classify_shell

            return classify_shell(payload.command, cwd=action.context.cwd, reader=self.scripts)
        if isinstance(payload, SqlQuery):
            from airlock.classify.sql import classify_sql

            return classify_sql(payload.text, payload.dialect)
        if isinstance(payload, HttpRequest):
            from airlock.classify.http import classify_http

            return classify_http(payload)
        if isinstance(payload, FileAccess):
            from airlock.classify.secrets_files import classify_file_access

            return classify_file_access(payload, cwd=action.context.cwd, rules=self.files)
        if isinstance(payload, McpCall):
            from airlock.classify.http import classify_http
            from airlock.classify.mcp import classify_mcp
            from airlock.classify.shell import classify_shell
            from airlock.classify.sql import classify_sql

            return classify_mcp(payload, classify_sql=classify_sql,
                                classify_shell=classify_shell, classify_http=classify_http)
        assert_never(payload)  # a new payload type without a classifier fails here, closed


class FixedClassifier:
    """In-memory twin for tests: returns the assessment it was given (or per action id)."""

    def __init__(self, assessment: Assessment) -> None:
        self.assessment = assessment
        self.seen: list[Action] = []

    def classify(self, action: Action) -> Assessment:
        self.seen.append(action)
        return self.assessment
