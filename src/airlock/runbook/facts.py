"""What a resource's recovery runbook says, read from the real state: the configuration (the
resource, its blast radius, the vault and its key), the catalog (snapshots and their ages), the
approvers, the policy (how many approvals a destructive action there needs — asked of the judge,
not guessed), and the audit log (the last drill and its result). Rendering is `render.py`'s."""

from __future__ import annotations

import os
import shlex
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from airlock.config import Config, Resource
from airlock.errors import InputError
from airlock.inventory import Inventory
from airlock.model import Verdict
from airlock.runtime import Runtime
from airlock.store import SnapshotRecord
from airlock.vault.progress import human_size


@dataclass(frozen=True)
class SnapshotLine:
    id: str
    kind: str
    created_at: str
    age: str
    size: str
    action_id: str | None
    summary: str
    restore: str  # the exact command, runnable as printed
    undo: str | None
    verified: str  # "", "intact at …", "DAMAGED: …"


@dataclass(frozen=True)
class Neighbour:
    """A resource in the blast radius: it dies (or loses its backups) with this one."""

    name: str
    environment: str
    kind: str
    why: str


@dataclass(frozen=True)
class Approval:
    what: str  # the action judged, e.g. "DROP TABLE (any table of app)"
    verdict: str
    approvals: int
    rule: str


@dataclass(frozen=True)
class Drill:
    at: str
    ok: bool
    snapshot: str
    kind: str
    error: str


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    commands: tuple[str, ...]  # one shell block, run in order


@dataclass(frozen=True)
class Runbook:
    resource: str
    kind: str
    environment: str
    production: bool
    description: str
    generated_at: str
    config: str
    vault: str
    vault_key: str
    snapshots: tuple[SnapshotLine, ...]
    blast_radius: tuple[Neighbour, ...]
    lives_on: tuple[str, ...]  # what it is stored on: losing those loses it
    approvers: tuple[str, ...]
    approvals: tuple[Approval, ...]
    last_drill: Drill | None
    last_passing_drill: Drill | None
    steps: tuple[Step, ...]
    from_vault_alone: str
    warnings: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def build(runtime: Runtime, name: str, now: datetime, prefix: str | None = None) -> Runbook:
    """The runbook of resource `name`. `prefix` is how the reader runs airlock (default: as
    this process was run — the configuration by absolute path, under `sudo -u` if the state's
    user is not the person who invoked it)."""
    config = runtime.config
    res = config.resources.get(name)
    if res is None:
        known = ", ".join(sorted(config.resources)) or "none"
        raise InputError(f"no resource named {name!r} in {config.source}",
                         hint=f"configured resources: {known}")
    cmd = prefix if prefix is not None else command_prefix(config)
    records = runtime.store.list_snapshots(resource=name, limit=100_000)
    snapshots = tuple(_snapshot_line(r, now, cmd) for r in records)
    warnings: list[str] = []
    if not config.vault.enabled:
        warnings.append("the vault is switched off ([vault] enabled = false): destructive "
                        "actions run without a backup")
    if not snapshots:
        warnings.append(f"there is no snapshot of {name}: nothing can be restored. Take one now: "
                        f"`{cmd} backup {shlex.quote(name)}`")
    damaged = [s.id for s in snapshots if s.verified.startswith("DAMAGED")]
    if damaged:
        warnings.append(f"the last verification found damaged snapshot(s): {', '.join(damaged)}")
    last, passing = _drills(runtime, name)
    if passing is None:
        warnings.append(f"no drill of {name} has ever passed: this runbook's restore is "
                        f"unproved. Run `{cmd} drill {shlex.quote(name)}`")
    elif last is not None and not last.ok:
        warnings.append(f"the last drill of {name} ({last.at}) FAILED: {last.error or 'see it'}")
    approvers = tuple(sorted(a.name for a in runtime.store.list_approvers()))
    approvals = _approvals(runtime, res)
    needed = max((a.approvals for a in approvals), default=0)
    if needed > len(approvers):
        warnings.append(f"a hold on {name} can need {needed} approvals but {len(approvers)} "
                        "approver(s) are enrolled: enrol more (`airlock approver add NAME`)")
    return Runbook(
        resource=name, kind=res.kind, environment=res.environment,
        production=config.environment(res.environment).production,
        description=res.description, generated_at=now.isoformat(timespec="seconds"),
        config=str(config.path) if config.path else config.source,
        vault=_vault_location(runtime), vault_key=_key_source(config),
        snapshots=snapshots, blast_radius=_blast(config, name),
        lives_on=_lives_on(config, name), approvers=approvers,
        approvals=approvals, last_drill=last, last_passing_drill=passing,
        steps=_steps(cmd, name, records), from_vault_alone=_vault_alone(records, runtime),
        warnings=tuple(warnings))


def command_prefix(config: Config) -> str:
    words = ["airlock"]
    if config.path is not None:
        words += ["--config", str(config.path.absolute())]
    invoker = os.environ.get("SUDO_USER")
    try:
        import pwd

        me = pwd.getpwuid(os.geteuid()).pw_name
    except (KeyError, ImportError):
        me = None
    if invoker and me and invoker != me:  # run as airlock's user: so must the reader
        words = ["sudo", "-u", me, *words]
    return shlex.join(words)


def age(created_at: str, now: datetime) -> str:
    seconds = max(0, int((now - datetime.fromisoformat(created_at)).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _snapshot_line(r: SnapshotRecord, now: datetime, cmd: str) -> SnapshotLine:
    verified = ""
    if r.last_verified_at:
        verified = (f"DAMAGED: {r.verify_problem}" if r.verify_problem
                    else f"intact at {r.last_verified_at[:19]}")
    return SnapshotLine(
        id=r.id, kind=r.kind, created_at=r.created_at, age=age(r.created_at, now),
        size=human_size(r.size), action_id=r.action_id, summary=r.summary,
        restore=f"{cmd} restore {r.id}" + (" --into NEW_DATABASE_URL"
                                          if r.kind == "postgres-database" else ""),
        undo=f"{cmd} undo {r.action_id}" if r.action_id else None, verified=verified)


def _vault_location(runtime: Runtime) -> str:
    if not runtime.config.vault.enabled:
        return "none (switched off)"
    return runtime.vault.location


def _key_source(config: Config) -> str:
    key = config.vault.key
    if key is not None:
        return f"{key.source} (configured as [vault] key)"
    return f"file {config.state_dir / 'vault.key'}"


def _blast(config: Config, name: str) -> tuple[Neighbour, ...]:
    """What dies with `name`: the inventory's blast radius (the same one the gate judges by)."""
    radius = Inventory.from_config(config).blast_radius(name)
    found = []
    for other in radius[1:]:
        res = config.resources.get(other)
        if res is None:
            continue
        why = [f"stored on {host}" for host in res.stored_on if host in radius]
        why += [f"its backups are kept on {host}" for host in radius
                if host in config.resources and other in config.resources[host].backs_up]
        found.append(Neighbour(other, res.environment, res.kind, "; ".join(why)))
    return tuple(found)


def _lives_on(config: Config, name: str) -> tuple[str, ...]:
    """What `name` is stored on, transitively: each of those takes it down."""
    order, index = [name], 0
    while index < len(order):
        res = config.resources.get(order[index])
        for host in res.stored_on if res is not None else ():
            if host not in order:
                order.append(host)
        index += 1
    return tuple(f"{h} ({config.resources[h].kind}, {config.resources[h].environment})"
                 for h in order[1:] if h in config.resources)


def _drills(runtime: Runtime, name: str) -> tuple[Drill | None, Drill | None]:
    last: Drill | None = None
    passing: Drill | None = None
    for record in runtime.store.audit_records(kinds=("drill",)):
        if record.data.get("resource") != name:
            continue
        drill = Drill(at=record.at, ok=bool(record.data.get("ok")),
                      snapshot=str(record.data.get("snapshot", "")),
                      kind=str(record.data.get("kind", "")),
                      error=str(record.data.get("error", "")))
        last = drill
        if drill.ok:
            passing = drill
    return last, passing


def _probes(res: Resource) -> list[tuple[str, str, str]]:
    """(what, kind, action) — destructive actions on this resource, for the judge to rule on."""
    if res.kind == "postgres":
        return [("DROP TABLE (a table of it)", "sql", "DROP TABLE airlock_runbook_probe"),
                ("DROP DATABASE (all of it)", "sql", "DROP DATABASE airlock_runbook_probe")]
    if res.kind in ("sqlite", "path") and res.paths:
        return [(f"rm -rf {res.paths[0]}", "shell", f"rm -rf {shlex.quote(res.paths[0])}")]
    return []


def _approvals(runtime: Runtime, res: Resource) -> tuple[Approval, ...]:
    from airlock.fronts.check import build_action
    from airlock.fronts.jsonforms import payload_from

    found = []
    for what, kind, text in _probes(res):
        try:
            action, caller = build_action(kind, payload_from(kind, text, None), runtime.config,
                                          env=res.environment, principal=None,
                                          resource=res.name, cwd="/")
            decision = runtime.judge.evaluate(action, caller).decision
        except Exception as exc:  # the runbook says it could not tell; it never guesses low
            found.append(Approval(what, "unknown", 0, f"could not judge: {exc}"))
            continue
        approvals = decision.approvals_required if decision.verdict is Verdict.HOLD else 0
        found.append(Approval(what, decision.verdict.value, approvals, decision.rule))
    return tuple(found)


def _steps(cmd: str, name: str, records: list[SnapshotRecord]) -> tuple[Step, ...]:
    if not records:
        return ()
    newest = records[0]  # the catalog lists newest first
    verify = Step("Check the vault", "Every object of every snapshot is read back and its sha256 "
                  "checked; stop here if anything is reported damaged.",
                  (f"{cmd} vault verify",))
    if newest.action_id:
        what = f"`undo {newest.action_id}` restores every snapshot taken for that action"
        plan = f"{cmd} undo {newest.action_id} --plan"
        apply = f"{cmd} undo {newest.action_id}"
    elif newest.kind == "postgres-database":
        what = (f"{newest.id} is a whole database: it restores into a new one. Replace "
                "NEW_DATABASE_URL with postgresql://USER@HOST:PORT/NEW_NAME (password in "
                "$PGPASSWORD)")
        plan = f"{cmd} restore {newest.id} --into NEW_DATABASE_URL --plan"
        apply = f"{cmd} restore {newest.id} --into NEW_DATABASE_URL"
    else:
        what = f"restore {newest.id} where it was taken"
        plan = f"{cmd} restore {newest.id} --plan"
        apply = f"{cmd} restore {newest.id}"
    summary = f"{newest.summary} ({newest.kind}, taken {newest.created_at[:19]})"
    return (
        verify,
        Step("Read the plan", f"The newest snapshot of {name} is {newest.id}: {summary}. {what}. "
             "The plan lists what will be created and what overwritten, and changes nothing.",
             (plan,)),
        Step("Restore", "One transaction: it lands whole or not at all. If the plan listed "
             "anything under overwrite, read it, then add --force.", (apply,)),
    )


def _vault_alone(records: list[SnapshotRecord], runtime: Runtime) -> str:
    snap = records[0].id if records else "SNAPSHOT"
    return (f"airlock restore {snap} --vault {shlex.quote(_vault_location(runtime))} "
            f"--key-file VAULT_KEY_FILE --into TARGET")
