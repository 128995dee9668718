"""`airlock sql RESOURCE 'STATEMENT'`: run SQL through the gate with airlock's credentials.

Exit status: 0 executed, 1 the statement failed (rolled back), 3 held (an approval id is
printed; run the same command again once it is approved), 4 denied, 2 error.

The statement runs with airlock's credential for the resource, so the caller proves who it is
with a token (`--token` or $AIRLOCK_TOKEN) and is bound by that token's scope; `--principal`
is refused — anyone can type a name, and the agent would otherwise act as whoever it named
with airlock's production credential.
"""

from __future__ import annotations

import json
import os
from typing import Any

import typer
from rich.markup import escape

from airlock.cli.app import EXIT_DENY, EXIT_FAILED, EXIT_HOLD, EXIT_OK, app, out, state
from airlock.cli.progress import progress_for_terminal
from airlock.errors import InputError
from airlock.fronts.jsonforms import outcome_json
from airlock.fronts.sql import run_sql
from airlock.model import Caller, Outcome, Status
from airlock.runtime import Runtime
from airlock.tokens import authenticate

TOKEN_ENV = "AIRLOCK_TOKEN"  # noqa: S105  (a variable name, not a secret)
_EXIT = {Status.EXECUTED: EXIT_OK, Status.ALLOWED: EXIT_OK, Status.HELD: EXIT_HOLD,
         Status.DENIED: EXIT_DENY, Status.FAILED: EXIT_FAILED}


@app.command("sql")
def sql(ctx: typer.Context,
        resource: str = typer.Argument(..., help="A configured postgres resource."),
        statement: str = typer.Argument(..., help="The SQL to run."),
        token: str | None = typer.Option(None, "--token", help=f"The airlock token of whoever "
                                         f"acts, agent or human (default: ${TOKEN_ENV})."),
        principal: str | None = typer.Option(None, "--principal", "-p", hidden=True,
                                             help="Refused: `airlock sql` needs a token."),
        as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON.")) -> None:
    """Run a statement on a resource through the gate with airlock's credential for it
    (needs your token); destructive statements are backed up first, row before-images in the
    statement's own transaction."""
    runtime = state(ctx).runtime()
    caller = sql_caller(runtime, resource, token or os.environ.get(TOKEN_ENV), principal)
    outcome = run_sql(runtime, resource, statement, caller, progress_for_terminal())
    if as_json:
        out.print_json(json.dumps(outcome_json(outcome)))
    else:
        print_outcome(outcome)
    raise typer.Exit(_EXIT[outcome.status])


def sql_caller(runtime: Runtime, resource: str, token: str | None,
               principal: str | None) -> Caller:
    """Who runs the statement. airlock's own credential for the resource does the work, so the
    caller must prove who it is with a token; naming a principal proves nothing (an agent can
    type any name)."""
    hint = (f"pass --token (or set ${TOKEN_ENV}); a human issues tokens with `airlock token "
            "create --principal NAME --env ENV`")
    if principal is not None:
        raise InputError(f"`airlock sql` does not take --principal: it runs the statement on "
                         f"{resource} with airlock's own credential, so whoever acts must show "
                         "their token. (--principal is for `airlock check` and `airlock policy "
                         "explain`, which run nothing.)", hint=hint)
    if not token:
        raise InputError(f"`airlock sql` runs the statement on {resource} with airlock's own "
                         "credential, so it needs the token of whoever acts", hint=hint)
    return authenticate(runtime.store, runtime.config, token)


def print_outcome(outcome: Outcome) -> None:
    style = {Status.EXECUTED: "bold green", Status.HELD: "bold yellow",
             Status.DENIED: "bold red", Status.FAILED: "bold red"}.get(outcome.status, "bold")
    out.print(f"[{style}]{outcome.status.value.upper()}[/]  {escape(outcome.reason)}")
    if outcome.approval_id and outcome.status is Status.HELD:
        out.print(f"approval: {outcome.approval_id} — once approved, run the same command again")
    for snapshot in outcome.snapshots:
        out.print(f"snapshot: {snapshot}" if snapshot.startswith("snap_") else f"deferred: {snapshot}")
    result: dict[str, Any] = dict(outcome.result or {})
    if "columns" in result:
        out.print(escape("\t".join(result["columns"])))
        for row in result.get("rows", []):
            out.print(escape("\t".join("" if v is None else str(v) for v in row)))
        if result.get("truncated"):
            out.print("… (more rows not shown)")
    elif result.get("status"):
        out.print(escape(str(result["status"])))
