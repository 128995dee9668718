"""The vault's commands: backup, snapshots, restore, undo, drill, vault verify|purge, deferred,
cancel.

`--vault LOCATION` (a folder or s3://bucket/prefix) works without any airlock state or
configuration: the manifests in the vault say what each snapshot is; the key comes from
`--key-file` or `$AIRLOCK_VAULT_KEY`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from airlock.cli.app import EXIT_FAILED, CliState, app, err, out, state
from airlock.cli.progress import progress_for_terminal
from airlock.config import Config
from airlock.errors import InputError
from airlock.store import DeferredStatus, Store
from airlock.upstream.postgres import PgConn, postgres_of
from airlock.vault import backup as backups
from airlock.vault import deferred as deferrals
from airlock.vault import identity, quarantine
from airlock.vault.catalog import Catalog
from airlock.vault.core import Vault
from airlock.vault.drill import DrillReport, drill
from airlock.vault.errors import IntegrityError
from airlock.vault.location import key_from, store_at
from airlock.vault.manifest import Manifest
from airlock.vault.progress import human_size
from airlock.vault.restore import (
    RestorePlan,
    apply_restore,
    find_snapshot,
    plan_restore,
    resolve_target,
    snapshots_of_action,
)
from airlock.vault.verify import verify_vault

vault_app = typer.Typer(no_args_is_help=True, help="Check the vault and purge soft-dropped tables.")
app.add_typer(vault_app, name="vault")

VaultOpt = typer.Option(None, "--vault", metavar="LOCATION",
                        help="Use the vault at LOCATION (a folder or s3://bucket/prefix) "
                             "instead of the configured one; needs no airlock state.")
KeyFileOpt = typer.Option(None, "--key-file", metavar="FILE",
                          help="The vault key (default: the configured key, else "
                               "$AIRLOCK_VAULT_KEY).")
JsonOpt = typer.Option(False, "--json", help="Print JSON.")


class _Context:
    """The vault, catalog and configuration a command works with."""

    def __init__(self, ctx: typer.Context, location: str | None, key_file: Path | None) -> None:
        self.cli: CliState = state(ctx)
        self.location = location
        if location is not None:
            self.vault = Vault(store_at(location), key_from(key_file))
            self.config: Config | None = self._optional_config()
            self.store: Store | None = None
        else:
            runtime = self.cli.runtime()
            self.config = runtime.config
            self.store = runtime.store
            self.vault = runtime.vault
            if key_file is not None:
                self.vault = Vault(self.vault.store, key_from(key_file),
                                   catalog=self.vault.catalog, retention=self.vault.retention,
                                   guard=self.vault.guard)

    def _optional_config(self) -> Config | None:
        # A bare --vault restore may still name configured resources as --into targets.
        try:
            return self.cli.config()
        except Exception:
            return None

    def record(self, kind: str, data: dict[str, Any]) -> None:
        if self.store is not None:
            self.cli.runtime().audit.record(kind, None, data)


# ---- backup and listing -------------------------------------------------------------------------

@app.command("backup")
def backup(ctx: typer.Context,
           resource: list[str] = typer.Argument(None, help="Configured resources to back up."),
           due: bool = typer.Option(False, "--due", help="Back up every resource whose "
                                    "backup_schedule says it is due (for cron)."),
           as_json: bool = JsonOpt) -> None:
    """Take a full backup of a resource (a database dump, a SQLite copy, a folder archive)."""
    c = _Context(ctx, None, None)
    assert c.config is not None and c.store is not None
    names = list(resource or [])
    if due:
        names += [n for n in backups.due(c.config, c.store) if n not in names]
    if not names:
        if due:
            out.print("no scheduled backup is due")
            return
        raise InputError("name a resource to back up (or --due for scheduled backups)")
    taken = []
    for name in names:
        manifest = backups.backup_resource(c.vault, c.config, name, progress_for_terminal())
        c.record("backup", {"resource": name, "snapshot": manifest.id, "size": manifest.size})
        taken.append(manifest)
        if not as_json:
            out.print(f"[bold green]OK[/] {manifest.id}  {escape(manifest.summary)}  "
                      f"{human_size(manifest.size)} stored, verified")
    if as_json:
        out.print_json(json.dumps([_manifest_json(m) for m in taken]))


def _manifest_json(m: Manifest) -> dict[str, Any]:
    return {"id": m.id, "kind": m.kind, "resource": m.resource, "environment": m.environment,
            "action_id": m.action_id, "created_at": m.created_at, "size": m.size,
            "retain_until": m.retain_until, "summary": m.summary}


@app.command("snapshots")
def snapshots(ctx: typer.Context,
              resource: str | None = typer.Argument(None, help="Only this resource's."),
              vault: str | None = VaultOpt, key_file: Path | None = KeyFileOpt,
              as_json: bool = JsonOpt) -> None:
    """List snapshots, newest first (from the catalog; with --vault, from the vault itself)."""
    c = _Context(ctx, vault, key_file)
    rows: list[dict[str, Any]]
    if c.store is not None:
        rows = [r.to_json() for r in c.store.list_snapshots(resource=resource)]
    else:
        found = sorted(c.vault.manifests(), key=lambda m: m.created_at, reverse=True)
        rows = [_manifest_json(m) for m in found if resource is None or m.resource == resource]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    if not rows:
        out.print("no snapshots" + (f" of {escape(resource)}" if resource else ""))
        return
    for r in rows:
        verified = ""
        if r.get("last_verified_at"):
            verified = ("  [red]DAMAGED[/]" if r.get("verify_problem")
                        else f"  verified {r['last_verified_at'][:19]}")
        out.print(f"{r['id']}  {r['created_at'][:19]}  {escape(r['resource'])}  {r['kind']:<19} "
                  f"{human_size(r['size']):>9}  action {r.get('action_id') or '-'}  "
                  f"{escape(r.get('summary') or '')}{verified}")


# ---- restore and undo ---------------------------------------------------------------------------

def _print_plan(plan: RestorePlan) -> None:
    m = plan.manifest
    out.print(f"[bold]restore {m.id}[/] ({m.kind}, {escape(m.summary)}, taken {m.created_at[:19]})")
    out.print(f"  into {escape(plan.target.description)}")
    for line in plan.creates:
        out.print(f"  [green]create[/]     {escape(line)}")
    for line in plan.overwrites:
        out.print(f"  [yellow]overwrite[/]  {escape(line)}")
    for line in plan.steps:
        out.print(f"  step       {escape(line)}")
    for line in plan.problems:
        out.print(f"  [red]problem[/]    {escape(line)}")


def _confirm(plans: list[RestorePlan], force: bool) -> bool:
    """Overwriting needs --force, or a typed confirmation on a terminal."""
    if force or not any(p.overwrites for p in plans):
        return force
    if not sys.stdin.isatty():
        raise InputError("this restore would overwrite what exists (see the plan above)",
                         hint="run it again with --force, or interactively to confirm")
    answer = typer.prompt("This overwrites what is listed above. Type 'overwrite' to go on")
    if answer.strip() != "overwrite":
        raise InputError("not confirmed; nothing was changed")
    return True


def _restore_all(c: _Context, manifests: list[Manifest], into: str | None, plan_only: bool,
                 force: bool, as_json: bool, what: str) -> None:
    plans = [plan_restore(c.vault, m, resolve_target(m, into, c.config)) for m in manifests]
    if as_json:
        out.print_json(json.dumps([p.to_json() for p in plans]))
    else:
        for plan in plans:
            _print_plan(plan)
    problems = [p for p in plans if p.problems]
    if problems:
        raise InputError(f"{what} refused: {problems[0].manifest.id}: {problems[0].problems[0]}")
    if plan_only:
        return
    confirmed = _confirm(plans, force)
    for plan in plans:
        apply_restore(c.vault, plan, force=confirmed, progress=progress_for_terminal())
        c.record("restored", {"snapshot": plan.manifest.id, "target": plan.target.description,
                              "forced": confirmed, "via": what})
        if not as_json:
            out.print(f"[bold green]restored[/] {plan.manifest.id} into "
                      f"{escape(plan.target.description)}")


@app.command("restore")
def restore(ctx: typer.Context,
            snapshot: str = typer.Argument(..., help="The snapshot id (snap_…)."),
            into: str | None = typer.Option(None, "--into", metavar="TARGET",
                                            help="A configured resource, a postgresql:// URL or "
                                                 "a path (default: where it was taken)."),
            plan_only: bool = typer.Option(False, "--plan", help="Show the plan; change nothing."),
            force: bool = typer.Option(False, "--force", help="Overwrite what exists."),
            vault: str | None = VaultOpt, key_file: Path | None = KeyFileOpt,
            as_json: bool = JsonOpt) -> None:
    """Restore a snapshot: plan first (what is created or overwritten), then apply."""
    c = _Context(ctx, vault, key_file)
    _restore_all(c, [find_snapshot(c.vault, snapshot)], into, plan_only, force, as_json, "restore")


@app.command("undo")
def undo(ctx: typer.Context,
         action_id: str = typer.Argument(..., help="The id of the action to undo (act_…)."),
         into: str | None = typer.Option(None, "--into", metavar="TARGET",
                                         help="Restore somewhere else instead."),
         plan_only: bool = typer.Option(False, "--plan", help="Show the plan; change nothing."),
         force: bool = typer.Option(False, "--force", help="Overwrite what exists."),
         vault: str | None = VaultOpt, key_file: Path | None = KeyFileOpt,
         as_json: bool = JsonOpt) -> None:
    """Put back what an action destroyed: restore the snapshots taken for it."""
    c = _Context(ctx, vault, key_file)
    manifests = snapshots_of_action(c.vault, c.store, action_id)
    if not manifests:
        raise InputError(f"no snapshot was taken for action {action_id}",
                         hint="find the action in `airlock audit export`; list snapshots with "
                              "`airlock snapshots`")
    _restore_all(c, manifests, into, plan_only, force, as_json, f"undo of {action_id}")


# ---- drills and verification --------------------------------------------------------------------

@app.command("drill")
def drill_cmd(ctx: typer.Context,
              resource: str | None = typer.Argument(None, help="Only this resource."),
              vault: str | None = VaultOpt, key_file: Path | None = KeyFileOpt,
              as_json: bool = JsonOpt) -> None:
    """Restore the newest snapshot of each resource into a scratch target and check its rows and
    content hashes against what was recorded; clean up; report. Exit 1 if any drill fails.
    (For a resource not in the configuration, PostgreSQL drills use $AIRLOCK_DRILL_URL.)"""
    c = _Context(ctx, vault, key_file)
    newest: dict[str, Manifest] = {}
    for m in sorted(c.vault.manifests(), key=lambda m: m.created_at):
        if resource is None or m.resource == resource:
            newest[m.resource] = m
    if not newest:
        raise InputError("no snapshot to drill" + (f" of {resource}" if resource else ""),
                         hint="take one with `airlock backup RESOURCE`")
    reports: list[DrillReport] = []
    for name, manifest in sorted(newest.items()):
        pg = _pg_of(c.config, name, manifest.kind)
        report = drill(c.vault, manifest, pg)
        reports.append(report)
        c.record("drill", report.to_json())
    if as_json:
        out.print_json(json.dumps([r.to_json() for r in reports]))
    else:
        for r in reports:
            mark = "[bold green]PASS[/]" if r.ok else "[bold red]FAIL[/]"
            out.print(f"{mark} {escape(r.resource)} {r.snapshot} ({r.kind}) in {r.seconds:.1f}s")
            for check in r.checks:
                if check["ok"]:
                    out.print(f"  ok      {escape(str(check['what']))}: {_short(check['found'])}")
                else:
                    out.print(f"  [red]differs[/] {escape(str(check['what']))}: expected "
                              f"{_short(check['expected'])}, found {_short(check['found'])}")
            if r.error:
                out.print(f"  [red]error[/]   {escape(r.error)}")
    if not all(r.ok for r in reports):
        raise typer.Exit(EXIT_FAILED)


def _short(value: Any) -> str:
    if isinstance(value, dict) and "rows" in value:
        return f"{value['rows']} rows, sha256 {str(value.get('sha256', ''))[:12]}…"
    return escape(str(value))


def _pg_of(config: Config | None, name: str, kind: str) -> PgConn | None:
    """Where a PostgreSQL drill or purge connects: the configured resource, else (a bare
    --vault drill) $AIRLOCK_DRILL_URL."""
    if not kind.startswith("postgres"):
        return None
    res = config.resources.get(name) if config is not None else None
    if res is None or res.url is None:
        url = os.environ.get("AIRLOCK_DRILL_URL")
        return PgConn(url) if url else None
    assert config is not None  # a resource was found in it
    return postgres_of(res, config)


@vault_app.command("verify")
def verify(ctx: typer.Context, vault: str | None = VaultOpt, key_file: Path | None = KeyFileOpt,
           as_json: bool = JsonOpt) -> None:
    """Read back every object and check its sha256 against its manifest; report damaged
    snapshots by name, interrupted writes, and catalog drift. Exit 1 if anything is damaged."""
    c = _Context(ctx, vault, key_file)
    catalog = Catalog(c.store) if c.store is not None else None
    report = verify_vault(c.vault, catalog, progress_for_terminal())
    if c.store is not None:  # the state knows which vault it should be
        gone = identity.problem(c.vault, c.store)
        if gone:
            report.problems.insert(0, ("identity", f"{gone}; {identity.REPAIR}"))
    c.record("vault_verified", {"ok": report.ok, "checked": report.checked,
                                "problems": [f"{s}: {p}" for s, p in report.problems]})
    if as_json:
        out.print_json(json.dumps(report.to_json()))
    else:
        mark = "[bold green]OK[/]" if report.ok else "[bold red]DAMAGED[/]"
        out.print(f"{mark} {escape(report.location)}: {report.checked} snapshot(s) checked"
                  + ("" if c.vault.key else " (digests only: no key, manifests' MACs unchecked)"))
        for snapshot_id, problem in report.problems:
            out.print(f"  [red]{snapshot_id}[/]: {escape(problem)}")
        if report.orphans:
            out.print(f"  {len(report.orphans)} object(s) of interrupted snapshots (never "
                      "listed, never restored); they expire with their retention")
        if report.reconciled and report.reconciled.added:
            out.print(f"  added to the catalog: {', '.join(report.reconciled.added)}")
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


@vault_app.command("adopt")
def adopt(ctx: typer.Context,
          force: bool = typer.Option(False, "--force",
                                     help="Accept it although the state knew another vault (or "
                                          "none is there: start a new one in its place).")
          ) -> None:
    """Accept the vault at the configured location as this state's (after it was moved,
    replaced or the state was recreated): records its identity, or gives it a new one."""
    runtime = state(ctx).runtime()
    vault = runtime.vault
    expected = identity.recorded_identity(runtime.store)
    try:
        found = identity.read_identity(vault)
    except IntegrityError as exc:
        if not force:
            raise InputError(f"the vault at {vault.location} has a damaged identity: "
                             f"{exc.message}", hint="repair or replace it, or give it a new "
                             "identity with --force") from None
        found = None
    if found is not None and found.id == expected:
        out.print(f"the vault at {escape(vault.location)} is already this state's "
                  f"({found.id}); nothing changed")
        return
    if expected is not None and not force:
        what = (f"it holds another vault ({found.id})" if found is not None else
                "it has no identity: the vault the state knew is not there")
        raise InputError(f"this state knows vault {expected}, and at {vault.location} {what}",
                         hint="put the right vault back, or accept this one with `airlock vault "
                              "adopt --force` (snapshots catalogued for the old one that are not "
                              "here are lost)")
    created = found is None
    if found is not None:
        adopted = found
    elif vault.store.exists(identity.IDENTITY_KEY):  # damaged, and --force: a new one
        adopted = _replace_identity(vault)
    else:
        adopted = identity.write_identity(vault)
    if not identity.record(runtime.store, vault, adopted, expected=_meta_now(runtime.store)):
        raise InputError("the state's record of its vault changed while adopting; try again")
    runtime.audit.record("vault_adopted", None, {
        "location": vault.location, "identity": adopted.id, "previous": expected,
        "created": created, "forced": force})
    out.print(f"the vault at {escape(vault.location)} is now this state's ({adopted.id}"
              f"{', a new identity' if created else ''})")
    missing = [r.id for r in runtime.store.list_snapshots(limit=100_000)
               if r.location == vault.location
               and not vault.store.exists(f"snapshots/{r.id}/manifest.json")]
    if missing:
        out.print(f"[yellow]{len(missing)} catalogued snapshot(s) are not in this vault[/] "
                  f"(e.g. {missing[0]}); `airlock vault verify` lists them")


def _meta_now(store: Store) -> str | None:
    return store.get_meta(identity.META_KEY)


def _replace_identity(vault: Vault) -> identity.Identity:
    """A damaged identity object (only with --force): a new one in its place."""
    vault.store.delete(identity.IDENTITY_KEY)
    return identity.write_identity(vault)


@vault_app.command("purge")
def purge(ctx: typer.Context,
          resource: str = typer.Argument(..., help="The postgres resource with soft drops.")) -> None:
    """Drop soft-dropped tables whose grace period has passed."""
    c = _Context(ctx, None, None)
    assert c.config is not None
    pg = _pg_of(c.config, resource, "postgres-quarantine")
    if pg is None:
        raise InputError(f"{resource} is not a configured postgres resource")
    dropped = quarantine.purge(c.vault, resource, pg)
    c.record("quarantine_purged", {"resource": resource, "dropped": dropped})
    out.print(f"purged {len(dropped)} table(s)" + (f": {', '.join(dropped)}" if dropped else ""))


# ---- deferred deletes ---------------------------------------------------------------------------

@app.command("deferred")
def deferred(ctx: typer.Context,
             show_all: bool = typer.Option(False, "--all", help="Include cancelled and done ones."),
             run_due: bool = typer.Option(False, "--run-due", help="Carry out the due HTTP calls "
                                          "now (airlock up does this every minute)."),
             as_json: bool = JsonOpt) -> None:
    """List approved destructive calls waiting out their grace period."""
    runtime = state(ctx).runtime()
    if run_due:
        from airlock.vault.runners import run_due_and_record

        for done in run_due_and_record(runtime.store, runtime.config, runtime.audit):
            out.print(f"{done.id}  {done.status.value}  {escape(done.summary)}  "
                      f"{escape(done.result)}")
    records = runtime.store.list_deferred(status=None if show_all else DeferredStatus.PENDING)
    if as_json:
        out.print_json(json.dumps([r.to_json() for r in records]))
        return
    if not records:
        out.print("nothing is deferred")
        return
    for r in records:
        out.print(f"{r.id}  {r.status.value:<9} due {r.due_at[:19]}  {escape(r.target)}  "
                  f"by {escape(r.principal)}  {escape(r.summary)}"
                  + (f"  ({escape(r.decided_by or '')}: {escape(r.result)})" if r.decided_by else ""))
    out.print("cancel one with `airlock cancel ID`; when due, HTTP calls are sent with the "
              "configured api resource's credential (by `airlock up`, or `airlock deferred "
              "--run-due`); shell commands are never run later — carry them out or cancel them")


@app.command("cancel")
def cancel(ctx: typer.Context,
           deferred_id: str = typer.Argument(..., help="The deferred action (def_…)."),
           reason: str = typer.Option("", "--reason", help="Why, for the audit log."),
           by: str | None = typer.Option(None, "--by", help="Who cancels (default: $USER).")) -> None:
    """Cancel a deferred destructive call: it never runs."""
    runtime = state(ctx).runtime()
    who = by or os.environ.get("USER") or "unknown"
    record = deferrals.cancel(runtime.store, deferred_id, who, reason)
    runtime.audit.record("deferred_cancelled", record.action_id,
                         {"deferred": record.id, "by": who, "reason": reason})
    out.print(f"cancelled {record.id}: {escape(record.summary)} will not run")
    err.print("the agent's call was never sent upstream")
