"""Benchmark: the latency and throughput the API proxy adds, against the same upstream called
directly, measured in the same run from a second process.

    .venv/bin/python bench/bench_apiproxy.py [--requests N] [--concurrency C]
        [--state-dir /dev/shm] [--compare-src DIR] [--profile OUT]

`--compare-src DIR` also runs an airlock from another source tree (`git archive main src | tar
-x -C /tmp/base`, then `--compare-src /tmp/base/src`): a before/after in the same run; give it
more than once to compare several trees.
`--profile OUT` records the first airlock with py-spy (collapsed stacks, every thread). Each
airlock's CPU time per call is printed too: on a shared machine it moves far less than req/s.

The audit log is written (and fsynced) at every step of every call, as for every front, so
the state folder's disk sets the floor; `--state-dir /dev/shm` shows the rest.

Four processes: a local upstream (a minimal asyncio HTTP server answering a GraphQL-shaped
JSON, keep-alive), two `airlock up` with a Railway api resource pointing at it — one as
configured by default, one with `verdict_ttl = "0s"` (every call judged afresh: what the verdict
cache saves) — and a load generator (a small asyncio HTTP/1.1 client over keep-alive
connections). The load generator posts a GraphQL query (a read: judged, allowed, forwarded,
answered, scrubbed) to each airlock's endpoint with an airlock token, and the same request to
the upstream directly. Latency: one connection each, one request at a time, the three
alternating in rounds; throughput: C connections for N requests each way. Goal: ≤ 1 ms added at
p50, ≥ 2,000 requests/s through airlock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_ADDED_P50_MS = 1.0
GOAL_RPS = 2000.0
QUERY = json.dumps({"query": "query me { me { id name email } }"}).encode()
ANSWER = json.dumps({"data": {"me": {"id": "u-1", "name": "Agent", "email": "a@example.com"}}}
                    ).encode()


# ---- the upstream (its own process) ----------------------------------------------------------

class _Upstream(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n"):
                if line.startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if len(self.buffer) < head_end + 4 + length:
                return
            self.buffer = self.buffer[head_end + 4 + length:]
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: " + str(len(ANSWER)).encode() + b"\r\n\r\n"
                                 + ANSWER)


def serve_upstream(port: int) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Upstream, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()
    asyncio.run(main())


# ---- the load generator (its own process) ----------------------------------------------------

async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


def _request(host: str, path: str, token: str | None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{auth}"
            f"Content-Length: {len(QUERY)}\r\n\r\n").encode() + QUERY


async def _latency(targets: list[tuple[str, int, bytes]], rounds: int) -> list[list[int]]:
    conns = [await asyncio.open_connection(h, p) for h, p, _ in targets]
    samples: list[list[int]] = [[] for _ in targets]
    for _ in range(rounds):
        for index, ((_, _, request), (reader, writer)) in enumerate(zip(targets, conns,
                                                                       strict=True)):
            start = time.perf_counter_ns()
            status = await _one(reader, writer, request)
            samples[index].append(time.perf_counter_ns() - start)
            assert status == 200, status
    for _, writer in conns:
        writer.close()
    return samples


async def _throughput(host: str, port: int, request: bytes, total: int, concurrency: int) -> float:
    per = total // concurrency

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        for _ in range(per):
            status = await _one(reader, writer, request)
            assert status == 200, status
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return per * concurrency / (time.perf_counter() - start)


def load(args: list[str]) -> None:
    upstream_port, rounds, total, concurrency = (int(a) for a in args[:4])
    targets = [("127.0.0.1", int(port), _request(f"127.0.0.1:{port}", "/railway/graphql/v2",
                                                 token))
               for port, token in zip(args[4::2], args[5::2], strict=True)]
    targets.append(("127.0.0.1", upstream_port, _request(f"127.0.0.1:{upstream_port}",
                                                         "/graphql/v2", None)))
    asyncio.run(_latency(targets, 50))  # warm every path
    latency = asyncio.run(_latency(targets, rounds))
    rps = [asyncio.run(_throughput(*target, total, concurrency)) for target in targets]
    print(json.dumps({"latency": latency, "rps": rps}))


# ---- the coordinator -------------------------------------------------------------------------

def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{what} did not start") from None
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--state-dir", default=None,
                        help="where airlock keeps its state (default: a temporary folder on "
                             "disk; /dev/shm shows the cost without the audit log's fsyncs)")
    parser.add_argument("--compare-src", action="append", default=[], metavar="DIR",
                        help="also run an airlock from another source tree (its src folder, e.g. "
                             "from `git archive main src`), cache on: a before/after in one run; "
                             "may be given more than once")
    parser.add_argument("--profile", default=None, metavar="OUT",
                        help="record the first airlock with py-spy while the load runs "
                             "(collapsed stacks, every thread, to OUT)")
    options = parser.parse_args()

    from airlock.config import load_config
    from airlock.runtime import Runtime
    from airlock.tokens import issue_token
    from common import Timing, ratio

    here = Path(__file__).resolve()
    upstream_port = _port()
    # name, verdict_ttl: as configured by default, and with every call judged afresh
    # name, verdict_ttl, source tree (None: this one)
    variants: list[tuple[str, str, str | None]] = [("through airlock", "60s", None),
                                                   ("… verdict cache off", "0s", None)]
    for source in options.compare_src:
        variants.append((f"… {source}", "60s", str(Path(source).resolve())))
    with tempfile.TemporaryDirectory(prefix="airlock-bench-apiproxy-") as tmp, \
            tempfile.TemporaryDirectory(prefix="airlock-bench-state-",
                                        dir=options.state_dir or tmp) as states:
        env = {**os.environ, "BENCH_UPSTREAM_TOKEN": "bench-real-token-000000"}
        os.environ.update(env)
        procs: list[subprocess.Popen[bytes]] = []
        spy: subprocess.Popen[bytes] | None = None
        try:
            procs.append(subprocess.Popen([sys.executable, str(here), "--serve-upstream",
                                           str(upstream_port)]))
            _wait_for(upstream_port, procs[-1], "the upstream")
            endpoints: list[str] = []
            for index, (_name, ttl, source) in enumerate(variants):
                proxy_port, api_port = _port(), _port()
                config = Path(tmp) / f"airlock-{index}.toml"
                state = Path(states) / f"state-{index}"
                config.write_text(_config(state, upstream_port, proxy_port, ttl))
                runtime = Runtime(load_config(config))
                token = issue_token(runtime.store, runtime.config, principal="agent",
                                    environments=["*"]).token
                runtime.close()
                procs.append(subprocess.Popen([sys.executable, "-m", "airlock", "--config",
                                               str(config), "up", "--port", str(api_port)],
                                              env={**env, "PYTHONPATH": source} if source
                                              else env, stdout=subprocess.DEVNULL))
                _wait_for(proxy_port, procs[-1], "airlock up")
                endpoints += [str(proxy_port), token]
            if options.profile:
                spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record",
                                        "--pid", str(procs[1].pid), "--format", "raw",
                                        "--threads", "--rate", "500", "--nonblocking",
                                        "--output", options.profile], stdout=subprocess.DEVNULL)
            cpu_before = [_cpu_seconds(proc.pid) for proc in procs[1:]]
            done = subprocess.run([sys.executable, str(here), "--load", str(upstream_port),
                                   str(options.rounds), str(options.requests),
                                   str(options.concurrency), *endpoints],
                                  capture_output=True, text=True, check=True)
            cpu = [_cpu_seconds(proc.pid) - before
                   for proc, before in zip(procs[1:], cpu_before, strict=True)]
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT
                spy.wait(timeout=60)
            for proc in reversed(procs):
                proc.terminate()
                proc.wait(timeout=30)
    result = json.loads(done.stdout)
    names = [name for name, _, _ in variants] + ["direct"]
    timings = [Timing(name, tuple(samples))
               for name, samples in zip(names, result["latency"], strict=True)]
    direct, rps_direct = timings[-1], result["rps"][-1]
    for timing in timings:
        print(timing.line())
    # Every call sent to one airlock: the warm-up, the latency rounds, the throughput run.
    calls = 50 + options.rounds + options.requests // options.concurrency * options.concurrency
    for timing, rps, seconds in zip(timings[:-1], result["rps"], cpu, strict=False):
        print(ratio(timing, direct))
        # CPU time is what a shared machine does not distort: it is the cost, not the wait.
        print(f"{timing.name}: airlock's CPU (user+system, every thread) "
              f"{seconds / calls * 1e6:.0f} µs a call")
        added = timing.percentile(50) - direct.percentile(50)
        print(f"{timing.name}: added at p50 {added:.3f} ms (goal ≤ {GOAL_ADDED_P50_MS} ms: "
              f"{'met' if added <= GOAL_ADDED_P50_MS else 'NOT met'}); "
              f"{options.concurrency} connections {rps:.0f}/s against {rps_direct:.0f}/s direct "
              f"(×{rps / rps_direct:.3f}; goal ≥ {GOAL_RPS:.0f}/s: "
              f"{'met' if rps >= GOAL_RPS else 'NOT met'})")


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _config(state: Path, upstream_port: int, proxy_port: int, verdict_ttl: str) -> str:
    return f"""
state_dir = "{state}"
[environments.staging]
[resources.railway]
kind = "api"
environment = "staging"
provider = "railway"
base_url = "http://127.0.0.1:{upstream_port}"
credential = {{ env = "BENCH_UPSTREAM_TOKEN" }}
[principals.agent]
kind = "agent"
[fronts.apiproxy]
listen = "127.0.0.1:{proxy_port}"
verdict_ttl = "{verdict_ttl}"
[vault]
enabled = false
"""


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-upstream":
        serve_upstream(int(sys.argv[2]))
    elif len(sys.argv) > 2 and sys.argv[1] == "--load":
        load(sys.argv[2:])
    else:
        main()
