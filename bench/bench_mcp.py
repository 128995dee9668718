"""What `airlock mcp wrap` adds to a tool call: the SDK's client calling a real stdio MCP server
directly (the baseline) and through the wrap, in the same run, alternating.

    .venv/bin/python bench/bench_mcp.py [CALLS]

The read tool is allowed; every call through the wrap is judged and audited by the gate in the
wrap's process (embedded SQLite state in a temporary folder)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from common import Timing, ratio

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "tests" / "mcp_front" / "toy_server.py"


async def timed(params: StdioServerParameters, name: str, calls: int) -> Timing:
    samples = []
    async with Client(params) as client:
        await client.list_tools()
        for _ in range(3):  # warm up: the first calls import and open what they need
            await client.call_tool("list_volumes", {})
        for _ in range(calls):
            start = time.perf_counter_ns()
            result: Any = await client.call_tool("list_volumes", {})
            samples.append(time.perf_counter_ns() - start)
            assert not result.is_error, result
    return Timing(name, tuple(samples))


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "airlock.toml"
        config.write_text(f'state_dir = "{Path(tmp) / "state"}"\n[vault]\nenabled = false\n')
        env = {**os.environ, "TOY_MCP_LOG": str(Path(tmp) / "calls.jsonl"), "AIRLOCK_CONFIG": ""}
        direct = StdioServerParameters(command=sys.executable, args=[str(TOY)], env=env)
        wrapped = StdioServerParameters(
            command=sys.executable,
            args=["-m", "airlock", "--config", str(config), "mcp", "wrap", "--name", "toy", "--",
                  sys.executable, str(TOY)], env=env)
        base = anyio.run(timed, direct, "direct", calls)
        through = anyio.run(timed, wrapped, "through airlock mcp wrap", calls)
        base2 = anyio.run(timed, direct, "direct (again)", calls)
    for timing in (base, through, base2):
        print(timing.line())
    print(ratio(through, base))
    print(ratio(through, base2))


if __name__ == "__main__":
    main()
