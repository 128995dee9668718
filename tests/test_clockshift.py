"""The second pass of `bin/test` really moves the clock, in this process and in the Python
processes the tests start (otherwise it would prove nothing)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest


def test_the_clock_is_moved_here_and_in_child_processes() -> None:
    days = os.environ.get("AIRLOCK_TEST_CLOCK_AHEAD")
    if not days:
        pytest.skip("only meaningful in bin/test's clock-ahead pass (AIRLOCK_TEST_CLOCK_AHEAD)")
    import time_machine

    real = time_machine.escape_hatch.time.time()
    expected = float(days) * 86400
    assert abs(time.time() - real - expected) < 3600
    child = subprocess.run([sys.executable, "-c", "import time; print(time.time())"],
                           capture_output=True, text=True, check=True, env=dict(os.environ))
    assert abs(float(child.stdout) - real - expected) < 3600
