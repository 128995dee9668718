"""The SQL classifier as a whole: the case table (data/sql_cases.txt), effects and reasons,
bad input, totality and the public API."""

from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import airlock.classify.sql as sql
from airlock.classify import MAX_INPUT_BYTES
from airlock.classify.sql import classify_sql, fingerprint_sql
from airlock.model import Risk, Verb

CASES_FILE = Path(__file__).parent / "data" / "sql_cases.txt"
DIALECTS = ("postgres", "mysql", "sqlite")


class Case(NamedTuple):
    dialect: str
    risk: Risk
    targets: frozenset[str] | None  # None: not checked
    sql: str


def load_cases() -> list[pytest.ParameterSet]:
    cases = []
    for number, line in enumerate(CASES_FILE.read_text("utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        dialect, risk, targets, text = (part.strip() for part in line.split("|", 3))
        wanted = None if targets == "*" else frozenset() if targets == "-" else frozenset(
            t.strip() for t in targets.split(","))
        case = Case(dialect, Risk.parse(risk), wanted, text.replace("\\n", "\n"))
        cases.append(pytest.param(case, id=f"{CASES_FILE.name}:{number}"))
    return cases


@pytest.mark.parametrize("case", load_cases())
def test_case_table(case: Case) -> None:
    assessment = classify_sql(case.sql, case.dialect)
    assert assessment.risk is case.risk, assessment.reasons
    assert assessment.classifier == "sql"
    if case.targets is not None:
        assert {t.key for t in assessment.targets} == case.targets
    if case.risk is Risk.UNKNOWN:
        assert not assessment.complete
    if case.risk.at_least(Risk.WRITE):
        assert assessment.reasons, "a write or worse must say why"


def test_the_case_table_covers_every_dialect_and_risk() -> None:
    cases = [p.values[0] for p in load_cases() if isinstance(p.values[0], Case)]
    for dialect in DIALECTS:
        risks = {c.risk for c in cases if c.dialect == dialect}
        assert {Risk.READ, Risk.WRITE, Risk.DESTRUCTIVE, Risk.UNKNOWN} <= risks, dialect


# --------------------------------------------------------------------------------------------
# Effects, targets and reasons in detail


def test_delete_without_where_reads_as_the_lead_wrote_it() -> None:
    assessment = classify_sql("DELETE FROM public.users")
    assert assessment.reasons == ("DELETE without WHERE removes every row of public.users",)
    (effect,) = assessment.effects
    assert effect.verb is Verb.DELETE
    assert effect.scope == "table"
    assert effect.reversible is False
    assert effect.target is not None and effect.target.contextual


def test_drop_destroys_whole_objects() -> None:
    (effect,) = classify_sql("DROP SCHEMA app CASCADE").effects
    assert (effect.verb, effect.risk, effect.scope) == (Verb.DESTROY, Risk.CATASTROPHIC, "schema")
    assert effect.reversible is False


def test_names_keep_quoted_case_and_fold_the_rest() -> None:
    assessment = classify_sql('SELECT * FROM Sales."Q1 Totals", "Public".Orders')
    assert {t.value for t in assessment.targets} == {'sales."Q1 Totals"', '"Public".orders'}


def test_unknown_function_is_an_execute_of_unknown_risk() -> None:
    assessment = classify_sql("SELECT app.purge_everything()")
    assert assessment.risk is Risk.UNKNOWN
    assert not assessment.complete
    assert any(e.verb is Verb.EXECUTE for e in assessment.effects)
    assert "app.purge_everything()" in assessment.reasons[0]


def test_every_statement_of_a_batch_is_judged() -> None:
    assessment = classify_sql("SELECT 1; TRUNCATE a; DROP TABLE b; INSERT INTO c VALUES (1)")
    assert {e.target.key for e in assessment.effects if e.target} == \
        {"table:a", "table:b", "table:c"}
    assert len(assessment.reasons) == 3


def test_a_batch_that_fails_to_parse_still_shows_its_worst_statement() -> None:
    assessment = classify_sql("DROP DATABASE prod; SELEC 1")
    assert assessment.risk is Risk.CATASTROPHIC
    assert not assessment.complete


def test_fingerprint_ignores_literals_and_comments_but_not_names() -> None:
    base = fingerprint_sql("SELECT * FROM t WHERE id = 1")
    assert base is not None
    assert fingerprint_sql("select  *  from T where ID = 42 -- note") == base
    assert fingerprint_sql("SELECT * FROM t WHERE id = 1.5") != base  # another token type
    assert fingerprint_sql('SELECT * FROM "T" WHERE id = 1') != base
    assert fingerprint_sql("SELECT * FROM u WHERE id = 1") != base
    for dialect in ("mysql", "sqlite"):
        assert fingerprint_sql("SELECT 1 FROM t", dialect) == \
            fingerprint_sql("select 2 from t", dialect)
    assert fingerprint_sql("SELECT '", "postgres") is None


def test_assessment_fingerprint_only_when_it_holds_for_every_literal() -> None:
    assert classify_sql("DELETE FROM t").fingerprint == fingerprint_sql("DELETE FROM t")
    assert classify_sql("DELETE FROM t WHERE 1 = 1").fingerprint is None


# --------------------------------------------------------------------------------------------
# Bad input: unknown, quickly, in every dialect. "Quickly" is this thread's CPU time, not the
# wall clock: the work is bounded whatever else the machine is running.

BAD_INPUTS = {
    "surrogate-escaped bytes": "SELECT '\udcff\udcfe' FROM t",
    "NUL byte hiding a DROP": "SELECT 1\x00; DROP TABLE t",
    "empty": "",
    "only whitespace": "  \n\t ",
    "only a comment": "-- nothing to see",
    "too large": "SELECT 1;" * (MAX_INPUT_BYTES // 9 + 1),
    "deep parentheses": "SELECT " + "(" * 50_000 + "1" + ")" * 50_000,
    "deep expressions": "SELECT " + "(" * 3000 + "1" + " + 1)" * 3000,
    "deep subqueries": "SELECT " + "(SELECT " * 2000 + "1" + ")" * 2000,
}


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_is_unknown_and_quick(name: str, dialect: str) -> None:
    started = time.thread_time()
    assessment = classify_sql(BAD_INPUTS[name], dialect)
    elapsed = time.thread_time() - started
    assert assessment.risk.at_least(Risk.UNKNOWN)
    assert not assessment.complete
    assert elapsed < 2.0, f"{name} took {elapsed:.2f}s"


def test_a_large_input_is_not_parsed_at_all() -> None:
    started = time.thread_time()
    assessment = classify_sql("DROP TABLE t;" * MAX_INPUT_BYTES)
    assert time.thread_time() - started < 0.5
    assert "larger than" in assessment.reasons[0]


def test_multibyte_text_counts_bytes_not_characters() -> None:
    text = "SELECT '" + "é" * (MAX_INPUT_BYTES // 2) + "'"
    assert len(text) < MAX_INPUT_BYTES < len(text.encode("utf-8"))
    assert classify_sql(text).risk is Risk.UNKNOWN


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200), dialect=st.sampled_from(DIALECTS))
def test_total_on_any_text(text: str, dialect: str) -> None:
    assessment = classify_sql(text, dialect)
    assert assessment.classifier == "sql"
    if not assessment.complete:
        assert assessment.risk.at_least(Risk.UNKNOWN)


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(st.sampled_from([
    "SELECT", "DELETE", "FROM", "t", "WHERE", "1", "=", "(", ")", ";", "'x'", "DROP", "TABLE",
    "--", "/*", "*/", "$$", "\\", "OR", "id", ",", "WITH", "AS", "UPDATE", "SET", "a"]),
    max_size=30), dialect=st.sampled_from(DIALECTS))
def test_total_on_sql_shaped_noise(parts: list[str], dialect: str) -> None:
    assessment = classify_sql(" ".join(parts), dialect)
    assert assessment.risk in set(Risk)


def test_an_internal_error_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(text: str, dialect: str, lexed: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("airlock.classify.sql.dispatch.judge", explode)
    assessment = classify_sql("SELECT 1")
    assert assessment.risk is Risk.UNKNOWN
    assert "RuntimeError" in assessment.reasons[0]


def test_public_api() -> None:
    assert sorted(sql.__all__) == ["DIALECTS", "MAX_INPUT_BYTES", "SqlClassifier",
                                   "classify_sql", "classify_sql_cached", "fingerprint_sql"]
    from airlock.classify import KindDispatch
    from airlock.model import Action, SqlQuery

    action = Action(SqlQuery("TRUNCATE t"), principal="agent", front="test")
    assert KindDispatch().classify(action).risk is Risk.DESTRUCTIVE
