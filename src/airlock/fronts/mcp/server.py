"""airlock's tools served with the official MCP SDK, over stdio and streamable HTTP.

    airlock mcp                   stdio, in-process: the tools run here, with this process's
                                  Runtime (one OS user: airlock's state is in the agent's reach)
    airlock mcp --server URL      stdio, thin client: every list and call is passed to
                                  `airlock up`'s /mcp with the agent's token; this process holds
                                  nothing else (airlock runs as its own OS user)
    airlock up                    /mcp, streamable HTTP (stateless; JSON answers), each request
                                  authenticated by its own `Authorization: Bearer <airlock token>`;
                                  and POST /v1/mcp/calls, where `airlock mcp wrap --server` asks
                                  about a wrapped server's calls

Who is calling is decided per call (a token may expire or be revoked during a session): on stdio
by the token or principal the process was started with, over HTTP by the request's own bearer
token — so a session id grants nothing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import anyio
import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from airlock import __version__
from airlock.errors import AirlockError, AuthError, InputError
from airlock.fronts.jsonforms import outcome_json
from airlock.fronts.mcp.gatekeeper import CALLS_PATH, submit_call
from airlock.fronts.mcp.settings import SECTION
from airlock.fronts.mcp.tools import AirlockTools, ToolAnswer
from airlock.model import Caller, McpCall
from airlock.runtime import Runtime
from airlock.tokens import authenticate

__all__ = ["MCP_PATH", "build_server", "mount_mcp", "serve_stdio", "serve_stdio_thin"]

MCP_PATH = "/mcp"
MAX_CALL_BODY = 16 * 1024 * 1024
_CALLER_KEY = "airlock.caller"
INSTRUCTIONS = (
    "airlock guards real infrastructure. Every call of these tools is judged first: reads run, "
    "destructive actions are held until a human approves exactly that call (the answer names "
    "the approval; wait_for_approval waits for it; then make the same call again), and some are "
    "denied. Never try to get around a hold or a denial.")

CallerOf = Callable[[ServerRequestContext[Any, Any]], Caller]


def _tool(spec: Any) -> types.Tool:
    a = spec.annotations
    return types.Tool(name=spec.name, title=spec.title, description=spec.description,
                      input_schema=spec.input_schema,
                      annotations=types.ToolAnnotations(
                          title=spec.title, read_only_hint=a["readOnlyHint"],
                          destructive_hint=a["destructiveHint"],
                          idempotent_hint=a["idempotentHint"],
                          open_world_hint=a["openWorldHint"]))


def _result(answer: ToolAnswer) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=answer.text)],
                                structured_content=answer.data, is_error=answer.is_error)


def build_server(tools: AirlockTools, caller_of: CallerOf) -> Server[Any]:
    """The SDK server for airlock's tools; `caller_of` says who makes each call (or raises
    AuthError, which becomes a tool error)."""

    async def list_tools(ctx: ServerRequestContext[Any, Any],
                         params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[_tool(s) for s in tools.specs])

    async def call_tool(ctx: ServerRequestContext[Any, Any],
                        params: types.CallToolRequestParams) -> types.CallToolResult:
        try:
            caller = await anyio.to_thread.run_sync(caller_of, ctx)
        except AirlockError as exc:
            return _result(ToolAnswer({"error": str(exc)}, True, f"airlock: {exc}"))
        answer = await anyio.to_thread.run_sync(tools.call, params.name, params.arguments,
                                                caller)
        return _result(answer)

    return Server("airlock", version=__version__, instructions=INSTRUCTIONS,
                  on_list_tools=list_tools, on_call_tool=call_tool)


async def serve_stdio(tools: AirlockTools, caller: Callable[[], Caller]) -> None:
    server = build_server(tools, lambda ctx: caller())
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


async def serve_stdio_thin(base_url: str, token: str) -> None:
    """stdio for the harness, `airlock up`'s /mcp behind it: a process that holds only the
    token, for airlock running as its own OS user."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    url = base_url.rstrip("/") + MCP_PATH
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300)) as http, \
            Client(streamable_http_client(url, http_client=http)) as upstream:

        async def list_tools(ctx: ServerRequestContext[Any, Any],
                             params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
            return await upstream.list_tools(cursor=params.cursor if params else None)

        async def call_tool(ctx: ServerRequestContext[Any, Any],
                            params: types.CallToolRequestParams) -> types.CallToolResult:
            try:
                return await upstream.call_tool(params.name, params.arguments)
            except Exception as exc:  # the call did not run: say so as a result the model reads
                text = f"airlock at {url} could not be asked ({type(exc).__name__}: {exc}); the " \
                       "call did not run"
                return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                            is_error=True)

        server = Server("airlock", version=__version__, instructions=INSTRUCTIONS,
                        on_list_tools=list_tools, on_call_tool=call_tool)
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())


# -------------------------------------------------------------------------------- airlock up


def _bearer(runtime: Runtime, headers: Mapping[str, str]) -> Caller:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError("send your airlock token as `Authorization: Bearer alk_…`")
    return authenticate(runtime.store, runtime.config, token)


def _caller_of_request(ctx: ServerRequestContext[Any, Any]) -> Caller:
    request = ctx.request
    caller = request.scope.get(_CALLER_KEY) if isinstance(request, Request) else None
    if not isinstance(caller, Caller):
        raise AuthError("this call carried no airlock token")
    return caller


class _McpEndpoint:
    """/mcp: the bearer token first (401 without a valid one), then the SDK's transport."""

    def __init__(self, runtime: Runtime, manager: StreamableHTTPSessionManager) -> None:
        self.runtime = runtime
        self.manager = manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            caller = await run_in_threadpool(_bearer, self.runtime, Request(scope).headers)
        except AuthError as exc:
            await JSONResponse({"error": exc.message}, status_code=401,
                               headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
            return
        scope[_CALLER_KEY] = caller  # what the tool handler reads as ctx.request.scope
        await self.manager.handle_request(scope, receive, send)


def mount_mcp(app: Starlette, runtime: Runtime) -> None:
    """Serve /mcp and POST /v1/mcp/calls beside the API (`airlock up`), unless
    `[fronts.mcp] http = false`. The SDK's session manager runs in the app's lifespan."""
    if not SECTION.of(runtime.config).http:
        return
    server = build_server(AirlockTools(runtime), _caller_of_request)
    manager = StreamableHTTPSessionManager(app=server, stateless=True, json_response=True)

    async def calls(request: Request) -> JSONResponse:
        try:
            caller = await run_in_threadpool(_bearer, runtime, request.headers)
        except AuthError as exc:
            return JSONResponse({"error": exc.message}, status_code=401)
        body = await request.body()
        if len(body) > MAX_CALL_BODY:
            return JSONResponse({"error": f"request body over {MAX_CALL_BODY} bytes"}, 413)
        try:
            call = call_from(json.loads(body))
        except (ValueError, RecursionError, InputError) as exc:
            return JSONResponse({"error": f"the body is not a tool call: {exc}"}, 400)
        outcome = await run_in_threadpool(submit_call, runtime, call, caller)
        return JSONResponse(outcome_json(outcome))

    previous = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with previous(application) as state, manager.run():
            yield state

    app.router.lifespan_context = lifespan
    app.router.routes.append(Route(MCP_PATH, endpoint=_McpEndpoint(runtime, manager),
                                   methods=["GET", "POST", "DELETE"]))
    app.router.routes.append(Route(CALLS_PATH, calls, methods=["POST"]))


def call_from(obj: Any) -> McpCall:
    """`{server, tool, arguments, annotations}` as `airlock mcp wrap --server` sends it."""
    if not isinstance(obj, dict):
        raise InputError("expected {server, tool, arguments, annotations}")
    server, tool = obj.get("server"), obj.get("tool")
    if not isinstance(server, str) or not server or not isinstance(tool, str) or not tool:
        raise InputError("`server` and `tool` must be non-empty strings")
    arguments = obj.get("arguments")
    annotations = obj.get("annotations")
    if annotations is not None and not isinstance(annotations, dict):
        raise InputError("`annotations` must be an object or null")
    return McpCall(server, tool, json.dumps({} if arguments is None else arguments),
                   json.dumps(annotations, sort_keys=True) if annotations is not None else "")
