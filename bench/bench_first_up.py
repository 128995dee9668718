"""Benchmark: a newcomer's first command on a fresh clone, and the size of what it installs.

    .venv/bin/python bench/bench_first_up.py [--limit SECONDS] [--keep]

Clones this checkout (`git clone`, so only what is committed) into a temporary folder, runs
`bin/airlock up --port <free>` there exactly as the README says, and times it until `GET
/healthz` answers 200 — the first run creates the virtualenv and installs airlock (pip's own
cache is used, as on a developer's machine that installed Python packages before). Then it
reports the installed size of that virtualenv, and of a runtime-only one (`pip install <clone>`
without extras: what `airlock up` needs), against the time of `python -m venv` alone measured
in the same run.

A bench script rather than a test: it installs a whole virtualenv (minutes on a shared 2-CPU
machine), which the suite cannot afford on every run, and its time depends on the network and
the pip cache, not on airlock's code alone.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def size_mb(path: Path) -> float:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # a file gone while walking
                total += (Path(folder) / name).lstat().st_size
    return total / 1e6


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def first_up(clone: Path, limit: float) -> float | None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("AIRLOCK_CONFIG", "VIRTUAL_ENV")}
    log = (clone.parent / "up.log").open("wb")
    start = time.monotonic()
    proc = subprocess.Popen([str(clone / "bin" / "airlock"), "up", "--port", str(port)],
                            cwd=clone, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        while time.monotonic() - start < limit:
            if healthy(port):
                return time.monotonic() - start
            if proc.poll() is not None:
                print((clone.parent / "up.log").read_text()[-2000:])
                return None
            time.sleep(0.5)
        return None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=900.0, help="seconds to wait for /healthz")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="airlock-first-up-"))
    try:
        clone = base / "airlock"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "venv", str(base / "bare")], check=True)
        bare = time.monotonic() - start
        print(f"python -m venv alone: {bare:.1f} s (the baseline: any Python tool pays it)")
        took = first_up(clone, args.limit)
        if took is None:
            print(f"first `bin/airlock up`: /healthz did NOT answer within {args.limit:g} s")
        else:
            print(f"first `bin/airlock up` on a fresh clone: /healthz after {took:.1f} s "
                  f"({took / bare:.1f}x python -m venv)")
        print(f"its virtualenv (runtime dependencies only, airlock installed editable): "
              f"{size_mb(clone / '.venv'):.0f} MB")
        runtime = base / "runtime"
        subprocess.run([sys.executable, "-m", "venv", str(runtime)], check=True)
        subprocess.run([str(runtime / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", str(clone)], check=True)
        print(f"the same installed as a copy (pip install <clone>, no extras, as pipx does): "
              f"{size_mb(runtime):.0f} MB (bare venv {size_mb(base / 'bare'):.0f} MB)")
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
