"""Root of the test tiers. Its presence puts `tests/` on sys.path (pytest's prepend import mode), so that
helpers used by more than one tier live once, in `tests/_shared/`.

It also bounds the whole run. pytest-timeout fails a test that hangs, once; a hang it cannot end (one inside a
Hypothesis test, which shrinks on with no alarm left; one at interpreter shutdown) would otherwise run until CI's
own limit and print nothing, since `make` shows a target's output only when it ends. Past RUN_BOUND seconds the
watchdog prints every thread's stack, kills the run's child processes and exits 1: a failure that says where it
stood. Runs that set no per-test timeout (`-o timeout=0`: `make contract`, `make contract-deep`) are unbounded.

Hypothesis runs with no per-example deadline (its default is 200 ms): a deadline is a timed assertion, and on a
loaded machine (CI runs four test processes on two cores) one example of any test can take longer for reasons of
the machine's, not the code's. Speed is measured by `make bench`; a hang is caught by the bounds above.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("dms-rocketmq", deadline=None)
settings.load_profile("dms-rocketmq")

#: The whole suite takes about 10 minutes on one Python; CI allows 90 for everything.
RUN_BOUND = 40 * 60.0


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux's /proc; none elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _give_up(bound: float) -> None:
    sys.stderr.write(f"\n\nThe test run is still going after {bound:g} s: where every thread stands:\n")
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stderr.flush()
    for child in _children(os.getpid()):
        with contextlib.suppress(OSError):  # it ended meanwhile
            os.kill(child, signal.SIGKILL)
    os._exit(1)


def start_watchdog(bound: float) -> threading.Timer:
    """A daemon timer that gives up on the run after `bound` seconds. Never cancelled: it also covers a hang
    after the last test (a thread or a child the interpreter waits for at exit), and dies with the process."""
    watchdog = threading.Timer(bound, _give_up, args=(bound,))
    watchdog.daemon = True
    watchdog.name = "test-run-watchdog"
    watchdog.start()
    return watchdog


def pytest_configure(config: pytest.Config) -> None:
    try:
        per_test = float(config.getini("timeout") or 0)
    except ValueError:  # pytest-timeout not loaded (-p no:timeout): no bounds asked for
        return
    if per_test > 0:
        start_watchdog(RUN_BOUND)
