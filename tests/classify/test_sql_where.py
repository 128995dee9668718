"""A DELETE or UPDATE whose WHERE is true for every row is destructive, in every dialect; one
that only looks broad stays a write. Each class of always-true WHERE has variants of its own,
and each case's id names its class."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airlock.classify.sql import classify_sql
from airlock.classify.sql.coverage import (
    EVERYTHING,
    NOTHING,
    NUMBERS,
    Part,
    Span,
    _complement,
    _covers_int4,
    _union,
    numbers,
)
from airlock.classify.sql.rows import single_row_write
from airlock.classify.sql.truth import Reach
from airlock.model import Risk

# class → WHERE clauses true for every row (where the named columns hold no NULL)
EVERY_ROW: dict[str, list[str]] = {
    "null-test": [
        "id IS NOT NULL", "t.id IS NOT NULL", "NOT (id IS NULL)", "NOT id IS NULL",
        "(id IS NOT NULL)", "id IS NOT NULL AND name IS NOT NULL", "(a, b) IS NOT NULL",
        "id IS NOT NULL OR id = 3",
    ],
    "system-column": [
        "ctid IS NOT NULL", "xmin IS NOT NULL", "tableoid IS NOT NULL OR id = 1",
        "ctid = ctid", "t.ctid IS NOT NULL", "NOT (xmax IS NULL)",
    ],
    "self-comparison": [
        "id = id", "id >= id", "t.id <= id", "coalesce(x, y) = coalesce(x, y)",
        "lower(name) = lower(name)", "id IS NOT DISTINCT FROM id", "NOT (id <> id)",
        "NOT (id < id)", "(a + b) = (a + b)",
    ],
    "boolean-covered": [
        "x IS NOT TRUE OR x", "x OR NOT x", "x IS TRUE OR x IS NOT TRUE",
        "x IS FALSE OR x IS NOT FALSE", "x IS UNKNOWN OR x IS NOT UNKNOWN",
        "x IS NULL OR x IS NOT NULL", "NOT x OR x IS NOT FALSE", "x = true OR x = false",
        "(a > 1) IS NOT TRUE OR a > 1", "x IS TRUE OR x IS FALSE OR x IS NULL",
    ],
    "values-covered": [
        "id < 5 OR id >= 5", "id = 5 OR id <> 5", "id IN (1, 2) OR id NOT IN (1, 2)",
        "id BETWEEN 1 AND 10 OR id NOT BETWEEN 1 AND 10", "name = 'a' OR name <> 'a'",
        "name < 'm' OR name >= 'm'", "name LIKE 'a%' OR name NOT LIKE 'a%'",
        "id > $1 OR id <= $1", "a < b OR a >= b", "a < b OR a = b OR a > b",
        "NOT (id < 5 AND id >= 5)", "id IS DISTINCT FROM 3 OR id = 3", "5 > id OR id >= 5",
        "name LIKE '%'", "name ILIKE '%%'",
    ],
    "range-covers-int4": [
        "id > -2147483649", "id >= -2147483648", "-2147483649 < id",
        "id < 2147483648 AND id > -2147483649", "id BETWEEN -2147483648 AND 2147483647",
        "id > -2147483649::int8", "id <> 3000000000", "id <= 4 OR id >= 5",
        "id NOT IN (3000000000, -3000000000)",
    ],
    "same-table-subquery": [
        "id IN (SELECT id FROM t)", "id = ANY (SELECT id FROM t)", "id IN (SELECT s.id FROM t s)",
        "id IN (SELECT id FROM public.t)", "(a, b) IN (SELECT a, b FROM t)",
        "id IN (SELECT DISTINCT id FROM t)", "id IN (SELECT id FROM t WHERE true)",
        "id IN (SELECT id FROM t s WHERE s.id IS NOT NULL)",
        "EXISTS (SELECT 1 FROM t s WHERE s.id = t.id)",
        "EXISTS (SELECT 1 FROM t AS s WHERE t.id = s.id AND s.ctid IS NOT NULL)",
        "EXISTS (SELECT 1 FROM t s WHERE s.ctid = t.ctid)",
        "EXISTS (SELECT * FROM t s WHERE s.a IS NOT DISTINCT FROM t.a)",
        "id IN (SELECT id FROM t) OR id IS NULL",
    ],
}

# WHERE clauses that select some rows (or at least cannot be shown to reach every row)
SELECTIVE: dict[str, list[str]] = {
    "plain": ["id = 5", "id IS NULL", "id > 0", "id < 100000", "x", "NOT x", "x IS TRUE",
              "x IS NOT FALSE", "coalesce(x, 0) = 0", "x IS DISTINCT FROM 3",
              "created_at < now() - interval '30 days'", "id > $1", "a < b", "a = b OR a > b",
              "a = old.a", "t.a = new.a"],  # a rule's OLD and NEW are another row
    "almost-covered": ["id < 5 OR id > 5", "id < 5 OR id > 6", "name < 'm' OR name > 'm'",
                       "id IN (1, 2) OR id NOT IN (1, 3)", "id NOT IN (1, NULL) OR id IN (1, 2)",
                       "x IS TRUE OR x IS NULL", "id <= 4 OR id > 5", "id > -2147483648",
                       "name = 'a' OR name <> 'b'", "id < 5 AND id >= 5"],
    "other-subqueries": [
        "id IN (SELECT id FROM u)", "id IN (SELECT id FROM t s WHERE s.flag)",
        "id IN (SELECT other FROM t)", "id IN (SELECT id FROM t LIMIT 10)",
        "id IN (SELECT id FROM t s WHERE t.flag)", "EXISTS (SELECT 1 FROM t s WHERE s.id = t.other)",
        "EXISTS (SELECT 1 FROM t s WHERE s.id = t.id AND s.flag)", "id NOT IN (SELECT id FROM t)",
        "id IN (SELECT id FROM t GROUP BY id HAVING count(*) > 1)",
        "EXISTS (SELECT 1 FROM u WHERE u.tid = t.id)",
    ],
}

# The same classes in MySQL and SQLite (sqlglot), where the syntax allows.
LITE_EVERY_ROW: dict[str, list[str]] = {
    "null-test": ["id IS NOT NULL", "NOT (id IS NULL)", "t.id IS NOT NULL AND x IS NOT NULL"],
    "self-comparison": ["id = id", "coalesce(x, y) = coalesce(x, y)", "x <=> x"],
    "boolean-covered": ["x IS NOT TRUE OR x", "x OR NOT x", "x IS TRUE OR x IS NOT TRUE",
                        "x IS NULL OR x IS NOT NULL"],
    "values-covered": ["id < 5 OR id >= 5", "id IN (1, 2) OR id NOT IN (1, 2)",
                       "id BETWEEN 1 AND 9 OR id NOT BETWEEN 1 AND 9",
                       "name < 'm' OR name >= 'm'", "name LIKE '%'"],
    "range-covers-int4": ["id > -2147483649", "id <= 4 OR id >= 5"],
    "same-table-subquery": ["id IN (SELECT id FROM t)", "id IN (SELECT s.id FROM t AS s)",
                            "EXISTS (SELECT 1 FROM t AS s WHERE s.id = t.id)"],
}
LITE_SELECTIVE = ["id = 5", "id IS NULL", "id > 0", "x", "id < 5 OR id > 5",
                  "id IN (SELECT id FROM u)", "id IN (SELECT id FROM t LIMIT 3)",
                  "EXISTS (SELECT 1 FROM t AS s WHERE s.id = t.other)", "rowid = 3"]


def _cases(table: dict[str, list[str]]) -> list[pytest.ParameterSet]:
    return [pytest.param(where, id=f"{kind}:{where}") for kind, wheres in table.items()
            for where in wheres]


@pytest.mark.parametrize("where", _cases(EVERY_ROW))
@pytest.mark.parametrize("verb", ["DELETE FROM t", "UPDATE t SET a = 1"])
def test_a_where_true_for_every_row_is_destructive(verb: str, where: str) -> None:
    assessment = classify_sql(f"{verb} WHERE {where}")
    assert assessment.risk is Risk.DESTRUCTIVE, assessment.reasons
    assert "every row of t" in assessment.reasons[0]


@pytest.mark.parametrize("where", _cases(SELECTIVE))
@pytest.mark.parametrize("verb", ["DELETE FROM t", "UPDATE t SET a = 1"])
def test_a_selective_where_stays_a_write(verb: str, where: str) -> None:
    assessment = classify_sql(f"{verb} WHERE {where}")
    assert assessment.risk is Risk.WRITE, assessment.reasons


@pytest.mark.parametrize("dialect", ["mysql", "sqlite"])
@pytest.mark.parametrize("where", _cases(LITE_EVERY_ROW))
def test_mysql_and_sqlite_read_the_same_classes(dialect: str, where: str) -> None:
    for verb in ("DELETE FROM t", "UPDATE t SET a = 1"):
        assessment = classify_sql(f"{verb} WHERE {where}", dialect)
        assert assessment.risk is Risk.DESTRUCTIVE, (verb, assessment.reasons)


@pytest.mark.parametrize("dialect", ["mysql", "sqlite"])
@pytest.mark.parametrize("where", LITE_SELECTIVE)
def test_mysql_and_sqlite_selective(dialect: str, where: str) -> None:
    assert classify_sql(f"DELETE FROM t WHERE {where}", dialect).risk is Risk.WRITE


def test_sqlite_rowid_is_never_null_and_mysql_has_no_such_column() -> None:
    sqlite = classify_sql("DELETE FROM t WHERE rowid IS NOT NULL", "sqlite")
    assert sqlite.reasons[0].startswith("DELETE with a WHERE that is always true")
    mysql = classify_sql("DELETE FROM t WHERE rowid IS NOT NULL", "mysql")
    assert "where rowid is not NULL" in mysql.reasons[0]


# --------------------------------------------------------------------------------------------
# What the verdict rests on: the assumption is in the reason, and kept for the live check


@pytest.mark.parametrize(("text", "columns", "integer"), [
    ("DELETE FROM t WHERE id IS NOT NULL", {"id"}, False),
    ("DELETE FROM t WHERE ctid IS NOT NULL", set(), False),
    ("DELETE FROM t WHERE x IS NOT TRUE OR x", set(), False),
    ("UPDATE t SET a = 1 WHERE (a, b) IN (SELECT a, b FROM t)", {"a", "b"}, False),
    ("DELETE FROM t WHERE EXISTS (SELECT 1 FROM t s WHERE s.k = t.k)", {"k"}, False),
    ("DELETE FROM t WHERE id > -2147483649", {"id"}, True),
    ("DELETE FROM t WHERE id > -2147483649 OR id IS NULL", set(), True),
    ("DELETE FROM t WHERE coalesce(x, y) = coalesce(x, y)", {"x", "y"}, False),
], ids=lambda v: v if isinstance(v, str) else None)
def test_the_assumption_is_recorded(text: str, columns: set[str], integer: bool) -> None:
    write = single_row_write(text)
    assert write is not None and write.reach.reach is Reach.ALL
    assert (set(write.reach.columns), write.reach.integer) == (columns, integer)
    reason = classify_sql(text).reasons[0]
    for column in columns:
        assert column in reason
    assert ("integer" in reason) == integer
    if not columns and not integer:
        assert "always true" in reason


def test_the_reason_names_the_columns_that_must_not_be_null() -> None:
    assert classify_sql("DELETE FROM public.users WHERE id IS NOT NULL").reasons == (
        "DELETE with a WHERE that is true for every row where id is not NULL removes every "
        "row of public.users",)


def test_a_where_too_deep_to_read_is_held() -> None:
    assessment = classify_sql("DELETE FROM t WHERE " + "NOT (" * 900 + "id = 1" + ")" * 900)
    assert assessment.risk.at_least(Risk.DESTRUCTIVE), assessment.reasons


# --------------------------------------------------------------------------------------------
# The sets of values behind it


def _contains(part: Part, value: float) -> bool:
    if part.kind == "all":
        return True
    if part.kind != NUMBERS:
        return False
    return any((s.low < value or (s.low == value and s.low_in))
               and (value < s.high or (value == s.high and s.high_in)) for s in part.spans)


_bound = st.integers(min_value=-20, max_value=20)
_span = st.builds(lambda a, b, i, j: Span(min(a, b), i, max(a, b), j), _bound, _bound,
                  st.booleans(), st.booleans())
_part = st.lists(_span, max_size=4).map(numbers)


@given(_part, _part, st.integers(min_value=-25, max_value=25), st.sampled_from([0, 0.5]))
def test_union_and_complement_agree_with_membership(a: Part, b: Part, whole: int,
                                                    half: float) -> None:
    value = whole + half
    union = _union(a, b)
    assert union is not None
    assert _contains(union, value) == (_contains(a, value) or _contains(b, value))
    rest = _complement(a)
    assert rest is not None
    assert _contains(rest, value) != _contains(a, value)


@pytest.mark.parametrize(("spans", "covers"), [
    ([Span(-math.inf, False, math.inf, False)], True),
    ([Span(-2**31, True, math.inf, False)], True),
    ([Span(-2**31, False, math.inf, False)], False),
    ([Span(-math.inf, False, 4, True), Span(5, True, math.inf, False)], True),
    ([Span(-math.inf, False, 4, False), Span(5, True, math.inf, False)], False),
    ([Span(-math.inf, False, 4.5, True), Span(5, True, math.inf, False)], True),
    ([Span(-3e9, True, 2**31 - 1, True)], True),
    ([Span(-3e9, True, 2**31 - 2, True)], False),
    ([Span(-math.inf, False, -5e9, True), Span(-3e9, True, math.inf, False)], True),
], ids=str)
def test_int4_coverage(spans: list[Span], covers: bool) -> None:
    part = numbers(spans)
    assert (part is EVERYTHING or _covers_int4(part)) == covers
    assert part is not NOTHING
