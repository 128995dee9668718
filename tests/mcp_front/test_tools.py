"""airlock's MCP tools without a transport: the API tool against a real HTTP server, and what
bad arguments get (an error answer that says why, never a crash, never a success)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from airlock.config import load_config
from airlock.errors import ConfigError
from airlock.fronts.mcp.tools import AirlockTools
from airlock.runtime import Runtime
from airlock.tokens import local_caller


class Upstream:
    """A real HTTP API: records the requests that reach it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream.seen.append((self.command, self.path, self.headers["Authorization"]))
                self.send_response(200)
                self.send_header("Content-Length", "11")
                self.end_headers()
                self.wfile.write(b'{"ok":true}')

            do_GET = do_POST = do_DELETE = _any

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    up = Upstream()
    yield up
    up.server.shutdown()
    up.server.server_close()


@pytest.fixture
def tools(tmp_path: Path, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[AirlockTools]:
    monkeypatch.setenv("THINGS_TOKEN", "real-upstream-secret")
    (tmp_path / "airlock.toml").write_text(f"""
state_dir = "{tmp_path / 'state'}"
[environments.staging]
[resources.things]
kind = "api"
environment = "staging"
base_url = "{upstream.url}/api"
credential = {{ env = "THINGS_TOKEN" }}
[principals.agent]
kind = "agent"
[vault]
enabled = false
[fronts.mcp]
max_rows = 5
""")
    runtime = Runtime(load_config(tmp_path / "airlock.toml"))
    yield AirlockTools(runtime)
    runtime.close()


def test_call_api_reads_with_airlocks_credential_and_holds_a_delete(
        tools: AirlockTools, upstream: Upstream) -> None:
    caller = local_caller(tools.runtime.config, "agent")
    read = tools.call("call_api", {"method": "GET", "url": f"{upstream.url}/api/things/1",
                                   "headers": {"Authorization": "Bearer alk_stolen"}}, caller)
    assert not read.is_error, read.text
    assert read.data["status"] == "executed" and read.data["http_status"] == 200
    assert read.data["body"] == '{"ok":true}'
    assert upstream.seen == [("GET", "/api/things/1", "Bearer real-upstream-secret")]

    delete = tools.call("call_api", {"method": "DELETE", "url": f"{upstream.url}/api/things/1"},
                        caller)
    assert delete.is_error and delete.data["status"] == "held"
    assert f"airlock approve {delete.data['approval_id']}" in delete.text
    assert len(upstream.seen) == 1  # the DELETE never left

    elsewhere = tools.call("call_api", {"method": "GET", "url": "http://127.0.0.1:1/x"}, caller)
    assert elsewhere.is_error and "configured api resources" in elsewhere.text


@pytest.mark.parametrize(("tool", "arguments", "says"), [
    ("nope", {}, "no tool 'nope'"),
    ("query_sql", {"resource": "things", "sql": "SELECT 1"}, "not a configured postgres"),
    ("query_sql", {"sql": "SELECT 1"}, "`resource` is required"),
    ("execute_sql", {"resource": "things", "sql": 5}, "`sql` is required"),
    ("check_action", {"kind": "telepathy", "input": "x"}, "kind must be one of"),
    ("wait_for_approval", {"approval_id": "apr_x", "timeout_seconds": 0}, "from 1 to 120"),
    ("wait_for_approval", {"approval_id": "apr_x", "timeout_seconds": 1}, "no approval apr_x"),
])
def test_bad_arguments_are_error_answers_that_say_why(
        tools: AirlockTools, tool: str, arguments: dict[str, object], says: str) -> None:
    answer = tools.call(tool, arguments, local_caller(tools.runtime.config, "agent"))
    assert answer.is_error and says in answer.text, answer.text


def test_check_action_and_list_resources(tools: AirlockTools) -> None:
    caller = local_caller(tools.runtime.config, "agent")
    listed = tools.call("list_resources", None, caller)
    assert listed.data == {"resources": [{"name": "things", "kind": "api",
                                          "environment": "staging", "description": ""}]}
    checked = tools.call("check_action", {"kind": "shell", "input": "rm -rf /srv/data"}, caller)
    assert not checked.is_error and checked.data["verdict"] == "hold"
    # `/` holds airlock's own files: the guards deny that to agents outright
    checked = tools.call("check_action", {"kind": "shell", "input": "rm -rf /"}, caller)
    assert not checked.is_error and checked.data["verdict"] == "deny"
    assert tools.max_rows == 5


def test_the_section_refuses_nonsense(tmp_path: Path) -> None:
    (tmp_path / "airlock.toml").write_text("[fronts.mcp]\nmax_rows = 0\nhtpp = true\n")
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "airlock.toml")
    assert "fronts.mcp.htpp" in str(raised.value)
