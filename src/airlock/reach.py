"""Broad writes: a DELETE or UPDATE that the live database says reaches most of its table.

The SQL classifier judges a WHERE from its text alone (`classify/sql/coverage.py`): `id IS NOT
NULL` reaches every row *if* `id` is never NULL, which the text cannot show, so it counts as
every row; `id > 0` is selective as far as the text goes, though in a table of serial ids it
matches them all. Where airlock holds the credentials of the database a statement is for, it
asks the database:

    LiveReach      the classifier the runtime wires in (`Runtime.judge`): the static verdict,
                   then for one DELETE/UPDATE on a configured postgres resource a probe, and
                   the verdict refined by what it measured (`refine`)
    ReachProbe     the protocol: measure(resource, text, columns) → Measurement
    PostgresProbe  the real one: the catalog (are the assumed columns NOT NULL, of an integer
                   type?) and the planner (EXPLAIN of the rows the statement touches — the vault's
                   own capture query — against EXPLAIN of the whole table), in a read-only
                   transaction with a one-second budget
    MemoryProbe    the in-memory twin

How a measurement refines the verdict (`[policy] broad_write_fraction`, default 0.5):

- a WHERE selective by its text, estimated to reach ≥ the fraction of the table → destructive;
- a WHERE that reaches every row on an assumption the catalog confirms (`id` is NOT NULL) →
  destructive, and the reasons say it is confirmed; one the catalog refutes (`deleted_at` may be
  NULL) → decided by the estimate like a selective one;
- anything else (no WHERE, `1 = 1`, several statements, an incomplete verdict, parameters) is
  not probed.

A measured verdict depends on the live table and, in general, on the statement's constants (`n
> 100` and `n > 90000` reach different shares), so it is not shared by fingerprint — each new
constant would be judged, probed and recorded in full. One kind is the same for every constant:
a WHERE that sets the columns of a unique key equal to constants (`aid = 4711`, the row-by-key
write of most applications) reaches at most one row. When the catalog confirms such a key
(`Measurement.keyed`: a valid, immediate, non-partial unique index on plain columns, all pinned,
of an ordinary table with no rules and no inheritance children) and one row is below the
fraction, the refined verdict keeps the text's fingerprint, so the wire proxy's ruling cache
serves the next constants of that shape as it did before the live check existed.

The probe fails closed only in the sense that matters here: when it cannot run (no connection,
timeout, a table never analysed), the static verdict stands and the reasons say so. It runs no
statement of the agent's: only catalog queries and EXPLAIN of a SELECT built from the
statement's parse tree, read-only. Planner estimates are estimates (stale statistics make them
wrong); they only ever add a hold, or take back the one an unprovable assumption put there.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from airlock.classify import Classifier
from airlock.classify.sql.rows import RowWrite, single_row_write
from airlock.classify.sql.truth import Reach
from airlock.classify.sql.verdict import table
from airlock.config import Config, Resource
from airlock.errors import AirlockError
from airlock.model import Action, Assessment, Effect, Risk, SqlQuery, Verb

BUDGET_SECONDS = 1.0  # the catalog queries and both EXPLAINs together
CONNECT_SECONDS = 2  # libpq waits at least two seconds for a connection


class ProbeError(AirlockError):
    """The live check could not measure the statement."""


@dataclass(frozen=True, slots=True)
class Measurement:
    table: str  # schema.name, as the database resolved it
    rows: float  # the planner's estimate of the rows the statement touches
    total: float  # the planner's estimate of the rows of the table
    not_null: frozenset[str] = frozenset()  # asked columns the catalog says are NOT NULL
    integers: frozenset[str] = frozenset()  # asked columns of an int2 or int4 type
    # The WHERE pins a unique key of the table (see the module docstring): at most one row
    # is reached, whatever the constants.
    keyed: bool = False

    @property
    def fraction(self) -> float:
        return min(1.0, self.rows / self.total) if self.total > 0 else 0.0


class ReachProbe(Protocol):
    def measure(self, resource: Resource, text: str, columns: frozenset[str],
                keys: frozenset[str] = frozenset()) -> Measurement:
        """Measure the one DELETE/UPDATE in `text` on `resource`; raise when it cannot.
        `keys`: the columns its WHERE pins to constants (`RowWrite.keys`)."""
        ...


class MemoryProbe:
    """In-memory twin: a measurement (or an exception to raise) per statement text."""

    def __init__(self, answers: Mapping[str, Measurement | Exception]) -> None:
        self.answers = dict(answers)
        self.asked: list[tuple[str, str, frozenset[str]]] = []

    def measure(self, resource: Resource, text: str, columns: frozenset[str],
                keys: frozenset[str] = frozenset()) -> Measurement:
        self.asked.append((resource.name, text, columns))
        answer = self.answers.get(text)
        if answer is None:
            raise ProbeError("nothing was measured for this statement")
        if isinstance(answer, Exception):
            raise answer
        return answer


class LiveReach:
    """A classifier that refines the static verdict of a DELETE/UPDATE on a configured
    postgres resource with what the database says (see the module docstring)."""

    def __init__(self, inner: Classifier, probe: ReachProbe, config: Config) -> None:
        self.inner = inner
        self.probe = probe
        self.config = config

    def classify(self, action: Action) -> Assessment:
        assessment = self.inner.classify(action)
        resource = self._resource(action)
        if resource is None or not isinstance(action.payload, SqlQuery):
            return assessment
        write = single_row_write(action.payload.text)
        if write is None or not _worth_probing(assessment, write):
            return assessment
        try:
            measured: Measurement | Exception = self.probe.measure(
                resource, action.payload.text, write.reach.columns, write.keys)
        except Exception as exc:  # the static verdict stands; the reasons say why
            measured = exc
        return refine(assessment, write, measured, self.config.broad_write_fraction)

    def _resource(self, action: Action) -> Resource | None:
        name = action.context.resource
        resource = self.config.resources.get(name) if name else None
        if resource is None or resource.kind != "postgres" or resource.url is None:
            return None
        if not isinstance(action.payload, SqlQuery) or action.payload.dialect != "postgres":
            return None
        return resource


def _worth_probing(assessment: Assessment, write: RowWrite) -> bool:
    """Only a complete verdict whose row reach is what a measurement can settle: selective by
    its text, or every row on an assumption; and nothing else in it already destructive."""
    if not assessment.complete or write.reach.reach is Reach.NONE:
        return False
    if write.reach.reach is Reach.ALL and not write.reach.assumed:
        return False
    mine = _row_effects(assessment, write)
    others = [e for e in assessment.effects if e not in mine]
    return bool(mine) and not any(e.risk.at_least(Risk.DESTRUCTIVE) for e in others)


def _row_effects(assessment: Assessment, write: RowWrite) -> list[Effect]:
    verb = Verb.DELETE if write.verb == "DELETE" else Verb.WRITE
    target = table(write.table)
    return [e for e in assessment.effects
            if e.verb is verb and e.target == target and e.scope in ("rows", "table")]


def refine(assessment: Assessment, write: RowWrite, measured: Measurement | Exception,
           threshold: float) -> Assessment:
    """The verdict of `assessment` with what the database measured about `write`."""
    name = write.table
    if isinstance(measured, Exception):
        why = measured.message if isinstance(measured, AirlockError) else \
            f"{type(measured).__name__}: {str(measured).strip()[:200]}"
        note = f"the live check of {name} could not run ({why}); the judgement from the text " \
               "stands"
        return _rebuilt(assessment, assessment.effects, note)  # a later one may run: not shared
    share = measured.fraction
    estimate = (f"the planner estimates it reaches {share:.0%} of {measured.table}: "
                f"{measured.rows:,.0f} of {measured.total:,.0f} rows")
    reach = write.reach
    mine = _row_effects(assessment, write)
    verb = mine[0].verb
    note = ""
    if reach.assumed:
        names = ", ".join(sorted(reach.columns))
        unproven = sorted(reach.columns - measured.not_null)
        integer_ok = not reach.integer or (bool(reach.columns)
                                           and reach.columns <= measured.integers)
        if not unproven and integer_ok:
            confirmed = f"the catalog confirms it: {names} " \
                        f"{'is' if len(reach.columns) == 1 else 'are'} NOT NULL" \
                        + (" and of an int2/int4 type" if reach.integer else "")
            return _rebuilt(assessment, assessment.effects, f"{confirmed}; {estimate}")
        if unproven:
            note = (f"by its text the WHERE reaches every row where {names} "
                    f"{'is' if len(reach.columns) == 1 else 'are'} not NULL, and the catalog "
                    f"allows NULL in {', '.join(unproven)}")
        else:
            note = ("by its text the WHERE reaches every row only if the value it tests is an "
                    f"int2 or int4, which {names or 'it'} is not")
    does = "removes" if write.verb == "DELETE" else "changes"
    if share >= threshold:
        reason = (f"{write.verb} is a broad write on {name}: {estimate}, at or above the "
                  f"{threshold:.0%} that makes a write broad ([policy] broad_write_fraction)")
        replaced = Effect(verb, Risk.DESTRUCTIVE, reason, table(name), "rows")
    else:
        reason = f"{write.verb} {does} the rows of {name} that its WHERE selects; {estimate}"
        replaced = Effect(verb, Risk.WRITE, reason, table(name), "rows", reversible=False)
    effects = [e for e in assessment.effects if e not in mine]
    effects.insert(assessment.effects.index(mine[0]), replaced)
    # One row whatever the constants, and one row is not broad: every text of this shape gets
    # this verdict, so it may be shared by the text's fingerprint (the module docstring).
    every_constant = (not reach.assumed and measured.keyed and measured.total > 0
                      and max(share, 1 / measured.total) < threshold)
    return _rebuilt(assessment, tuple(effects), note, shared=every_constant)


def _rebuilt(assessment: Assessment, effects: tuple[Effect, ...] | list[Effect],
             note: str, *, shared: bool = False) -> Assessment:
    # A verdict that depends on the live database is shared by fingerprint only when it holds
    # for every constant of the shape (`refine`).
    return Assessment.of(effects, classifier=assessment.classifier,
                         complete=assessment.complete, reasons=[note] if note else (),
                         fingerprint=assessment.fingerprint if shared else None)


class PostgresProbe:
    """Measures a DELETE/UPDATE against a configured postgres resource (read-only)."""

    def __init__(self, config: Config, budget: float = BUDGET_SECONDS) -> None:
        self.config = config
        self.budget = budget

    def measure(self, resource: Resource, text: str, columns: frozenset[str],
                keys: frozenset[str] = frozenset()) -> Measurement:
        import psycopg

        from airlock.upstream.postgres import postgres_of
        from airlock.vault.errors import VaultError
        from airlock.vault.snapshot.pgcatalog import resolve_table, writable_columns
        from airlock.vault.snapshot.pgrows import NotCapturable, parse_row_statement
        from airlock.vault.snapshot.pgtools import qualified
        from airlock.vault.snapshot.postgres import estimate_rows

        try:
            statement = parse_row_statement(text)
        except NotCapturable as exc:
            raise ProbeError(str(exc)) from None
        try:
            pg = postgres_of(resource, self.config)
            with pg.connect(timeout=CONNECT_SECONDS) as conn:
                conn.read_only = True
                deadline = time.monotonic() + self.budget
                budget_ms = str(max(1, int(self.budget * 1000)))
                conn.execute("SELECT set_config('statement_timeout', %s, true), "
                             "set_config('lock_timeout', %s, true)", (budget_ms, budget_ms))
                oid, schema, name = resolve_table(conn, statement.table)
                inherits = bool(statement.relation.inh)
                analysed, _ = _statistics(conn, oid, inherits)
                if not analysed:
                    raise ProbeError(f"{schema}.{name} has no planner statistics yet (it was "
                                     "never analysed); run ANALYZE on it")
                not_null, integers = _column_facts(conn, oid, columns)
                keyed = _keyed(conn, oid, keys, inherits)
                _within(deadline)
                capture = statement.capture_sql(writable_columns(conn, oid))
                rows, _ = estimate_rows(conn, capture)
                _within(deadline)
                only = "" if inherits else "ONLY "
                total, _ = estimate_rows(conn, f"SELECT FROM {only}{qualified(schema, name)}")
                _within(deadline)
                conn.rollback()
        except psycopg.Error as exc:
            raise ProbeError(str(exc).strip().splitlines()[0] if str(exc).strip()
                             else type(exc).__name__) from None
        except VaultError as exc:
            raise ProbeError(exc.message) from None
        return Measurement(f"{schema}.{name}", float(rows), float(total), not_null, integers,
                           keyed)


def _within(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise ProbeError("it took longer than its budget")


_STATISTICS = """
WITH RECURSIVE tree(oid) AS (
  SELECT %(oid)s::oid
  UNION
  SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid WHERE %(inh)s
)
SELECT coalesce(bool_and(c.reltuples >= 0), false), coalesce(sum(greatest(c.reltuples, 0)), 0)
FROM tree JOIN pg_class c ON c.oid = tree.oid
WHERE c.relkind <> 'p'
"""


def _statistics(conn: Any, oid: int, inherits: bool) -> tuple[bool, float]:
    """Whether every table the statement reaches has been analysed, and their rows."""
    row = conn.execute(_STATISTICS, {"oid": oid, "inh": inherits}).fetchone()
    return (bool(row[0]), float(row[1])) if row else (False, 0.0)


_KEYED = """
SELECT EXISTS (
  SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
  WHERE i.indrelid = %(oid)s AND i.indisunique AND i.indisvalid AND i.indimmediate
    AND i.indpred IS NULL AND i.indexprs IS NULL
    AND c.relkind = 'r' AND NOT c.relhasrules AND NOT (c.relhassubclass AND %(inh)s)
    AND ARRAY(SELECT a.attname::text FROM pg_attribute a
              WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) <@ %(keys)s::text[]
)
"""


def _keyed(conn: Any, oid: int, keys: frozenset[str], inherits: bool) -> bool:
    """Whether `keys` cover a unique key of the table that holds at every moment (immediate,
    not partial, on plain columns), on an ordinary table whose statements no rule rewrites and
    no child table shares (a parent's unique index does not reach its children's rows)."""
    if not keys:
        return False
    row = conn.execute(_KEYED, {"oid": oid, "inh": inherits, "keys": sorted(keys)}).fetchone()
    return bool(row and row[0])


def _column_facts(conn: Any, oid: int, columns: frozenset[str]
                  ) -> tuple[frozenset[str], frozenset[str]]:
    if not columns:
        return frozenset(), frozenset()
    rows = conn.execute(
        "SELECT attname, attnotnull, atttypid IN ('int2'::regtype, 'int4'::regtype) "
        "FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped "
        "AND attname = ANY(%s)", (oid, sorted(columns))).fetchall()
    return (frozenset(str(r[0]) for r in rows if r[1]),
            frozenset(str(r[0]) for r in rows if r[2]))
