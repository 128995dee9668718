"""The wrap relay, sans-io: lines in, steps out, replayed message by message."""

from __future__ import annotations

import json
from typing import Any

from airlock.fronts.mcp.relay import MAX_LINE, Judge, Relay, Ruling, Send, Step


def line(message: Any) -> bytes:
    return json.dumps(message).encode() + b"\n"


def sent(steps: list[Step]) -> list[tuple[str, Any]]:
    return [(s.to, json.loads(s.line)) for s in steps if isinstance(s, Send)]


LIST_ANSWER = {"jsonrpc": "2.0", "id": 2, "result": {"tools": [
    {"name": "drop_it", "inputSchema": {}, "annotations": {"destructiveHint": True}},
    {"name": "peek", "inputSchema": {}, "annotations": {"readOnlyHint": True}},
    {"name": "plain", "inputSchema": {}}]}}


def listed_relay() -> Relay:
    relay = Relay("srv")
    assert sent(relay.from_client(line({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))) == \
        [("server", {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})]
    assert relay.from_server(line(LIST_ANSWER)) == [Send("client", line(LIST_ANSWER))]
    return relay


def test_tools_list_answers_are_remembered_and_calls_carry_the_annotations() -> None:
    relay = listed_relay()
    assert relay.tools == {"drop_it": '{"destructiveHint": true}', "peek": '{"readOnlyHint": true}',
                           "plain": ""}
    request = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": "peek", "arguments": {"a": {"b": 1}}}}
    [step] = relay.from_client(line(request))
    assert isinstance(step, Judge)
    assert (step.call.server, step.call.tool) == ("srv", "peek")
    assert json.loads(step.call.arguments_json) == {"a": {"b": 1}}
    assert step.call.annotations_json == '{"readOnlyHint": true}'
    # allowed: the very request that was judged goes on; refused: answered, never forwarded
    assert sent(relay.judged(step, Ruling(True))) == [("server", request)]
    [(to, answer)] = sent(relay.judged(step, Ruling(False, "airlock held it: approve apr_1")))
    assert to == "client" and answer == {"jsonrpc": "2.0", "id": 3, "result": {
        "content": [{"type": "text", "text": "airlock held it: approve apr_1"}], "isError": True}}


def test_a_held_answer_in_the_per_request_era_says_it_is_complete() -> None:
    relay = listed_relay()
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}
    [step] = relay.from_client(line({"jsonrpc": "2.0", "id": "x", "method": "tools/call",
                                     "params": {"name": "peek", "_meta": meta}}))
    assert isinstance(step, Judge)
    [(_, answer)] = sent(relay.judged(step, Ruling(False, "no")))
    assert answer["result"]["resultType"] == "complete" and answer["id"] == "x"


def test_a_call_of_an_unlisted_tool_asks_the_server_for_the_list_first() -> None:
    relay = Relay("srv")
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}
    call = {"jsonrpc": "2.0", "id": 9, "method": "tools/call",
            "params": {"name": "later", "arguments": {}, "_meta": meta}}
    [(to, own)] = sent(relay.from_client(line(call)))
    assert to == "server" and own["method"] == "tools/list" and own["id"] == "airlock-tools-1"
    assert own["params"] == {"_meta": meta}
    second = {**call, "id": 10}
    assert relay.from_client(line(second)) == []  # waits for the same list
    page1 = {"jsonrpc": "2.0", "id": "airlock-tools-1",
             "result": {"tools": [{"name": "x", "inputSchema": {}}], "nextCursor": "c2"}}
    [(to, again)] = sent(relay.from_server(line(page1)))  # answered to nobody but the relay
    assert to == "server" and again["params"]["cursor"] == "c2"
    page2 = {"jsonrpc": "2.0", "id": again["id"], "result": {"tools": [
        {"name": "later", "inputSchema": {}, "annotations": {"readOnlyHint": True}}]}}
    steps = relay.from_server(line(page2))
    assert [s.request["id"] for s in steps if isinstance(s, Judge)] == [9, 10]
    assert all(isinstance(s, Judge) and s.call.annotations_json for s in steps)


def test_what_the_relay_cannot_read_is_answered_and_never_forwarded() -> None:
    relay = listed_relay()
    duplicate = b'{"jsonrpc":"2.0","id":4,"method":"tools/list","method":"tools/call",' \
                b'"params":{"name":"drop_it"}}\n'
    cases: list[bytes] = [
        b"{not json\n",
        duplicate,  # parsers disagree on which `method` wins
        line([{"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "peek"}}]),
        line({"jsonrpc": "2.0", "id": "airlock-tools-7", "method": "tools/list"}),
        line({"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {}}),
        b'"just a string"\n',
        b"x" * (MAX_LINE + 1),
    ]
    for raw in cases:
        steps = relay.from_client(raw)
        assert steps and all(isinstance(s, Send) and s.to == "client" for s in steps), raw[:60]
        assert all("error" in json.loads(s.line) for s in steps if isinstance(s, Send))
    # a tools/call notification cannot be answered, so it is dropped rather than run unjudged
    assert relay.from_client(line({"jsonrpc": "2.0", "method": "tools/call",
                                   "params": {"name": "drop_it"}})) == []


def test_everything_else_passes_and_list_changes_forget_the_annotations() -> None:
    relay = listed_relay()
    for message in ({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
                    {"jsonrpc": "2.0", "method": "notifications/initialized"},
                    {"jsonrpc": "2.0", "id": 7, "method": "resources/read", "params": {"uri": "x"}},
                    {"jsonrpc": "2.0", "id": 8, "result": {}}):  # an answer to the server
        assert sent(relay.from_client(line(message))) == [("server", message)]
    assert relay.from_server(b"not json at all\n") == [Send("client", b"not json at all\n")]
    relay.from_server(line({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}))
    assert relay.tools == {}
