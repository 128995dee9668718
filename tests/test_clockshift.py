"""The second pass of `bin/test` really moves the clock, in this process and in the Python
processes the tests start (otherwise it would prove nothing), and it runs every test that names a
time (tests/clockshift/selection.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.clockshift.selection import names_a_time


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


def _module(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "test_example.py"
    path.write_text(source, encoding="utf-8")
    return path


@pytest.mark.parametrize("source", [
    "from datetime import datetime\n",
    "def test(clock): ...\n",
    "import time\nstarted = time.time()\n",
    'CONFIG = """\\n[tokens]\\nexpires = "2031-02-03"\\n"""\n',
    'SQL = "INSERT INTO t VALUES (now())"\n',
    "from tests.factories import make_config\n",  # borrows code that injects a clock
])
def test_a_module_that_names_a_time_runs_in_the_clock_ahead_pass(tmp_path: Path, source: str) -> None:
    assert names_a_time(_module(tmp_path, source))


@pytest.mark.parametrize("source", [
    '"""Parses a statement now and then."""\n',  # prose is not a clock
    "# datetime.now() in a comment\nimport time\ntime.sleep(0.01)\n",
    "from tests.cli import airlock\n",
    "start_clock_shift = None\n",  # a longer name that only contains a time word
])
def test_a_module_that_names_no_time_is_left_out(tmp_path: Path, source: str) -> None:
    assert not names_a_time(_module(tmp_path, source))


def test_the_suite_splits_where_the_clock_can_matter() -> None:
    tests = Path(__file__).parent
    assert names_a_time(tests / "test_tokens.py")  # expiries from a frozen `now`
    assert names_a_time(tests / "approvals" / "test_flow.py")  # through approvals/helpers.py
    assert not names_a_time(tests / "classify" / "test_sql.py")  # a parser: no clock in it
