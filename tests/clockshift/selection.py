"""Which tests `bin/test`'s clock-ahead pass runs: those that name a time.

A test can only mix a frozen date with the machine's clock if a time appears in it: a date or
datetime, an offset, an expiry, a clock it injects, the clock it reads. So the pass runs every test
module whose code names a time, counting the code it borrows (the `tests.*` modules it imports,
and theirs; the conftest.py files of its folders), and leaves out the rest: classifiers, parsers
and wiring that never name one run the same whatever the date. The rule is worked out from the
source at every run, so a new test that names a time is in the pass without anyone listing it;
`@pytest.mark.clock` puts in a test the words miss (e.g. one whose dates sit in a data file).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from functools import cache
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

# What naming a time looks like. In the code: the names of Python's clocks and dates and of the
# clocks and times the tests inject (`clock=`, `now=`, `expires_at`, `ttl`), and `time.time`. In
# strings (the TOML, SQL and JSON the tests write): a calendar date, or SQL asking for the time.
# Prose does not count (comments, or a docstring saying "now").
TIME_NAMES = frozenset({
    "datetime", "date", "timedelta", "utcnow", "now", "today", "time_machine", "clock",
    "fromtimestamp", "utcfromtimestamp", "fromisoformat", "isoformat", "strftime", "strptime",
    "gmtime", "localtime", "expires_at", "ttl", "time_ns"})
TIME_IN_STRINGS = re.compile(
    r"\b(?:19|20)\d\d-[01]\d-[0-3]\d\b|\bnow\(\)|\bcurrent_(?:date|timestamp)\b|\btimestamptz\b",
    re.IGNORECASE)


# The machinery of the pass itself names clocks; it is not a test's borrowed code.
MACHINERY = {TESTS / "conftest.py", TESTS / "clockshift" / "__init__.py",
             TESTS / "clockshift" / "selection.py", TESTS / "clockshift" / "sitecustomize.py"}


def _names_in(source: str) -> bool:
    previous: list[str] = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and (
                token.string in TIME_NAMES or (previous[-2:] == ["time", "."] and token.string == "time")):
            return True
        if token.type == tokenize.STRING and TIME_IN_STRINGS.search(token.string):
            return True
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            previous = [*previous[-1:], token.string]
    return False


@cache
def _names_a_time_itself(path: Path) -> bool:
    return path not in MACHINERY and _names_in(path.read_text(encoding="utf-8"))


@cache
def _borrowed(path: Path) -> tuple[Path, ...]:
    """The `tests.*` modules `path` imports (files or packages' __init__), directly."""
    found: list[Path] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.split(".")[0] != "tests":
                continue
            relative = Path(*name.split(".")[1:])
            for candidate in (TESTS / relative.with_suffix(".py"), TESTS / relative / "__init__.py"):
                if candidate.is_file():
                    found.append(candidate)
    return tuple(found)


def _conftests(path: Path) -> list[Path]:
    folders = [p for p in path.parents if p == TESTS or TESTS in p.parents]
    return [f / "conftest.py" for f in folders if (f / "conftest.py").is_file()]


def names_a_time(test_file: Path) -> bool:
    """Whether the test module, or code it borrows from the tests, names a time."""
    seen: set[Path] = set()
    todo = [test_file.resolve(), *_conftests(test_file.resolve())]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        if _names_a_time_itself(path):
            return True
        todo.extend(_borrowed(path))
    return False
