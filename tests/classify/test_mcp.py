"""MCP tool calls with the real classifiers: every argument (nested too), the tool's name, and
its server's annotations, which may raise risk but never lower it below what the arguments show."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airlock.classify import KindDispatch
from airlock.classify.mcp import looks_like_sql, risk_of_annotations, risk_of_name
from airlock.model import Action, Assessment, McpCall, Risk

READ_ONLY = {"readOnlyHint": True}
DESTRUCTIVE = {"readOnlyHint": False, "destructiveHint": True}


def judge(tool: str, arguments: Any, annotations: dict[str, Any] | None = None) -> Assessment:
    call = McpCall("db", tool, json.dumps(arguments),
                   json.dumps(annotations) if annotations is not None else "")
    return KindDispatch().classify(Action(call, "agent", "test"))


@pytest.mark.parametrize(("arguments", "risk"), [
    ({"options": {"sql": "DROP TABLE users"}}, Risk.DESTRUCTIVE),             # nested
    ({"sql": "SELECT 1", "extra": {"statement": "DROP TABLE x"}}, Risk.DESTRUCTIVE),  # not the first
    ({"statements": ["SELECT 1", "TRUNCATE users"]}, Risk.DESTRUCTIVE),       # a list of them
    ({"batch": [{"sql": "SELECT 1"}, {"sql": "DELETE FROM t"}]}, Risk.DESTRUCTIVE),
    ({"sqlQuery": "DROP TABLE users"}, Risk.DESTRUCTIVE),                     # any spelling
    ({"command": "rm", "args": ["-rf", "/srv/data"]}, Risk.DESTRUCTIVE),      # the whole argv
    ({"command": "rm", "args": "-rf /srv/data"}, Risk.DESTRUCTIVE),
    ({"note": "DROP TABLE users"}, Risk.DESTRUCTIVE),                         # SQL by its look
    ({"command": "echo", "args": {"sql": "DROP TABLE x"}}, Risk.DESTRUCTIVE),  # odd argv: walked
    ({"url": "https://db.example.com/run", "method": "GET",
      "body": {"statement": "DROP TABLE users"}}, Risk.DESTRUCTIVE),        # SQL in a body
    ({"query": "/*!50000 DROP TABLE users */", "dialect": "mysql"}, Risk.UNKNOWN),  # hidden SQL
])
def test_every_argument_counts_even_under_a_read_only_hint(arguments: Any, risk: Risk) -> None:
    assessment = judge("run", arguments, READ_ONLY)
    assert assessment.risk is risk, assessment.reasons


def test_a_read_stays_a_read_when_arguments_and_hints_agree() -> None:
    assessment = judge("run_sql", {"sql": "SELECT * FROM users"}, READ_ONLY)
    assert assessment.risk is Risk.READ and assessment.complete
    assert judge("run_sql", {"sql": "SELECT * FROM users"}).risk is Risk.READ


def test_hints_raise_risk_above_what_the_arguments_show() -> None:
    assessment = judge("run_sql", {"sql": "SELECT 1"}, DESTRUCTIVE)
    assert assessment.risk is Risk.DESTRUCTIVE
    assert any("declares it may destroy" in r for r in assessment.reasons)


def test_a_tool_whose_arguments_show_nothing_is_judged_by_name_and_hints() -> None:
    assert judge("list_volumes", {}, READ_ONLY).risk is Risk.READ
    # A `query` is read as SQL whatever it looks like (a server may run it; a search phrase does
    # not parse), and a read-only hint cannot lower that; prose under another name is no evidence.
    search = judge("search", {"query": "how do I drop a table?"}, READ_ONLY)
    assert search.risk is Risk.UNKNOWN and not search.complete
    assert any("argument query (read as SQL, as a query may be)" in e.reason
               for e in search.effects), search.effects
    assert judge("search", {"text": "how do I drop a table?"}, READ_ONLY).risk is Risk.READ
    assert judge("create_issue", {"title": "Update the docs"}, READ_ONLY).risk is Risk.WRITE
    assert judge("delete_volume", {"volume_id": "v1"}, READ_ONLY).risk is Risk.CATASTROPHIC
    assert judge("volumeDelete", {"id": "v1"}).risk is Risk.CATASTROPHIC  # no hints at all
    assert judge("remove_label", {"id": 1}).risk is Risk.DESTRUCTIVE
    assert judge("send_mail", {"to": "a@b"}, {"readOnlyHint": False,
                                              "destructiveHint": False}).risk is Risk.WRITE
    # MCP's defaults: annotated but not read-only means it may destroy
    assert judge("frobnicate", {}, {"title": "Frobnicate"}).risk is Risk.DESTRUCTIVE


def test_no_evidence_at_all_is_unknown() -> None:
    for tool, arguments in (("list_volumes", {}), ("create_issue", {"title": "x"}),
                            ("search", {"query": "drop everything"})):
        assessment = judge(tool, arguments)
        assert assessment.risk is Risk.UNKNOWN and not assessment.complete, tool


def test_bad_hints_and_bad_nesting_are_unknown_never_read() -> None:
    assert judge("list", {}, {"readOnlyHint": "yes"}).risk is Risk.DESTRUCTIVE
    deep: Any = "SELECT 1"
    for _ in range(40):
        deep = {"x": deep}
    assessment = judge("list", deep, READ_ONLY)
    assert assessment.risk is Risk.UNKNOWN and not assessment.complete


def test_the_pieces() -> None:
    assert risk_of_name("getUserDatabases") == (None, "")
    assert risk_of_name("dropDatabase")[0] is Risk.CATASTROPHIC
    assert risk_of_name("update_row")[0] is Risk.WRITE
    assert risk_of_annotations("") == (None, "")
    assert risk_of_annotations('{"readOnlyHint": true, "destructiveHint": true}')[0] \
        is Risk.DESTRUCTIVE
    assert risk_of_annotations("[1]")[0] is Risk.UNKNOWN
    for text in ("select 1", "  (SELECT 1)", "-- x\nDROP TABLE t", "/*! DROP */", "WITH a AS (…)"):
        assert looks_like_sql(text), text
    for text in ("how to drop a table", "", "42", "Updated the docs"):
        assert not looks_like_sql(text), text


def test_annotations_are_part_of_what_an_approval_binds() -> None:
    plain = McpCall("db", "t", "{}")
    hinted = McpCall("db", "t", "{}", '{"readOnlyHint": true}')
    assert "annotations" not in plain.canonical()  # digests of hook calls did not change
    assert hinted.canonical()["annotations"] == {"readOnlyHint": True}


def test_unreadable_arguments_stay_unknown_and_a_worse_name_still_counts() -> None:
    twice = '{"sql": "SELECT 1", "sql": "DROP TABLE users"}'
    for hints in ('{"readOnlyHint": true}', ""):
        held = KindDispatch().classify(Action(McpCall("db", "list", twice, hints),
                                              "agent", "test"))
        assert held.risk is Risk.UNKNOWN and not held.complete
    worse = KindDispatch().classify(Action(McpCall("db", "drop_database", twice), "agent", "test"))
    assert worse.risk is Risk.CATASTROPHIC and not worse.complete


def test_a_requests_headers_are_walked_too() -> None:
    assessment = judge("fetch", {"url": "https://db.example.com/run",
                                 "headers": {"X-Run": "DROP TABLE users"}}, READ_ONLY)
    assert assessment.risk is Risk.DESTRUCTIVE, assessment.reasons
