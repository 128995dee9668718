"""The gate: the one pipeline every front submits actions to.

Read `submit` top to bottom; it is the whole of airlock's judgement:

    classify   what does the action do?                        (classifiers)
    guard      does it reach credentials or airlock's own files? (guards: effects, tagged)
    resolve    which resources and environments does it reach?  (inventory)
    guard rules  deny agents what the guards found, first         (policy.GUARD_RULES)
    scope      may this caller reach them at all?               (scope: deny if not)
    policy     allow, hold or deny, and what safety net?        (policy)
    approvals  for a hold: has a human approved exactly this?   (approvals)
    safety net take and verify the backups first                (safety)
    execute    release or perform the action                    (execute)
    audit      a record at every step                           (audit)

Fronts also come here for the two things around a submission that every front needs alike:
`submit_all` (several actions that run whole or not at all, such as a patch of three files) and
`wait` / `wait_async` (until a held action's approval is decided); no front polls the store.

Failing closed is structural: every step is wrapped, and an exception becomes the conservative
result for that step (an unknown assessment, an unresolved target, a hold, a deny), recorded in
the audit log with its reason. An action is never allowed because a step failed; if the audit
log itself cannot be written, nothing is allowed at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airlock.approvals import Approvals, action_digest, effective_status
from airlock.audit import AuditLog
from airlock.classify import Classifier
from airlock.config import Config
from airlock.execute import Executor
from airlock.guards import Guards
from airlock.inventory import Resolver
from airlock.model import (
    UNKNOWN_ENVIRONMENT,
    Action,
    Assessment,
    Caller,
    Decision,
    Effect,
    Outcome,
    ResolvedTarget,
    Risk,
    Status,
    Verb,
    Verdict,
    utcnow,
)
from airlock.policy import Fact, Policy, facts_of
from airlock.redact import redact
from airlock.safety import Protection, SafetyNet, SafetyPlan
from airlock.scope import check_scope
from airlock.store import ApprovalRecord, ApprovalStatus
from airlock.verdicts import VerdictCache, evaluate_through, kept_evaluation

log = logging.getLogger("airlock.gate")

__all__ = ["WAIT_POLL_SECONDS", "Evaluation", "Gate", "Judge", "Waited"]

# How often a waiter looks at its approvals: decisions may come from another process (the CLI,
# another replica), so the store is the signal.
WAIT_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Evaluation:
    """What airlock thinks of an action before anything happens (also `airlock check`)."""

    action: Action
    caller: Caller
    assessment: Assessment
    targets: tuple[ResolvedTarget, ...]
    facts: tuple[Fact, ...]
    decision: Decision
    errors: tuple[str, ...] = field(default=())
    cached: bool = False  # the verdict kept for the same read (verdicts.py), not judged again
    # For a kept verdict: what its records show of the (same) content, worked out once and
    # shared by every reuse — the redacted content costs more than the rest of a kept read.
    shown: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def routine(self) -> bool:
        """Submitted, it goes through with no human, no backup and no sync: an allow that asks
        for no safety net, of an action that destroys nothing (read or write) — the records
        `audit.needs_sync` lets commit unsynced. A front may finish such a submission where
        blocking matters (the API proxy's event loop, with a local store)."""
        return (self.decision.verdict is Verdict.ALLOW and not self.decision.snapshot_required
                and self.assessment.risk in (Risk.READ, Risk.WRITE))


@dataclass(frozen=True)
class Waited:
    """The approvals a front waits for, as last seen: each record (None when it is gone or not
    the waiter's) and its effective status (a missing record reads as expired)."""

    approvals: tuple[ApprovalRecord | None, ...]
    statuses: tuple[ApprovalStatus, ...]

    @property
    def denied(self) -> ApprovalRecord | None:
        """The first approval a human denied, if any."""
        return next((a for a, s in zip(self.approvals, self.statuses, strict=True)
                     if a is not None and s is ApprovalStatus.DENIED), None)

    @property
    def expired(self) -> bool:
        return ApprovalStatus.EXPIRED in self.statuses

    @property
    def approved(self) -> bool:
        """Every approval is given (and none is spent yet): the same actions may be retried."""
        return bool(self.statuses) and all(s is ApprovalStatus.APPROVED for s in self.statuses)

    @property
    def settled(self) -> bool:
        """Nothing more can change by waiting: one approval is denied, expired or spent, or
        every one is approved."""
        return self.approved or any(s in (ApprovalStatus.DENIED, ApprovalStatus.EXPIRED,
                                          ApprovalStatus.USED) for s in self.statuses) \
            or not self.statuses


class Judge:
    """The side-effect-free half of the gate: classify → guard → resolve → guard rules → scope
    → policy. `airlock check` and `airlock policy explain` use it alone; it needs no state."""

    def __init__(self, *, config: Config, classifier: Classifier, resolver: Resolver,
                 policy: Policy, clock: Callable[[], datetime] = utcnow,
                 guards: Guards | None = None, verdicts: VerdictCache | None = None) -> None:
        self.config = config
        self.classifier = classifier
        self.resolver = resolver
        self.policy = policy
        self.clock = clock
        self.guards = guards
        # Allowed HTTP reads judged once for a while (the API proxy's endpoints): see verdicts.py.
        self.verdicts = verdicts

    def evaluate(self, action: Action, caller: Caller) -> Evaluation:
        if self.verdicts is None:
            return self._evaluate(action, caller)
        try:
            return evaluate_through(self.verdicts, action, caller, self.clock(),
                                    lambda: self._evaluate(action, caller))
        except Exception:  # a broken cache must not decide anything: judge afresh
            log.exception("the verdict cache failed on %s; judged without it", action.id)
            return self._evaluate(action, caller)

    def kept(self, action: Action, caller: Caller) -> Evaluation | None:
        """The allow kept in the verdict cache for this very read by this caller, or None (no
        cache, not kept, or the cache failed): nothing is classified or looked up."""
        if self.verdicts is None:
            return None
        try:
            return kept_evaluation(self.verdicts, action, caller, self.clock())
        except Exception:  # a broken cache keeps nothing: the caller judges in full
            log.exception("the verdict cache failed on %s", action.id)
            return None

    def _evaluate(self, action: Action, caller: Caller) -> Evaluation:
        errors: list[str] = []

        try:
            assessment = self.classifier.classify(action)
        except Exception as exc:  # a classifier bug must not become an allow
            errors.append(f"classify: {exc!r}")
            assessment = Assessment.unknown(f"the classifier failed ({type(exc).__name__}); "
                                            "treated as unknown", classifier="error")

        if self.guards is not None:
            try:
                assessment = assessment.adding(self.guards.effects(action, assessment))
            except Exception as exc:  # a guard that failed cannot have said "nothing here"
                errors.append(f"guard: {exc!r}")
                assessment = assessment.adding([Effect(
                    Verb.UNKNOWN, Risk.UNKNOWN, f"airlock could not check what this action "
                    f"reaches ({type(exc).__name__}); treated as unknown")])

        try:
            targets = self.resolver.resolve(assessment.targets, action.context)
        except Exception as exc:
            errors.append(f"resolve: {exc!r}")
            targets = tuple(ResolvedTarget(t, None, (UNKNOWN_ENVIRONMENT,), (),
                                           "resolution failed; treated as production")
                            for t in assessment.targets)

        facts: tuple[Fact, ...] = ()
        try:
            facts = tuple(facts_of(assessment, targets, action, self.config))
            decision = check_scope(facts, caller, self.clock())
        except Exception as exc:
            errors.append(f"scope: {exc!r}")
            decision = Decision(Verdict.DENY, "error:scope", "airlock could not check this "
                                f"caller's scope ({type(exc).__name__}); denied to be safe")
        try:
            # Guard rules come first: what they deny is theirs to explain, not scope's.
            guarded = self.policy.guard(facts, action, caller)
        except Exception as exc:  # policy.decide tries them again, and fails closed
            errors.append(f"policy: {exc!r}")
            guarded = None
        if guarded is not None:
            decision = guarded
        elif decision is None:
            try:
                decision = self.policy.decide(facts, action, caller)
            except Exception as exc:
                errors.append(f"policy: {exc!r}")
                decision = Decision(Verdict.HOLD, "error:policy", "airlock could not evaluate "
                                    f"its policy ({type(exc).__name__}); held to be safe", 1, True)
        return Evaluation(action, caller, assessment, targets, facts, decision, tuple(errors))


class Gate:
    """The whole pipeline, with its side effects: approvals, backups, execution, audit."""

    def __init__(self, *, judge: Judge, approvals: Approvals, safety_net: SafetyNet,
                 executor: Executor, audit: AuditLog) -> None:
        self.judge = judge
        self.approvals = approvals
        self.safety_net = safety_net
        self.executor = executor
        self.audit = audit
        self.clock = judge.clock

    def evaluate(self, action: Action, caller: Caller) -> Evaluation:
        return self.judge.evaluate(action, caller)

    def submit(self, action: Action, caller: Caller,
               evaluation: Evaluation | None = None) -> Outcome:
        """Judge `action` and carry it through. `evaluation`: this gate's own evaluation of
        this very action, made a moment before by a front that had to look first (the wire
        proxy's rulings), so that it is not judged twice — and not judged differently the
        second time; anything else is ignored and the action judged afresh."""
        if evaluation is not None and (evaluation.action is not action
                                       or evaluation.caller is not caller):
            evaluation = None
        return self._submitting(action, caller, evaluation)

    def _submitting(self, action: Action, caller: Caller,
                    evaluation: Evaluation | None) -> Outcome:
        try:
            # One write transaction for the submission's records, committed before the outcome
            # is returned (so before any front answers or releases the action); a log that
            # cannot be written raises here, and the answer is no.
            with self.audit.group():
                return self._submit(action, caller, evaluation)
        except Exception as exc:  # the last line: whatever broke, the answer is no
            return self._failed(action, exc)

    def _failed(self, action: Action, exc: Exception) -> Outcome:
        log.exception("gate failed on %s", action.id)
        reason = (f"airlock failed while handling this action ({type(exc).__name__}: {exc}); "
                  "denied to be safe")
        try:
            self.audit.record("error", action.id, {"step": "gate", "error": repr(exc)})
        except Exception:
            log.exception("could not record the failure of %s in the audit log", action.id)
        return Outcome(action.id, Status.DENIED, reason,
                       Assessment.unknown(reason, classifier="error"), (),
                       Decision(Verdict.DENY, "error:gate", reason))

    def submit_all(self, actions: Sequence[Action], caller: Caller
                   ) -> list[tuple[Action, Outcome]]:
        """Submit actions that run whole or not at all (a patch of three files): no approval may
        be spent while another part still waits. Each part is judged first; only when every hold
        is approved are they all submitted (and the approvals used). Otherwise only the first
        deny, or the holds still waiting, are submitted. Returns what was submitted, in order;
        the strictest outcome is the batch's verdict."""
        if len(actions) == 1:
            return [(actions[0], self.submit(actions[0], caller))]
        try:
            with self.audit.group():  # the whole batch's records: one write transaction
                return self._submit_batch(actions, caller)
        except Exception as exc:  # its records could not be written: the batch is denied
            return [(actions[0], self._failed(actions[0], exc))]

    def _submit_batch(self, actions: Sequence[Action], caller: Caller
                      ) -> list[tuple[Action, Outcome]]:
        evaluations = [self.evaluate(action, caller) for action in actions]
        denied = [a for a, ev in zip(actions, evaluations, strict=True)
                  if ev.decision.verdict is Verdict.DENY]
        if denied:
            return [(denied[0], self.submit(denied[0], caller))]
        waiting = [a for a, ev in zip(actions, evaluations, strict=True)
                   if ev.decision.verdict is Verdict.HOLD and not self._approved(a, ev)]
        return [(action, self.submit(action, caller)) for action in (waiting or actions)]

    def _approved(self, action: Action, evaluation: Evaluation) -> bool:
        digest = action_digest(action, evaluation.targets, evaluation.assessment.inputs)
        return self.approvals.redeemable(digest, self.clock()) is not None

    def look(self, approval_ids: Sequence[str], principal: str | None = None) -> Waited:
        """The approvals as stored now; with `principal`, another principal's reads as gone."""
        records = [self.approvals.get(i) for i in approval_ids]
        mine = tuple(r if r is not None and (principal is None or r.principal == principal)
                     else None for r in records)
        now = self.clock()
        return Waited(mine, tuple(effective_status(r, now) if r is not None
                                  else ApprovalStatus.EXPIRED for r in mine))

    def wait(self, approval_ids: Sequence[str], timeout: float, *, principal: str | None = None,
             sleep: Callable[[float], None] = time.sleep,
             monotonic: Callable[[], float] = time.monotonic) -> Waited:
        """Wait up to `timeout` seconds until the approvals are settled (see `Waited.settled`);
        returns what was seen last. The caller retries the identical actions once approved."""
        deadline = monotonic() + timeout
        while True:
            waited = self.look(approval_ids, principal)
            left = deadline - monotonic()
            if waited.settled or left <= 0:
                return waited
            sleep(min(WAIT_POLL_SECONDS, left))

    async def wait_async(self, approval_ids: Sequence[str], timeout: float, *,
                         principal: str | None = None,
                         gone: Callable[[], Awaitable[bool]] | None = None,
                         in_thread: Callable[[Callable[[], Waited]], Awaitable[Waited]] | None = None
                         ) -> Waited:
        """`wait` for an event loop: store reads run in a thread (`in_thread`, default
        `asyncio.to_thread`), and it also ends when `gone()` says the waiter left."""
        run = in_thread or asyncio.to_thread
        deadline = time.monotonic() + timeout
        while True:
            waited = await run(lambda: self.look(approval_ids, principal))
            left = deadline - time.monotonic()
            if waited.settled or left <= 0 or (gone is not None and await gone()):
                return waited
            await asyncio.sleep(min(WAIT_POLL_SECONDS, left))

    def _submit(self, action: Action, caller: Caller, made: Evaluation | None) -> Outcome:
        self.audit.record("action", action.id, _action_record(action, caller, made))

        ev = made or self.evaluate(action, caller)
        for error in ev.errors:
            self.audit.record("error", action.id, {"step": error.split(":", 1)[0], "error": error})
        self.audit.record("decision", action.id, _decision_record(ev))
        decision = ev.decision

        if decision.verdict is Verdict.DENY:
            return self._finish(ev, Status.DENIED, decision.reason, decision)

        plan = SafetyPlan()
        if decision.snapshot_required:
            try:
                plan = self.safety_net.plan(action, ev.assessment, ev.targets)
            except Exception as exc:
                self.audit.record("error", action.id, {"step": "safety_net.plan", "error": repr(exc)})
                reason = (f"airlock could not plan the backup this action needs "
                          f"({type(exc).__name__}: {exc}); it does not run")
                return self._finish(ev, Status.HELD, reason, decision)
            if decision.verdict is Verdict.ALLOW and not plan.complete:
                # Policy lets it through only with a safety net, and part of it cannot be
                # protected: a human must accept that before it runs.
                decision = Decision(Verdict.HOLD, decision.rule,
                                    f"{decision.reason}; but no backup is possible for "
                                    f"{plan.unprotected[0][0]}, so a human must accept that",
                                    1, True, decision.trace)

        grant = None
        if decision.verdict is Verdict.HOLD:
            now = self.clock()
            digest = action_digest(action, ev.targets, ev.assessment.inputs)
            grant = self.approvals.redeemable(digest, now)
            reason = decision.reason
            if grant is not None and plan.unprotected and not grant.accepted_without_backup:
                # Approved while a backup looked possible, or before anyone had to say so: no
                # backup can be taken now, and running without one needs a human to accept
                # exactly that. The approval is not used; a new one is asked for.
                self.audit.record("approval_not_used", action.id, {
                    "approval_id": grant.id, "why": "no_backup_possible",
                    "unprotected": plan.to_json()["unprotected"]})
                reason = (f"approval {grant.id} expected a backup, and none can be taken now "
                          f"({plan.unprotected[0][0]}: {plan.unprotected[0][1]}); a human must "
                          "approve again, accepting that it runs without a backup")
                grant = None
            if grant is None:
                pending = self.approvals.request(action, digest, ev.assessment, ev.targets,
                                                 decision, _approval_details(ev, plan), now)
                self.audit.record("held", action.id, {"approval_id": pending.id, "digest": digest,
                                                      "approvals_required": pending.approvals_required,
                                                      "expires_at": pending.expires_at})
                return self._finish(ev, Status.HELD, reason, decision, approval_id=pending.id)

        protection = Protection()
        if plan.steps and not plan.defers:
            self.audit.flush()  # the action and its decision are on record before a backup
            try:
                protection = self.safety_net.protect(action, plan)
            except Exception as exc:
                self.audit.record("snapshot_failed", action.id,
                                  {"plan": plan.to_json(), "error": repr(exc)})
                reason = (f"the backup taken before this action failed ({type(exc).__name__}: "
                          f"{exc}); the action did not run")
                return self._finish(ev, Status.HELD, reason, decision,
                                    approval_id=grant.id if grant else None)
            self.audit.record("snapshot", action.id, {"snapshots": list(protection.ids),
                                                      "plan": plan.to_json()})
        snapshots = protection.ids

        if grant is not None:
            if not self.approvals.redeem(grant, action.id, self.clock()):
                reason = f"approval {grant.id} was used or changed a moment ago; ask again"
                return self._finish(ev, Status.HELD, reason, decision, approval_id=grant.id)
            self.audit.record("approval_used", action.id,
                              {"approval_id": grant.id,
                               "approvers": [g.approver for g in grant.grants]})

        if plan.defers:
            return self._defer(ev, plan, decision, grant.id if grant else None)

        if self.executor.performs:
            self.audit.flush()  # on record before it runs: a crash while it runs keeps them
        try:
            result = self.executor.execute(action, protection)
        except Exception as exc:
            self.audit.record("execution_failed", action.id, {"error": repr(exc)})
            return self._finish(ev, Status.FAILED, f"the action failed: {exc}", decision,
                                approval_id=grant.id if grant else None, snapshots=snapshots)
        status = Status.EXECUTED if self.executor.performs else Status.ALLOWED
        reason = decision.reason if grant is None else f"approved ({grant.id}): {decision.reason}"
        backup = _backup_note(plan, snapshots, grant)
        if plan.unprotected:  # the rule's own words may promise a backup: say what happened
            reason = f"approved ({grant.id})" if grant else "allowed"
            reason = f"{reason}; {backup}"
        return self._finish(ev, status, reason, decision, approval_id=grant.id if grant else None,
                            snapshots=snapshots, result=result, backup=backup)

    def _defer(self, ev: Evaluation, plan: SafetyPlan, decision: Decision,
               approval_id: str | None) -> Outcome:
        """What cannot be copied is not run now: the safety net stores the approved call to run
        after a grace period unless a human cancels it. Done after the approval is spent, so a
        race can burn an approval (ask again) but never leave a stray deferral behind."""
        action = ev.action
        self.audit.flush()
        try:
            ids = self.safety_net.protect(action, plan).ids
        except Exception as exc:
            self.audit.record("snapshot_failed", action.id, {"plan": plan.to_json(), "error": repr(exc)})
            reason = (f"the action could not be deferred ({type(exc).__name__}: {exc}); it did "
                      "not run")
            return self._finish(ev, Status.HELD, reason, decision, approval_id=approval_id)
        self.audit.record("deferred", action.id, {"ids": list(ids), "plan": plan.to_json()})
        reason = (f"deferred, not run now: {', '.join(ids)} will be carried out after its grace "
                  "period unless cancelled (`airlock deferred`, `airlock cancel ID`)")
        return self._finish(ev, Status.HELD, reason, decision, approval_id=approval_id,
                            snapshots=ids)

    def _finish(self, ev: Evaluation, status: Status, reason: str, decision: Decision, *,
                approval_id: str | None = None, snapshots: tuple[str, ...] = (),
                result: Mapping[str, Any] | None = None, backup: str | None = None) -> Outcome:
        outcome = Outcome(ev.action.id, status, reason, ev.assessment, ev.targets, decision,
                          approval_id, snapshots, result)
        data: dict[str, Any] = {"status": status.value, "reason": reason,
                                "approval_id": approval_id, "snapshots": list(snapshots)}
        if backup is not None:
            data["backup"] = backup
        self.audit.record("outcome", ev.action.id, data)
        return outcome


def _backup_note(plan: SafetyPlan, snapshots: tuple[str, ...],
                 grant: ApprovalRecord | None) -> str:
    """What protected the action, in words the outcome and the audit log keep: a verified
    backup is only ever claimed when one was taken and checked."""
    if not plan.unprotected:
        return "verified backup taken first" if snapshots else "no backup needed"
    who = ", ".join(g.approver for g in grant.grants if g.without_backup) if grant else ""
    accepted = f" (accepted by {who})" if who else ""
    gaps = ", ".join(target for target, _why in plan.unprotected)
    if snapshots:
        return f"verified backup of part of it; ran without a backup of {gaps}{accepted}"
    return f"ran without a backup of {gaps}{accepted}"


def _action_record(action: Action, caller: Caller,
                   kept: Evaluation | None = None) -> dict[str, Any]:
    shown = kept.shown if kept is not None else None
    content = shown.get("content") if shown is not None else None
    if content is None:
        content = redact(action.content())
        if shown is not None:  # the kept read's content is this one's (verdicts.py's key)
            shown["content"] = content
    record = {"principal": action.principal, "principal_kind": caller.principal.kind.value,
              "token": caller.token_id, "front": action.front, "kind": action.kind.value,
              "content": content, "context": action.context.canonical(),
              "received_at": action.received_at.isoformat()}
    if action.stated is not None:  # the agent's own words, kept (redacted) beside the action
        record["agent_says"] = redact(action.stated.to_json())
    return record


def _decision_record(ev: Evaluation) -> dict[str, Any]:
    a = ev.assessment
    record = {"risk": a.risk.value, "complete": a.complete, "classifier": a.classifier,
              "reasons": list(a.reasons), "effects": [e.to_json() for e in a.effects],
              "targets": [t.to_json() for t in ev.targets], "decision": ev.decision.to_json()}
    if ev.cached:  # the same read, judged before: the record says so
        record["cached"] = True
    if a.inputs:  # the files judged (a script and its sha256): what an approval binds to
        record["inputs"] = [{"path": path, "state": state} for path, state in a.inputs]
    return record


def _approval_details(ev: Evaluation, plan: SafetyPlan) -> dict[str, Any]:
    details = {**_decision_record(ev), "content": redact(ev.action.content()),
               "context": ev.action.context.canonical(), "front": ev.action.front,
               "safety_plan": plan.to_json()}
    if ev.action.stated is not None:  # shown to approvers as the agent's claim; not bound
        details["agent_says"] = redact(ev.action.stated.to_json())
    return details
