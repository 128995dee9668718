"""SQL classifier benchmark over PostgreSQL's regression corpus.

    .venv/bin/python bench/bench_sql.py [--rounds N]

Measures, per statement, over every SQL statement of ../shared/corpora/postgres-regress:

- baseline: postgast.parse alone (libpg_query to protobuf), the floor any classifier pays;
- cold: classify_sql, no cache (and for the DELETE/UPDATE statements alone, whose WHERE is
  analysed for reaching every row);
- cached, same text: SqlClassifier asked again for texts it has seen;
- cached, new literals: every integer literal changed, so only the fingerprint can match; the
  verdicts that read a literal are judged again (that is the point of the cache's safety rule).

pglast (GPL-3.0, never a dependency of airlock) is compared with postgast when it can be
imported, for parse speed and for agreement on which statements fail to parse:

    PYTHONPATH=/tmp/pglast-venv/lib/python3.11/site-packages .venv/bin/python bench/bench_sql.py
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from airlock.classify.sql import SqlClassifier, classify_sql, libpg
from airlock.classify.sql.psql import split_psql

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "postgres-regress"


def load_statements() -> list[str]:
    statements = []
    for path in sorted(CORPUS.glob("*.sql")):
        script = path.read_bytes().decode("utf-8", "surrogateescape")
        statements += [p.text for p in split_psql(script) if p.kind == "sql"]
    return statements


def timed(fn: Callable[[str], object], texts: Sequence[str]) -> list[float]:
    """Seconds per call, one entry per text."""
    out = []
    clock = time.perf_counter
    for text in texts:
        started = clock()
        # The baseline parsers raise on invalid SQL; raising is part of what they cost.
        with contextlib.suppress(Exception):
            fn(text)
        out.append(clock() - started)
    return out


def summary(name: str, seconds: list[float], baseline: list[float] | None = None) -> str:
    cuts = statistics.quantiles(seconds, n=100)
    total = sum(seconds)
    line = (f"{name:36s} {len(seconds) / total:10,.0f}/s  p50 {cuts[49] * 1e6:7.1f} µs  "
            f"p99 {cuts[98] * 1e6:7.1f} µs  max {max(seconds) * 1e3:6.2f} ms")
    if baseline:
        base_cuts = statistics.quantiles(baseline, n=100)
        line += (f"  ×{total / sum(baseline):4.1f} baseline (p50 ×{cuts[49] / base_cuts[49]:.1f},"
                 f" p99 ×{cuts[98] / base_cuts[98]:.1f})")
    return line


def new_literals(text: str) -> str:
    """The same statement with every integer literal changed: the same fingerprint."""
    try:
        tokens = libpg.scan(text)
    except libpg.PgSyntaxError:
        return text
    data = text.encode("utf-8")
    out, last = [], 0
    for kind, _, start, end in tokens:
        if kind == "ICONST":
            out += [data[last:start], str(int(data[start:end]) + 7 if data[start:end].isdigit()
                                          else 7).encode()]
            last = end
    out.append(data[last:])
    return b"".join(out).decode("utf-8")


def compare_pglast(texts: list[str]) -> None:
    try:
        pglast: Any = importlib.import_module("pglast")
    except ImportError:
        print("\npglast: not importable here; skipped (see the module docstring)")
        return
    postgast: Any = importlib.import_module("postgast")
    # Texts with undecodable bytes are not SQL either library can receive; leave them out.
    clean = [t for t in texts if not any("\ud800" <= c <= "\udfff" for c in t)]

    def fails(parse: Callable[[str], object], text: str) -> bool:
        try:
            parse(text)
        except Exception:
            return True
        return False

    major, minor = pglast.parser.get_postgresql_version()
    print(f"\npglast {pglast.__version__} (PostgreSQL {major}.{minor} grammar) vs postgast "
          f"(PG_VERSION_NUM {postgast.parse('SELECT 1').version}), {len(clean):,} statements")
    for name, parse in (("postgast.parse (protobuf)", postgast.parse),
                        ("airlock libpg.parse (JSON)", libpg.parse),
                        ("pglast.parser.parse_sql", pglast.parser.parse_sql),
                        ("pglast.parser.parse_sql_json", pglast.parser.parse_sql_json),
                        ("pglast parse_sql_json + json.loads",
                         lambda t: json.loads(pglast.parser.parse_sql_json(t))),
                        ("pglast.parser.parse_sql_protobuf", pglast.parser.parse_sql_protobuf)):
        print(summary(name, timed(parse, clean)))
    a = [fails(postgast.parse, t) for t in clean]
    b = [fails(pglast.parser.parse_sql, t) for t in clean]
    both, only_a, only_b = (sum(x and y for x, y in zip(a, b, strict=True)),
                            sum(x and not y for x, y in zip(a, b, strict=True)),
                            sum(y and not x for x, y in zip(a, b, strict=True)))
    print(f"parse failures: postgast {sum(a):,}, pglast {sum(b):,}; both {both:,}, "
          f"only postgast {only_a:,}, only pglast {only_b:,}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="repeat each pass (best kept)")
    args = parser.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"the corpus is missing at {CORPUS}; nothing to measure")
        return 0
    texts = load_statements()
    print(f"{len(texts):,} statements from {len(list(CORPUS.glob('*.sql')))} files\n")

    def best(fn: Callable[[str], object], inputs: Sequence[str]) -> list[float]:
        runs = [timed(fn, inputs) for _ in range(max(args.rounds, 1))]
        return min(runs, key=sum)

    baseline = best(libpg.bare_parse, texts)
    print(summary("baseline postgast.parse", baseline))
    print(summary("cold classify_sql", best(classify_sql, texts), baseline))
    # Where the WHERE analysis (coverage.py) runs: DELETE and UPDATE statements.
    rows = [t for t in texts if t.lstrip()[:6].upper() in ("DELETE", "UPDATE")]
    rows_baseline = best(libpg.bare_parse, rows)
    print(summary(f"DELETE/UPDATE ({len(rows):,}) postgast", rows_baseline))
    print(summary("DELETE/UPDATE cold classify_sql", best(classify_sql, rows), rows_baseline))

    cache = SqlClassifier(size=len(texts) * 2)
    for text in texts:
        cache.classify(text)
    print(summary("cached, same text", best(cache.classify, texts), baseline))

    seen = set(texts)
    variants = [v for v in (new_literals(t) for t in texts) if v not in seen]
    cache = SqlClassifier(size=len(texts) * 2)
    for text in texts:
        cache.classify(text)
    cache.hits = cache.misses = 0
    seconds = timed(cache.classify, variants)
    print(summary("cached, new literals", seconds, baseline))
    print(f"{'':36s} {len(variants):,} statements with new integers: {cache.hits:,} "
          f"fingerprint hits, {cache.misses:,} judged again ({cache.misses / len(variants):.1%}:"
          " the verdict read a literal, or the text failed to parse)")
    compare_pglast(texts)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
