"""PostgreSQL's own regression SQL (about 42,000 statements in 217 files), classified whole.

The files are psql scripts: `split_psql` cuts them into SQL statements, psql meta-commands and
COPY data. Meta-commands (`\\set`, `\\d`, `\\gset`, …) are psql's own business, never sent to the
server, and COPY data lines are data, so neither is classified here; every SQL statement is.

What the classifier says is checked against facts gathered independently of it: whether
postgast's own protobuf parse accepts the statement, which statement node types it holds, and
which keyword the server's scanner sees first. Each case id is file:line.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airlock.classify.sql import classify_sql
from airlock.classify.sql.psql import split_psql
from airlock.model import Assessment, Risk

postgast: Any = importlib.import_module("postgast")  # untyped; see airlock.classify.sql.libpg
FILES = 217
BUDGET_SECONDS = 60.0


@dataclass(frozen=True)
class Statement:
    file: str
    line: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Fact:
    """What postgast alone says about a statement."""

    parses: bool  # postgast.parse accepted it
    node_types: tuple[str, ...]  # the statement node types it holds, when it parses
    first_keyword: str  # the first keyword the scanner sees, upper case ("" when none)


@dataclass(frozen=True)
class Run:
    statements: list[Statement]
    verdicts: list[Assessment]
    facts: list[Fact]
    seconds: float
    skipped_meta: int
    skipped_copy_data: int


@pytest.fixture(scope="session")
def run(corpora: Path) -> Run:
    folder = corpora / "postgres-regress"
    statements: list[Statement] = []
    meta = data = 0
    for path in sorted(folder.glob("*.sql")):
        script = path.read_bytes().decode("utf-8", "surrogateescape")
        for part in split_psql(script):
            if part.kind == "sql":
                statements.append(Statement(path.name, part.line, part.text))
            elif part.kind == "meta":
                meta += 1
            else:
                data += 1
    started = time.perf_counter()
    verdicts = [classify_sql(s.text) for s in statements]
    seconds = time.perf_counter() - started
    return Run(statements, verdicts, [_fact(s.text) for s in statements], seconds, meta, data)


def _fact(text: str) -> Fact:
    clean = "".join("?" if "\ud800" <= c <= "\udfff" else c for c in text).replace("\x00", " ")
    try:
        tokens = [t for t in postgast.scan(clean).tokens
                  if postgast.pg_query_pb2.KeywordKind.Name(t.keyword_kind) != "NO_KEYWORD"]
        first = clean.encode()[tokens[0].start:tokens[0].end].decode().upper() if tokens else ""
    except postgast.PgQueryError:
        first = ""
    if clean != text:
        return Fact(False, (), first)  # undecodable bytes: not SQL the server could receive
    try:
        tree = postgast.parse(text)
    except postgast.PgQueryError:
        return Fact(False, (), first)
    return Fact(True, tuple(str(s.stmt.WhichOneof("node")) for s in tree.stmts), first)


def _failures(run: Run, wrong: list[int]) -> str:
    shown = [f"{run.statements[i].id}: {run.statements[i].text[:80]!r} -> "
             f"{run.verdicts[i].risk.value} {run.verdicts[i].reasons[:1]}" for i in wrong[:20]]
    return f"{len(wrong)} statements:\n" + "\n".join(shown)


def test_the_whole_corpus_is_there(run: Run) -> None:
    assert len({s.file for s in run.statements}) == FILES
    assert len(run.statements) > 40_000
    assert run.skipped_meta > 1_000 and run.skipped_copy_data > 50


def test_every_statement_gets_a_verdict_in_time(run: Run) -> None:
    assert len(run.verdicts) == len(run.statements)
    broken = [i for i, v in enumerate(run.verdicts)
              if v.classifier != "sql" or any("classifier failed" in r for r in v.reasons)]
    assert not broken, _failures(run, broken)
    assert run.seconds < BUDGET_SECONDS


def test_every_statement_that_fails_to_parse_is_unknown(run: Run) -> None:
    failing = [i for i, f in enumerate(run.facts) if not f.parses]
    assert len(failing) > 300  # the suite checks its error messages on purpose
    wrong = [i for i in failing
             if run.verdicts[i].complete or not run.verdicts[i].risk.at_least(Risk.UNKNOWN)]
    assert not wrong, _failures(run, wrong)


def _drops(fact: Fact) -> bool:
    return any(t.startswith("drop") or t == "truncate_stmt" for t in fact.node_types)


def test_every_parsed_drop_and_truncate_is_destructive_or_worse(run: Run) -> None:
    drops = [i for i, f in enumerate(run.facts) if _drops(f)]
    assert len(drops) > 2_500
    wrong = [i for i in drops if not run.verdicts[i].risk.at_least(Risk.DESTRUCTIVE)]
    assert not wrong, _failures(run, wrong)


def test_every_statement_opening_with_drop_or_truncate_is_destructive_or_worse(run: Run) -> None:
    """By the scanner alone, so statements that do not parse count too."""
    opening = [i for i, f in enumerate(run.facts) if f.first_keyword in ("DROP", "TRUNCATE")]
    assert len(opening) >= len([f for f in run.facts if _drops(f)])
    wrong = [i for i in opening if not run.verdicts[i].risk.at_least(Risk.DESTRUCTIVE)]
    assert not wrong, _failures(run, wrong)


def test_every_parsed_statement_is_judged_by_a_rule(run: Run) -> None:
    """No statement type of the grammar that the corpus uses falls through to 'no rule'."""
    wrong = [i for i, v in enumerate(run.verdicts)
             if run.facts[i].parses and any("has no rule" in r for r in v.reasons)]
    assert not wrong, _failures(run, wrong)
