"""The journal's record of cached runs: every run's time, each distinct statement once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from airlock.fronts.pgwire.rulings import (
    MAX_AUDITED_TEXT,
    Cached,
    Journal,
    Rulings,
    Run,
    grouped,
    may_commit,
)
from airlock.fronts.pgwire.session import ALLOW, Ruling
from airlock.model import ActionContext, Caller, Principal, PrincipalKind, Scope

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def test_runs_are_grouped_by_statement_and_keep_every_time_in_order() -> None:
    runs: list[Run] = [(T0 + timedelta(seconds=i), "agent", "tok_1", sql, "allow", "read")
            for i, sql in enumerate(["SELECT 1", "SELECT 2", "SELECT 1", "SELECT 1"])]
    runs.append((T0, "agent", "tok_2", "SELECT 1", "allow", "read"))  # another token: its own
    entries = grouped(runs)
    assert [(e["sql"], e["token"], len(e["at"])) for e in entries] == [
        ("SELECT 1", "tok_1", 3), ("SELECT 2", "tok_1", 1), ("SELECT 1", "tok_2", 1)]
    assert entries[0]["at"] == [(T0 + timedelta(seconds=s)).isoformat() for s in (0, 2, 3)]


def test_statements_are_redacted_and_cut_in_the_record() -> None:
    secret = "alk_tok_01m8benkyndme5a4t9w7j3faas_L4MMYZPKcaUnriGU_6ZX9jMwrA5Ih0Z-lYUQxDZK5Q0"
    long = "SELECT '" + "x" * (MAX_AUDITED_TEXT + 10) + "'"
    entries = grouped([(T0, "agent", None, f"SELECT '{secret}'", "allow", "read"),
                       (T0, "agent", None, long, "allow", "read")])
    assert "L4MMYZPK" not in entries[0]["sql"]
    assert entries[1]["sql"].endswith("…") and len(entries[1]["sql"]) == MAX_AUDITED_TEXT + 1


class _Audit:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def record(self, kind: str, action_id: str | None, data: dict[str, Any]) -> None:
        self.records.append(data)


def test_a_revoked_tokens_statements_are_refused_even_when_cached_and_journaled() -> None:
    audit = _Audit()
    journal = Journal(audit, "app")  # type: ignore[arg-type]
    revoked: set[str] = set()
    rulings = Rulings(None, journal, ActionContext(resource="app"),  # type: ignore[arg-type]
                      clock=lambda: T0, revoked=lambda: frozenset(revoked))
    caller = Caller(Principal("agent", PrincipalKind.AGENT), (Scope(),), token_id="tok_1")
    rulings._remember("tok_1", "SELECT 1", None, Cached(ALLOW, read=True, commits=False))
    assert rulings.cached(caller, "SELECT 1", True) is ALLOW
    revoked.add("tok_1")
    refused = rulings.cached(caller, "SELECT 1", True)
    assert refused is not None and refused.ruling is Ruling.REFUSE
    assert b"tok_1 was revoked" in refused.error
    assert rulings.decide(caller, "SELECT 2", True).ruling is Ruling.REFUSE  # a miss too
    journal.close()
    verdicts = [(e["sql"], e["verdict"]) for r in audit.records for e in r["statements"]]
    assert verdicts == [("SELECT 1", "allow"), ("SELECT 1", "deny"), ("SELECT 2", "deny")]


class _SlowAudit(_Audit):
    """An audit log whose writes wait until `go` is set: records stay owed until then."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()

    def record(self, kind: str, action_id: str | None, data: dict[str, Any]) -> None:
        assert self.go.wait(10)
        super().record(kind, action_id, data)


def test_transaction_control_is_lent_to_the_relay_only_while_no_record_is_owed() -> None:
    audit = _SlowAudit()
    journal = Journal(audit, "app")  # type: ignore[arg-type]
    rulings = Rulings(None, journal, ActionContext(resource="app"),  # type: ignore[arg-type]
                      clock=lambda: T0)
    caller = Caller(Principal("agent", PrincipalKind.AGENT), (Scope(),), token_id="tok_1")
    for sql in ("BEGIN", "COMMIT", "SELECT 1", "PREPARE TRANSACTION 'x'", "BEGIN; SELECT 1"):
        rulings._remember("tok_1", sql, None, Cached(ALLOW, read=True, commits=may_commit(sql)))
    rulings._remember("tok_1", "UPDATE t SET a = 1", None, Cached(ALLOW, read=False,
                                                                   commits=False))

    def lent() -> set[str]:
        return {sql for _, sql, _ in rulings.relayable(caller)}

    # two-phase commit outlives the session, and a text with more in it is not only control
    assert lent() == {"BEGIN", "COMMIT", "SELECT 1"}
    assert rulings.relay_id(caller, "COMMIT") != 0
    # a write inside a block: journaled, its record not sealed yet
    assert rulings.cached(caller, "UPDATE t SET a = 1", True, in_block=True) is ALLOW
    assert lent() == {"SELECT 1"}  # a lent COMMIT could make it permanent before its record
    assert rulings.relay_id(caller, "COMMIT") == 0  # nor through a prepared statement
    audit.go.set()
    journal.flush().result(timeout=10)
    assert lent() == {"BEGIN", "COMMIT", "SELECT 1"}
    journal.close()


def test_a_first_statement_is_judged_once_and_its_records_follow_that_judgement() -> None:
    # The rulings look first (evaluate) and then carry the statement through the gate (submit)
    # with that same evaluation: judged once — a live row probe runs once — and never
    # differently the second time.
    from airlock.classify import KindDispatch
    from airlock.model import Action, Assessment
    from tests.factories import Twins

    class Counting:
        def __init__(self) -> None:
            self.inner, self.calls = KindDispatch(), 0

        def classify(self, action: Action) -> Assessment:
            self.calls += 1
            return self.inner.classify(action)

    counting = Counting()
    twins = Twins(classifier=counting)
    journal = Journal(_Audit(), "app")  # type: ignore[arg-type]
    rulings = Rulings(twins.gate, journal, ActionContext(environment="staging"), clock=lambda: T0)
    caller = Caller(Principal("agent", PrincipalKind.AGENT), (Scope(),), token_id="tok_1")
    assert rulings.decide(caller, "SELECT 1", True) is ALLOW
    assert counting.calls == 1
    assert twins.kinds() == ["action", "decision", "outcome"]
    journal.close()
