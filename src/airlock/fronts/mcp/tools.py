"""airlock's own MCP tools: each one a front to the gate, with honest annotations.

    tool               annotations              what it does
    list_resources     read-only                the configured resources (names, kinds, environments)
    query_sql          read-only                a statement the gate judges a read, on a postgres
                                                resource, in a READ ONLY transaction
    execute_sql        destructive              any statement, as `airlock sql` runs it: through
                                                the gate, row before-images in its own transaction
    call_api           destructive, open world  an HTTP call to a configured api resource, with
                                                airlock's credential (upstream/http.py)
    check_action       read-only                what the gate would say about a shell command, SQL
                                                or HTTP call (nothing runs, nothing is recorded)
    wait_for_approval  read-only                until a held call's approval is decided

`AirlockTools.call` never raises: bad arguments, a hold, a denial, a failure are answers with
`is_error` set and text that says what happened and what to do (a held call names its approval
and what a human must do). SDK-free, so it is tested without a transport.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airlock.errors import AirlockError, InputError
from airlock.execute import FunctionExecutor
from airlock.fronts.context import action_context, front_action
from airlock.fronts.jsonforms import KINDS, http_request_from, payload_from
from airlock.fronts.mcp.rulings import denied_text, held_text
from airlock.fronts.mcp.settings import SECTION
from airlock.model import Action, Caller, HttpRequest, Outcome, Risk, SqlQuery, Status
from airlock.runtime import Runtime

__all__ = ["FRONT", "MAX_STATEMENT", "MAX_WAIT_SECONDS", "AirlockTools", "ToolAnswer", "ToolSpec"]

log = logging.getLogger("airlock.mcp")

FRONT = "mcp"
MAX_STATEMENT = 256 * 1024
MAX_WAIT_SECONDS = 120


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    annotations: dict[str, bool]  # readOnlyHint, destructiveHint, idempotentHint, openWorldHint


@dataclass(frozen=True, slots=True)
class ToolAnswer:
    data: dict[str, Any]
    is_error: bool = False
    message: str = ""  # for the model; the data's JSON when empty

    @property
    def text(self) -> str:
        return self.message or json.dumps(self.data, ensure_ascii=False, default=str)


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required,
            "additionalProperties": False}


_RESOURCE = {"type": "string", "description": "A configured postgres resource (list_resources)."}
_SQL = {"type": "string", "description": "One SQL statement (PostgreSQL)."}
_ROWS = {"type": "integer", "minimum": 1, "description": "Rows to return at most."}
_READ = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True,
         "openWorldHint": False}

SPECS = (
    ToolSpec("list_resources", "Configured resources",
             "The databases and APIs airlock holds credentials for, with their environments. "
             "Use their names as `resource` in the other tools.", _schema({}, []), _READ),
    ToolSpec("query_sql", "Query a database (read only)",
             "Run a read-only SQL statement (SELECT, …) on a configured postgres resource and get "
             "columns and rows. Anything that is not a read is refused: use execute_sql.",
             _schema({"resource": _RESOURCE, "sql": _SQL, "max_rows": _ROWS},
                     ["resource", "sql"]), _READ),
    ToolSpec("execute_sql", "Execute SQL (through airlock's gate)",
             "Run any SQL statement on a configured postgres resource. airlock judges it first: "
             "reads and harmless writes run; destructive statements are held for a human's "
             "approval (the answer names the approval) and backed up before they run.",
             _schema({"resource": _RESOURCE, "sql": _SQL, "max_rows": _ROWS},
                     ["resource", "sql"]),
             {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False,
              "openWorldHint": False}),
    ToolSpec("call_api", "Call a configured API (through airlock's gate)",
             "Send an HTTP request to a configured API (its URL must be under a configured api "
             "resource's base URL); airlock adds the credential. Destructive calls are held for "
             "a human's approval; deletions of cloud resources may be deferred.",
             _schema({"method": {"type": "string", "description": "GET, POST, DELETE, …"},
                      "url": {"type": "string", "description": "The full URL."},
                      "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                      "body": {"description": "A string, or JSON sent as JSON."}},
                     ["method", "url"]),
             {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False,
              "openWorldHint": True}),
    ToolSpec("check_action", "Check an action without running it",
             "Ask airlock what it would do with a shell command, a SQL statement or an HTTP call "
             "(allow, hold for approval, deny) and why. Nothing runs.",
             _schema({"kind": {"type": "string", "enum": list(KINDS)},
                      "input": {"description": "The command or statement; for http an object "
                                               "{method, url, headers, body}."},
                      "resource": {"type": "string"},
                      "dialect": {"type": "string", "enum": ["postgres", "mysql", "sqlite"]}},
                     ["kind", "input"]), _READ),
    ToolSpec("wait_for_approval", "Wait for an approval",
             "Wait until a human decides a held call's approval (or the time is up). Once it is "
             "approved, make exactly the same call again: it then runs once.",
             _schema({"approval_id": {"type": "string"},
                      "timeout_seconds": {"type": "integer", "minimum": 1,
                                          "maximum": MAX_WAIT_SECONDS}},
                     ["approval_id"]), _READ),
)


@dataclass
class AirlockTools:
    runtime: Runtime
    specs: tuple[ToolSpec, ...] = SPECS
    _handlers: dict[str, Callable[[Mapping[str, Any], Caller], ToolAnswer]] = \
        field(default_factory=dict)

    def __post_init__(self) -> None:
        self._handlers = {"list_resources": self._list_resources, "query_sql": self._query_sql,
                          "execute_sql": self._execute_sql, "call_api": self._call_api,
                          "check_action": self._check_action,
                          "wait_for_approval": self._wait_for_approval}
        self.max_rows = SECTION.of(self.runtime.config).max_rows

    def call(self, name: str, arguments: Mapping[str, Any] | None, caller: Caller) -> ToolAnswer:
        handler = self._handlers.get(name)
        if handler is None:
            return _error(f"airlock has no tool {name!r} (it has {', '.join(self._handlers)})")
        try:
            return handler(arguments or {}, caller)
        except AirlockError as exc:
            return _error(str(exc))
        except Exception as exc:  # an answer, never a crash; and never a success
            log.exception("MCP tool %s failed", name)
            return _error(f"airlock failed on {name} ({type(exc).__name__}: {exc}); nothing ran "
                          "that airlock did not judge")

    # ------------------------------------------------------------------------------------
    def _list_resources(self, args: Mapping[str, Any], caller: Caller) -> ToolAnswer:
        resources = [{"name": r.name, "kind": r.kind, "environment": r.environment,
                      "description": r.description}
                     for r in self.runtime.config.resources.values()]
        return ToolAnswer({"resources": resources})

    def _query_sql(self, args: Mapping[str, Any], caller: Caller) -> ToolAnswer:
        return self._sql(args, caller, read_only=True)

    def _execute_sql(self, args: Mapping[str, Any], caller: Caller) -> ToolAnswer:
        return self._sql(args, caller, read_only=False)

    def _sql(self, args: Mapping[str, Any], caller: Caller, *, read_only: bool) -> ToolAnswer:
        from airlock.upstream.postgres import postgres_of
        from airlock.upstream.transaction import ProtectedTransaction

        config = self.runtime.config
        name, text = _string(args, "resource"), _string(args, "sql")
        max_rows = _rows(args, self.max_rows)
        resource = config.resources.get(name)
        if resource is None or resource.kind != "postgres" or resource.url is None:
            known = ", ".join(sorted(n for n, r in config.resources.items()
                                     if r.kind == "postgres")) or "none"
            raise InputError(f"{name!r} is not a configured postgres resource (they are: {known})")
        if not text.strip() or len(text.encode("utf-8", "surrogatepass")) > MAX_STATEMENT:
            raise InputError(f"give one SQL statement of at most {MAX_STATEMENT // 1024} KiB")
        action = front_action(SqlQuery(text, "postgres"), caller, FRONT,
                              action_context(config, resource=name))
        if read_only:
            assessment = self.runtime.judge.evaluate(action, caller).assessment
            if assessment.risk is not Risk.READ:
                why = "; ".join(assessment.reasons) or assessment.risk.value
                return _error(f"query_sql runs reads only, and this is not one ({why}); nothing "
                              "ran. Use execute_sql, which asks a human where it must.")
        with ProtectedTransaction(name, postgres_of(resource, config)) as txn:
            if read_only:  # what the classifier missed, the server refuses
                txn.conn.execute("SET TRANSACTION READ ONLY")
            outcome = self.runtime.protected_gate(txn).submit(action, caller)
        return _answer(outcome, "this statement", lambda result: _rows_of(result, max_rows))

    def _call_api(self, args: Mapping[str, Any], caller: Caller) -> ToolAnswer:
        from airlock.upstream import http as upstream

        config = self.runtime.config
        request = http_request_from({k: args.get(k) for k in ("method", "url", "headers", "body")
                                     if args.get(k) is not None})
        owner = upstream.owner_of(config, request.url)
        action = front_action(request, caller, FRONT, action_context(config, resource=owner.name))

        def send(sent: Action) -> Mapping[str, Any]:
            payload = sent.payload
            assert isinstance(payload, HttpRequest)
            answer = upstream.call(config, payload.method, payload.url, payload.headers,
                                   payload.body)
            return {"http_status": answer.status, "body": answer.body.decode("utf-8", "replace")}

        gate = self.runtime.gate(executor=FunctionExecutor(send))
        outcome = gate.submit(action, caller)
        return _answer(outcome, f"this {request.method} call", dict)

    def _check_action(self, args: Mapping[str, Any], caller: Caller) -> ToolAnswer:
        kind = _string(args, "kind")
        resource = args.get("resource")
        dialect = args.get("dialect")
        if resource is not None and not isinstance(resource, str):
            raise InputError("`resource` must be a resource's name")
        payload = payload_from(kind, args.get("input"),
                               dialect if isinstance(dialect, str) else None)
        config = self.runtime.config
        action = front_action(payload, caller, FRONT, action_context(config, resource=resource))
        ev = self.runtime.judge.evaluate(action, caller)
        return ToolAnswer({"verdict": ev.decision.verdict.value, "risk": ev.assessment.risk.value,
                           "reason": ev.decision.reason, "reasons": list(ev.assessment.reasons),
                           "rule": ev.decision.rule,
                           "approvals_required": ev.decision.approvals_required,
                           "environments": sorted({e for t in ev.targets
                                                   for e in t.environments})})

    def _wait_for_approval(self, args: Mapping[str, Any], caller: Caller) -> ToolAnswer:
        approval_id = _string(args, "approval_id")
        timeout = args.get("timeout_seconds", 60)
        if not isinstance(timeout, int) or isinstance(timeout, bool) or \
                not 1 <= timeout <= MAX_WAIT_SECONDS:
            raise InputError(f"timeout_seconds must be a whole number from 1 to "
                             f"{MAX_WAIT_SECONDS}; ask again if it is still pending")
        waited = self.runtime.gate().wait([approval_id], timeout, principal=caller.principal.name)
        record, status = waited.approvals[0], waited.statuses[0].value
        if record is None:
            return _error(f"there is no approval {approval_id} that you asked for")
        data = {"approval_id": record.id, "status": status, "reason": record.reason,
                "approvals": sum(g.decision == "approve" for g in record.grants),
                "approvals_required": record.approvals_required, "expires_at": record.expires_at}
        next_step = {"approved": "approved: make exactly the same call again; it runs once",
                     "denied": f"denied: {record.reason or 'no reason given'}. Do not retry it.",
                     "pending": "still waiting for a human; wait again or do something else",
                     "expired": "expired without a decision; the call did not run",
                     "used": "already used: the approved call ran"}.get(status, status)
        return ToolAnswer({**data, "next": next_step}, is_error=status in ("denied", "expired"))


# ----------------------------------------------------------------------------------------------


def _error(message: str) -> ToolAnswer:
    return ToolAnswer({"error": message}, is_error=True, message=message)


def _string(args: Mapping[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str):
        raise InputError(f"`{key}` is required and must be a string")
    return value


def _rows(args: Mapping[str, Any], limit: int) -> int:
    value = args.get("max_rows", limit)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError("`max_rows` must be a positive whole number")
    return min(value, limit)


def _rows_of(result: Mapping[str, Any], max_rows: int) -> dict[str, Any]:
    """The result shape of a SQL tool: what ran, and the first rows."""
    out: dict[str, Any] = {"command": result.get("status"), "row_count": result.get("rowcount")}
    if "columns" in result:
        rows = list(result.get("rows", []))
        out |= {"columns": result["columns"], "rows": rows[:max_rows],
                "truncated": bool(result.get("truncated")) or len(rows) > max_rows}
    return out


def _answer(outcome: Outcome, what: str,
            shape: Callable[[Mapping[str, Any]], dict[str, Any]]) -> ToolAnswer:
    base: dict[str, Any] = {"status": outcome.status.value, "action_id": outcome.action_id}
    if outcome.snapshots:
        base["snapshots"] = list(outcome.snapshots)
    if outcome.status in (Status.EXECUTED, Status.ALLOWED):
        return ToolAnswer({**base, **shape(outcome.result or {})})
    base |= {"reason": outcome.reason, "approval_id": outcome.approval_id}
    if outcome.status is Status.HELD:
        return ToolAnswer(base, True, held_text(what, outcome.reason, outcome.approval_id))
    if outcome.status is Status.DENIED:
        return ToolAnswer(base, True, denied_text(what, outcome.reason))
    return ToolAnswer(base, True, f"{what} was let through but failed: {outcome.reason}")
