"""Shared helpers for benchmarks: timing loops, percentiles and a printed ratio against a
baseline measured in the same run (never against a number from another machine or day)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    name: str
    samples_ns: tuple[int, ...]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.samples_ns)
        index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        return ordered[index] / 1e6

    @property
    def total_s(self) -> float:
        return sum(self.samples_ns) / 1e9

    @property
    def per_second(self) -> float:
        return len(self.samples_ns) / self.total_s if self.total_s else float("inf")

    def line(self) -> str:
        return (f"{self.name:<28} n={len(self.samples_ns):>6}  {self.per_second:>10.0f}/s  "
                f"p50 {self.percentile(50):7.3f} ms  p99 {self.percentile(99):7.3f} ms  "
                f"mean {statistics.fmean(self.samples_ns) / 1e6:7.3f} ms")


def time_each(name: str, items: Sequence[T], fn: Callable[[T], object]) -> Timing:
    samples = []
    clock = time.perf_counter_ns
    for item in items:
        start = clock()
        fn(item)
        samples.append(clock() - start)
    return Timing(name, tuple(samples))


def ratio(subject: Timing, baseline: Timing) -> str:
    return (f"{subject.name} / {baseline.name}: p50 ×{subject.percentile(50) / baseline.percentile(50):.2f}, "
            f"p99 ×{subject.percentile(99) / baseline.percentile(99):.2f}, "
            f"total ×{subject.total_s / baseline.total_s:.2f}")
