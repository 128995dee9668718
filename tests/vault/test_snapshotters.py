"""Snapshotters sit behind one interface, tried in order: the first that answers for a target's
resource plans its step, and the one whose method a step names takes it."""

from __future__ import annotations

import pytest

from airlock.config import Resource
from airlock.model import Action, Effect, ResolvedTarget, Risk, ShellCommand, Target, Verb
from airlock.safety import DEFERRED_METHOD, Protection, ProtectionStep, SafetyPlan
from airlock.store.memory import MemoryStore
from airlock.vault.core import Vault
from airlock.vault.errors import SnapshotError
from airlock.vault.net import VaultNet
from airlock.vault.snapshotters import SNAPSHOTTERS, DeferredDelete, Planned, snapshotter_for
from tests.factories import assessment, make_config

SERVICE = Target("railway", "service:svc-prod")  # claimed by prod-on-volume (kind "other")


class Copies:
    """A snapshotter for "other" resources that records what it was asked."""

    methods = frozenset({"test-copy"})

    def __init__(self) -> None:
        self.captured: list[str] = []

    def plan(self, net: VaultNet, action: Action, effect: Effect,
             resource: Resource) -> Planned | None:
        if resource.kind != "other":
            return None
        assert effect.target is not None
        return Planned(ProtectionStep(effect.target.key, resource.name, "test-copy", "a copy"))

    def capture(self, net: VaultNet, action: Action, step: ProtectionStep,
                resource: Resource) -> Protection:
        self.captured.append(step.target)
        return Protection((f"snap_{len(self.captured)}",))


def no_vault() -> Vault:
    raise AssertionError("this test needs no vault")


def plan_for(net: VaultNet, verb: Verb = Verb.DESTROY) -> tuple[Action, SafetyPlan]:
    action = Action(ShellCommand("railway down"), "agent", "test")
    effect = Effect(verb, Risk.DESTRUCTIVE, "it goes", SERVICE, "service")
    return action, net.plan(action, assessment(effect),
                            [ResolvedTarget(SERVICE, "prod-on-volume", ("production",))])


def test_the_first_snapshotter_that_answers_plans_and_its_method_captures() -> None:
    copies = Copies()
    net = VaultNet(config=make_config(), vault=no_vault, store=MemoryStore(),
                   snapshotters=(copies, *SNAPSHOTTERS))
    action, plan = plan_for(net)
    assert [(s.method, s.resource) for s in plan.steps] == [("test-copy", "prod-on-volume")]
    assert net.protect(action, plan) == Protection(("snap_1",))
    assert copies.captured == [SERVICE.key]


def test_the_built_in_order_defers_a_cloud_deletion() -> None:
    store = MemoryStore()
    net = VaultNet(config=make_config(), vault=no_vault, store=store)
    action, plan = plan_for(net)
    assert [s.method for s in plan.steps] == [DEFERRED_METHOD] and plan.defers
    [deferral] = net.protect(action, plan).ids
    assert [d.id for d in store.list_deferred()] == [deferral]
    assert isinstance(snapshotter_for(DEFERRED_METHOD), DeferredDelete)


def test_a_target_no_snapshotter_answers_for_is_unprotected_with_the_reason() -> None:
    net = VaultNet(config=make_config(), vault=no_vault, store=MemoryStore(), snapshotters=())
    _, plan = plan_for(net)
    assert plan.steps == () and plan.unprotected == (
        (SERVICE.key, "airlock has no snapshotter for a other resource"),)


def test_a_step_no_snapshotter_takes_stops_the_action() -> None:
    net = VaultNet(config=make_config(), vault=no_vault, store=MemoryStore())
    action = Action(ShellCommand("railway down"), "agent", "test")
    plan = SafetyPlan((ProtectionStep(SERVICE.key, "prod-on-volume", "carbon-copy"),))
    with pytest.raises(SnapshotError, match="unknown protection method carbon-copy"):
        net.protect(action, plan)
