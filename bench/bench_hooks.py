"""Benchmark: an agent's wait on airlock's hook, spawn to exit, against a do-nothing hook.

    .venv/bin/python bench/bench_hooks.py [--rounds N] [--fallback-rounds M]

Starts `airlock up` (built-in policy, a fresh state folder), then for every harness runs the
exact command `airlock install` writes — through `/bin/sh -c`, as the harnesses do — with that
harness's documented payloads: plain commands, an inline Python script, a heredoc script, a file
read. Each airlock call alternates with the baseline `cat >/dev/null` fed the same payload, so
both see the same machine at the same moment. Prints p50/p99 per harness and payload kind, the
ratio to the baseline, and the goals, as time *added* over the baseline in the same run:
p50 ≤ 5 ms with the service running (the native client `airlock install` builds; the Python
client is measured on one line for contrast), and p50 ≤ 150 ms without it: then the first call
starts the hooks-only daemon (autostart.py; its cost is printed on its own line) and the rest
are answered by it. The in-process path (no daemon can start) is measured for contrast.

Allowed calls commit their audit records without a sync; held and denied ones sync once before
they answer (docs/architecture.md, "Audit durability"): the goal is reported for the allowed
lines, and the others are shown beside this disk's fdatasync measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airlock.config import Config
from airlock.fronts.hooks import native
from airlock.fronts.hooks.install import hook_command
from common import Timing, ratio

GOAL_ADDED_P50_MS = 5.0  # with `airlock up` running
GOAL_FALLBACK_ADDED_P50_MS = 150.0  # without it
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "hooks" / "fixtures"

INLINE_PYTHON = ("python3 -c 'import os, json\nfor name in sorted(os.listdir(\".\")):\n"
                 "    print(json.dumps({\"name\": name, \"size\": os.path.getsize(name)}))'")
HEREDOC = ("cat > /tmp/report.sh <<'EOF'\n#!/bin/sh\nset -eu\nfor f in *.log; do\n"
           "  grep -c ERROR \"$f\" || true\ndone\nEOF\nsh /tmp/report.sh")
HELD = ("heredoc", "destructive")  # the payloads airlock holds (exit 2; Cursor's JSON deny)
COMMANDS = {"simple": "git status --short", "pipeline": "ls -la | sort -k5 -n | tail -5",
            "inline-python": INLINE_PYTHON, "heredoc": HEREDOC, "destructive": "rm -rf build/"}


def load(harness: str, name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / harness / f"{name}.json").read_text())
    assert isinstance(data, dict)
    return data


def payloads(harness: str, cwd: Path) -> dict[str, bytes]:
    shell = {"claude": "pretooluse_bash", "cursor": "before_shell_execution",
             "codex": "pretooluse_bash", "gemini": "beforetool_shell"}[harness]
    out: dict[str, bytes] = {}
    for kind, command in COMMANDS.items():
        data = load(harness, shell) | {"cwd": str(cwd)}
        if "tool_input" in data:
            data["tool_input"] = {"command": command}
        else:
            data["command"] = command
        out[kind] = json.dumps(data).encode()
    readme = str(cwd / "README.md")
    if harness == "claude":
        read = load("claude", "pretooluse_read") | {"cwd": str(cwd)}
        read["tool_input"] = {"file_path": readme}
        out["file-read"] = json.dumps(read).encode()
    elif harness == "cursor":
        out["file-read"] = json.dumps(load("cursor", "before_read_file")
                                      | {"file_path": readme}).encode()
    elif harness == "gemini":
        read = load("gemini", "beforetool_read_file") | {"cwd": str(cwd)}
        read["tool_input"] = {"file_path": readme}
        out["file-read"] = json.dumps(read).encode()
    return out


def spawn(command: str, payload: bytes, cwd: Path) -> tuple[int, int]:
    start = time.perf_counter_ns()
    done = subprocess.run(["/bin/sh", "-c", command], input=payload, capture_output=True,
                          cwd=cwd, check=False)
    return time.perf_counter_ns() - start, done.returncode


def alternate(name: str, command: str, payload: bytes, cwd: Path,
              rounds: int) -> tuple[Timing, Timing, set[int]]:
    ours: list[int] = []
    base: list[int] = []
    codes: set[int] = set()
    for _ in range(3):  # warm both paths (page cache, the daemon's first call)
        spawn(command, payload, cwd)
        spawn("cat >/dev/null", payload, cwd)
    for _ in range(rounds):
        elapsed, code = spawn(command, payload, cwd)
        ours.append(elapsed)
        codes.add(code)
        base.append(spawn("cat >/dev/null", payload, cwd)[0])
    return Timing(name, tuple(ours)), Timing("cat >/dev/null", tuple(base)), codes


@contextmanager
def service(root: Path) -> Iterator[Path]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "AIRLOCK_CONFIG"}
    log = (root / "up.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "airlock", "up", "--port", str(port)],
                            cwd=root, stdout=log, stderr=subprocess.STDOUT, env=env)
    sock = root / ".airlock" / "hooks.sock"
    deadline = time.monotonic() + 30
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"airlock up did not start: {(root / 'up.log').read_text()}")
        time.sleep(0.1)
    time.sleep(1.5)  # let the daemon finish warming its classifiers
    try:
        yield sock
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def fsync_p50_ms(folder: Path, rounds: int = 100) -> float:
    """This disk's fdatasync, measured in the same run: a held or denied call commits its audit
    records with one (SQLite WAL, synchronous = FULL) before it is answered."""
    path = folder / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    times: list[float] = []
    try:
        for _ in range(rounds):
            os.write(fd, b"x" * 256)
            start = time.perf_counter()
            os.fdatasync(fd)
            times.append((time.perf_counter() - start) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    return sorted(times)[len(times) // 2]


def report_goal(which: str, lines: list[tuple[Timing, Timing]], goal_ms: float) -> None:
    if not lines:
        print(f"goal on {which}: no such lines")
        return
    added = max(ours.percentile(50) - base.percentile(50) for ours, base in lines)
    p99 = max(ours.percentile(99) for ours, _ in lines)
    verdict = "met" if added <= goal_ms else "NOT met"
    print(f"goal: p50 at most {goal_ms:g} ms over the do-nothing hook, on {which} "
          f"({len(lines)}): {verdict} (worst added p50 {added:.1f} ms; worst p99 {p99:.1f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=150, help="calls per harness and payload")
    parser.add_argument("--fallback-rounds", type=int, default=5)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="airlock-bench-hooks-"))
    work = root / "project"
    work.mkdir()
    (work / "README.md").write_text("# project\n" * 50)
    config = Config(path=None, state_dir=root / ".airlock")
    lines: list[tuple[Timing, Timing]] = []
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs")
    client = native.build()
    print(f"native client: {client or 'could not be built: the Python client is measured'}")
    print(f"state folder: {config.state_dir} (on {_filesystem(root)})")
    allowed: list[tuple[Timing, Timing]] = []
    try:
        with service(root):
            print(f"airlock hook via the daemon, {args.rounds} calls per line, alternating with "
                  "the baseline; spawn to exit through /bin/sh -c")
            for harness in ("claude", "cursor", "codex", "gemini"):
                command = hook_command(harness, config, native=client)
                for kind, payload in payloads(harness, work).items():
                    ours, base, codes = alternate(f"{harness} {kind}", command, payload, work,
                                                  args.rounds)
                    print(ours.line())
                    print(f"  {base.line()}")
                    print(f"  {ratio(ours, base)}; exit codes {sorted(codes)}")
                    lines.append((ours, base))
                    if kind not in HELD:
                        allowed.append((ours, base))
            ours, base, codes = alternate("claude simple, Python client (for contrast)",
                                          hook_command("claude", config),
                                          payloads("claude", work)["simple"], work, args.rounds)
            print(ours.line())
            print(f"  {base.line()}")
            print(f"  {ratio(ours, base)}; exit codes {sorted(codes)}")
        print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        report_goal("the allowed lines", allowed, GOAL_ADDED_P50_MS)
        report_goal("every line", lines, GOAL_ADDED_P50_MS)
        fsync = fsync_p50_ms(root)
        print(f"this disk's fdatasync: p50 {fsync:.2f} ms (one per held or denied call, before "
              "its answer); the goal with that taken out:")
        report_goal("every line, less one fdatasync", lines, GOAL_ADDED_P50_MS + fsync)

        # `airlock up` is gone: the first call starts the hooks-only daemon, the rest use it
        command = hook_command("claude", config, native=client)
        simple = payloads("claude", work)["simple"]
        first, code = spawn(command, simple, work)
        print(f"claude without the service, first call (starts the hooks daemon): "
              f"{first / 1e6:.0f} ms, exit code {code}")
        ours, base, codes = alternate("claude without the service (started daemon)", command,
                                      simple, work, args.rounds)
        print(ours.line())
        print(f"  {base.line()}")
        print(f"  {ratio(ours, base)}; exit codes {sorted(codes)}")
        report_goal("the calls without the service", [(ours, base)],
                    GOAL_FALLBACK_ADDED_P50_MS)
        stop_started_daemon(config.state_dir)
        inproc, inbase, codes = alternate("claude in-process (no daemon can start)",
                                          command.replace(" --autostart", ""), simple, work,
                                          args.fallback_rounds)
        print(inproc.line())
        print(f"  {ratio(inproc, inbase)}; exit codes {sorted(codes)}")
    finally:
        stop_started_daemon(config.state_dir)
        shutil.rmtree(root, ignore_errors=True)


def stop_started_daemon(state_dir: Path) -> None:
    from airlock.fronts.hooks import autostart

    try:
        pid = int((state_dir / autostart.PID_NAME).read_text())
    except (OSError, ValueError):
        return
    if autostart.is_auto_daemon(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while autostart.is_auto_daemon(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


def _filesystem(path: Path) -> str:
    best = ("?", "")
    with open("/proc/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            device, point, kind = line.split()[:3]
            if str(path).startswith(point) and len(point) >= len(best[1]):
                best = (f"{kind} {device}", point)
    return best[0]


if __name__ == "__main__":
    main()
