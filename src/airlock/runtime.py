"""Assembling airlock from its configuration: the store, the audit log, the judge and the gate.

State is opened lazily, so commands that need none (`check`, `policy explain`) never create a
state folder or a key.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from airlock.approvals import Approvals, StoreApprovals
from airlock.audit import StoreAuditLog, key_from_secret, load_or_create_key
from airlock.classify import Classifier, KindDispatch
from airlock.classify.secrets_files import FileRules
from airlock.config import Config
from airlock.execute import Executor, Release
from airlock.gate import Gate, Judge
from airlock.guards import Guards
from airlock.inventory import Inventory
from airlock.policy import Policy
from airlock.safety import NoVault, SafetyNet
from airlock.store import Store, open_store

if TYPE_CHECKING:
    from airlock.decisions import ApprovalDesk
    from airlock.upstream.transaction import ProtectedTransaction
    from airlock.vault.core import Vault
    from airlock.vault.progress import Progress


class Runtime:
    def __init__(self, config: Config, classifier: Classifier | None = None) -> None:
        self.config = config
        self.classifier: Classifier = classifier or KindDispatch(FileRules.from_config(config))

    @cached_property
    def judge(self) -> Judge:
        return Judge(config=self.config, classifier=self.live_classifier(),
                     resolver=Inventory.from_config(self.config),
                     policy=Policy.from_config(self.config),
                     guards=Guards.from_config(self.config))

    def live_classifier(self) -> Classifier:
        """The classifier, plus the live check of DELETE/UPDATE statements on the postgres
        resources airlock holds credentials for (`reach.py`): the one place it is wired in.
        Without such a resource nothing can be probed, and the classifier is used as it is."""
        if not any(r.kind == "postgres" and r.url is not None
                   for r in self.config.resources.values()):
            return self.classifier
        from airlock.reach import LiveReach, PostgresProbe

        return LiveReach(self.classifier, PostgresProbe(self.config), self.config)

    @cached_property
    def store(self) -> Store:
        url = self.config.store_url.reveal() if self.config.store_url else None
        return open_store(url, self.config.state_dir)

    @property
    def audit_key_path(self) -> Path:
        return self.config.state_dir / "audit.key"

    @cached_property
    def audit_key(self) -> bytes:
        if self.config.audit_key is not None:
            return key_from_secret(self.config.audit_key.reveal())
        return load_or_create_key(self.audit_key_path)

    def existing_audit_key(self) -> bytes | None:
        """The key if there is one, without creating it (verifying needs no new key)."""
        if self.config.audit_key is not None or self.audit_key_path.exists():
            return self.audit_key
        return None

    @cached_property
    def audit(self) -> StoreAuditLog:
        return StoreAuditLog(self.store, self.audit_key)

    @property
    def approvals_key_path(self) -> Path:
        return self.config.state_dir / "approvals.key"

    @cached_property
    def approvals_key(self) -> bytes:
        """Seals approvers' TOTP seeds and signs console sessions (approvers.py, console/)."""
        if self.config.approvals.key is not None:
            return key_from_secret(self.config.approvals.key.reveal())
        return load_or_create_key(self.approvals_key_path)

    @cached_property
    def desk(self) -> ApprovalDesk:
        """Where humans approve and deny (the console, `airlock approve|deny`)."""
        from airlock.decisions import ApprovalDesk

        return ApprovalDesk(store=self.store, config=self.config, audit=self.audit,
                            approvals_key=self.approvals_key)

    def approvals(self) -> Approvals:
        approvals: Approvals = StoreApprovals(self.store, ttl=self.config.approvals.ttl,
                                                audit=self.audit)
        if self.config.approvals.webhooks:
            from airlock.notify import NotifyingApprovals

            approvals = NotifyingApprovals(approvals, self.store, self.config, self.audit)
        return approvals

    @cached_property
    def vault(self) -> Vault:
        """The configured vault (default: <state_dir>/vault), catalogued in the state store."""
        from airlock.vault.location import open_vault

        return open_vault(self.config, self.store)

    @cached_property
    def safety_net(self) -> SafetyNet:
        """The vault's safety net; NoVault only when `[vault] enabled = false`."""
        if not self.config.vault.enabled:
            return NoVault()
        from airlock.vault.net import VaultNet

        return VaultNet(config=self.config, vault=lambda: self.vault, store=self.store)

    def gate(self, executor: Executor | None = None,
             safety_net: SafetyNet | None = None) -> Gate:
        return Gate(judge=self.judge, approvals=self.approvals(),
                    safety_net=safety_net or self.safety_net, executor=executor or Release(),
                    audit=self.audit)

    def protected_gate(self, txn: ProtectedTransaction, progress: Progress | None = None, *,
                       executor: Executor | None = None) -> Gate:
        """The gate for a front that executes statements itself: backups are taken inside `txn`
        (exact row before-images), and the statement runs there, held to what was captured.
        `executor`: a front that runs the statement in `txn` by other means (the wire proxy
        forwards the client's own messages) gets the `Protection` to hold it to instead."""
        from airlock.upstream.transaction import StatementExecutor
        from airlock.vault.net import VaultNet

        net = self.safety_net
        if isinstance(net, VaultNet):
            net = net.within(txn, progress)
        return self.gate(executor=executor or StatementExecutor(txn), safety_net=net)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
