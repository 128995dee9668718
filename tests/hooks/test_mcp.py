"""MCP calls are judged by their arguments (SQL, command, URL) or are unknown."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from airlock.classify import KindDispatch
from airlock.classify.mcp import classify_mcp
from airlock.model import (
    Action,
    ActionContext,
    Assessment,
    Effect,
    HttpRequest,
    McpCall,
    Risk,
    Target,
    Verb,
)
from tests.cli import airlock
from tests.hooks.conftest import fixture, raw


def _fixed(risk: Risk, seen: list[object]) -> Assessment:
    return Assessment.of([Effect(Verb.WRITE if risk is Risk.WRITE else Verb.READ, risk, "inner",
                                 Target("table", "users", contextual=True))], classifier="inner")


def _classify(arguments: object, risk: Risk = Risk.WRITE) -> tuple[Assessment, list[object]]:
    seen: list[object] = []

    def sql(text: str, dialect: str) -> Assessment:
        seen.append(("sql", text, dialect))
        return _fixed(risk, seen)

    def shell(command: str) -> Assessment:
        seen.append(("shell", command))
        return _fixed(risk, seen)

    def http(request: HttpRequest) -> Assessment:
        seen.append(("http", request))
        return _fixed(risk, seen)

    call = McpCall("db", "run", arguments if isinstance(arguments, str) else json.dumps(arguments))
    return classify_mcp(call, classify_sql=sql, classify_shell=shell, classify_http=http), seen


def test_sql_arguments_are_classified_as_sql() -> None:
    assessment, seen = _classify({"query": "DELETE FROM users", "dialect": "mysql"})
    assert seen == [("sql", "DELETE FROM users", "mysql")]
    assert assessment.risk is Risk.WRITE and assessment.classifier == "mcp"
    assert "db.run argument query: inner" in assessment.reasons
    assert Target("mcp", "db/run") in assessment.targets  # a resource can claim the tool


def test_commands_and_urls() -> None:
    _, seen = _classify({"command": "ls -la"})
    assert seen == [("shell", "ls -la")]
    _, seen = _classify({"url": "https://api.example.com/x", "method": "delete",
                         "headers": {"A": "b"}, "body": {"k": 1}})
    assert seen == [("http", HttpRequest("DELETE", "https://api.example.com/x", (("A", "b"),),
                                         '{"k": 1}'))]


def test_unknown_tools_are_unknown() -> None:
    for arguments in ({"owner": "acme", "title": "x"}, {}, {"query": 42}, "[1]", "{bad"):
        assessment, seen = _classify(arguments)
        assert seen == []
        assert assessment.risk is Risk.UNKNOWN and not assessment.complete
        assert assessment.targets == (Target("mcp", "db/run"),)


def test_an_incomplete_argument_keeps_the_call_incomplete() -> None:
    def unknown_sql(text: str, dialect: str) -> Assessment:
        return Assessment.unknown("could not parse", classifier="sql")

    call = McpCall("db", "run", '{"sql": "DROP ???"}')
    assessment = classify_mcp(call, classify_sql=unknown_sql, classify_shell=lambda c: unknown_sql(c, ""),
                              classify_http=lambda r: unknown_sql("", ""))
    assert not assessment.complete and assessment.risk.at_least(Risk.UNKNOWN)


def test_the_production_dispatch_routes_mcp_calls_here() -> None:
    action = Action(McpCall("github", "create_issue", '{"title": "x"}'), "agent", "hook:claude",
                    ActionContext())
    assessment = KindDispatch().classify(action)
    assert assessment.classifier == "mcp" and assessment.risk is Risk.UNKNOWN


# --------------------------------------------------------------------------------------------
# Every argument that could run is judged, with the real classifiers; the worst wins

EVERY_ARGUMENT = [
    # (id, arguments, risk, where the worst came from)
    ("second-sql-argument", {"sql": "SELECT 1", "query": "DROP TABLE users"},
     Risk.DESTRUCTIVE, "argument query"),
    ("first-sql-argument", {"query": "DROP TABLE users", "sql": "SELECT 1"},
     Risk.DESTRUCTIVE, "argument query"),
    ("nested-object", {"options": {"sql": "DROP TABLE users"}, "query": "SELECT 1"},
     Risk.DESTRUCTIVE, "argument options.sql"),
    ("array", {"queries": ["SELECT 1", "TRUNCATE users"]}, Risk.DESTRUCTIVE,
     "argument queries[1]"),
    ("array-of-objects", {"batch": [{"sql": "SELECT 1"}, {"sql": "DELETE FROM t"}]},
     Risk.DESTRUCTIVE, "argument batch[1].sql"),
    ("camel-case-name", {"sqlQuery": "DROP TABLE users"}, Risk.DESTRUCTIVE, "argument sqlQuery"),
    ("dialect-above", {"db": {"dialect": "mysql", "batch": [{"sql": "DELETE FROM t WHERE 1"}]}},
     Risk.DESTRUCTIVE, "argument db.batch[0].sql"),
    ("sql-under-another-name", {"query": "SELECT 1", "then": "DROP TABLE users"},
     Risk.DESTRUCTIVE, "argument then (reads as SQL)"),
    ("command-under-another-name", {"query": "SELECT 1", "note": "rm -rf /srv/data"},
     Risk.DESTRUCTIVE, "argument note (reads as a command)"),
    ("command-after-a-separator", {"sql": "SELECT 1", "x": "echo hi; rm -rf /srv/data"},
     Risk.DESTRUCTIVE, "argument x (reads as a command)"),
    ("command-behind-assignment", {"sql": "SELECT 1", "x": "A=1 rm -rf /srv/data"},
     Risk.DESTRUCTIVE, "argument x (reads as a command)"),
    ("argv", {"command": ["rm", "-rf", "/srv/data"]}, Risk.DESTRUCTIVE,
     "argument command (as one command)"),
    ("command-and-args", {"command": "rm", "args": ["-rf", "/srv/data"]}, Risk.DESTRUCTIVE,
     "argument command with its args"),
    ("list-of-commands", {"commands": ["ls", "rm -rf /srv/data"]}, Risk.DESTRUCTIVE,
     "argument commands[1]"),
    ("nested-request", {"request": {"url": "https://api.example.com/v1/x", "method": "DELETE"}},
     Risk.DESTRUCTIVE, "argument request.url"),
    ("url-under-another-name", {"sql": "SELECT 1", "callback": "https://x.example/hook"},
     Risk.READ, "argument callback (reads as a URL)"),
]


def _real(arguments: object) -> Assessment:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return KindDispatch().classify(Action(McpCall("db", "run", text), "agent", "hook:claude"))


@pytest.mark.parametrize(("arguments", "risk", "where"),
                         [pytest.param(a, r, w, id=i) for i, a, r, w in EVERY_ARGUMENT])
def test_every_argument_that_could_run_is_judged(arguments: object, risk: Risk,
                                                 where: str) -> None:
    assessment = _real(arguments)
    assert assessment.risk is risk, assessment.reasons
    assert any(f"db.run {where}" in e.reason for e in assessment.effects), assessment.effects


@pytest.mark.parametrize("arguments", [
    {"sql": "SELECT 1", "title": "Update the docs", "body": "Make it work, then ship"},
    {"sql": "SELECT 1", "description": "Delete it later", "labels": ["bug", "p1"], "n": 3},
    {"command": ["ls", "-la"]},
    {"sql": "SELECT 1", "dialect": "postgres", "meta": {"owner": "acme"}},
], ids=["prose", "prose-and-scalars", "harmless-argv", "inert-nesting"])
def test_prose_and_plain_values_are_not_read_as_code(arguments: object) -> None:
    assert _real(arguments).risk is Risk.READ, _real(arguments).reasons


def _deep(levels: int) -> dict[str, object]:
    value: dict[str, object] = {"sql": "SELECT 1"}
    for _ in range(levels):
        value = {"x": value}
    return value


@pytest.mark.parametrize(("arguments", "says"), [
    ('{"sql": "SELECT 1", "sql": "DROP TABLE users"}', "name 'sql' twice"),
    ('{"a": {"q": 1, "q": 2}, "sql": "SELECT 1"}', "name 'q' twice"),
    (_deep(40), "nested deeper than 32"),
    ({"queries": ["SELECT 1"] * 70}, "more than 64"),
    ('{"sql": "SELECT 1"', "not valid JSON"),
], ids=["duplicate-key", "duplicate-nested-key", "too-deep", "too-many", "not-json"])
def test_arguments_that_cannot_be_read_are_unknown(arguments: object, says: str) -> None:
    assessment = _real(arguments)
    assert assessment.risk is Risk.UNKNOWN and not assessment.complete
    assert any(says in r for r in assessment.reasons), assessment.reasons


# --------------------------------------------------------------------------------------------
# Through `airlock hook`, with the harnesses' own payloads


def _hook(harness: str, data: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return airlock("hook", harness, "--state-dir", str(tmp_path / "state"), cwd=tmp_path,
                   input=raw(data).decode())


def test_a_destructive_second_argument_holds_the_call_in_every_harness(tmp_path: Path) -> None:
    for harness, name in (("claude", "pretooluse_mcp"), ("codex", "pretooluse_mcp")):
        data = fixture(harness, name)
        data["tool_input"] = {"sql": "SELECT count(*) FROM orders",
                              "options": {"statement": "DROP TABLE orders"}}
        held = _hook(harness, data, tmp_path)
        assert held.returncode == 2, held.stderr
        assert "airlock held this action" in held.stderr
        data["tool_input"] = {"sql": "SELECT count(*) FROM orders",
                              "options": {"statement": "SELECT 1"}}
        assert _hook(harness, data, tmp_path).returncode == 0
    cursor = fixture("cursor", "before_mcp_execution")
    cursor["tool_input"] = json.dumps({"sql": "SELECT 1", "then": "TRUNCATE users"})
    answer = json.loads(_hook("cursor", cursor, tmp_path).stdout)
    assert answer["permission"] == "deny" and "TRUNCATE" in answer["user_message"]


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    cursor = fixture("cursor", "before_mcp_execution")
    cursor["tool_input"] = '{"sql": "SELECT 1", "sql": "DROP TABLE users"}'
    answer = json.loads(_hook("cursor", cursor, tmp_path).stdout)
    assert answer["permission"] == "deny"
    assert "'sql' twice" in answer["user_message"]
