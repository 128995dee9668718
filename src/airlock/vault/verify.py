"""`airlock vault verify`: read back every object of every snapshot and compare its sha256 with
its manifest (no key needed; with the key, manifests' MACs are checked too), list interrupted
writes (objects of snapshots that never got a manifest) and bring the catalog in line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airlock.vault.catalog import Catalog, Reconciled
from airlock.vault.core import Vault
from airlock.vault.errors import VaultError
from airlock.vault.progress import NoProgress, Progress


@dataclass
class VaultReport:
    location: str
    checked: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (snapshot id, problem)
    orphans: list[str] = field(default_factory=list)
    reconciled: Reconciled | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"location": self.location, "ok": self.ok, "snapshots_checked": self.checked,
                "problems": [{"snapshot": s, "problem": p} for s, p in self.problems],
                "interrupted_writes": self.orphans,
                "catalog_added": list(self.reconciled.added) if self.reconciled else [],
                "catalog_missing_from_vault": list(self.reconciled.missing)
                if self.reconciled else []}


def verify_vault(vault: Vault, catalog: Catalog | None,
                 progress: Progress | None = None) -> VaultReport:
    progress = progress or NoProgress()
    report = VaultReport(vault.location)
    manifests = []
    digests: dict[str, str] = {}
    ids = vault.snapshot_ids()
    progress.start("verify vault", len(ids))
    for snapshot_id in ids:
        report.checked += 1
        try:
            manifest = vault.manifest(snapshot_id)
            digests[snapshot_id] = vault.manifest_digest(snapshot_id)
        except VaultError as exc:
            report.problems.append((snapshot_id, f"manifest: {exc.message}"))
            progress.advance(1)
            continue
        problems = vault.verify(manifest)
        report.problems.extend((snapshot_id, p) for p in problems)
        if catalog is not None:
            catalog.mark_verified(snapshot_id, "; ".join(problems))
        if not problems:
            manifests.append(manifest)
        progress.advance(1)
    progress.done()
    report.orphans = vault.orphans()
    if catalog is not None:
        report.reconciled = catalog.reconcile(manifests, set(ids), digests, vault.location)
        for missing in report.reconciled.missing:
            report.problems.append((missing, "catalogued, but its manifest is not in the vault"))
    return report
