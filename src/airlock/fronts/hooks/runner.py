"""One tool call, from the bytes a harness sent to the answer it reads back — failing closed.

    raw bytes ─► decode (size, UTF-8, a JSON object) ─► harness.parse ─► ToolCall
              ─► gate.submit_all of its payloads (the same gate as every front) ─► Judged
              ─► [hold and wait_seconds: gate.wait for the approval, then submit the same again]
              ─► messages ─► harness.answer ─► Answer (exit code, stdout, stderr)

`HookRunner.run` never raises: unreadable input, an unknown tool or event, and any exception are
answered with the harness's *blocking* form and a reason. The daemon (`daemon.py`) and the
in-process command (`airlock hook`) both call it; neither has any judgement of its own.

The caller is the configured `[hooks] principal` or the built-in local agent; the context is the
working directory the harness reports, in the local environment (the agent's shell and files are
on this machine). MCP calls are the exception: an MCP server may sit in front of anything, so
its calls get no environment (unknown counts as production) unless `[hooks] mcp_resources` maps
the server to a configured resource.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from airlock.audit import AuditLog
from airlock.config import Config
from airlock.errors import InputError
from airlock.fronts.context import action_context, front_action
from airlock.fronts.hooks import HARNESSES
from airlock.fronts.hooks import messages as say
from airlock.fronts.hooks.base import Answer, Harness, Reply, ToolCall
from airlock.fronts.hooks.messages import Judged
from airlock.fronts.hooks.stated import agent_statement
from airlock.gate import Gate
from airlock.model import (
    Action,
    ActionContext,
    Assessment,
    Caller,
    McpCall,
    Outcome,
    Payload,
    PrincipalKind,
    ResolvedTarget,
    ShellCommand,
    Status,
    Verdict,
)
from airlock.runtime import Runtime
from airlock.safety import Protection, SafetyNet, SafetyPlan
from airlock.store import ApprovalRecord, Store
from airlock.tokens import local_caller

log = logging.getLogger("airlock.hooks")

MAX_PAYLOAD_BYTES = 16 * 1024 * 1024  # a Write of a large file carries its content
# Classified (never submitted) at start-up, so the first real call finds the parsers loaded.
_WARM_UP = (ShellCommand("true"), McpCall("warm-up", "query", '{"sql": "select 1"}'))


class HookRunner:
    def __init__(self, *, config: Config, gate: Gate, store: Store, audit: AuditLog,
                 sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.settings = config.hooks
        self.gate = gate
        self.store = store
        self.audit = audit
        self.caller: Caller = local_caller(config, self.settings.principal)
        self._sleep = sleep
        self._monotonic = monotonic

    @classmethod
    def from_runtime(cls, runtime: Runtime) -> HookRunner:
        return cls(config=runtime.config, gate=runtime.gate(safety_net=_LazyNet(runtime)),
                   store=runtime.store, audit=runtime.audit)

    def warm(self) -> None:
        """Load the classifiers now (a daemon does this at start, not on the first call)."""
        from airlock.classify import secrets_files

        secrets_files.warm()
        if isinstance(self.gate.safety_net, _LazyNet):
            self.gate.safety_net.load()
        for payload in _WARM_UP:
            self.gate.judge.classifier.classify(Action(payload, "warm-up", "hook:warm-up"))

    # ----------------------------------------------------------------------------------------

    def run(self, harness_name: str, raw: bytes) -> Answer:
        harness = HARNESSES.get(harness_name)
        if harness is None:
            return Answer(2, "", f"airlock does not know the harness {harness_name!r} (it knows "
                                 f"{', '.join(HARNESSES)}); the call is blocked")
        try:
            data = decode(raw)
            call = replace(harness.parse(data), stated=agent_statement(harness.name, data))
        except InputError as exc:
            return self._refuse(harness, exc.message)
        except Exception as exc:  # a translation bug must not become an allow
            log.exception("hook input for %s could not be read", harness_name)
            return self._refuse(harness, f"{type(exc).__name__}: {exc}")
        try:
            reply, message = self.decide(call)
            return harness.answer(call, reply, message)
        except Exception as exc:
            log.exception("hook for %s failed", harness_name)
            return self._refuse(harness, f"{type(exc).__name__}: {exc}")

    def decide(self, call: ToolCall) -> tuple[Reply, str]:
        if call.gated_by is not None:  # judged by that event's own hook, which also runs
            return Reply.DEFER, ""
        if not call.payloads:  # nothing judged must never read as nothing objected to
            return Reply.BLOCK, ("airlock found nothing it could judge in this tool call, so it "
                                 "is blocked")
        if call.second_look:
            return self._second_look(call)
        judged = self._submit_all(call)
        refused_by: ApprovalRecord | None = None
        if say.worst(judged) is Verdict.HOLD and self.settings.wait_seconds > 0:
            judged, refused_by = self._wait(call, judged)
        if refused_by is not None:
            return Reply.BLOCK, (f"a human denied approval {refused_by.id}"
                                 + (f": {refused_by.reason}" if refused_by.reason else "")
                                 + ". Do not retry it.")
        verdict = say.worst(judged)
        if verdict is Verdict.DENY:
            first = next(j for j in judged if j.outcome.status in (Status.DENIED, Status.FAILED))
            return Reply.BLOCK, say.denied(first)
        if verdict is Verdict.HOLD:
            holds = [j for j in judged if j.outcome.status is Status.HELD]
            if self.settings.ask_passthrough and call.can_ask:
                return Reply.ASK, say.asked(holds)
            return Reply.BLOCK, say.held(holds, approver_note=self._approver_note(),
                                         console_url=self.config.approvals.public_url)
        return Reply.ALLOW, say.allowed(judged)

    # ----------------------------------------------------------------------------------------

    def _action(self, call: ToolCall, payload: Payload) -> Action:
        return front_action(payload, self.caller, f"hook:{call.harness}",
                            self._context(call, payload), stated=call.stated)

    def _context(self, call: ToolCall, payload: Payload) -> ActionContext:
        if isinstance(payload, McpCall):
            # An MCP server may sit in front of anything: no environment unless mapped.
            return action_context(self.config, cwd=call.cwd,
                                  resource=self.settings.mcp_resources.get(payload.server))
        # the agent's shell and files are on this machine
        return action_context(self.config, cwd=call.cwd, runs_here=True)

    def _submit_all(self, call: ToolCall) -> list[Judged]:
        """Submit the call's payloads as one batch (the gate's `submit_all`: a patch of three
        files runs whole or not at all)."""
        actions = [self._action(call, payload) for payload in call.payloads]
        return [self._judged(action, outcome)
                for action, outcome in self.gate.submit_all(actions, self.caller)]

    def _judged(self, action: Action, outcome: Outcome) -> Judged:
        approval = None
        if outcome.status is Status.HELD and outcome.approval_id:
            try:
                approval = self.gate.approvals.get(outcome.approval_id)
            except Exception:  # the message loses its expiry; the hold stands
                log.exception("could not read approval %s", outcome.approval_id)
        return Judged(action, outcome, approval)

    def _second_look(self, call: ToolCall) -> tuple[Reply, str]:
        """Claude Code's permission dialog: the call already passed PreToolUse (allowed, or a
        hold that was approved, or asked for on purpose), so only a deny is airlock's to give;
        anything else is left to the person at the dialog."""
        for payload in call.payloads:
            action = self._action(call, payload)
            evaluation = self.gate.evaluate(action, self.caller)
            if evaluation.decision.verdict is Verdict.DENY:
                return Reply.BLOCK, say.second_look_denied(action, evaluation.decision)
        return Reply.DEFER, ""

    def _wait(self, call: ToolCall, judged: list[Judged]
              ) -> tuple[list[Judged], ApprovalRecord | None]:
        """Wait up to `wait_seconds` for every held payload's approval; once all are approved,
        submit the same payloads again (the gate lets each through once)."""
        ids = [j.outcome.approval_id for j in judged
               if j.outcome.status is Status.HELD and j.outcome.approval_id]
        waited = self.gate.wait(ids, self.settings.wait_seconds, sleep=self._sleep,
                                monotonic=self._monotonic)
        if waited.denied is not None:
            return judged, waited.denied
        if waited.approved:
            return self._submit_all(call), None
        return judged, None

    def _approver_note(self) -> str | None:
        if self.config.path is None:
            return say.NO_CONFIG_NOTE
        if not any(p.kind is PrincipalKind.HUMAN for p in self.config.principals.values()):
            return say.NO_APPROVER_NOTE
        list_approvers = getattr(self.store, "list_approvers", None)
        if list_approvers is not None:
            try:
                if not list_approvers():
                    return say.NO_APPROVER_NOTE
            except Exception:
                log.exception("could not list approvers")
        return None

    def _refuse(self, harness: Harness, what: str) -> Answer:
        try:
            self.audit.record("hook_refused", None, {"harness": harness.name, "why": what[:500]})
        except Exception:
            log.exception("could not record a refused hook call")
        return harness.refuse(say.failed(what))


class _LazyNet:
    """The runtime's safety net, built at its first plan: only an action that needs a backup
    asks for one, so an `ls` in a one-shot hook process never imports the vault (psycopg, the
    SQL deparser). Whatever building it raises, the gate turns into a hold, as before."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def load(self) -> SafetyNet:
        return self._runtime.safety_net

    def plan(self, action: Action, assessment: Assessment,
             targets: Sequence[ResolvedTarget]) -> SafetyPlan:
        return self.load().plan(action, assessment, targets)

    def protect(self, action: Action, plan: SafetyPlan) -> Protection:
        return self.load().protect(action, plan)


def decode(raw: bytes) -> Mapping[str, Any]:
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise InputError(f"the hook input is {len(raw)} bytes, over airlock's limit of "
                         f"{MAX_PAYLOAD_BYTES}")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError("the hook input is not UTF-8 text") from None
    except RecursionError:
        raise InputError("the hook input is nested too deeply to read") from None
    except ValueError as exc:
        raise InputError(f"the hook input is not JSON ({exc})") from None
    if not isinstance(data, Mapping):
        raise InputError("the hook input is not a JSON object")
    if _ESCAPED_SURROGATE.search(raw) and _has_lone_surrogate(data):
        # JSON can spell a lone surrogate (\ud800), which is no character at all: nothing
        # downstream (the store, the audit hash, the answer) can encode it, and no harness sends
        # one for a real tool call.
        raise InputError("the hook input holds a lone surrogate (\\ud800-\\udfff), which is not "
                         "valid Unicode text")
    return data


# Only input that spells a surrogate as an escape can hold one (raw UTF-8 cannot encode them):
# the walk over the decoded value runs only then.
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


_SURROGATE = re.compile("[\ud800-\udfff]")
