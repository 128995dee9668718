"""The verdict cache: an allowed HTTP read judged once is given back for the same read by the
same caller, and nothing else is (verdicts.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from airlock.audit import verify_records
from airlock.classify import KindDispatch
from airlock.gate import Judge
from airlock.inventory import Inventory
from airlock.model import (
    Action,
    ActionContext,
    Assessment,
    Caller,
    HttpRequest,
    Scope,
    Status,
    Verdict,
)
from airlock.policy import Policy
from airlock.verdicts import VerdictCache
from tests.factories import Twins, caller

RAILWAY = "https://backboard.railway.com/graphql/v2"
ME = json.dumps({"query": "query me { me { id name email } }"})
VOLUME = json.dumps({"query": 'query { volume(id: "vol-shared") { id name } }'})
DELETE = json.dumps({"query": 'mutation { volumeDelete(volumeId: "vol-shared") }'})
START = datetime(2030, 1, 1, tzinfo=UTC)


class Counting:
    """The production classifier, counting what it is asked to judge."""

    def __init__(self) -> None:
        self.inner = KindDispatch()
        self.calls = 0

    def classify(self, action: Action) -> Assessment:
        self.calls += 1
        return self.inner.classify(action)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def post(body: str, *, principal: str = "agent", headers: tuple[tuple[str, str], ...] = (),
         url: str = RAILWAY) -> Action:
    return Action(HttpRequest("POST", url, (("Content-Type", "application/json"), *headers),
                              body), principal, "apiproxy", ActionContext())


def make(**cache: object) -> tuple[Twins, Counting, Clock, VerdictCache]:
    counting, clock = Counting(), Clock()
    twins = Twins(classifier=counting, clock=clock)
    verdicts = VerdictCache(**cache)  # type: ignore[arg-type]
    twins.judge = Judge(config=twins.config, classifier=counting,
                        resolver=Inventory.from_config(twins.config),
                        policy=Policy.from_config(twins.config), clock=clock, verdicts=verdicts)
    twins.gate.judge = twins.judge
    return twins, counting, clock, verdicts


AGENT = caller(token_id="tok_a")


def test_the_same_read_by_the_same_token_is_judged_once_and_still_audited_each_time() -> None:
    t, counting, _clock, verdicts = make()
    first = t.gate.submit(post(ME), AGENT)
    again = post(ME)
    second = t.gate.submit(again, AGENT)
    assert first.status is second.status is Status.EXECUTED
    assert counting.calls == 1 and verdicts.hits == 1
    assert second.action_id == again.id  # the kept verdict is rebound to this action
    assert t.kinds() == ["action", "decision", "outcome"] * 2
    decisions = [r.data for r in t.audit.records if r.kind == "decision"]
    assert "cached" not in decisions[0] and decisions[1]["cached"] is True
    assert decisions[0]["decision"] == decisions[1]["decision"]
    assert verify_records(t.audit.records, t.audit.key).ok


def test_another_token_scope_principal_body_or_header_is_judged_afresh() -> None:
    t, counting, _clock, _ = make()
    t.gate.submit(post(ME), AGENT)
    t.gate.submit(post(ME), caller(token_id="tok_b"))
    t.gate.submit(post(ME), Caller(
        AGENT.principal, (Scope(environments=("staging",)),), "tok_a"))
    t.gate.submit(post(ME + " "), AGENT)
    t.gate.submit(post(ME, headers=(("X-Extra", "1"),)), AGENT)
    assert counting.calls == 5


def test_holds_and_denials_are_judged_every_time() -> None:
    t, counting, _clock, verdicts = make(static_placement=True)
    for _ in range(2):
        outcome = t.gate.submit(post(DELETE), AGENT)
        assert outcome.verdict is not Verdict.ALLOW
    assert counting.calls == 2 and len(verdicts) == 0


def test_a_read_naming_a_target_is_kept_only_where_placement_is_static() -> None:
    live, counting, _clock, _ = make()  # a live lookup could move the volume between calls
    for _ in range(2):
        assert live.gate.submit(post(VOLUME), AGENT).verdict is Verdict.ALLOW
    assert counting.calls == 2
    static, counting, _clock, _ = make(static_placement=True)
    for _ in range(2):
        assert static.gate.submit(post(VOLUME), AGENT).verdict is Verdict.ALLOW
    assert counting.calls == 1


def test_a_kept_verdict_expires_with_its_age_and_with_the_callers_scope() -> None:
    t, counting, clock, _ = make(max_age=timedelta(seconds=60))
    t.gate.submit(post(ME), AGENT)
    clock.now += timedelta(seconds=59)
    t.gate.submit(post(ME), AGENT)
    assert counting.calls == 1
    clock.now += timedelta(seconds=1)
    t.gate.submit(post(ME), AGENT)
    assert counting.calls == 2

    t, counting, clock, _ = make(max_age=timedelta(seconds=60))
    expiring = Caller(
        AGENT.principal, (Scope(), Scope(expires_at=START + timedelta(seconds=10))), "tok_e")
    assert t.gate.submit(post(ME), expiring).verdict is Verdict.ALLOW
    clock.now += timedelta(seconds=10)
    assert t.gate.submit(post(ME), expiring).status is Status.DENIED  # judged, not remembered
    assert counting.calls == 2


def test_forgetting_a_token_and_clearing_drop_its_verdicts() -> None:
    t, counting, _clock, verdicts = make()
    other = caller(token_id="tok_b")
    t.gate.submit(post(ME), AGENT)
    t.gate.submit(post(ME), other)
    verdicts.forget_token("tok_a")
    t.gate.submit(post(ME), AGENT)
    t.gate.submit(post(ME), other)
    assert counting.calls == 3
    verdicts.clear()
    t.gate.submit(post(ME), other)
    assert counting.calls == 4


def test_the_cache_is_bounded() -> None:
    t, _counting, _clock, verdicts = make(size=2)
    for n in range(5):
        t.gate.submit(post(json.dumps({"query": f"query q{n} {{ me {{ id }} }}"})), AGENT)
    assert len(verdicts) == 2


def test_a_broken_cache_judges_afresh() -> None:
    t, counting, _clock, verdicts = make()

    def broken(*_args: object) -> None:
        raise RuntimeError("boom")

    verdicts.get = broken  # type: ignore[method-assign,assignment]
    assert t.gate.submit(post(ME), AGENT).verdict is Verdict.ALLOW
    assert t.gate.submit(post(DELETE), AGENT).verdict is not Verdict.ALLOW
    assert counting.calls == 2


def test_a_kept_verdict_is_found_without_judging_and_submitted_like_any() -> None:
    t, counting, _clock, _ = make()
    assert t.judge.kept(post(ME), AGENT) is None  # nothing kept yet
    t.gate.submit(post(ME), AGENT)
    again = post(ME)
    kept = t.judge.kept(again, AGENT)
    assert kept is not None and kept.cached and kept.action is again and kept.routine
    outcome = t.gate.submit(again, AGENT, kept)
    assert outcome.status is Status.EXECUTED and outcome.action_id == again.id
    assert counting.calls == 1  # not judged again
    assert t.kinds() == ["action", "decision", "outcome"] * 2
    assert t.audit.records[-2].data["cached"] is True
    assert verify_records(t.audit.records, t.audit.key).ok
    # A hold is never kept, nor is anything for another token, nor anything without a cache
    t.gate.submit(post(DELETE), AGENT)
    assert t.judge.kept(post(DELETE), AGENT) is None
    assert t.judge.kept(post(ME), caller(token_id="tok_other")) is None
    t.judge.verdicts = None
    assert t.judge.kept(post(ME), AGENT) is None


def test_only_an_allow_that_asks_for_no_backup_of_a_read_or_write_is_routine() -> None:
    t, _counting, _clock, _ = make()
    read = t.gate.evaluate(post(ME), AGENT)
    held = t.gate.evaluate(post(DELETE), AGENT)
    assert read.routine and not held.routine
    assert held.decision.verdict is not Verdict.ALLOW


def test_a_kept_reads_records_show_the_same_redacted_content_worked_out_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import airlock.gate
    from airlock.redact import redact as real

    t, _counting, _clock, _ = make()
    calls: list[object] = []

    def counting(value: object) -> object:
        calls.append(value)
        return real(value)

    monkeypatch.setattr(airlock.gate, "redact", counting)
    secret_url = RAILWAY + "?api_key=hunter2hunter2"
    t.gate.submit(post(ME, url=secret_url), AGENT)
    for _ in range(3):
        again, same = post(ME, url=secret_url), caller(token_id="tok_a")  # equal, not identical
        kept = t.judge.kept(again, same)
        assert kept is not None and kept.caller is same  # rebound, so submit uses it
        assert t.gate.submit(again, same, kept).status is Status.EXECUTED
    contents = [r.data["content"] for r in t.audit.records if r.kind == "action"]
    assert len(contents) == 4 and all(c == contents[0] for c in contents)
    assert "hunter2hunter2" not in json.dumps(contents)  # redacted, every time
    assert len(calls) == 2  # the first submission, and the first reuse; not every reuse
