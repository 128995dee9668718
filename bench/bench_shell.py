"""Benchmark the shell classifier over every command of the dcg corpus.

    .venv/bin/python bench/bench_shell.py [--rounds N] [--real]

Prints throughput and per-command p50/p99 for classify_shell, and the same for a bare
tree-sitter parse of the same commands measured in the same run (the baseline), with the ratio.
By default the SQL and HTTP classifiers are replaced by the trivial stand-ins of the corpus
test, so the numbers are the shell classifier's own; --real uses the real ones. The goal is a
p99 under 1 ms per command.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
sys.path.insert(0, str(REPO))  # for the corpus reader shared with the tests

GOAL_P99_MS = 1.0


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _measure(fn: Callable[[str], object], commands: list[str], rounds: int) -> list[float]:
    """Seconds per call, one sample per command per round."""
    samples: list[float] = []
    gc.collect()
    for _ in range(rounds):
        for command in commands:
            start = time.perf_counter()
            fn(command)
            samples.append(time.perf_counter() - start)
    return samples


def _report(name: str, samples: list[float]) -> tuple[float, float, float]:
    p50 = _percentile(samples, 0.50) * 1000
    p99 = _percentile(samples, 0.99) * 1000
    throughput = len(samples) / sum(samples)
    print(f"  {name:<24} {throughput:>11,.0f}/s   p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   "
          f"max {max(samples) * 1000:7.2f} ms   mean {statistics.fmean(samples) * 1000:.3f} ms")
    return throughput, p50, p99


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--real", action="store_true",
                        help="use the real SQL and HTTP classifiers instead of stand-ins")
    options = parser.parse_args()
    if not CORPORA.is_dir():
        print(f"the corpora are missing at {CORPORA}", file=sys.stderr)
        return 2

    import tree_sitter_bash
    from tests.classify.test_shell_dcg import dcg_cases, http_stand_in, sql_stand_in
    from tree_sitter import Language, Parser

    from airlock.classify.shell import classify_shell

    if not options.real:
        import airlock.classify.http
        import airlock.classify.sql

        airlock.classify.http.classify_http = http_stand_in
        airlock.classify.sql.classify_sql = sql_stand_in

    commands = [case.command for case in dcg_cases(CORPORA)]
    ts_parser = Parser(Language(tree_sitter_bash.language()))

    def parse_only(command: str) -> object:
        return ts_parser.parse(command.encode("utf-8"))

    for command in commands:  # warm up: rule packs, imports, caches
        classify_shell(command)
        parse_only(command)

    print(f"{len(commands)} dcg commands x {options.rounds} rounds "
          f"({'real' if options.real else 'stand-in'} SQL/HTTP classifiers)")
    base_tp, base_p50, base_p99 = _report("tree-sitter parse", _measure(parse_only, commands,
                                                                       options.rounds))
    tp, p50, p99 = _report("classify_shell", _measure(classify_shell, commands, options.rounds))
    print(f"  ratio to the bare parse  throughput 1/{base_tp / tp:.1f}   "
          f"p50 x{p50 / base_p50:.1f}   p99 x{p99 / base_p99:.1f}")
    verdict = "meets" if p99 < GOAL_P99_MS else "misses"
    print(f"  goal p99 < {GOAL_P99_MS} ms: {verdict} it")
    return 0 if p99 < GOAL_P99_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
