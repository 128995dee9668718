"""MCP calls are judged by their arguments (SQL, command, URL) or are unknown."""

from __future__ import annotations

import json

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
