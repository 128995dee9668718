"""`airlock check`: the offline front for people and scripts.

The JSON-lines contract (stable; benchmarks and other tools depend on it):

    in:  {"kind": "shell"|"sql"|"http", "input": <string; for http {method, url, headers, body}>,
          "env": optional, "dialect": optional, "principal": optional, "cwd": optional,
          "resource": optional}
    out: {"verdict": "allow"|"hold"|"deny",
          "risk": "read"|"write"|"destructive"|"catastrophic"|"unknown",
          "reasons": [str], "targets": [{"target", "kind", "value", "resource", "environments",
                                         "blast_radius": [str],
                                         "casualties": [{"resource", "environment", "kind",
                                                         "fate", "why", "via"}]}],
          "effects": [...], "rule": str, "reason": str, "complete": bool,
          "approvals_required": int, "snapshot_required": bool, "classifier": str,
          "fingerprint": str|null}
    bad line: {"error": str, "line": n, "verdict": "hold", "risk": "unknown", "reasons": [str],
               "targets": []} — a malformed request is never an allow.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airlock.config import Config
from airlock.errors import InputError
from airlock.fronts.context import action_context, front_action
from airlock.fronts.jsonforms import payload_from
from airlock.gate import Evaluation, Judge
from airlock.model import (
    Action,
    Caller,
    Payload,
)
from airlock.tokens import local_caller

_REQUEST_KEYS = {"kind", "input", "env", "dialect", "principal", "cwd", "resource"}


def build_action(kind: str, payload: Payload, config: Config, *, env: str | None,
                 principal: str | None, cwd: str | None = None,
                 resource: str | None = None) -> tuple[Action, Caller]:
    # A shell command is placed as the HTTP API places it (fronts/context.py), so that `check`
    # predicts what the API answers the same principal.
    caller = local_caller(config, principal)
    context = action_context(config, resource=resource, cwd=cwd, environment=env,
                             placed_by=caller if kind == "shell" else None)
    return front_action(payload, caller, "check", context), caller


def evaluation_json(ev: Evaluation) -> dict[str, Any]:
    a, d = ev.assessment, ev.decision
    return {
        "verdict": d.verdict.value,
        "risk": a.risk.value,
        "reasons": list(a.reasons) or [d.reason],
        "targets": [{"target": t.target.key, "kind": t.target.kind, "value": t.target.value,
                     "resource": t.resource, "environments": list(t.environments),
                     "blast_radius": list(t.blast_radius),
                     "casualties": [c.to_json() for c in t.casualties],
                     **({"within": t.target.within.key} if t.target.within else {})}
                    for t in ev.targets],
        "effects": [e.to_json() for e in a.effects],
        "rule": d.rule,
        "reason": d.reason,
        "complete": a.complete,
        "approvals_required": d.approvals_required,
        "snapshot_required": d.snapshot_required,
        "classifier": a.classifier,
        "fingerprint": a.fingerprint,
    }


def check_request(request: Any, judge: Judge, config: Config) -> dict[str, Any]:
    """One JSON request → one JSON answer (the contract above). Raises InputError on bad input."""
    if not isinstance(request, Mapping):
        raise InputError("each line must be a JSON object")
    unknown = set(request) - _REQUEST_KEYS
    if unknown:
        raise InputError(f"unknown keys {sorted(unknown)}; expected some of {sorted(_REQUEST_KEYS)}")
    kind = request.get("kind")
    if not isinstance(kind, str):
        raise InputError("`kind` is required: shell, sql or http")
    if "input" not in request:
        raise InputError("`input` is required")
    for key in ("env", "dialect", "principal", "cwd", "resource"):
        if request.get(key) is not None and not isinstance(request[key], str):
            raise InputError(f"`{key}` must be a string")
    payload = payload_from(kind, request["input"], request.get("dialect"))
    action, caller = build_action(kind, payload, config, env=request.get("env"),
                                  principal=request.get("principal"), cwd=request.get("cwd"),
                                  resource=request.get("resource"))
    return evaluation_json(judge.evaluate(action, caller))


def error_json(message: str, line: int) -> dict[str, Any]:
    return {"error": message, "line": line, "verdict": "hold", "risk": "unknown",
            "reasons": [message], "targets": []}


def check_lines(lines: Iterable[str], judge: Judge, config: Config) -> Iterator[dict[str, Any]]:
    """The --jsonl loop: every input line yields exactly one output object, whatever it holds."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            yield check_request(request, judge, config)
        except json.JSONDecodeError as exc:
            yield error_json(f"line {number} is not valid JSON: {exc.msg} at column {exc.colno}",
                             number)
        except InputError as exc:
            yield error_json(f"line {number}: {exc.message}", number)
        except Exception as exc:  # fail closed per line; never crash the stream
            yield error_json(f"line {number}: airlock failed on this request "
                             f"({type(exc).__name__}: {exc})", number)
