"""Run the real `airlock` command line in a subprocess, as a user or script would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def airlock(*args: str, cwd: Path, input: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    full_env.pop("AIRLOCK_CONFIG", None)
    if env and "AIRLOCK_CONFIG" in env:
        full_env["AIRLOCK_CONFIG"] = env["AIRLOCK_CONFIG"]
    return subprocess.run([sys.executable, "-m", "airlock", *args], cwd=cwd, input=input,
                          capture_output=True, text=True, env=full_env, timeout=timeout)
