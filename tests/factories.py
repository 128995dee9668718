"""Builders for unit tests: configs from TOML text, gates made of in-memory twins."""

from __future__ import annotations

import textwrap
import tomllib
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from airlock.approvals import StoreApprovals
from airlock.audit import MemoryAuditLog
from airlock.classify import Classifier, FixedClassifier
from airlock.config import Config, config_from_mapping
from airlock.execute import Executor, FunctionExecutor
from airlock.gate import Gate, Judge
from airlock.inventory import Inventory
from airlock.model import (
    Action,
    ActionContext,
    Assessment,
    Caller,
    Effect,
    Principal,
    PrincipalKind,
    Risk,
    Scope,
    ShellCommand,
    Target,
    Verb,
    utcnow,
)
from airlock.policy import Policy
from airlock.safety import RecordingSafetyNet, SafetyNet
from airlock.store.memory import MemoryStore

BASE_TOML = """
[environments.production]
[environments.staging]
[environments.development]

[resources.prod-db]
kind = "postgres"
environment = "production"
url = "postgresql://app@db.prod.internal:5432/app"

[resources.staging-db]
kind = "postgres"
environment = "staging"
url = "postgresql://app@db.staging.internal:5432/app"

[resources.shared-volume]
kind = "volume"
environment = "staging"
match = ["railway:volume:vol-shared"]

[resources.prod-on-volume]
kind = "other"
environment = "production"
match = ["railway:service:svc-prod"]
stored_on = ["shared-volume"]

[principals.agent]
kind = "agent"

[principals.staging-agent]
kind = "agent"
environments = ["staging"]

[principals.alice]
kind = "human"

[principals.bob]
kind = "human"
"""


def make_config(extra: str = "", base: str = BASE_TOML, path: Path = Path("/cfg/airlock.toml")) -> Config:
    return config_from_mapping(tomllib.loads(textwrap.dedent(base) + textwrap.dedent(extra)), path)


def effect(risk: Risk, target: Target | None = None, verb: Verb | None = None,
           reason: str = "test effect") -> Effect:
    verb = verb or {Risk.READ: Verb.READ, Risk.WRITE: Verb.WRITE}.get(risk, Verb.DESTROY)
    return Effect(verb, risk, reason, target, "table" if target else "")


def assessment(*effects: Effect, complete: bool = True) -> Assessment:
    return Assessment.of(effects, classifier="test", complete=complete)


def caller(name: str = "agent", kind: PrincipalKind = PrincipalKind.AGENT,
           *scopes: Scope, token_id: str | None = None) -> Caller:
    principal = Principal(name, kind, scopes[0] if scopes else Scope())
    return Caller(principal, scopes or (Scope(),), token_id)


def action(command: str = "do something", principal: str = "agent",
           context: ActionContext | None = None, front: str = "test") -> Action:
    return Action(ShellCommand(command), principal, front, context or ActionContext())


class Twins:
    """A gate wired to in-memory twins, with handles on each for assertions."""

    def __init__(self, config: Config | None = None, classifier: Classifier | None = None,
                 safety_net: SafetyNet | None = None, executor: Executor | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 execute: Callable[[Action], Mapping[str, Any]] | None = None) -> None:
        self.config = config or make_config()
        self.store = MemoryStore()
        self.audit = MemoryAuditLog()
        self.classifier = classifier or FixedClassifier(assessment(effect(Risk.READ)))
        self.safety = safety_net or RecordingSafetyNet()
        self.executed: list[Action] = []

        def run(a: Action) -> Mapping[str, Any]:
            self.executed.append(a)
            return execute(a) if execute else {"ok": True}

        self.executor = executor or FunctionExecutor(run)
        self.judge = Judge(config=self.config, classifier=self.classifier,
                           resolver=Inventory.from_config(self.config),
                           policy=Policy.from_config(self.config), clock=clock)
        self.gate = Gate(judge=self.judge, approvals=StoreApprovals(self.store),
                         safety_net=self.safety, executor=self.executor, audit=self.audit)

    def kinds(self) -> list[str]:
        return [r.kind for r in self.audit.records]
