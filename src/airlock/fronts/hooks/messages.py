"""What the hooks tell the agent (and the person watching), from the gate's outcomes.

The agent reads these and acts on them, so each says what happened, why, and what to do next:
a hold names its approval and says to ask a human and then retry *exactly the same* command
(the approval is bound to that command, its working directory and its targets); a deny says an
approval cannot change it. When nobody could approve yet — airlock runs without a configuration,
or no approver is enrolled — the hold says so plainly instead of sending the agent to wait.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from airlock.inventory import describe_blast
from airlock.model import Action, Decision, Outcome, Status, Verdict
from airlock.store import ApprovalRecord, ApprovalStatus

MAX_SUMMARY = 160


@dataclass(frozen=True, slots=True)
class Judged:
    """One payload of a tool call, submitted to the gate, with its approval when held."""

    action: Action
    outcome: Outcome
    approval: ApprovalRecord | None = None


def allowed(judged: Sequence[Judged]) -> str:
    reasons = "; ".join(dict.fromkeys(j.outcome.reason for j in judged))
    return f"airlock allowed this: {reasons}"


def denied(judged: Judged) -> str:
    action, outcome = judged.action, judged.outcome
    lines = [f"airlock denied this action: {action.summary(MAX_SUMMARY)}",
             f"why: {outcome.reason}"]
    details = [r for r in outcome.assessment.reasons if r not in outcome.reason]
    if details:
        lines.append(f"what airlock saw: {'; '.join(details[:3])}")
    lines.append("An approval cannot change a deny: do not retry it; find another way, or ask a "
                 "human to change airlock's configuration if this should be allowed.")
    return "\n".join(lines)


def held(judged: Sequence[Judged], *, approver_note: str | None,
         console_url: str | None = None) -> str:
    """`console_url` (the configured `public_url`) puts each approval's console page in the
    message, so the person watching the agent can open it from there."""
    lines: list[str] = []
    for one in judged:
        lines.append(f"airlock held this action: {one.action.summary(MAX_SUMMARY)}")
        lines.append(f"why: {one.outcome.reason}")
        blast = describe_blast(one.outcome.targets)
        if blast:
            lines.append(f"what else it reaches: {blast}")
        approval = one.approval
        if approval is not None:
            lines.append(f"approval: {approval.id} (needs {approval.approvals_required} human "
                         f"approval{'s' if approval.approvals_required != 1 else ''}; expires "
                         f"{approval.expires_at})")
        elif one.outcome.approval_id:
            lines.append(f"approval: {one.outcome.approval_id}")
        if console_url and one.outcome.approval_id:
            lines.append(f"console: {console_url}/console/approvals/{one.outcome.approval_id}")
    waiting = [j for j in judged if j.approval is None
               or j.approval.status is not ApprovalStatus.APPROVED]
    if not waiting:  # approved, but something else stopped it (a backup that failed)
        lines.append("It is approved already; once the problem above is fixed, run exactly the "
                     "same command again.")
        return "\n".join(lines)
    ids = [j.outcome.approval_id for j in waiting if j.outcome.approval_id] or ["ID"]
    if approver_note:
        lines.append(approver_note)
    how = (f"`airlock approve {ids[0]}`" if len(ids) == 1 else
           f"`airlock approve ID` for each of {', '.join(ids)}")
    lines.append(f"Ask a human to approve it ({how} or the console), then run exactly the same "
                 "command again, in the same directory: the approval is bound to it and lets it "
                 "through once.")
    return "\n".join(lines)


def asked(judged: Sequence[Judged]) -> str:
    reasons = "; ".join(dict.fromkeys(j.outcome.reason for j in judged))
    return (f"airlock would hold this for a human approval ({reasons}). airlock's "
            "ask_passthrough is on, so you decide here instead.")


def second_look_denied(action: Action, decision: Decision) -> str:
    return (f"airlock denied this action: {action.summary(MAX_SUMMARY)}\nwhy: {decision.reason}\n"
            "An approval cannot change a deny.")


def failed(what: str) -> str:
    return (f"airlock could not judge this tool call ({what}), so it is blocked to be safe. "
            "Retry it once; if it keeps failing, ask a human to look at airlock.")


NO_CONFIG_NOTE = ("Nobody can approve this yet: airlock is running on its built-in policy with "
                  "no configuration file. A human must set airlock up (`airlock init`), declare "
                  "themselves as a human principal and enrol as an approver (`airlock approver "
                  "add NAME`) first.")
NO_APPROVER_NOTE = ("Nobody is enrolled to approve yet: a human must enrol as an approver "
                    "(`airlock approver add NAME`) before this can be approved.")


def worst(judged: Sequence[Judged]) -> Verdict:
    """The strictest outcome decides the tool call: one denied payload denies it all."""
    statuses = {j.outcome.status for j in judged}
    if not statuses or statuses & {Status.DENIED, Status.FAILED}:  # nothing judged: no allow
        return Verdict.DENY
    if Status.HELD in statuses:
        return Verdict.HOLD
    return Verdict.ALLOW
