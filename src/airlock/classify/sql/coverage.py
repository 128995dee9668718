"""Is a WHERE true for every row? Reasoning over the values each part of the row can take.

The dialect readers (`pg_where.py`, `lite_where.py`) translate a WHERE into these shapes:

    Fixed(truth)       a part that does not depend on the row: one value for every row
    Test(key, …)       a fact about one expression of the row (`id`, `coalesce(a, b)`, the
                       comparison of two columns): the values of that expression for which the
                       test is TRUE (`true`), those for which it is FALSE (`false`); for the rest
                       it is NULL, as SQL's three-valued logic says
    Not, AllOf, AnyOf  NOT, AND, OR

`always_true(pred)` answers whether pred is TRUE for every row, and on what assumption (a
`Cover`): that some nullable columns hold no NULL (`id IS NOT NULL` is true for every row of a
primary key, and nothing in the text says `id` is one), or that an expression is an integer
(`id <= 4 OR id >= 5` misses only non-integers; `id > -2147483649` misses no int4). Without the
catalog neither can be known, so such a WHERE counts as reaching every row (the conservative
reading), and the assumption is kept so that a live check against the catalog can settle it.

Tests on the same key are combined the way the values combine: `x IS NOT TRUE OR x` covers
FALSE and NULL, then TRUE — every row; `x < 5 OR x >= 5` covers every number;
`x = 'a' OR x <> 'a'` every non-NULL value. `always_false` is the mirror image (NOT turns one
into the other).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field

from airlock.classify.sql.truth import Truth

INT4_MIN, INT4_MAX = -(2**31), 2**31 - 1
Number = int | float

# --------------------------------------------------------------------------------------------
# Sets of non-NULL values: everything, nothing, members of a small finite universe (booleans,
# the outcome of comparing two expressions), spans of numbers, or literals of an unknown type
# (whose order depends on a collation the text does not give: only = and <> are understood).

ALL, NONE, FINITE, NUMBERS, LITERALS = "all", "none", "finite", "numbers", "literals"


@dataclass(frozen=True, slots=True)
class Span:
    low: Number
    low_in: bool
    high: Number
    high_in: bool

    def empty(self) -> bool:
        return self.low > self.high or (self.low == self.high and not (self.low_in and self.high_in))


@dataclass(frozen=True, slots=True)
class Part:
    """The non-NULL values of a set."""

    kind: str
    universe: frozenset[Hashable] = frozenset()  # FINITE
    members: frozenset[Hashable] = frozenset()  # FINITE, LITERALS
    spans: tuple[Span, ...] = ()  # NUMBERS: sorted, disjoint, not touching
    cofinite: bool = False  # LITERALS: every value except `members`


EVERYTHING, NOTHING = Part(ALL), Part(NONE)


def finite(members: Iterable[Hashable], universe: Iterable[Hashable]) -> Part:
    u = frozenset(universe)
    m = frozenset(members) & u
    return EVERYTHING if m == u else NOTHING if not m else Part(FINITE, u, m)


def numbers(spans: Iterable[Span]) -> Part:
    merged = _merge([s for s in spans if not s.empty()])
    if not merged:
        return NOTHING
    if len(merged) == 1 and merged[0].low == -math.inf and merged[0].high == math.inf:
        return EVERYTHING
    return Part(NUMBERS, spans=tuple(merged))


def literals(members: Iterable[Hashable], *, cofinite: bool = False) -> Part:
    m = frozenset(members)
    if cofinite and not m:
        return EVERYTHING
    if not cofinite and not m:
        return NOTHING
    return Part(LITERALS, members=m, cofinite=cofinite)


def _merge(spans: list[Span]) -> list[Span]:
    spans = sorted(spans, key=lambda s: (s.low, not s.low_in))
    out: list[Span] = []
    for s in spans:
        if out and (s.low < out[-1].high or (s.low == out[-1].high
                                              and (s.low_in or out[-1].high_in))):
            last = out[-1]
            if (s.high, s.high_in) > (last.high, last.high_in):
                out[-1] = Span(last.low, last.low_in, s.high, s.high_in)
        else:
            out.append(s)
    return out


def _union(a: Part, b: Part) -> Part | None:
    """a ∪ b, or None when the two cannot be told apart or combined (different kinds)."""
    if a.kind == ALL or b.kind == NONE:
        return a
    if b.kind == ALL or a.kind == NONE:
        return b
    if a.kind != b.kind:
        return None
    if a.kind == FINITE:
        return finite(a.members | b.members, a.universe) if a.universe == b.universe else None
    if a.kind == NUMBERS:
        return numbers(a.spans + b.spans)
    if a.cofinite and b.cofinite:
        return literals(a.members & b.members, cofinite=True)
    if a.cofinite or b.cofinite:
        co, plain = (a, b) if a.cofinite else (b, a)
        return literals(co.members - plain.members, cofinite=True)
    return literals(a.members | b.members)


def _complement(a: Part) -> Part | None:
    """The non-NULL values not in a; None when that is not expressible (no known universe)."""
    if a.kind == ALL:
        return NOTHING
    if a.kind == NONE:
        return EVERYTHING
    if a.kind == FINITE:
        return finite(a.universe - a.members, a.universe)
    if a.kind == NUMBERS:
        gaps: list[Span] = []
        low, low_in = -math.inf, False
        for s in a.spans:
            gaps.append(Span(low, low_in, s.low, not s.low_in))
            low, low_in = s.high, not s.high_in
        gaps.append(Span(low, low_in, math.inf, False))
        return numbers(gaps)
    return literals(a.members, cofinite=not a.cofinite)


def _covers_int4(a: Part) -> bool:
    """Every integer from INT4_MIN to INT4_MAX is in a (so every int2 or int4 value is)."""
    if a.kind != NUMBERS:
        return False
    at = INT4_MIN  # the smallest integer not yet known to be covered
    for s in a.spans:
        if s.low > at or (s.low == at and not s.low_in):
            return False
        if s.high == math.inf:
            return True
        top = math.floor(s.high) if (s.high_in or s.high != math.floor(s.high)) \
            else int(s.high) - 1
        at = max(at, int(top) + 1)
        if at > INT4_MAX:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Values:
    """A set of values an expression can take: some non-NULL values, and NULL or not."""

    part: Part = NOTHING
    null: bool = False

    def union(self, other: Values) -> Values | None:
        part = _union(self.part, other.part)
        return None if part is None else Values(part, self.null or other.null)

    def complement(self) -> Values | None:
        part = _complement(self.part)
        return None if part is None else Values(part, not self.null)


EMPTY = Values()
NON_NULL = Values(EVERYTHING)
ONLY_NULL = Values(NOTHING, True)
ANY_VALUE = Values(EVERYTHING, True)
BOOLEANS = frozenset({True, False})
ORDER = frozenset({"<", "=", ">"})  # how two expressions compare

# --------------------------------------------------------------------------------------------
# The shapes a WHERE is translated into


@dataclass(frozen=True, slots=True)
class Fixed:
    truth: Truth


@dataclass(frozen=True, slots=True)
class Test:
    key: Hashable
    true: Values
    false: Values
    columns: frozenset[str] = frozenset()  # nullable columns of the row the key is made of


@dataclass(frozen=True, slots=True)
class Not:
    arg: Pred


@dataclass(frozen=True, slots=True)
class AllOf:
    args: tuple[Pred, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    args: tuple[Pred, ...]


Pred = Fixed | Test | Not | AllOf | AnyOf


def opaque() -> Test:
    """A part that depends on the row in a way airlock does not model: never all, never none."""
    return Test(object(), EMPTY, EMPTY)


# --------------------------------------------------------------------------------------------
# Building tests


def truth_test(key: Hashable, columns: frozenset[str]) -> Test:
    """A boolean expression of the row used as a condition (`WHERE active`)."""
    return Test(key, Values(finite({True}, BOOLEANS)), Values(finite({False}, BOOLEANS)), columns)


def null_test(key: Hashable, columns: frozenset[str], *, is_null: bool) -> Test:
    if is_null:
        return Test(key, ONLY_NULL, NON_NULL, columns)
    return Test(key, NON_NULL, ONLY_NULL, columns)


_BOOLEAN_TESTS = ("IS_TRUE", "IS_NOT_TRUE", "IS_FALSE", "IS_NOT_FALSE", "IS_UNKNOWN",
                  "IS_NOT_UNKNOWN")


def boolean_test(test: Test, kind: str) -> Test:
    """`test IS [NOT] TRUE | FALSE | UNKNOWN`: never NULL, so its FALSE set is the rest."""
    true, false = test.true, test.false
    decided = true.union(false)
    result: Values | None
    if kind == "IS_TRUE":
        result = true
    elif kind == "IS_NOT_TRUE":
        result = true.complement()
    elif kind == "IS_FALSE":
        result = false
    elif kind == "IS_NOT_FALSE":
        result = false.complement()
    elif kind == "IS_UNKNOWN":
        result = decided.complement() if decided else None
    elif kind == "IS_NOT_UNKNOWN":
        result = decided
    else:
        result = None
    rest = result.complement() if result is not None else None
    if result is None or rest is None:
        return opaque()
    return Test(test.key, result, rest, test.columns)


def self_comparison(key: Hashable, columns: frozenset[str], op: str) -> Test:
    """An expression compared with itself (`id = id`): equal wherever it is not NULL."""
    if op in ("=", "<=", ">="):
        return Test(key, NON_NULL, EMPTY, columns)
    if op in ("<>", "!=", "<", ">"):
        return Test(key, EMPTY, NON_NULL, columns)
    if op == "IS NOT DISTINCT FROM":
        return Test(key, ANY_VALUE, EMPTY, columns)
    if op == "IS DISTINCT FROM":
        return Test(key, EMPTY, ANY_VALUE, columns)
    return opaque()


_MIRROR = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "<>": "<>", "!=": "<>"}
_OUTCOMES = {"=": {"="}, "<>": {"<", ">"}, "!=": {"<", ">"}, "<": {"<"}, ">": {">"},
             "<=": {"<", "="}, ">=": {">", "="}}


def pair_comparison(left: Hashable, right: Hashable, columns: frozenset[str], op: str) -> Test:
    """Two different expressions of the row compared (`a < b`): a test on how they compare."""
    if op not in _OUTCOMES:
        return opaque()
    if repr(left) > repr(right):
        left, right, op = right, left, _MIRROR[op]
    true = finite(_OUTCOMES[op], ORDER)
    return Test(("compare", left, right), Values(true), Values(finite(ORDER - _OUTCOMES[op],
                                                                       ORDER)), columns)


def constant_comparison(key: Hashable, columns: frozenset[str], op: str,
                        value: object) -> Test:
    """`expr op constant` (mirror the operator first when the constant is on the left)."""
    if value is None:
        return Test(key, EMPTY, EMPTY, columns)  # a comparison with NULL is never decided
    true = _compare_set(op, value)
    if true is None:
        return opaque()
    false = _complement(true)
    return opaque() if false is None else Test(key, Values(true), Values(false), columns)


def distinct_comparison(key: Hashable, columns: frozenset[str], value: object, *,
                        distinct: bool) -> Test:
    """`expr IS [NOT] DISTINCT FROM constant`: like = and <>, with NULL a value like others."""
    if value is None:
        return null_test(key, columns, is_null=not distinct)
    same = _compare_set("=", value)
    other = _complement(same) if same is not None else None
    if same is None or other is None:
        return opaque()
    equal, unequal = Values(same), Values(other, True)
    return Test(key, unequal, equal, columns) if distinct else Test(key, equal, unequal, columns)


def membership(key: Hashable, columns: frozenset[str], values: list[object], *,
               negated: bool) -> Test:
    """`expr [NOT] IN (constants…)`: a NULL in the list makes every miss NULL, not FALSE."""
    members: Part = NOTHING
    for value in values:
        if value is None:
            continue
        one = _compare_set("=", value)
        merged = _union(members, one) if one is not None else None
        if merged is None:
            return opaque()
        members = merged
    others = _complement(members)
    if others is None:
        return opaque()
    hit, miss = Values(members), (EMPTY if None in values else Values(others))
    return Test(key, miss, hit, columns) if negated else Test(key, hit, miss, columns)


def between(key: Hashable, columns: frozenset[str], low: object, high: object, *,
            negated: bool, symmetric: bool) -> Test:
    if not (_is_number(low) and _is_number(high)):
        return opaque()
    assert isinstance(low, int | float) and isinstance(high, int | float)
    if symmetric and low > high:
        low, high = high, low
    inside = numbers([Span(low, True, high, True)])
    outside = _complement(inside)
    assert outside is not None
    a, b = Values(inside), Values(outside)
    return Test(key, b, a, columns) if negated else Test(key, a, b, columns)


def always(key: Hashable, columns: frozenset[str], *, false_when_null: bool) -> Test:
    """True for every row where the key is not NULL (`id IN (SELECT id FROM same_table)`);
    where it is NULL the test is FALSE or NULL."""
    return Test(key, NON_NULL, ONLY_NULL if false_when_null else EMPTY, columns)


def literal_decides(op: str, value: object, *, small_integers_apart: bool) -> bool:
    """Whether the value of the literal in `expr op literal` (op `=` for IN lists) can decide,
    on its own, whether the tests on `expr` cover every value — so that a verdict must not be
    shared with a statement that differs only in that literal (the fingerprint cache). An order
    can (`id > -3000000000`); so can a boolean; a set of numbers, or all numbers but them, can
    through the int4 rule (`id <> 1.5` covers every int4, `id <> 5` does not) — unless the
    fingerprint already keeps int4 integers apart from other numbers (`small_integers_apart`:
    PostgreSQL's ICONST); `=` and `<>` of text never can."""
    if isinstance(value, bool) or op not in ("=", "<>", "!=", "IS DISTINCT FROM",
                                             "IS NOT DISTINCT FROM"):
        return True
    if isinstance(value, int | float):
        return not (small_integers_apart and isinstance(value, int)
                    and INT4_MIN <= value <= INT4_MAX)
    return False


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and not math.isnan(value)


def _compare_set(op: str, value: object) -> Part | None:
    """The non-NULL values v for which `v op value` is TRUE."""
    if isinstance(value, bool):
        ordered = [False, True]
        if op in ("=", "<>", "!=", "<", ">", "<=", ">="):
            hits = {v for v in ordered if _order(op, ordered.index(v), ordered.index(value))}
            return finite(hits, BOOLEANS)
        return None
    if _is_number(value):
        assert isinstance(value, int | float)
        inf = math.inf
        spans = {"=": [Span(value, True, value, True)],
                 "<>": [Span(-inf, False, value, False), Span(value, False, inf, False)],
                 "<": [Span(-inf, False, value, False)], "<=": [Span(-inf, False, value, True)],
                 ">": [Span(value, False, inf, False)], ">=": [Span(value, True, inf, False)]}
        chosen = spans.get("<>" if op == "!=" else op)
        return numbers(chosen) if chosen is not None else None
    if isinstance(value, str):
        if op == "=":
            return literals({value})
        if op in ("<>", "!="):
            return literals({value}, cofinite=True)
    return None  # strings do not order without a collation; other types are not modelled


def _order(op: str, a: int, b: int) -> bool:
    return {"=": a == b, "<>": a != b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b,
            ">=": a >= b}[op]


# --------------------------------------------------------------------------------------------
# The analysis


@dataclass(frozen=True, slots=True)
class Cover:
    """A predicate is TRUE (or FALSE) for every row where `columns` are not NULL and, when
    `integer` is set, where its expression is an integer (int4 or narrower)."""

    columns: frozenset[str] = field(default_factory=frozenset)
    integer: bool = False

    def join(self, other: Cover) -> Cover:
        return Cover(self.columns | other.columns, self.integer or other.integer)

    @property
    def exact(self) -> bool:
        return not self.columns and not self.integer


def always_true(pred: Pred) -> Cover | None:
    return _always(pred, True)


def always_false(pred: Pred) -> Cover | None:
    return _always(pred, False)


def _always(pred: Pred, want: bool) -> Cover | None:
    if isinstance(pred, Fixed):
        hit = Truth.TRUE if want else Truth.FALSE
        return Cover() if pred.truth in (hit, Truth.UNKNOWN) else None
    if isinstance(pred, Test):
        return _cover(pred.true if want else pred.false, pred.columns)
    if isinstance(pred, Not):
        return _always(pred.arg, not want)
    # AND is true for every row when each part is; OR when one part is, or when its tests on
    # one expression together cover every value. (FALSE mirrors it: OR ↔ AND.)
    every = isinstance(pred, AllOf) == want
    parts = [_always(arg, want) for arg in pred.args]
    if every:
        if any(p is None for p in parts):
            return None
        joined = Cover()
        for p in parts:
            assert p is not None
            joined = joined.join(p)
        return joined
    candidates = [p for p in parts if p is not None]
    candidates.extend(_grouped(pred.args, want))
    return min(candidates, key=lambda c: (c.integer, len(c.columns)), default=None)


def _grouped(args: tuple[Pred, ...], want: bool) -> Iterator[Cover]:
    sets: dict[Hashable, Values | None] = {}
    columns: dict[Hashable, frozenset[str]] = {}
    for test, positive in _literals(args):
        chosen = test.true if positive == want else test.false
        if test.key in sets:
            known = sets[test.key]
            sets[test.key] = known.union(chosen) if known is not None else None
        else:
            sets[test.key] = chosen
        columns[test.key] = columns.get(test.key, frozenset()) | test.columns
    for key, values in sets.items():
        if values is not None:
            found = _cover(values, columns[key])
            if found is not None:
                yield found


def _literals(args: tuple[Pred, ...]) -> Iterator[tuple[Test, bool]]:
    for arg in args:
        positive = True
        while isinstance(arg, Not):
            arg, positive = arg.arg, not positive
        if isinstance(arg, Test):
            yield arg, positive


def _cover(values: Values, columns: frozenset[str]) -> Cover | None:
    """The assumption under which `values` holds every value of its expression, if any."""
    if values.part.kind == ALL:
        integer = False
    elif _covers_int4(values.part):
        integer = True
    else:
        return None
    return Cover(frozenset() if values.null else columns, integer)


def flat(kind: type[AllOf] | type[AnyOf], args: Iterable[Pred]) -> Pred:
    """AND/OR of args, with nested ANDs in an AND (ORs in an OR) spliced in."""
    out: list[Pred] = []
    for arg in args:
        if isinstance(arg, kind):
            out.extend(arg.args)
        else:
            out.append(arg)
    return out[0] if len(out) == 1 else kind(tuple(out))

