"""The catalog: the state store's index of vault snapshots.

Snapshot id, action id, resource, environment, kind, created, size, manifest digest,
retention, last verified. The vault's manifests are the authority (a restore works without
the catalog); the catalog makes `airlock snapshots` and `airlock undo` fast and remembers
verification results. `reconcile` brings the two back in line after state was lost or a
snapshot was interrupted between its manifest and its catalog entry.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from airlock.model import utcnow
from airlock.store import SnapshotRecord, Store
from airlock.vault.manifest import Manifest


@dataclass(frozen=True, slots=True)
class Reconciled:
    added: tuple[str, ...]  # in the vault, were missing from the catalog
    missing: tuple[str, ...]  # in the catalog, but no manifest in this vault


class Catalog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, manifest: Manifest, digest: str, location: str) -> None:
        self.store.add_snapshot(record_of(manifest, digest, location))

    def get(self, snapshot_id: str) -> SnapshotRecord | None:
        return self.store.get_snapshot(snapshot_id)

    def mark_verified(self, snapshot_id: str, problem: str) -> None:
        current = self.store.get_snapshot(snapshot_id)
        if current is not None:
            self.store.update_snapshot(replace(current, last_verified_at=utcnow().isoformat(),
                                               verify_problem=problem))

    def reconcile(self, manifests: list[Manifest], present: set[str], digests: dict[str, str],
                  location: str) -> Reconciled:
        """Add the intact `manifests` the catalog lacks; name catalogued snapshots of this vault
        that are not `present` in it."""
        known = {r.id: r for r in self.store.list_snapshots(limit=1_000_000)
                 if r.location == location}
        added = []
        for manifest in manifests:
            if manifest.id not in known:
                self.record(manifest, digests[manifest.id], location)
                added.append(manifest.id)
        missing = tuple(sorted(i for i in known if i not in present))
        return Reconciled(tuple(added), missing)


def record_of(manifest: Manifest, digest: str, location: str) -> SnapshotRecord:
    return SnapshotRecord(id=manifest.id, kind=manifest.kind, resource=manifest.resource,
                          environment=manifest.environment, created_at=manifest.created_at,
                          size=manifest.size, digest=digest, location=location,
                          action_id=manifest.action_id, retain_until=manifest.retain_until,
                          summary=manifest.summary)
