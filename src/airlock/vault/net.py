"""The vault as the gate's safety net: plan what a destructive action needs, then protect it.

`plan` runs when policy asks for a snapshot (and so before an approval is requested: approvers
see it). It only reads catalogs and sizes. Each destroyed target gets one step:

    target                                   step
    table (DELETE/UPDATE … WHERE, SQL)       postgres-rows       exact rows, in the transaction
    table, view, sequence (DROP/TRUNCATE)    postgres-table      pg_dump of its closure
    table (DROP, soft_drop, via airlock sql) postgres-soft-drop  moved to a quarantine schema
    schema / database                        postgres-schema / postgres-database
    anything in a sqlite resource            sqlite-backup       SQLite backup API
    a path in a path resource                files-archive       tar + zstd
    a cloud object (volume, bucket, …)       deferred-delete     held for the grace period
    anything else                            unprotected, with the reason (→ a human decides)

Each step comes from the first snapshotter in `SNAPSHOTTERS` (snapshotters.py) that answers for
the target's resource. `protect` carries the steps out, each by the snapshotter whose method it
is, and returns the `Protection` taken (snapshot or deferral ids, and the row count the statement
must then touch); any failure raises, and the gate then does not run the action. `within(txn)`
gives a net whose PostgreSQL steps run inside an executing front's transaction
(upstream/transaction.py) — the only way a before-image is exact.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

import psycopg

from airlock.config import Config, Resource
from airlock.model import Action, Assessment, Effect, ResolvedTarget, Risk, Verb
from airlock.safety import DEFERRED_METHOD, Protection, ProtectionStep, SafetyPlan
from airlock.store import Store
from airlock.upstream.postgres import PgConn, postgres_of
from airlock.upstream.transaction import ProtectedTransaction
from airlock.vault.core import Vault
from airlock.vault.errors import SnapshotError, VaultError
from airlock.vault.progress import NoProgress, Progress
from airlock.vault.snapshotters import SNAPSHOTTERS, Planned, Snapshotter, snapshotter_for
from airlock.vault.stores.local import shares_filesystem

WHOLE_ACTION = "(the action as a whole)"
# A configured resource whose backup could not be planned (its database did not answer): the
# step is planned again, and taken, just before the action runs — and if that fails, it does
# not run. A human approving never turns a failed backup of a protectable resource into none.
PLAN_AT_RUN = "plan-at-run"
_REMEMBERED = 256  # planned actions whose effects protect() may need again


def _needs_protection(effect: Effect) -> bool:
    if effect.verb is Verb.READ:
        return False
    if effect.risk.at_least(Risk.DESTRUCTIVE) or effect.verb in (Verb.DELETE, Verb.DESTROY):
        return True
    return effect.verb is Verb.WRITE and effect.scope == "rows"  # an UPDATE's old values


class VaultNet:
    def __init__(self, *, config: Config, vault: Callable[[], Vault], store: Store,
                 txn: ProtectedTransaction | None = None,
                 progress: Progress | None = None,
                 snapshotters: Sequence[Snapshotter] = SNAPSHOTTERS) -> None:
        self.config = config
        self.snapshotters = tuple(snapshotters)
        self._vault = vault
        self.store = store
        self.txn = txn
        self.progress = progress or NoProgress()
        # (action id, target, resource) → the effect of a step planned as PLAN_AT_RUN
        self._replan: OrderedDict[tuple[str, str, str], Effect] = OrderedDict()
        self._replan_lock = threading.Lock()

    def within(self, txn: ProtectedTransaction, progress: Progress | None = None) -> VaultNet:
        return VaultNet(config=self.config, vault=self._vault, store=self.store, txn=txn,
                        progress=progress or self.progress, snapshotters=self.snapshotters)

    # ---- plan ------------------------------------------------------------------------------

    def plan(self, action: Action, assessment: Assessment,
             targets: Sequence[ResolvedTarget]) -> SafetyPlan:
        steps: list[ProtectionStep] = []
        unprotected: list[tuple[str, str]] = []
        placed: dict[str, list[ResolvedTarget]] = {}
        for t in targets:
            placed.setdefault(t.target.key, []).append(t)
        seen: set[tuple[str, str]] = set()
        for effect in assessment.effects:
            if not _needs_protection(effect):
                continue
            mandatory = effect.risk.at_least(Risk.DESTRUCTIVE)
            if effect.target is None:
                if mandatory:
                    unprotected.append((WHOLE_ACTION, "airlock cannot tell what this part of the "
                                        "action touches, so it cannot back it up"))
                continue
            key = effect.target.key
            owners = [t for t in placed.get(key, []) if t.resource is not None]
            if not owners:
                if mandatory:
                    unprotected.append((key, "no configured resource owns it, so airlock holds no "
                                        "credentials to back it up"))
                continue
            for owner in owners:
                assert owner.resource is not None
                if (key, owner.resource) in seen:
                    continue
                seen.add((key, owner.resource))
                resource = self.config.resources[owner.resource]
                try:
                    planned = self._plan_one(action, effect, resource)
                except Exception as exc:  # planning must never let an action through unplanned
                    planned = Planned(ProtectionStep(
                        key, resource.name, PLAN_AT_RUN,
                        f"the backup could not be planned now ({exc}); it is planned and taken "
                        "just before the action runs, and if that fails the action does not run"))
                    self._remember(action.id, key, resource.name, effect)
                if planned.step is not None:
                    steps.append(planned.step)
                elif planned.why_not and mandatory:
                    unprotected.append((key, planned.why_not))
        return SafetyPlan(tuple(steps), tuple(dict.fromkeys(unprotected)))

    def _plan_one(self, action: Action, effect: Effect, resource: Resource) -> Planned:
        for snapshotter in self.snapshotters:
            planned = snapshotter.plan(self, action, effect, resource)
            if planned is not None:
                return planned
        return Planned(None, f"airlock has no snapshotter for a {resource.kind} resource")

    # ---- protect ---------------------------------------------------------------------------

    def protect(self, action: Action, plan: SafetyPlan) -> Protection:
        protection = Protection()
        deferred = False
        for step in plan.steps:
            if step.method == DEFERRED_METHOD:
                # One call is deferred once, however many of its targets asked for it (an AWS
                # call names its bucket and its region): twice would run it twice.
                if deferred:
                    continue
                deferred = True
            try:
                taken = self._protect_one(action, step)
                protection = Protection(
                    (*protection.ids, *taken.ids),
                    taken.expected_rows if taken.expected_rows is not None
                    else protection.expected_rows,
                    protection.done or taken.done)
            except SnapshotError:
                raise
            except VaultError as exc:
                raise SnapshotError(f"{step.method} of {step.target}: {exc.message}") from None
            except psycopg.Error as exc:
                raise SnapshotError(f"{step.method} of {step.target}: {str(exc).strip()}") from None
        return protection

    def _remember(self, action_id: str, key: str, resource: str, effect: Effect) -> None:
        with self._replan_lock:
            self._replan[(action_id, key, resource)] = effect
            while len(self._replan) > _REMEMBERED:
                self._replan.popitem(last=False)

    def _protect_one(self, action: Action, step: ProtectionStep) -> Protection:
        if step.resource is None:
            raise SnapshotError(f"{step.target}: no resource to protect it in")
        resource = self.config.resources[step.resource]
        if step.method == PLAN_AT_RUN:
            with self._replan_lock:
                effect = self._replan.pop((action.id, step.target, resource.name), None)
            if effect is None:
                raise SnapshotError(f"the backup of {step.target} was never planned for this "
                                    "action; it does not run")
            try:
                planned = self._plan_one(action, effect, resource)
            except Exception as exc:
                raise SnapshotError(f"the backup of {step.target} in {resource.name} still "
                                    f"cannot be planned ({exc}); the action does not run") from None
            if planned.step is None:
                raise SnapshotError(f"the backup of {step.target} in {resource.name} cannot be "
                                    f"taken ({planned.why_not or 'no step'}); the action does not run")
            return self._protect_one(action, planned.step)
        snapshotter = snapshotter_for(step.method, self.snapshotters)
        if snapshotter is None:
            raise SnapshotError(f"unknown protection method {step.method}")
        return snapshotter.capture(self, action, step, resource)

    # ---- what snapshotters use --------------------------------------------------------------

    def vault(self) -> Vault:
        return self._vault()

    def postgres(self, resource: Resource) -> PgConn:
        return postgres_of(resource, self.config)

    def grace_of(self, resource: Resource) -> timedelta:
        return self.config.vault.for_resource(resource.name).grace or self.config.vault.grace

    def same_filesystem(self, path: Path) -> str:
        """Why the vault may not protect `path` (it would die with it), or ''."""
        try:
            store = self._vault().store
        except VaultError as exc:
            return f"the vault is unavailable: {exc.message}"
        return shares_filesystem(store, path)
