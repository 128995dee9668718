"""The wire proxy against its baselines, all in one run on one throwaway cluster: pgbench
select-only (simple and prepared protocol) and TPC-B with 8 clients — direct, through PgBouncer
(Debian's package, session pooling) and through airlock (sessions relayed by Python on uvloop,
and lent to the compiled relay, pgrelay.c) — then the p50 latency with one client, and memory
over a longer run.

    bin/bench pgwire                       # 8 s per run, 3 rounds, medians
    .venv/bin/python bench/bench_pgwire.py --seconds 20 --rounds 5 --soak 60

Everything shares the machine's cores (pgbench, the server, the proxy), as it would in use.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.pgcluster import Cluster, find_bindir, running_cluster  # noqa: E402

from airlock.config import load_config  # noqa: E402
from airlock.fronts.pgwire.proxy import ProxyThread  # noqa: E402
from airlock.runtime import Runtime  # noqa: E402
from airlock.tokens import issue_token  # noqa: E402

CONFIG = """
state_dir = "{state}"
[environments.bench]
production = false
[resources.bench]
kind = "postgres"
environment = "bench"
url = "{url}"
[principals.agent]
kind = "agent"
[vault]
enabled = false
[fronts.pgwire]
listen = {{ bench = "127.0.0.1:0" }}
uvloop = true
relay = "{relay}"
"""


def pgbench(cluster: Cluster, port: int, db: str, args: list[str], password: str | None,
            user: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PGSSLMODE": "disable"}
    if password:
        env["PGPASSWORD"] = password
    return subprocess.run([str(cluster.bindir / "pgbench"), "-n", "-h", "127.0.0.1", "-p",
                           str(port), "-U", user, *args, db], capture_output=True, text=True,
                          env=env, timeout=600, check=False)


def tps(out: subprocess.CompletedProcess[str]) -> float:
    found = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
    if not found or out.returncode != 0:
        raise SystemExit(f"pgbench failed:\n{out.stdout}\n{out.stderr}")
    return float(found.group(1))


def p50_ms(cluster: Cluster, port: int, db: str, password: str | None, user: str,
           seconds: int) -> float:
    folder = Path(tempfile.mkdtemp(prefix="pgb-log-"))
    try:
        out = pgbench(cluster, port, db, ["-S", "-M", "prepared", "-c", "1", "-T", str(seconds),
                                          "-l", "--log-prefix", str(folder / "log")],
                      password, user)
        tps(out)
        lat = [int(line.split()[2]) for f in folder.iterdir()
               for line in f.read_text().splitlines()]
        return statistics.median(lat) / 1000
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def start_pgbouncer(cluster: Cluster, db: str, folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    (folder / "users.txt").write_text(f'"{cluster.user}" ""\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(textwrap.dedent(f"""
        [databases]
        {db} = host=127.0.0.1 port={cluster.port} dbname={db}
        [pgbouncer]
        listen_addr = 127.0.0.1
        listen_port = {port}
        unix_socket_dir =
        auth_type = trust
        auth_file = {folder / "users.txt"}
        pool_mode = session
        max_client_conn = 100
        default_pool_size = 20
        logfile = {folder / "pgbouncer.log"}
        """))
    user = [] if os.geteuid() != 0 else ["runuser", "-u", cluster.user, "--"]
    if os.geteuid() == 0:
        shutil.chown(folder, cluster.user)
        for f in folder.iterdir():
            shutil.chown(f, cluster.user)
    proc = subprocess.Popen([*user, "pgbouncer", str(ini)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return proc, port


def process_cpu() -> float:
    """CPU seconds this process used (user + system): the proxies run in it, pgbench does not."""
    times = os.times()
    return times.user + times.system


def relay_cpu(pid: int | None) -> float:
    """CPU seconds the compiled relay's process used (it is not this process)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--soak", type=int, default=0, help="memory run length (0: skip)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs per target and workload (the median is reported)")
    args = parser.parse_args()
    bindir = find_bindir()
    if bindir is None or shutil.which("pgbouncer") is None:
        raise SystemExit("needs PostgreSQL's binaries and pgbouncer (apt-get install pgbouncer)")
    work = Path(tempfile.mkdtemp(prefix="bench-pgwire-"))
    os.chmod(work, 0o755)  # noqa: S103 — pgbouncer runs as the server's user and reads it
    with running_cluster(bindir) as cluster:
        db = "bench"
        cluster.create_database(db)
        init = subprocess.run([str(bindir / "pgbench"), "-i", "-q", "-s", "10", "-h", "127.0.0.1",
                               "-p", str(cluster.port), "-U", cluster.user, db],
                              capture_output=True, text=True, check=False)
        if init.returncode:
            raise SystemExit(init.stderr)
        (work / "bouncer").mkdir()
        bouncer, bport = start_pgbouncer(cluster, db, work / "bouncer")
        proxies = {}
        for flavour in ("python", "native"):
            folder = work / flavour
            folder.mkdir()
            (folder / "airlock.toml").write_text(CONFIG.format(
                state=folder / "state", url=cluster.url(db),
                relay="auto" if flavour == "native" else "python"))
            runtime = Runtime(load_config(folder / "airlock.toml"))
            token = issue_token(runtime.store, runtime.config, principal="agent",
                                environments=["bench"]).token
            thread = ProxyThread(runtime)
            proxy = thread.start()
            proxies[flavour] = (thread, proxy.addresses["bench"][1], token)
            if flavour == "native" and proxy.relay is None:
                raise SystemExit("the compiled relay could not be built (no C compiler?)")
        relay_pid = proxies["native"][0].proxy.relay.pid  # type: ignore[union-attr]
        try:
            targets = {"direct": (cluster.port, None, cluster.user),
                       "pgbouncer": (bport, None, cluster.user),
                       **{f"airlock/{f}": (p, t, "agent") for f, (_, p, t) in proxies.items()}}
            workloads = {"select-only simple": ["-S", "-M", "simple"],
                         "select-only prepared": ["-S", "-M", "prepared"],
                         "tpc-b simple": ["-M", "simple"]}
            T = str(args.seconds)
            for name, wl in workloads.items():
                print(f"-- {name}, 8 clients, {T}s each, median of {args.rounds} rounds")
                runs: dict[str, list[float]] = {t: [] for t in targets}
                cpu: dict[str, list[float]] = {t: [] for t in targets}
                for r in range(args.rounds):
                    # alternate the order: a neighbour's load hits every target alike
                    order = list(targets.items())
                    for target, (port, password, user) in order if r % 2 == 0 else order[::-1]:
                        extra = relay_pid if target == "airlock/native" else None
                        before = process_cpu() + relay_cpu(extra)
                        runs[target].append(tps(pgbench(cluster, port, db, [
                            *wl, "-c", "8", "-j", "2", "-T", T], password, user)))
                        cpu[target].append((process_cpu() + relay_cpu(extra) - before)
                                           / (runs[target][-1] * args.seconds) * 1e6)
                got = {t: statistics.median(v) for t, v in runs.items()}
                for target in targets:
                    own = (f"   (airlock's CPU: {statistics.median(cpu[target]):.0f} µs a "
                           "transaction)" if target.startswith("airlock") else "")
                    print(f"   {target:<18} {got[target]:>9.0f} tps  runs "
                          + "/".join(f"{x:.0f}" for x in runs[target]) + own)
                for f in proxies:
                    mine = got[f"airlock/{f}"]
                    print(f"   airlock/{f}: ×{mine / got['pgbouncer']:.2f} of pgbouncer, "
                          f"×{mine / got['direct']:.2f} of direct")
            print("-- p50 latency, select-only prepared, 1 client")
            base = p50_ms(cluster, cluster.port, db, None, cluster.user, args.seconds)
            print(f"   direct            {base:.3f} ms")
            for f, (_, port, token) in proxies.items():
                p50 = p50_ms(cluster, port, db, token, "agent", args.seconds)
                print(f"   airlock/{f:<9} {p50:.3f} ms  (+{p50 - base:.3f} ms)")
            if args.soak:
                for f in proxies:
                    _, port, token = proxies[f]
                    start, rstart = rss_mb(), rss_mb(relay_pid) if relay_pid else 0.0
                    tps(pgbench(cluster, port, db, ["-S", "-c", "8", "-j", "2", "-T",
                                                    str(args.soak)], token, "agent"))
                    rend = rss_mb(relay_pid) if relay_pid else 0.0
                    print(f"-- memory over {args.soak}s select-only through airlock/{f}: "
                          f"{start:.1f} MB → {rss_mb():.1f} MB (the whole benchmark process); "
                          f"the relay process {rstart:.1f} MB → {rend:.1f} MB")
        finally:
            for thread, _, _ in proxies.values():
                thread.stop()
            bouncer.terminate()
            bouncer.wait(10)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
