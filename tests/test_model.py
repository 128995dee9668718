"""The core vocabulary: ordering of risks, assessments that carry their own uncertainty."""

from __future__ import annotations

import dataclasses

import pytest

from airlock.model import Action, Assessment, Effect, Risk, ShellCommand, Target, Verb, new_id


def test_risk_order_and_unknown_ranks_with_destructive() -> None:
    assert Risk.READ.rank < Risk.WRITE.rank < Risk.DESTRUCTIVE.rank < Risk.CATASTROPHIC.rank
    assert Risk.UNKNOWN.rank == Risk.DESTRUCTIVE.rank
    assert Risk.UNKNOWN.at_least(Risk.DESTRUCTIVE) and Risk.DESTRUCTIVE.at_least(Risk.UNKNOWN)
    assert not Risk.UNKNOWN.at_least(Risk.CATASTROPHIC)


@pytest.mark.parametrize(("risks", "worst"), [
    ([Risk.READ, Risk.WRITE], Risk.WRITE),
    ([Risk.UNKNOWN, Risk.DESTRUCTIVE], Risk.DESTRUCTIVE),
    ([Risk.DESTRUCTIVE, Risk.UNKNOWN], Risk.DESTRUCTIVE),
    ([Risk.UNKNOWN, Risk.READ], Risk.UNKNOWN),
    ([Risk.UNKNOWN, Risk.CATASTROPHIC], Risk.CATASTROPHIC),
])
def test_worst(risks: list[Risk], worst: Risk) -> None:
    assert Risk.worst(risks) is worst


def test_worst_of_nothing_needs_a_default() -> None:
    with pytest.raises(ValueError, match="default"):
        Risk.worst([])
    assert Risk.worst([], default=Risk.READ) is Risk.READ


def test_incomplete_assessment_is_at_least_unknown() -> None:
    a = Assessment.of([Effect(Verb.READ, Risk.READ, "reads")], classifier="t", complete=False)
    assert a.risk is Risk.UNKNOWN and not a.complete
    assert any(e.risk is Risk.UNKNOWN for e in a.effects)


def test_assessment_targets_are_unique_and_ordered() -> None:
    t1, t2 = Target("table", "a"), Target("table", "b")
    a = Assessment.of([Effect(Verb.READ, Risk.READ, "r", t2), Effect(Verb.WRITE, Risk.WRITE, "w", t1),
                       Effect(Verb.READ, Risk.READ, "r", t2)], classifier="t")
    assert a.targets == (t2, t1) and a.risk is Risk.WRITE
    assert a.reasons == ("w",)


def test_types_are_immutable() -> None:
    action = Action(ShellCommand("ls"), "agent", "test")
    with pytest.raises(dataclasses.FrozenInstanceError):
        action.principal = "root"  # type: ignore[misc]


def test_ids_sort_by_time_and_are_unique() -> None:
    ids = [new_id("act") for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(i.startswith("act_") and len(i) == 30 for i in ids)
