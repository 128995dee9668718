"""Test-only: runs every Python process of a test run with its clock moved ahead.

`bin/test` runs the suite a second time with `AIRLOCK_TEST_CLOCK_AHEAD=<days>`. `tests/conftest.py`
then moves the pytest process's clock and puts this folder on `PYTHONPATH`, so Python imports
this module at start-up in every Python process the tests start (`airlock up`, the CLI) and moves
their clocks too. time-machine moves `time.time()` and `datetime.now()` that many days ahead,
still ticking; `time.monotonic()` is left alone, so timeouts and sleeps behave. A test that mixes
a frozen date with the machine's clock fails in this pass, whatever today's date is.

This lives in the tests, never in the package: nothing an agent sets can move airlock's clock.
"""

from __future__ import annotations

import os

_started = False


def start_clock_shift() -> None:
    global _started
    days = os.environ.get("AIRLOCK_TEST_CLOCK_AHEAD", "").strip()
    if not days or _started:
        return
    import datetime

    import time_machine

    # From the real clock, so that starting twice in one process (as `sitecustomize` at start-up and
    # again as `tests.clockshift.sitecustomize` from conftest.py, as in a pytest-xdist worker) still
    # lands that many days ahead, not twice that.
    hatch = time_machine.escape_hatch
    real_now = (hatch.datetime.datetime.now(datetime.UTC) if hatch.is_travelling()
                else datetime.datetime.now(datetime.UTC))
    destination = real_now + datetime.timedelta(days=float(days))
    time_machine.travel(destination, tick=True).start()
    _started = True


start_clock_shift()
