"""Benchmark: the credentials scan (`airlock setup`, `airlock credentials import`, `airlock doctor`)
over a realistic home folder, against reading the same files and doing nothing with them.

    .venv/bin/python bench/bench_credential_scan.py [--projects N] [--rounds R]

The home is built in a temporary folder: N projects of source, tests, docs and configuration
(a few hundred files each, some `.env` files with credentials), each with a node_modules and a
.git the scan skips; dotfiles, ~/.aws, ~/.kube, ~/.config/gcloud logs, a 2 MiB log and some
binary images. The baseline walks the same folders the scan walks (same skips) and reads each
file's first MiB; the ratio is what detection costs on top of reading.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from airlock.credentials.scan import MAX_FILE_BYTES, _files, scan
from common import Timing, ratio

RAILWAY = "4f2c8a7e-1b2c-4d3e-8f9a-0b1c2d3e4f5a"
SOURCE = '''import os
import json
from dataclasses import dataclass


@dataclass
class Item{n}:
    name: str
    size: int

    def load(self, path: str) -> dict:
        with open(path) as handle:
            return json.load(handle)


def main() -> None:
    token = os.environ.get("API_TOKEN", "")
    print(Item{n}("x", {n}).load("config.json"), bool(token))
'''
TEST = '''from app.module{n} import Item{n}


def test_item_{n}() -> None:
    assert Item{n}("a", 1).name == "a"
    password = "not-a-real-password"  # a fixture
    assert password
'''
DOC = "# Module {n}\n\nThis explains how module {n} works, with a link to https://example.com.\n" * 5


def write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)


def build_home(home: Path, projects: int, rng: random.Random) -> None:
    for p in range(projects):
        proj = home / "code" / f"project{p}"
        for n in range(120):
            write(proj / "app" / f"module{n}.py", SOURCE.format(n=n))
            write(proj / "tests" / f"test_module{n}.py", TEST.format(n=n))
        for n in range(40):
            write(proj / "docs" / f"page{n}.md", DOC.format(n=n))
            write(proj / "config" / f"settings{n}.json", f'{{"debug": false, "workers": {n}}}\n')
        write(proj / "package.json", '{"name": "p", "scripts": {"test": "jest"}}\n')
        write(proj / ".env.example", "DATABASE_URL=postgres://user:password@localhost/app\n")
        if p % 2 == 0:
            write(proj / ".env", f"DEBUG=1\nDATABASE_URL=postgres://app:s3cr3t{p}Passw0rd@db/app\n"
                                 f"RAILWAY_TOKEN={RAILWAY}\n")
        for n in range(300):  # skipped by the scan, walked by nobody
            write(proj / "node_modules" / f"dep{n % 30}" / f"file{n}.js", "module.exports = 1;\n")
            if n < 100:
                write(proj / ".git" / "objects" / f"{n:02x}" / "obj", rng.randbytes(200))
        for n in range(10):
            write(proj / "assets" / f"img{n}.png", b"\x89PNG\r\n\x1a\n\0" + rng.randbytes(4000))
    write(home / ".bashrc", "export PATH=$HOME/bin:$PATH\nalias ll='ls -la'\n" * 20)
    write(home / ".gitconfig", "[user]\n  name = Dev\n  email = dev@example.com\n")
    write(home / ".aws" / "credentials", "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
          "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
    write(home / ".kube" / "config", "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n"
          "    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFcEFJQkFB\n")
    for n in range(50):
        write(home / ".config" / "gcloud" / "logs" / f"{n}.log", "INFO something happened\n" * 40)
    write(home / "logs" / "big.log", "GET /health 200\n" * (2 * 1024 * 1024 // 16))


def baseline(home: Path) -> int:
    """Walk what the scan walks and read what it reads; no detection."""
    count = 0
    for path in _files([home], home):
        try:
            with open(path, "rb") as handle:
                handle.read(MAX_FILE_BYTES)
            count += 1
        except OSError:
            pass
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="airlock-bench-home-") as temp:
        home = Path(temp)
        build_home(home, args.projects, random.Random(7))
        on_disk = sum(len(files) for _, _, files in os.walk(home))
        scan([home], home=home)  # import detect-secrets and compile once, as a CLI run would
        scans, reads = [], []
        result = None
        for _ in range(args.rounds):
            start = time.perf_counter_ns()
            read = baseline(home)
            reads.append(time.perf_counter_ns() - start)
            start = time.perf_counter_ns()
            result = scan([home], home=home)
            scans.append(time.perf_counter_ns() - start)
        assert result is not None
        print(f"home: {on_disk} files on disk, {read} read after skips "
              f"(node_modules, .git objects); {result.content_scans} given to detect-secrets; "
              f"{len(result.findings)} findings")
        scan_t, read_t = Timing("scan", tuple(scans)), Timing("read only", tuple(reads))
        print(f"scan: p50 {scan_t.percentile(50):.0f} ms; read only: p50 "
              f"{read_t.percentile(50):.0f} ms")
        print(ratio(scan_t, read_t))
        print(f"per file read: {scan_t.percentile(50) / read * 1000:.0f} µs")


if __name__ == "__main__":
    main()
