"""Assembling airlock from its configuration: the store, the audit log, the judge and the gate.

State is opened lazily, so commands that need none (`check`, `policy explain`) never create a
state folder or a key.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from airlock.approvals import StoreApprovals
from airlock.audit import StoreAuditLog, key_from_secret, load_or_create_key
from airlock.classify import Classifier, KindDispatch
from airlock.config import Config
from airlock.execute import Executor, Release
from airlock.gate import Gate, Judge
from airlock.inventory import Inventory
from airlock.policy import Policy
from airlock.safety import NoVault, SafetyNet
from airlock.store import Store, open_store


class Runtime:
    def __init__(self, config: Config, classifier: Classifier | None = None) -> None:
        self.config = config
        self.classifier: Classifier = classifier or KindDispatch()

    @cached_property
    def judge(self) -> Judge:
        return Judge(config=self.config, classifier=self.classifier,
                     resolver=Inventory.from_config(self.config),
                     policy=Policy.from_config(self.config))

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

    def gate(self, executor: Executor | None = None,
             safety_net: SafetyNet | None = None) -> Gate:
        return Gate(judge=self.judge, approvals=StoreApprovals(self.store),
                    safety_net=safety_net or NoVault(), executor=executor or Release(),
                    audit=self.audit)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
