"""What the console's pages show, computed from stored approvals and audit records.

Templates only lay out what these functions return; every judgement about what is production,
how long is left, or what may be shown is made here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup

from airlock.approvals import effective_status
from airlock.audit import AuditRecord
from airlock.config import Config
from airlock.console.highlight import content_html
from airlock.console.moments import moment
from airlock.model import UNKNOWN_ENVIRONMENT
from airlock.redact import redact_text
from airlock.store import ApprovalRecord, ApprovalStatus

ACTION_NOUNS = {"sql": "SQL", "shell": "a shell command", "http": "an HTTP call",
                "mcp": "an MCP tool call", "file_read": "a file read", "file_write": "a file write"}


@dataclass(frozen=True, slots=True)
class EnvironmentView:
    name: str
    production: bool

    @property
    def label(self) -> str:
        return "unknown → production" if self.name == UNKNOWN_ENVIRONMENT else self.name


def environments(details: dict[str, Any], config: Config) -> list[EnvironmentView]:
    """Every environment the action reaches, production first (it is what matters)."""
    names = {env for t in details.get("targets") or [] for env in t.get("environments", [])}
    views = [EnvironmentView(n, n == UNKNOWN_ENVIRONMENT or config.environment(n).production)
             for n in names]
    return sorted(views, key=lambda v: (not v.production, v.name))


def approval_summary(approval: ApprovalRecord, config: Config, now: datetime,
                     enrolled: frozenset[str] | None = None) -> dict[str, Any]:
    """A row of the pending and recent lists. `enrolled`: the enrolled human approvers (None:
    not known), so a hold that needs more people than can approve it says so."""
    envs = environments(approval.details, config)
    status = effective_status(approval, now)
    can_approve = len(enrolled - {approval.principal}) if enrolled is not None else None
    short = (can_approve is not None and status is ApprovalStatus.PENDING
             and approval.approvals_required > can_approve)
    return {
        "can_approve": can_approve, "short_of_approvers": short,
        "id": approval.id, "summary": redact_text(approval.summary),
        "risk": approval.risk.value, "principal": approval.principal,
        "front": approval.details.get("front") or "", "status": status.value,
        "pending": status is ApprovalStatus.PENDING,
        "environments": envs, "production": any(e.production for e in envs),
        "approvals": sum(g.decision == "approve" for g in approval.grants),
        "approvals_required": approval.approvals_required,
        "requested_at": moment(approval.requested_at, now), "expires_at": approval.expires_at,
        "expires": moment(approval.expires_at, now),
        "decided_by": ", ".join(g.approver for g in approval.grants),
        "decided_at": moment(approval.decided_at or approval.used_at, now),
        "reason": approval.reason,
    }


def approval_page(approval: ApprovalRecord, config: Config, now: datetime,
                  viewer: str, *, enrolled: frozenset[str] | None = None,
                  used: list[AuditRecord] | None = None) -> dict[str, Any]:
    """Everything an approver needs to decide, from the record stored at hold time; `used`:
    the audit records of the action that spent the approval (its outcome, its snapshots)."""
    details = approval.details
    content = details.get("content") or {}
    context = details.get("context") or {}
    decision = details.get("decision") or {}
    plan = details.get("safety_plan") or {"steps": [], "unprotected": []}
    kind = str(content.get("kind", ""))
    view = approval_summary(approval, config, now, enrolled)
    targets = [{"target": t.get("target"), "resource": t.get("resource"),
                "environments": [EnvironmentView(e, e == UNKNOWN_ENVIRONMENT
                                                 or config.environment(e).production)
                                 for e in t.get("environments", [])],
                "blast_radius": t.get("blast_radius") or [], "note": t.get("note") or ""}
               for t in details.get("targets") or []]
    blast = sorted({r for t in targets for r in t["blast_radius"]})
    already = any(g.approver == viewer for g in approval.grants)
    view.update({
        "kind": kind, "kind_noun": ACTION_NOUNS.get(kind, kind or "an action"),
        "content_html": content_html(content) if content else Markup(""),
        "context": {k: v for k, v in context.items() if v},
        "action_id": approval.action_id, "digest": approval.digest,
        "targets": targets, "blast_radius": blast,
        "effects": details.get("effects") or [], "reasons": details.get("reasons") or [],
        "complete": details.get("complete", True), "classifier": details.get("classifier"),
        "rule": decision.get("rule"), "rule_reason": decision.get("reason"),
        "plan_steps": [plan_step(step) for step in plan.get("steps") or []
                       if isinstance(step, dict)], "plan_unprotected": plan.get("unprotected") or [],
        "snapshot_required": decision.get("snapshot_required", False),
        "grants": [{"approver": g.approver, "decision": g.decision, "at": moment(g.at, now),
                    "reason": g.reason, "without_backup": g.without_backup}
                   for g in approval.grants],
        "own_request": viewer == approval.principal, "already_decided": already,
        "can_decide": view["pending"] and viewer != approval.principal and not already,
        "used_by_action": approval.used_by_action,
        "agent_says": agent_says(details),
        "outcome": outcome_of(used or [], now),
    })
    return view


def plan_step(step: dict[str, Any]) -> dict[str, Any]:
    """A backup step, with the tables it reaches and their row estimates when the plan carries
    them (a cascading DELETE reaches more tables than it names)."""
    tables = []
    for t in step.get("tables") or []:
        if isinstance(t, dict):
            name = t.get("table") or t.get("name")
            rows = t.get("estimated_rows", t.get("rows", t.get("estimate")))
            if isinstance(name, str):
                tables.append({"name": name, "rows": rows if isinstance(rows, int) else None,
                               "why": str(t.get("why") or t.get("via") or "")})
        elif isinstance(t, str):
            tables.append({"name": t, "rows": None, "why": ""})
    return {**step, "tables": tables}


def outcome_of(records: list[AuditRecord], now: datetime) -> dict[str, Any] | None:
    """What happened when the approval was used: the newest outcome of the action, with the
    snapshots (backups) taken first."""
    for record in records:
        if record.kind == "outcome":
            data = record.data
            snapshots = [s for s in data.get("snapshots") or [] if isinstance(s, str)]
            return {"status": str(data.get("status") or ""),
                    "reason": redact_text(str(data.get("reason") or "")),
                    "backup": redact_text(str(data.get("backup") or "")),
                    "snapshots": snapshots, "seq": record.seq, "at": moment(record.at, now)}
    return None

def agent_says(details: dict[str, Any]) -> dict[str, str]:
    """The agent's own account of the call (its description, its session), redacted again:
    text the agent wrote is shown as its claim, never as airlock's judgement."""
    said = details.get("agent_says")
    if not isinstance(said, dict):
        return {}
    return {k: redact_text(v) for k, v in said.items()
            if k in ("description", "conversation", "harness") and isinstance(v, str) and v}


def approval_json(approval: ApprovalRecord, config: Config, now: datetime) -> dict[str, Any]:
    """What `airlock approve --server` shows before it asks for a code: the same facts as the
    hold page, redacted, as JSON."""
    details = approval.details
    plan = details.get("safety_plan") or {}
    decision = details.get("decision") or {}
    envs = environments(details, config)
    return {
        "id": approval.id, "status": effective_status(approval, now).value,
        "risk": approval.risk.value, "principal": approval.principal,
        "front": details.get("front") or "", "summary": redact_text(approval.summary),
        "environments": [{"name": e.name, "label": e.label, "production": e.production}
                         for e in envs],
        "reason": decision.get("reason"), "rule": decision.get("rule"),
        "agent_says": agent_says(details),
        "plan": {"steps": [plan_step(step) for step in plan.get("steps") or []
                           if isinstance(step, dict)],
                 "unprotected": [u for u in plan.get("unprotected") or [] if isinstance(u, dict)]},
        "approvals": sum(g.decision == "approve" for g in approval.grants),
        "approvals_required": approval.approvals_required,
        "requested_at": approval.requested_at, "expires_at": approval.expires_at,
    }
