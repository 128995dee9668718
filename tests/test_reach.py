"""The live check of DELETE/UPDATE (reach.py): what a measurement does to the static verdict
(with the in-memory probe), and the real probe against a real PostgreSQL."""

from __future__ import annotations

import socket
import textwrap
import time
import tomllib
from pathlib import Path

import psycopg
import pytest

from airlock.classify import KindDispatch
from airlock.classify.sql.rows import single_row_write
from airlock.config import Config, config_from_mapping
from airlock.model import Action, ActionContext, Risk, SqlQuery, Verdict
from airlock.reach import LiveReach, Measurement, MemoryProbe, PostgresProbe, ProbeError
from airlock.runtime import Runtime
from airlock.tokens import local_caller
from tests.pgcluster import Cluster


def _config(tmp_path: Path, url: str = "postgresql://app@127.0.0.1:5432/app",
            extra: str = "") -> Config:
    text = textwrap.dedent(f"""
        state_dir = "{tmp_path / 'state'}"
        [environments.staging]
        [resources.db]
        kind = "postgres"
        environment = "staging"
        url = "{url}"
        [resources.files]
        kind = "path"
        environment = "staging"
        path = "{tmp_path / 'files'}"
        """) + textwrap.dedent(extra)
    return config_from_mapping(tomllib.loads(text), tmp_path / "airlock.toml")


def _action(text: str, resource: str | None = "db", dialect: str = "postgres") -> Action:
    return Action(SqlQuery(text, dialect), "agent", "sql",
                  ActionContext(environment="staging", resource=resource))


def _measured(fraction: float, *, not_null: set[str] | None = None,
              integers: set[str] | None = None) -> Measurement:
    return Measurement("public.t", 10_000 * fraction, 10_000, frozenset(not_null or ()),
                       frozenset(integers or ()))


# --------------------------------------------------------------------------------------------
# What a measurement does (in-memory probe)

CASES = [
    # (statement, measurement, risk, words the reasons must hold)
    ("DELETE FROM t WHERE id > 0", _measured(1.0), Risk.DESTRUCTIVE,
     ["DELETE is a broad write on t", "100% of public.t", "50%", "broad_write_fraction"]),
    ("DELETE FROM t WHERE id > 0", _measured(0.5), Risk.DESTRUCTIVE, ["50% of public.t"]),
    ("UPDATE t SET a = 1 WHERE created_at < now()", _measured(0.8), Risk.DESTRUCTIVE,
     ["UPDATE is a broad write on t"]),
    ("DELETE FROM t WHERE id > 9000", _measured(0.1), Risk.WRITE,
     ["removes the rows of t that its WHERE selects", "10% of public.t"]),
    ("DELETE FROM t WHERE id IS NOT NULL", _measured(1.0, not_null={"id"}), Risk.DESTRUCTIVE,
     ["the catalog confirms it: id is NOT NULL", "every row where id is not NULL"]),
    ("DELETE FROM t WHERE deleted_at IS NOT NULL", _measured(0.02), Risk.WRITE,
     ["the catalog allows NULL in deleted_at", "2% of public.t"]),
    ("DELETE FROM t WHERE deleted_at IS NOT NULL", _measured(0.97), Risk.DESTRUCTIVE,
     ["the catalog allows NULL in deleted_at", "DELETE is a broad write on t"]),
    ("DELETE FROM t WHERE id > -2147483649", _measured(1.0, not_null={"id"}, integers={"id"}),
     Risk.DESTRUCTIVE, ["confirms it: id is NOT NULL and of an int2/int4 type"]),
    ("DELETE FROM t WHERE id > -2147483649", _measured(0.3, not_null={"id"}), Risk.WRITE,
     ["only if the value it tests is an int2 or int4, which id is not"]),
    ("DELETE FROM t WHERE id IN (SELECT id FROM t)", _measured(1.0), Risk.DESTRUCTIVE,
     ["allows NULL in id", "DELETE is a broad write on t"]),
]


@pytest.mark.parametrize(("text", "measured", "risk", "words"), CASES,
                         ids=[f"{c[0]}@{c[1].fraction:.0%}" for c in CASES])
def test_a_measurement_refines_the_verdict(tmp_path: Path, text: str, measured: Measurement,
                                           risk: Risk, words: list[str]) -> None:
    probe = MemoryProbe({text: measured})
    live = LiveReach(KindDispatch(), probe, _config(tmp_path))
    assessment = live.classify(_action(text))
    assert assessment.risk is risk, assessment.reasons
    for word in words:
        assert any(word in r for r in assessment.reasons), (word, assessment.reasons)
    assert assessment.fingerprint is None  # a live verdict is never shared by fingerprint
    assert probe.asked and probe.asked[0][0] == "db"


def _keyed(total: float) -> Measurement:
    return Measurement("public.t", 1, total, keyed=True)


@pytest.mark.parametrize(("text", "measured", "shared"), [
    ("UPDATE t SET a = a + 1 WHERE id = 42", _keyed(10_000), True),
    ("DELETE FROM t WHERE id = 42 AND a = 3", _keyed(10_000), True),
    # one row of two is half the table: a broad write, and not for every constant alike
    ("UPDATE t SET a = 1 WHERE id = 42", _keyed(2), False),
    ("UPDATE t SET a = 1 WHERE id = 42", _measured(0.0001), False),  # no unique key confirmed
    ("UPDATE t SET a = 1 WHERE id > 42", _measured(0.1), False),
])
def test_a_verdict_is_shared_by_fingerprint_only_when_it_holds_for_every_constant(
        tmp_path: Path, text: str, measured: Measurement, shared: bool) -> None:
    static = KindDispatch().classify(_action(text))
    live = LiveReach(KindDispatch(), MemoryProbe({text: measured}), _config(tmp_path))
    assessment = live.classify(_action(text))
    assert assessment.fingerprint == (static.fingerprint if shared else None)
    if shared:
        assert assessment.fingerprint is not None and assessment.risk is Risk.WRITE


@pytest.mark.parametrize(("text", "keys"), [
    ("UPDATE pgbench_accounts SET abalance = abalance + -5 WHERE aid = 4711", {"aid"}),
    ("UPDATE t a SET x = 1 WHERE a.id = 5 AND 7 = b AND c > 3", {"id", "b"}),
    ("DELETE FROM t WHERE id = 0", {"id"}),
    ("DELETE FROM t WHERE id = 5 OR id = 6", set()),
    ("DELETE FROM t WHERE id = NULL", set()),
    ("DELETE FROM t WHERE id = other", set()),
    ("DELETE FROM t WHERE u.id = 5", set()),  # another relation's column
    ("DELETE FROM t WHERE id OPERATOR(public.=) 5", set()),  # not the built-in operator
    ("UPDATE t SET x = 1 FROM u WHERE id = 5", set()),  # `id` may be u's
    ("DELETE FROM t USING u WHERE id = 5", set()),
    ("WITH q AS (SELECT 1) DELETE FROM t WHERE id = 5", set()),
])
def test_the_columns_a_where_pins(text: str, keys: set[str]) -> None:
    write = single_row_write(text)
    assert write is not None and write.keys == keys


def test_the_fraction_is_configurable(tmp_path: Path) -> None:
    text = "DELETE FROM t WHERE id > 7000"
    strict = _config(tmp_path, extra="[policy]\nbroad_write_fraction = 0.25\n")
    assert strict.broad_write_fraction == 0.25
    live = LiveReach(KindDispatch(), MemoryProbe({text: _measured(0.3)}), strict)
    assert live.classify(_action(text)).risk is Risk.DESTRUCTIVE
    default = LiveReach(KindDispatch(), MemoryProbe({text: _measured(0.3)}), _config(tmp_path))
    assert default.classify(_action(text)).risk is Risk.WRITE


@pytest.mark.parametrize("failure", [
    ProbeError("connection refused"), TimeoutError("slow"), RuntimeError("a bug"),
])
def test_a_failed_probe_leaves_the_static_verdict_and_says_so(tmp_path: Path,
                                                             failure: Exception) -> None:
    for text, risk in (("DELETE FROM t WHERE id > 0", Risk.WRITE),
                       ("DELETE FROM t WHERE id IS NOT NULL", Risk.DESTRUCTIVE)):
        live = LiveReach(KindDispatch(), MemoryProbe({text: failure}), _config(tmp_path))
        assessment = live.classify(_action(text))
        assert assessment.risk is risk
        assert any("the live check of t could not run" in r and "stands" in r
                   for r in assessment.reasons), assessment.reasons


@pytest.mark.parametrize(("text", "resource", "dialect"), [
    ("DELETE FROM t WHERE id > 0", None, "postgres"),  # no resource: no connection to ask
    ("DELETE FROM t WHERE id > 0", "files", "postgres"),  # not a database
    ("DELETE FROM t WHERE id > 0", "db", "mysql"),  # not PostgreSQL
    ("DELETE FROM t", "db", "postgres"),  # every row already, for certain
    ("DELETE FROM t WHERE 1 = 1", "db", "postgres"),
    ("DELETE FROM t WHERE ctid IS NOT NULL", "db", "postgres"),
    ("DELETE FROM t WHERE 1 = 2", "db", "postgres"),  # no row
    ("DELETE FROM t WHERE id > 0; DELETE FROM u WHERE id > 0", "db", "postgres"),
    ("DELETE FROM t WHERE id = app.pick()", "db", "postgres"),  # unknown function: held anyway
    ("WITH d AS (DELETE FROM u RETURNING id) DELETE FROM t WHERE id IN (SELECT id FROM d)",
     "db", "postgres"),  # already destructive for another reason
    ("SELECT * FROM t WHERE id > 0", "db", "postgres"),
    ("INSERT INTO t VALUES (1)", "db", "postgres"),
])
def test_what_is_not_probed(tmp_path: Path, text: str, resource: str | None,
                            dialect: str) -> None:
    probe = MemoryProbe({})
    live = LiveReach(KindDispatch(), probe, _config(tmp_path))
    action = _action(text, resource, dialect)
    assert live.classify(action) == KindDispatch().classify(action)
    assert probe.asked == []


def test_the_runtime_wires_the_probe_only_where_a_database_can_be_asked(tmp_path: Path) -> None:
    with_db = Runtime(_config(tmp_path))
    assert isinstance(with_db.judge.classifier, LiveReach)
    assert isinstance(with_db.judge.classifier.probe, PostgresProbe)
    (tmp_path / "bare").mkdir()
    bare = config_from_mapping(tomllib.loads(f'state_dir = "{tmp_path / "bare"}"'),
                               tmp_path / "bare" / "airlock.toml")
    assert isinstance(Runtime(bare).judge.classifier, KindDispatch)


# --------------------------------------------------------------------------------------------
# The real probe


@pytest.fixture
def events(pg_cluster: Cluster, pg_database: str) -> str:
    """50,000 rows, analysed: a primary key, a column NULL in one row of ten (`n`), one NULL
    in all but one row of twenty (`archived_at`)."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE events (id int PRIMARY KEY, n int, note text NOT NULL, "
                     "archived_at timestamptz, big bigint NOT NULL DEFAULT 0)")
        conn.execute("INSERT INTO events SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE g END, "
                     "'x', CASE WHEN g % 20 = 0 THEN now() END FROM generate_series(1, 50000) g")
        conn.execute("CREATE TABLE fresh (id int PRIMARY KEY)")  # never analysed
        conn.execute("ANALYZE events")
    return pg_database


LIVE = [
    # (statement, verdict, risk, words) — the text alone says write for the first two
    ("DELETE FROM events WHERE id > 0", Verdict.HOLD, Risk.DESTRUCTIVE, ["100% of public.events"]),
    ("UPDATE events SET note = 'y' WHERE id <= 30000", Verdict.HOLD, Risk.DESTRUCTIVE,
     ["60% of public.events"]),
    ("DELETE FROM events WHERE id > 45000", Verdict.ALLOW, Risk.WRITE, ["10% of public.events"]),
    ("DELETE FROM events WHERE id IS NOT NULL", Verdict.HOLD, Risk.DESTRUCTIVE,
     ["the catalog confirms it: id is NOT NULL"]),
    ("DELETE FROM events WHERE n IS NOT NULL", Verdict.HOLD, Risk.DESTRUCTIVE,
     ["allows NULL in n", "90% of public.events"]),
    ("DELETE FROM events WHERE archived_at IS NOT NULL", Verdict.ALLOW, Risk.WRITE,
     ["allows NULL in archived_at", "5% of public.events"]),
    ("UPDATE events SET note = 'y' WHERE big > -2147483649", Verdict.HOLD, Risk.DESTRUCTIVE,
     ["which big is not", "100% of public.events"]),
]


@pytest.mark.parametrize(("text", "verdict", "risk", "words"), LIVE, ids=[c[0] for c in LIVE])
def test_the_live_database_decides_what_the_text_cannot(tmp_path: Path, events: str, text: str,
                                                       verdict: Verdict, risk: Risk,
                                                       words: list[str]) -> None:
    config = _config(tmp_path, events)
    evaluation = Runtime(config).judge.evaluate(_action(text), local_caller(config, None))
    assert (evaluation.decision.verdict, evaluation.assessment.risk) == (verdict, risk), \
        evaluation.assessment.reasons
    for word in words:
        assert any(word in r for r in evaluation.assessment.reasons), (word,
                                                                       evaluation.assessment)


def test_the_probe_reads_and_changes_nothing(tmp_path: Path, events: str) -> None:
    config = _config(tmp_path, events)
    probe, resource = PostgresProbe(config), config.resources["db"]
    measured = probe.measure(resource, "DELETE FROM events WHERE n > 25000", frozenset({"n"}))
    assert measured.table == "public.events" and measured.total == pytest.approx(50_000, 0.01)
    assert 0.3 < measured.fraction < 0.6 and measured.not_null == frozenset()
    with psycopg.connect(events) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (50_000,)
    facts = probe.measure(resource, "UPDATE events SET n = 1 WHERE id IS NOT NULL",
                          frozenset({"id", "note", "n", "big"}))
    assert facts.not_null == {"id", "note", "big"} and facts.integers == {"id", "n"}


@pytest.mark.parametrize(("setup", "text", "keyed"), [
    ("", "UPDATE events SET note = 'y' WHERE id = 77", True),
    ("", "DELETE FROM events WHERE id = 77 AND n > 3", True),
    ("", "UPDATE events SET note = 'y' WHERE n = 77", False),  # n is not unique
    ("CREATE UNIQUE INDEX ON events (n) WHERE n > 0", "DELETE FROM events WHERE n = 7", False),
    ("ALTER TABLE events ADD UNIQUE (big, n) DEFERRABLE", "DELETE FROM events WHERE big = 0 "
     "AND n = 7", False),  # a deferred key may hold duplicates inside a transaction
    ("CREATE UNIQUE INDEX ON events ((n + 0))", "DELETE FROM events WHERE n = 7", False),
    ("CREATE TABLE kid () INHERITS (events); ANALYZE kid", "DELETE FROM events WHERE id = 7", False),
    ("CREATE TABLE kid () INHERITS (events); ANALYZE kid", "DELETE FROM ONLY events WHERE id = 7", True),
    ("CREATE RULE r AS ON DELETE TO events DO INSTEAD DELETE FROM events WHERE n > 0",
     "DELETE FROM events WHERE id = 7", False),
])
def test_the_probe_confirms_a_unique_key_from_the_catalog(tmp_path: Path, events: str,
                                                         setup: str, text: str,
                                                         keyed: bool) -> None:
    if setup:
        with psycopg.connect(events, autocommit=True) as conn:
            conn.execute(setup)
    config = _config(tmp_path, events)
    write = single_row_write(text)
    assert write is not None
    measured = PostgresProbe(config).measure(config.resources["db"], text,
                                             write.reach.columns, write.keys)
    assert measured.keyed is keyed


def test_a_write_by_key_is_judged_once_a_shape(tmp_path: Path, events: str) -> None:
    """The wire proxy's ruling cache shares verdicts by fingerprint: a keyed write keeps it,
    so the next constants are not probed again; a range write does not."""
    config = _config(tmp_path, events)
    judge, caller = Runtime(config).judge, local_caller(config, None)
    prints = {judge.evaluate(_action(f"UPDATE events SET note = 'y' WHERE id = {i}"),
                             caller).assessment.fingerprint for i in (3, 40000)}
    assert len(prints) == 1 and None not in prints
    ranged = judge.evaluate(_action("DELETE FROM events WHERE id > 45000"), caller)
    assert ranged.assessment.fingerprint is None and ranged.assessment.risk is Risk.WRITE


@pytest.mark.parametrize(("text", "says"), [
    ("DELETE FROM fresh WHERE id > 0", "never analysed"),
    ("DELETE FROM missing WHERE id > 0", "does not exist"),
    ("DELETE FROM events WHERE id > $1", "there is no parameter $1"),
])
def test_what_the_probe_cannot_measure(tmp_path: Path, events: str, text: str,
                                       says: str) -> None:
    config = _config(tmp_path, events)
    with pytest.raises(ProbeError) as error:
        PostgresProbe(config).measure(config.resources["db"], text, frozenset())
    assert says in error.value.message


def test_the_probe_is_bounded_when_the_table_is_locked(tmp_path: Path, events: str) -> None:
    config = _config(tmp_path, events)
    with psycopg.connect(events) as locker:
        locker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        evaluation = Runtime(config).judge.evaluate(_action("DELETE FROM events WHERE id > 0"),
                                                    local_caller(config, None))
        elapsed = time.monotonic() - started
        locker.rollback()
    assert elapsed < 5, elapsed
    assert evaluation.assessment.risk is Risk.WRITE
    assert any("could not run" in r and "timeout" in r for r in evaluation.assessment.reasons), \
        evaluation.assessment.reasons


def test_an_unreachable_database_leaves_the_static_verdict(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = _config(tmp_path, f"postgresql://app@127.0.0.1:{port}/app")
    evaluation = Runtime(config).judge.evaluate(_action("DELETE FROM t WHERE id IS NOT NULL"),
                                                local_caller(config, None))
    assert evaluation.assessment.risk is Risk.DESTRUCTIVE
    assert any("could not run" in r for r in evaluation.assessment.reasons)
