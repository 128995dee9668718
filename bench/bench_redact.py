"""Benchmark: redaction stays linear in its input, and bounded beyond what it shows.

    .venv/bin/python bench/bench_redact.py

A 300 KB command once stalled the daemon for 20 s (patterns that backtracked over long runs),
and every other agent's call waited behind it. For each input shape — plain text, a real
command with secrets, and hostile shapes that repeat what the patterns start on — and for sizes
from 1 KB to the display limit, `redact_text` is timed against one `str.replace` pass over the
same text that replaces its first character everywhere (the baseline, measured in the same run:
linear by construction). Linear means the ratio, and redact's time per character, stay flat as
the size grows; quadratic would multiply them by ten for each tenfold size. Beyond the limit the
text is cut first, so the time stops growing at all.
"""

from __future__ import annotations

from airlock.redact import MAX_SHOWN, redact_text
from common import Timing, time_each

SIZES = (1_000, 10_000, MAX_SHOWN, 1_000_000, 10_000_000)
SHAPES = {
    "plain words": "rm -rf build && make test ",
    "secrets": "PGPASSWORD=hunter2 psql postgresql://app:pw@db/app -c 'select 1'; "
               "curl -H 'Authorization: Bearer abc.def' https://x?api_key=k ",
    "hostile ://a:": "://a:",
    "hostile a-": "a-",
    "hostile mysql -p": "mysql -p",
    "hostile TOKEN": "TOKEN",
    "hostile PASSWORD='": "PASSWORD='",
    "hostile letters": "a",
}
ROUNDS = 5


def main() -> None:
    print(f"display limit {MAX_SHOWN} characters; {ROUNDS} rounds each; ratio = redact / "
          "str.replace on the same text")
    for name, unit in SHAPES.items():
        ratios = []
        for size in SIZES:
            text = (unit * (size // len(unit) + 1))[:size]
            ours = time_each("redact", [text] * ROUNDS, redact_text)
            base = time_each("str.replace", [text] * ROUNDS, lambda t: t.replace(t[0], "#"))
            ratios.append(_ratio(ours, base))
            per_char_ns = ours.percentile(50) * 1e6 / min(size, MAX_SHOWN)
            print(f"{name:<20} {size:>10,} chars  redact p50 {ours.percentile(50):8.3f} ms "
                  f"({per_char_ns:5.0f} ns per character shown)  replace p50 "
                  f"{base.percentile(50):7.3f} ms  ×{ratios[-1]:7.1f}")
        upto = [r for s, r in zip(SIZES, ratios, strict=True) if s <= MAX_SHOWN]
        print(f"{name:<20} growth of the ratio from {SIZES[0]:,} to {MAX_SHOWN:,} chars: "
              f"×{upto[-1] / upto[0]:.2f} (quadratic would be ×{MAX_SHOWN / SIZES[0]:.0f})")


def _ratio(subject: Timing, baseline: Timing) -> float:
    return subject.percentile(50) / max(baseline.percentile(50), 1e-6)


if __name__ == "__main__":
    main()
