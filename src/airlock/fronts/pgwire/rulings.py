"""From a statement's text to the session's ruling: the verdict cache and the audit journal.

**The cache.** The first time a caller sends a text, the gate judges it in full (and records it
like any action). Verdicts that let a statement straight through — allowed, no backup needed —
are kept per token under the exact text and, when the classifier says the verdict holds for
every text of that shape (`Assessment.fingerprint`, only set when no decision read a literal),
under the fingerprint too. A repeated statement then costs a dict lookup (a new literal in a
known shape: one scan for the fingerprint, ~20 µs), not a parse. Statements that need the whole
gate (holds, backups) are cached as HEAVY, which only says "ask the gate when it runs". Denials
are not cached: each goes through the gate and its audit records.

**The journal.** Every run is audited. A run served from the cache adds one entry to the
journal (a tuple: the time, who, the text, the verdict); entries are sealed into the hash chain
as one `pgwire_statements` record per batch (one store transaction, one fsync, for everything
that arrived meanwhile). In the record a batch's runs are grouped by text: each distinct
statement once (redacted there, once), with the time of every run (`at`) in order, so a busy
client's thousand runs of one prepared statement cost one entry, not a thousand. The ordering rule
that keeps a crash from losing the record of something that changed data: a run that can change
anything (a write, or anything not judged a pure read) is forwarded only after the batch holding
its entry is durable. Pure reads are forwarded at once and their entries follow within
`FLUSH_SECONDS`; a crash of airlock in that window can lose the records of reads that ran
(nothing they did needs undoing) — never of a write. If the journal cannot be written, every
later statement is refused.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airlock.audit import AuditLog
from airlock.classify.sql import fingerprint_sql
from airlock.fronts.context import front_action
from airlock.fronts.pgwire import session as ses
from airlock.gate import Gate
from airlock.model import (
    Action,
    ActionContext,
    Caller,
    Outcome,
    Risk,
    SqlQuery,
    Status,
    Verdict,
    utcnow,
)
from airlock.redact import redact_text

log = logging.getLogger("airlock.pgwire")

FLUSH_SECONDS = 0.02
MAX_BATCH = 512
CACHE_SIZE = 8192
MAX_AUDITED_TEXT = 4096
RELAY_TEXTS = 1024  # texts per token the relay may be lent


# One run for the journal: when, principal, token id, the statement, verdict, risk.
Run = tuple[datetime, str, str | None, str, str, str]


def grouped(runs: list[Run]) -> list[dict[str, Any]]:
    """A batch's runs as the audit record keeps them: one entry per distinct statement (and
    who ran it, and how it was judged), first-seen order, with every run's time."""
    return _entries([(run, 0) for run in runs], counted=False)


def relayed(counts: list[tuple[Run, int]]) -> list[dict[str, Any]]:
    """Runs the compiled relay served (relay.py), as it reported them: per statement the
    count since its last report and the report's time — not each run's own."""
    return _entries(counts, counted=True)


def _entries(counts: list[tuple[Run, int]], *, counted: bool) -> list[dict[str, Any]]:
    entries: dict[tuple[str, str | None, str, str, str], dict[str, Any]] = {}
    for (at, principal, token, sql, verdict, risk), count in counts:
        key = (principal, token, sql, verdict, risk)
        entry = entries.get(key)
        if entry is None:
            text = sql if len(sql) <= MAX_AUDITED_TEXT else sql[:MAX_AUDITED_TEXT] + "…"
            entry = entries[key] = {"principal": principal, "token": token,
                                    "sql": redact_text(text), "verdict": verdict,
                                    "risk": risk, "at": []}
            if counted:
                entry["relayed"] = 0
        entry["at"].append(at.isoformat())
        if counted:
            entry["relayed"] += count
    return list(entries.values())


@dataclass(frozen=True, slots=True)
class Cached:
    rule: ses.Rule
    read: bool  # a pure read: its run need not wait for its audit record
    commits: bool = True  # it may end a transaction (COMMIT, PREPARE TRANSACTION, CALL, DO)


def may_commit(sql: str) -> bool:
    """Whether the text may make earlier work permanent: a transaction statement, or a
    procedure or DO block (which may COMMIT). Unreadable text may."""
    try:
        stmts = _postgast.parse(sql).stmts
    except Exception:
        return True
    return any(s.stmt.WhichOneof("node") in _ENDS_TRANSACTIONS for s in stmts)


def transaction_control(sql: str) -> bool:
    """Whether the text is one statement that only opens, ends or marks this session's
    transaction (BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT, savepoints) — no
    two-phase commit, whose prepared transaction outlives the session."""
    try:
        stmts = _postgast.parse(sql).stmts
    except Exception:
        return False
    if len(stmts) != 1 or stmts[0].stmt.WhichOneof("node") != "transaction_stmt":
        return False
    return _TRANSACTION_KINDS.get(stmts[0].stmt.transaction_stmt.kind, "") in _SESSION_ONLY


_postgast: Any = importlib.import_module("postgast")
_ENDS_TRANSACTIONS = frozenset({"transaction_stmt", "call_stmt", "do_stmt"})
_TRANSACTION_KINDS: dict[int, str] = {
    v.number: v.name for v in _postgast.parse("BEGIN").stmts[0].stmt.transaction_stmt
    .DESCRIPTOR.fields_by_name["kind"].enum_type.values}
_SESSION_ONLY = frozenset({"TRANS_STMT_BEGIN", "TRANS_STMT_START", "TRANS_STMT_COMMIT",
                           "TRANS_STMT_ROLLBACK", "TRANS_STMT_SAVEPOINT", "TRANS_STMT_RELEASE",
                           "TRANS_STMT_ROLLBACK_TO"})


class Journal:
    """Batches run records into the audit chain from one writer thread."""

    def __init__(self, audit: AuditLog, resource: str) -> None:
        self.audit = audit
        self.resource = resource
        self._entries: list[Run] = []
        self._counts: list[tuple[Run, int]] = []  # runs the compiled relay reported
        self._waiters: list[Future[None]] = []
        self._cond = threading.Condition()
        self._stopped = False
        self.broken: str | None = None
        self.batches = 0
        self.added = 0  # runs journaled, and of those, sealed into the audit chain (in order)
        self.sealed = 0
        self._thread = threading.Thread(target=self._run, name="pgwire-journal", daemon=True)
        self._thread.start()

    def add(self, entry: Run) -> int:
        """Journal a run whose record may follow it: no waiting, no future. Returns its
        position; the run's record is sealed once `sealed` reaches it."""
        with self._cond:
            if self.broken is not None:
                return 0  # `cached` sees `broken` and refuses from the next statement on
            self._entries.append(entry)
            self.added += 1
            if len(self._entries) >= MAX_BATCH:
                self._cond.notify()
            return self.added

    def add_counted(self, entry: Run, count: int) -> None:
        """Journal `count` runs of one statement the compiled relay served (reads only)."""
        with self._cond:
            if self.broken is None:
                self._counts.append((entry, count))

    def add_durable(self, entry: Run) -> Future[None]:
        """Journal a run that must not start before its record is sealed: wait on the result."""
        return self._seal_soon(entry)

    def flush(self) -> Future[None]:
        """A future that is done once everything journaled so far is sealed."""
        return self._seal_soon(None)

    def _seal_soon(self, entry: Run | None) -> Future[None]:
        done: Future[None] = Future()
        with self._cond:
            if self.broken is not None:
                done.set_exception(RuntimeError(self.broken))
                return done
            if entry is not None:
                self._entries.append(entry)
                self.added += 1
            self._waiters.append(done)
            self._cond.notify()
        return done

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._waiters and not self._stopped:
                    self._cond.wait(FLUSH_SECONDS)
                entries, self._entries = self._entries, []
                counts, self._counts = self._counts, []
                waiters, self._waiters = self._waiters, []
                stopped = self._stopped
            if entries or counts:
                self._write(entries, waiters, counts)
            else:
                for w in waiters:
                    w.set_result(None)
            if stopped:
                return

    def _write(self, entries: list[Run], waiters: list[Future[None]],
               counts: list[tuple[Run, int]] | None = None) -> None:
        try:
            statements = grouped(entries) + relayed(counts or [])
            self.audit.record("pgwire_statements", None,
                              {"resource": self.resource, "statements": statements})
            self.batches += 1
            with self._cond:
                self.sealed += len(entries)
        except Exception as exc:
            log.exception("the pgwire audit journal could not be written")
            with self._cond:
                self.broken = (f"airlock could not write its audit log ({type(exc).__name__}); "
                               "statements are refused until it works again")
            for w in waiters:
                w.set_exception(exc)
            return
        for w in waiters:
            w.set_result(None)

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=10)


class _Lru:
    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[tuple[str, str], Cached] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Cached | None:
        return self.items.get(key)  # a plain read: a miss is only slower, never wrong

    def put(self, key: tuple[str, str], value: Cached) -> None:
        with self.lock:
            self.items[key] = value
            if len(self.items) > self.size:
                self.items.popitem(last=False)


class Rulings:
    """Rulings for one resource's listener, shared by its sessions."""

    def __init__(self, gate: Gate, journal: Journal, context: ActionContext, *,
                 clock: Callable[[], datetime] = utcnow,
                 revoked: Callable[[], frozenset[str]] = frozenset) -> None:
        self.gate = gate
        self.revoked = revoked  # the tokens revoked as last read (watch.py)
        self.journal = journal
        self.context = context  # the listener's resource, and so its environment
        self.clock = clock
        self._owed: dict[str, int] = {}  # token → its last write journaled unsealed
        self.by_text = _Lru(CACHE_SIZE)
        self.by_shape = _Lru(CACHE_SIZE)
        self.hits = 0
        self.misses = 0
        # What sessions may run in the compiled relay (relay.py): per token, texts ruled
        # allowed, pure reads that cannot end a transaction, and transaction control — with an
        # id the relay reports runs by, whether the verdict holds for the text's whole shape,
        # and whether it may end a transaction (then it is lent only while nothing is owed).
        self._relayable: dict[str, OrderedDict[str, tuple[int, bool, bool]]] = {}
        self._relay_texts: dict[int, str] = {}
        self._next_text = 1

    def warm(self) -> None:
        """Load the classifiers now, so the first client does not wait for the imports."""
        self.gate.judge.classifier.classify(Action(SqlQuery("SELECT 1", "postgres"), "warm-up",
                                                   "pgwire", self.context))

    def action(self, sql: str, caller: Caller) -> Action:
        return front_action(SqlQuery(sql, "postgres"), caller, "pgwire", self.context)

    # ---- the session's synchronous question ----------------------------------------------

    def cached(self, caller: Caller, sql: str, runs: bool,
               in_block: bool = False) -> ses.Rule | None:
        """The ruling from the cache, or None (then `decide` in a thread). `in_block`: the
        statement certainly runs inside a transaction block (the server said so, and nothing
        that could end it is still in flight)."""
        if self.journal.broken is not None or _expired(caller, self.clock()):
            return None
        if caller.token_id is not None and caller.token_id in self.revoked():
            return self._refuse_revoked(caller, sql)
        token = caller.token_id or caller.principal.name
        hit = self.by_text.get((token, sql))
        if hit is None:
            shape = fingerprint_sql(sql)
            hit = self.by_shape.get((token, shape)) if shape is not None else None
            if hit is None:
                self.misses += 1
                return None
        self.hits += 1
        if not runs or hit.rule.ruling is not ses.Ruling.ALLOW:
            return hit.rule
        if hit.commits and self._owes(token):
            return None  # `decide` seals this token's journaled writes before it runs
        if hit.read:
            self.journal.add((self.clock(), caller.principal.name, caller.token_id, sql,
                              "allow", "read"))
            return hit.rule
        if not in_block or hit.commits:
            return None  # a write that commits on its own: forwarded once its record is sealed
        # A write inside a transaction block becomes permanent only at the COMMIT, which waits
        # for this record (`_owes`): no need to wait here.
        self._owed[token] = self.journal.add((self.clock(), caller.principal.name,
                                              caller.token_id, sql, "allow", "write"))
        return hit.rule

    def _refuse_revoked(self, caller: Caller, sql: str) -> ses.Rule:
        self.journal.add((self.clock(), caller.principal.name, caller.token_id, sql, "deny",
                          "token revoked"))
        return ses.refusal(ses.DENY_SQLSTATE, f"airlock denied this statement: token "
                           f"{caller.token_id} was revoked", hint="connect with a live token")

    def _owes(self, token: str) -> bool:
        """This token has writes journaled in a transaction block and not sealed yet."""
        return self._owed.get(token, 0) > self.journal.sealed

    # ---- the whole judgement, off the event loop ------------------------------------------

    def decide(self, caller: Caller, sql: str, runs: bool) -> ses.Rule:
        try:
            return self._decide(caller, sql, runs)
        except Exception as exc:  # fail closed: whatever broke, the statement does not run
            log.exception("ruling on a statement failed")
            return ses.refusal(ses.DENY_SQLSTATE, f"airlock failed while judging this statement "
                               f"({type(exc).__name__}); refused to be safe")

    def _decide(self, caller: Caller, sql: str, runs: bool) -> ses.Rule:
        if self.journal.broken is not None:
            return ses.refusal(ses.DENY_SQLSTATE, self.journal.broken)
        if caller.token_id is not None and caller.token_id in self.revoked():
            return self._refuse_revoked(caller, sql)
        token = caller.token_id or caller.principal.name
        hit = None if _expired(caller, self.clock()) else self.by_text.get((token, sql))
        if hit is None and not _expired(caller, self.clock()):
            shape = fingerprint_sql(sql)
            hit = self.by_shape.get((token, shape)) if shape is not None else None
        if self._owes(token) and (hit is None or hit.commits):
            self.journal.flush().result()  # what this may commit is on record first
        if hit is not None and hit.rule.ruling is ses.Ruling.ALLOW and runs:
            risk = "read" if hit.read else "write"
            run = (self.clock(), caller.principal.name, caller.token_id, sql, "allow", risk)
            if hit.read:
                self.journal.add(run)
            else:
                self.journal.add_durable(run).result()
            return hit.rule
        if hit is not None and not runs:
            return hit.rule
        action = self.action(sql, caller)
        ev = self.gate.evaluate(action, caller)
        decision = ev.decision
        if decision.verdict is Verdict.ALLOW and not decision.snapshot_required:
            if runs:  # the full records of the gate, written before it runs
                outcome = self.gate.submit(action, caller, ev)
                if outcome.verdict is not Verdict.ALLOW:
                    return refusal_for(outcome)
            cached = Cached(ses.ALLOW, ev.assessment.risk is Risk.READ and ev.assessment.complete,
                            may_commit(sql))
            self._remember(token, sql, ev.assessment.fingerprint, cached)
            return cached.rule
        if decision.verdict is Verdict.DENY:
            return refusal_for(self.gate.submit(action, caller, ev))
        self._remember(token, sql, ev.assessment.fingerprint, Cached(ses.HEAVY, False))
        return ses.HEAVY

    def _remember(self, token: str, sql: str, shape: str | None, cached: Cached) -> None:
        self.by_text.put((token, sql), cached)
        if shape is not None:
            self.by_shape.put((token, shape), cached)
        if cached.rule is ses.ALLOW and cached.read and (
                not cached.commits or transaction_control(sql)):
            self._relayable_add(token, sql, shape is not None, cached.commits)

    # ---- the compiled relay -----------------------------------------------------------------

    def _relayable_add(self, token: str, sql: str, by_shape: bool, ends: bool) -> None:
        with self.by_text.lock:
            texts = self._relayable.setdefault(token, OrderedDict())
            if sql in texts:
                texts.move_to_end(sql)
                return
            text_id = self._next_text
            self._next_text += 1
            texts[sql] = (text_id, by_shape, ends)
            self._relay_texts[text_id] = sql
            if len(texts) > RELAY_TEXTS:
                _, (old, _, _) = texts.popitem(last=False)
                self._relay_texts.pop(old, None)

    def relayable(self, caller: Caller) -> list[tuple[int, str, bool]]:
        """What a session of `caller` may run in the relay: (id, text, by shape). Nothing
        when its token is revoked or expired or the journal is broken.

        Transaction control (BEGIN, COMMIT, ROLLBACK, savepoints) is among them only while the
        token owes no record: the relay forwards nothing but reads, so a session lent then
        has every write of its open transaction sealed already, and a COMMIT it forwards makes
        nothing permanent whose record could still be lost. While a record is owed, a COMMIT
        is handed back and `decide` seals first, as before."""
        if self.journal.broken is not None or _expired(caller, self.clock()) or (
                caller.token_id is not None and caller.token_id in self.revoked()):
            return []
        token = caller.token_id or caller.principal.name
        owes = self._owes(token)
        with self.by_text.lock:
            texts = self._relayable.get(token)
            return [(i, sql, shape) for sql, (i, shape, ends) in texts.items()
                    if not (ends and owes)] if texts else []

    def relay_id(self, caller: Caller, sql: str) -> int:
        """The id a relayable text goes by for this caller, 0 if it is not relayable (or may
        end a transaction while the token owes a record: see `relayable`)."""
        token = caller.token_id or caller.principal.name
        texts = self._relayable.get(token)
        found = texts.get(sql) if texts is not None else None
        if found is None or (found[2] and self._owes(token)):
            return 0
        return found[0]

    def relay_text(self, text_id: int) -> str | None:
        return self._relay_texts.get(text_id)

    def relayed(self, caller: Caller, hits: list[tuple[int, int]]) -> None:
        """Journal the runs the relay reports (each id's text, with its count)."""
        now = self.clock()
        for text_id, count in hits:
            sql = self._relay_texts.get(text_id)
            if sql is None:  # pushed out of the list since: recorded by its id
                sql = f"/* statement {text_id} lent to the relay, no longer remembered */"
            self.journal.add_counted((now, caller.principal.name, caller.token_id, sql,
                                      "allow", "read"), count)



def _expired(caller: Caller, now: datetime) -> bool:
    return any(s.expires_at is not None and now >= s.expires_at for s in caller.scopes)


def refusal_for(outcome: Outcome) -> ses.Rule:
    """The ErrorResponse a client gets for a held or denied statement."""
    if outcome.status is Status.HELD and outcome.approval_id:
        return ses.refusal(
            ses.HOLD_SQLSTATE, f"airlock is holding this statement for approval "
            f"{outcome.approval_id}: {outcome.reason}",
            detail=f"approval id: {outcome.approval_id}",
            hint=f"ask a human to approve it (`airlock approve {outcome.approval_id}` or the "
                 "console), then send exactly the same statement again")
    if outcome.status is Status.HELD:
        return ses.refusal(ses.PROTECT_SQLSTATE, f"airlock did not run this statement: "
                           f"{outcome.reason}", hint="nothing was changed; try again")
    return ses.refusal(ses.DENY_SQLSTATE, f"airlock denied this statement: {outcome.reason}")
