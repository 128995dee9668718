"""The HTTP API served by `airlock up`: agents submit actions with their airlock token.

    GET  /healthz                     liveness, and under `airlock up` each service's health
                                      (503 while one is not running)
    POST /v1/actions                  {kind, input, dialect?, cwd?, resource?} → outcome
    GET  /v1/approvals/{id}           the status of an approval the caller asked for
    GET  /v1/approvals/{id}/wait?timeout=N
                                      the same, answered once it is decided or expired, or
                                      after N seconds (long-poll; 1 ≤ N ≤ 120, default 30)

The token in `Authorization: Bearer …` decides who the caller is and how far it reaches. The
request may name a configured `resource` to act on; it cannot claim an environment (the
environment of anything comes from the configuration, never from the agent).
"""

from __future__ import annotations

import errno
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from airlock import __version__
from airlock.approvals import effective_status
from airlock.errors import AirlockError, AuthError, InputError
from airlock.fronts.context import action_context, front_action
from airlock.fronts.jsonforms import outcome_json, payload_from
from airlock.fronts.listen import tcp_listener
from airlock.model import Caller, utcnow
from airlock.runtime import Runtime
from airlock.services import Health, health_json
from airlock.store import ApprovalRecord
from airlock.tokens import authenticate

MAX_BODY = 1024 * 1024
# Why a shell command may land nowhere, and what the agent's operator can do about it.
UNPLACED_SHELL = ("this command names no resource and the token reaches several environments, "
                  "so airlock cannot tell where it runs (it counts as production): send "
                  "`resource` naming what it acts on, or use a token issued for one environment "
                  "(`airlock token create --env staging`) or for the local one (`--env local`)")
MAX_WAIT_SECONDS = 120


def approval_json(approval: ApprovalRecord) -> dict[str, Any]:
    """What the requesting agent may know about its approval (never who else is waiting)."""
    return {"id": approval.id, "status": effective_status(approval, utcnow()).value,
            "approvals_required": approval.approvals_required,
            "approvals": sum(g.decision == "approve" for g in approval.grants),
            "expires_at": approval.expires_at, "reason": approval.reason,
            "decided_by": [g.approver for g in approval.grants],
            "decided_at": approval.decided_at}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(runtime: Runtime,
               health: Callable[[], Mapping[str, Health]] | None = None) -> Starlette:
    """The API's routes; `health` reports the services of `airlock up` on /healthz."""
    gate = runtime.gate()
    config = runtime.config

    async def caller_of(request: Request) -> Caller:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthError("send your airlock token as `Authorization: Bearer alk_…`")
        return await run_in_threadpool(authenticate, runtime.store, config, token)

    async def healthz(request: Request) -> JSONResponse:
        if health is None:
            return JSONResponse({"ok": True, "version": __version__})
        report = health()
        ok = all(h.ok for h in report.values())
        return JSONResponse({"ok": ok, "version": __version__, "services": health_json(report)},
                            status_code=200 if ok else 503)

    async def submit(request: Request) -> JSONResponse:
        try:
            caller = await caller_of(request)
        except AuthError as exc:
            return _error(401, exc.message)
        body = await request.body()
        if len(body) > MAX_BODY:
            return _error(413, f"request body over {MAX_BODY} bytes")
        try:
            obj = json.loads(body)
            if not isinstance(obj, dict):
                raise InputError("the body must be a JSON object {kind, input, ...}")
            kind = obj.get("kind")
            if not isinstance(kind, str):
                raise InputError("`kind` is required: shell, sql or http")
            payload = payload_from(kind, obj.get("input"), obj.get("dialect"))
            resource = obj.get("resource")
            if resource is not None and not isinstance(resource, str):
                raise InputError(f"resource {resource!r} is not configured")
            cwd = obj.get("cwd") if isinstance(obj.get("cwd"), str) else None
            # The agent may name a resource, never an environment: a shell command that names
            # none is placed by the token's scope, as `check` places it (fronts/context.py).
            context = action_context(config, resource=resource, cwd=cwd,
                                     placed_by=caller if kind == "shell" else None)
        except json.JSONDecodeError as exc:
            return _error(400, f"the body is not JSON: {exc.msg}")
        except InputError as exc:
            return _error(400, exc.message)
        action = front_action(payload, caller, "api", context)
        outcome = await run_in_threadpool(gate.submit, action, caller)
        answer = outcome_json(outcome)
        if kind == "shell" and context.environment is None and outcome.decision.rule == "scope":
            answer["next_step"] = UNPLACED_SHELL
        return JSONResponse(answer)

    async def approval_status(request: Request) -> JSONResponse:
        try:
            caller = await caller_of(request)
        except AuthError as exc:
            return _error(401, exc.message)
        approval = await run_in_threadpool(gate.approvals.get, request.path_params["approval_id"])
        if approval is None or approval.principal != caller.principal.name:
            return _error(404, "no such approval for this caller")
        return JSONResponse(approval_json(approval))

    async def approval_wait(request: Request) -> JSONResponse:
        try:
            caller = await caller_of(request)
        except AuthError as exc:
            return _error(401, exc.message)
        raw = request.query_params.get("timeout", "30")
        try:
            timeout = float(raw)
        except ValueError:
            timeout = -1.0
        if not 1 <= timeout <= MAX_WAIT_SECONDS:  # also refuses nan and inf
            return _error(400, f"timeout={raw!r}: give a number of seconds from 1 to "
                               f"{MAX_WAIT_SECONDS}, then ask again if it is still pending")
        waited = await gate.wait_async([request.path_params["approval_id"]], timeout,
                                       principal=caller.principal.name,
                                       gone=request.is_disconnected, in_thread=run_in_threadpool)
        approval = waited.approvals[0]
        if approval is None:
            return _error(404, "no such approval for this caller")
        return JSONResponse(approval_json(approval))

    return Starlette(routes=[
        Route("/healthz", healthz),
        Route("/v1/actions", submit, methods=["POST"]),
        Route("/v1/approvals/{approval_id}", approval_status),
        Route("/v1/approvals/{approval_id}/wait", approval_wait),
    ])


class ApiService:
    """The API and the approval console on HOST:PORT, served by uvicorn on a thread."""

    name = "api"
    STOP_GRACE_SECONDS = 30.0  # in-flight requests (a long-poll waits up to 120 s) may finish

    def __init__(self, runtime: Runtime, *, host: str, port: int,
                 health: Callable[[], Mapping[str, Health]] | None = None,
                 mounts: Sequence[Callable[[Starlette, Runtime], None]] = ()) -> None:
        self.runtime = runtime
        self.host = host
        self.port = port
        self._health = health
        self._mounts = tuple(mounts)  # other fronts served beside the API (the MCP server's /mcp)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def start(self) -> None:
        from airlock.console import mount_console

        app = create_app(self.runtime, self._health)
        mount_console(app, self.runtime)
        for mount in self._mounts:
            mount(app, self.runtime)
        # Bind here, so a port in use is this call's error rather than a thread's exit.
        try:
            sock = tcp_listener(self.host, self.port)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise AirlockError(
                    f"cannot listen on {self.host}:{self.port}: port {self.port} is already in use",
                    hint=f"another `airlock up` may be running there (curl "
                         f"http://{self.host}:{self.port}/healthz); stop it, or start this one "
                         "with --port and a free port") from None
            raise AirlockError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}",
                               hint="choose another --host or --port") from None
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                        name="airlock-api", daemon=True)
        self._thread.start()
        self._socket = sock
        while not server.started and self._thread.is_alive():
            time.sleep(0.01)
        if not server.started:
            self.stop()
            raise AirlockError(f"the API on {self.host}:{self.port} did not start; see the log")

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(self.STOP_GRACE_SECONDS)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5)
        if self._socket is not None:
            self._socket.close()  # uvicorn closed it already, unless it never served
        self._server = self._thread = self._socket = None

    def health(self) -> Health:
        if self._server is None or self._thread is None or not self._thread.is_alive():
            return Health(False, "not running")
        return Health(True, f"http://{self.host}:{self.port}")
