"""From the gate's outcome to what an MCP front tells the model.

A held or denied tool call is answered with a tool *result* (`isError: true`) that says what
happened and what a human must do — never with a protocol error, which a harness shows as a
broken server and a model cannot act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airlock.fronts.mcp.relay import Ruling

__all__ = ["denied_text", "held_text", "ruling_of"]

_ALLOWED = ("allowed", "executed")


def held_text(what: str, reason: str, approval_id: str | None) -> str:
    if approval_id is None:
        return f"airlock held {what}: {reason}. It did not run."
    return (f"airlock held {what}: {reason}. It did not run. A human must approve it first: "
            f"approval {approval_id} (`airlock approve {approval_id}`, or the approval console). "
            "Once it is approved, make exactly the same call again and it runs once; airlock's "
            f"wait_for_approval tool waits for the decision. Do not try another way around it.")


def denied_text(what: str, reason: str) -> str:
    return (f"airlock denied {what}: {reason}. It did not run. Do not retry it or look for "
            "another way to do it; ask a human if it must be done.")


def ruling_of(outcome: Mapping[str, Any], what: str) -> Ruling:
    """A Ruling from an outcome's JSON form (`fronts.jsonforms.outcome_json`, or the same
    from `airlock up`). Anything but allowed or executed is a refusal."""
    status = str(outcome.get("status", ""))
    reason = str(outcome.get("reason") or "no reason was given")
    approval = outcome.get("approval_id")
    approval_id = approval if isinstance(approval, str) else None
    if status in _ALLOWED:
        return Ruling(True, "", approval_id, status)
    if status == "held":
        return Ruling(False, held_text(what, reason, approval_id), approval_id, status)
    if status == "denied":
        return Ruling(False, denied_text(what, reason), approval_id, status)
    return Ruling(False, f"airlock did not let {what} run ({status or 'no answer'}: {reason}).",
                  approval_id, status or "error")
