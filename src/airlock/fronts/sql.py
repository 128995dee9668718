"""`airlock sql RESOURCE 'STATEMENT'`: a front that runs SQL with airlock's own credentials.

It opens a protected transaction on the resource (upstream/transaction.py), submits the
statement to `runtime.protected_gate(txn)` — a gate whose safety net works inside that
transaction and whose executor runs the statement in it — and commits only through the executor,
so a row before-image is taken in the same transaction as the DELETE or UPDATE it protects. Held
or denied statements are rolled back (nothing ran).
"""

from __future__ import annotations

from airlock.errors import InputError
from airlock.fronts.context import action_context, front_action
from airlock.model import Caller, Outcome, SqlQuery
from airlock.runtime import Runtime
from airlock.upstream.postgres import postgres_of
from airlock.upstream.transaction import ProtectedTransaction
from airlock.vault.progress import Progress

MAX_STATEMENT = 256 * 1024


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
    with ProtectedTransaction(resource_name, postgres_of(resource, config)) as txn:
        return runtime.protected_gate(txn, progress).submit(action, caller)
