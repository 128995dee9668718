"""`Config`: the validated settings every part of airlock reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airlock.config.approvals import ApprovalSettings
from airlock.config.environments import LOCAL_ENVIRONMENT, PRODUCTION_NAMES, Environment
from airlock.config.hooks import HookSettings
from airlock.config.policy import PrincipalConfig, Rule
from airlock.config.resources import Resource
from airlock.config.vault import VaultSettings
from airlock.secrets import Secret


@dataclass(frozen=True)
class Config:
    """Validated settings. `path` is None when airlock runs on built-in defaults. A front's own
    section (`[fronts.NAME]`) is read with its `FrontSection.of(config)`."""

    path: Path | None
    state_dir: Path
    local_environment: str = LOCAL_ENVIRONMENT
    environments: Mapping[str, Environment] = field(default_factory=dict)
    resources: Mapping[str, Resource] = field(default_factory=dict)
    principals: Mapping[str, PrincipalConfig] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    builtin_rules: bool = True
    broad_write_fraction: float = 0.5  # see airlock.reach
    store_url: Secret | None = None
    audit_key: Secret | None = None
    approvals: ApprovalSettings = field(default_factory=ApprovalSettings)
    hooks: HookSettings = field(default_factory=HookSettings)
    vault: VaultSettings = field(default_factory=VaultSettings)
    fronts: Mapping[str, Any] = field(default_factory=dict)  # front name → its settings

    def environment(self, name: str) -> Environment:
        """The named environment; undeclared names count as production unless they are the
        local machine or have a non-production name, and `(unknown)` always does."""
        env = self.environments.get(name)
        if env is not None:
            return env
        if name == self.local_environment:
            return Environment(name, production=False, description="the machine airlock runs on")
        return Environment(name, production=name.lower() in PRODUCTION_NAMES or name.startswith("("))

    @property
    def source(self) -> str:
        return str(self.path) if self.path else "built-in defaults (no airlock.toml)"
