"""The facts the doctor needs from airlock's state, read by the state's owner (as plain JSON, so
they cross from airlock's user to the doctor without anything secret): tokens (never their
hashes), enrolled approvers, each resource's newest snapshot, each resource's last drill, and
whether the audit chain verifies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airlock.audit import verify_records
from airlock.config import load_config
from airlock.runtime import Runtime


def read_state(config_path: Path | str | None) -> dict[str, Any]:
    runtime = Runtime(load_config(config_path))
    try:
        store = runtime.store
        tokens = [{"id": t.id, "principal": t.principal, "kind": t.principal_kind.value,
                   "scope": t.scope.to_json(), "created_at": t.created_at,
                   "revoked": t.revoked_at is not None} for t in store.list_tokens()]
        approvers = [a.name for a in store.list_approvers()]
        newest: dict[str, str] = {}
        for snap in store.list_snapshots(limit=100_000):
            if snap.created_at > newest.get(snap.resource, ""):
                newest[snap.resource] = snap.created_at
        drills: dict[str, dict[str, Any]] = {}
        chain = verify_records(store.audit_records(), runtime.existing_audit_key())
        for record in store.audit_records(kinds=("drill",)):
            resource = str(record.data.get("resource", ""))
            drills.setdefault(resource, {"last": "", "last_ok": ""})
            drills[resource]["last"] = record.at
            if record.data.get("ok"):
                drills[resource]["last_ok"] = record.at
        audit = {"ok": chain.ok, "count": chain.count, "head": chain.head,
                 "problem": chain.problem, "bad_seq": chain.bad_seq}
        return {"tokens": tokens, "approvers": approvers, "snapshots": newest, "drills": drills,
                "audit": audit}
    finally:
        runtime.close()
