"""Benchmark: what the guards add to every judgement, against the same judge without them.

    .venv/bin/python bench/bench_guards.py [--rounds N] [--files N]

Builds a project folder like a developer's (an airlock.toml and state folder, a `.env`, a
source tree of --files files with a `node_modules` beside it, a home folder with credentials),
then judges an agent's everyday commands — plain ones, pipelines, file operands, inline Python,
a recursive search of the whole tree — with the real judge, alternating calls with and without
the guards so both see the same machine at the same moment. Prints p50/p99 for each and the
ratio; the goal is that the guards add under 1 ms at p50 to ordinary commands (the hook's whole
budget is 15 ms), and keep a whole-tree search under 50 ms.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from airlock.config import load_config
from airlock.fronts.check import build_action
from airlock.fronts.jsonforms import payload_from
from airlock.gate import Judge
from airlock.runtime import Runtime
from common import Timing, ratio

ORDINARY = ["git status --short", "ls -la | sort -k5 -n | tail -5", "cat src/pkg0/mod0.py",
            "grep -n TODO src/pkg1/mod3.py", "python3 -c 'import json; print(json.dumps(1))'",
            "cp src/pkg0/mod0.py /tmp/x.py && echo done", "npm test", "rm -rf build/",
            "echo $HOME", "docker run --rm -v $PWD:/app node:20 npm ci"]
TREE = ["grep -rn TODO .", "rg TODO"]
GOAL_ORDINARY_MS = 1.0
GOAL_TREE_MS = 50.0


def project(root: Path, files: int) -> Path:
    home = root / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n")
    work = root / "project"
    for i in range(files):
        folder = work / "src" / f"pkg{i // 20}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod{i % 20}.py").write_text(f"# TODO {i}\nprint({i})\n")
    for i in range(files * 4):  # dependencies: skipped by the credential walk
        folder = work / "node_modules" / f"dep{i // 50}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i % 50}.js").write_text("module.exports = 1\n")
    (work / ".env").write_text("RAILWAY_TOKEN=x\n")
    (work / "airlock.toml").write_text("[principals.agent]\nkind = \"agent\"\n")
    os.environ["HOME"] = str(home)
    return work


def measure(judges: dict[str, Judge], config_path: Path, commands: list[str], cwd: Path,
            rounds: int) -> dict[str, Timing]:
    config = load_config(config_path)
    samples: dict[str, list[int]] = {name: [] for name in judges}
    clock = time.perf_counter_ns
    gc.collect()
    for _ in range(rounds):
        for command in commands:
            action, caller = build_action("shell", payload_from("shell", command, None), config,
                                          env=None, principal="agent", cwd=str(cwd))
            for name, judge in judges.items():
                start = clock()
                judge.evaluate(action, caller)
                samples[name].append(clock() - start)
    return {name: Timing(name, tuple(s)) for name, s in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--files", type=int, default=2000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-guards-"))
    try:
        work = project(root, args.files)
        os.chdir(work)
        config = load_config(work / "airlock.toml")
        guarded = Runtime(config).judge
        bare = Judge(config=config, classifier=guarded.classifier, resolver=guarded.resolver,
                     policy=guarded.policy)
        judges = {"with guards": guarded, "without guards": bare}
        measure(judges, work / "airlock.toml", ORDINARY + TREE, work, 2)  # warm up
        print(f"project: {args.files} source files, {args.files * 4} files in node_modules")
        for label, commands, goal in (("ordinary commands", ORDINARY, GOAL_ORDINARY_MS),
                                      ("whole-tree search", TREE, GOAL_TREE_MS)):
            timings = measure(judges, work / "airlock.toml", commands, work, args.rounds)
            print(f"-- {label}")
            for timing in timings.values():
                print(timing.line())
            added = timings["with guards"].percentile(50) - timings["without guards"].percentile(50)
            print(ratio(timings["with guards"], timings["without guards"]))
            limit = goal if label == "whole-tree search" else GOAL_ORDINARY_MS
            shown = timings["with guards"].percentile(50) if label == "whole-tree search" else added
            what = "p50" if label == "whole-tree search" else "added at p50"
            print(f"{what}: {shown:.3f} ms (goal ≤ {limit} ms) "
                  f"{'ok' if shown <= limit else 'OVER'}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
