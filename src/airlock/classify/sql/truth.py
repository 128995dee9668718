"""How many rows a WHERE reaches, in terms every dialect shares.

A DELETE or UPDATE is destructive when its WHERE can match every row. Two facts decide it
without knowing the data:

- A WHERE that names no column of the target is the same for every row: it matches all rows or
  none. Unless its value is proven false (`1 = 2`), it is treated as matching all of them —
  `WHERE $1`, `WHERE now() > '2020-01-01'` and `WHERE 1 = 1` alike.
- A WHERE that does name a column is selective unless it is true for every row: `coverage.py`
  reasons over the values each part can take (`id = id`, `x IS NOT TRUE OR x`, `LIKE '%'`,
  `ctid IS NOT NULL`, `id IN (SELECT id FROM same_table)`, `id > -2147483649`). Where that
  holds only if a column is never NULL — which the text cannot show — it counts as every row,
  and `RowReach` keeps the assumption for a live check against the catalog.

Constant values are three-valued, as in SQL: a NULL comparison is not true, so it matches no row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Truth(Enum):
    TRUE = "true"
    FALSE = "false"
    NULL = "null"
    UNKNOWN = "unknown"

    @property
    def never_true(self) -> bool:
        return self is Truth.FALSE or self is Truth.NULL


class Reach(Enum):
    SOME = "some"  # depends on the row: touches the rows the WHERE selects
    NONE = "none"  # proven never true: touches no row
    ALL = "all"  # every row, or possibly every row


# Why a statement reaches every row, completing "DELETE … removes every row of t".
WITHOUT_WHERE = "without WHERE"
ALWAYS_TRUE = "with a WHERE that is always true"
ROW_INDEPENDENT = "with a WHERE that does not depend on the row"


@dataclass(frozen=True, slots=True)
class RowReach:
    """Which rows a DELETE or UPDATE reaches. An ALL with `columns` or `integer` holds on an
    assumption the text cannot prove: that those columns are never NULL (a primary key, a NOT
    NULL column), or that the tested expression is an integer (int4 or narrower)."""

    reach: Reach
    why: str = ""
    columns: frozenset[str] = field(default_factory=frozenset)
    integer: bool = False

    @property
    def assumed(self) -> bool:
        return self.reach is Reach.ALL and (bool(self.columns) or self.integer)


def assuming(columns: frozenset[str], integer: bool) -> str:
    """The why of an ALL that rests on an assumption."""
    text = "with a WHERE that is true for every row"
    if columns:
        names = ", ".join(sorted(columns))
        text += f" where {names} {'is' if len(columns) == 1 else 'are'} not NULL"
    if integer:
        text += ", if the value it tests is an integer (int4 or narrower)"
    return text


def conjunction(values: list[Truth]) -> Truth:
    if any(v is Truth.FALSE for v in values):
        return Truth.FALSE
    if any(v is Truth.UNKNOWN for v in values):
        return Truth.UNKNOWN
    return Truth.NULL if any(v is Truth.NULL for v in values) else Truth.TRUE


def disjunction(values: list[Truth]) -> Truth:
    if any(v is Truth.TRUE for v in values):
        return Truth.TRUE
    if any(v is Truth.UNKNOWN for v in values):
        return Truth.UNKNOWN
    return Truth.NULL if any(v is Truth.NULL for v in values) else Truth.FALSE


def negation(value: Truth) -> Truth:
    if value is Truth.TRUE:
        return Truth.FALSE
    if value is Truth.FALSE:
        return Truth.TRUE
    return value


Value = int | float | str | bool | None  # None is SQL NULL

_COMPARE = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def compare(op: str, left: Value, right: Value) -> Truth:
    """The truth of `left op right` for two constants; UNKNOWN when it is not certain.

    Numbers compare by value. Two strings are only settled when they are identical: whether
    'a' < 'B', or even 'a' = 'A', depends on the collation, which the text does not say.
    """
    fn = _COMPARE.get(op)
    if fn is None:
        return Truth.UNKNOWN
    if left is None or right is None:
        return Truth.NULL
    if isinstance(left, str) and isinstance(right, str):
        return (Truth.TRUE if fn(0, 0) else Truth.FALSE) if left == right else Truth.UNKNOWN
    # A quoted literal compared with a number is read as a number by the server.
    a, b = _number(left), _number(right)
    if a is None or b is None:
        return Truth.UNKNOWN
    return Truth.TRUE if fn(a, b) else Truth.FALSE


def _number(value: Value) -> int | float | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    try:
        number = float(str(value))
    except ValueError:
        return None
    return None if number != number else number  # NaN settles nothing
