"""`airlock sql RESOURCE 'STATEMENT'`: a front that runs SQL with airlock's own credentials.

It opens a protected transaction on the resource (vault/txn.py), submits the statement to a
gate whose safety net works inside that transaction and whose executor runs the statement in
it, and commits only through the executor — so a row before-image is taken in the same
transaction as the DELETE or UPDATE it protects. Held or denied statements are rolled back
(nothing ran). The PostgreSQL wire proxy is meant to reuse `protected_gate` per transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airlock.errors import InputError
from airlock.fronts.context import action_context, front_action
from airlock.gate import Gate
from airlock.model import Action, Caller, Outcome, SqlQuery
from airlock.runtime import Runtime
from airlock.vault.net import VaultNet
from airlock.vault.progress import Progress
from airlock.vault.snapshot.pgtools import PgConn
from airlock.vault.txn import ProtectedTransaction

MAX_STATEMENT = 256 * 1024


@dataclass
class StatementExecutor:
    """Runs the approved statement in the protected transaction, then commits."""

    txn: ProtectedTransaction
    performs: bool = True

    def execute(self, action: Action, snapshots: tuple[str, ...]) -> Mapping[str, Any]:
        if not isinstance(action.payload, SqlQuery):
            raise InputError("the SQL front executes SQL statements only")
        return self.txn.execute(action.payload.text)


def protected_gate(runtime: Runtime, txn: ProtectedTransaction,
                   progress: Progress | None = None) -> Gate:
    net = runtime.safety_net
    if isinstance(net, VaultNet):
        net = net.within(txn, progress)
    return runtime.gate(executor=StatementExecutor(txn), safety_net=net)


def run_sql(runtime: Runtime, resource_name: str, text: str, caller: Caller,
            progress: Progress | None = None) -> Outcome:
    config = runtime.config
    resource = config.resources.get(resource_name)
    if resource is None:
        known = ", ".join(sorted(n for n, r in config.resources.items() if r.kind == "postgres"))
        raise InputError(f"resource {resource_name!r} is not configured in {config.source} "
                         f"(postgres resources: {known or 'none'})")
    if resource.kind != "postgres" or resource.url is None:
        raise InputError(f"resource {resource_name} is a {resource.kind} resource; `airlock sql` "
                         "runs statements on postgres resources")
    if not text.strip():
        raise InputError("give the SQL statement to run")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_STATEMENT:
        raise InputError(f"the statement is over {MAX_STATEMENT // 1024} KiB")
    action = front_action(SqlQuery(text, "postgres"), caller, "sql",
                          action_context(config, resource=resource_name))
    pg = PgConn(resource.url.reveal(), config.vault.pg_bin)
    with ProtectedTransaction(resource_name, pg) as txn:
        return protected_gate(runtime, txn, progress).submit(action, caller)
