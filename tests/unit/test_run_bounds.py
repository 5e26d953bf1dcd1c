"""The suite's own bounds on hangs: `bounded` around one example, the run's watchdog around everything."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from _shared.bounded import Hung, bounded

TESTS = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def _outer_alarm(handler: Callable[[int, FrameType | None], Any], seconds: float) -> Iterator[None]:
    """A stand-in for pytest-timeout's alarm around the block; this test's own alarm is put back after."""
    previous = signal.signal(signal.SIGALRM, handler)
    previous_left, _ = signal.getitimer(signal.ITIMER_REAL)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if previous_left:
            signal.setitimer(signal.ITIMER_REAL, previous_left)


def test_bounded_fails_a_hang_alone_and_gives_the_outer_alarm_back_its_time() -> None:
    """A block that hangs raises Hung naming it; afterwards the outer alarm (pytest-timeout's, here a stand-in)
    is armed again with what it had left, and still fires its own handler."""
    outer: list[str] = []
    with _outer_alarm(lambda signum, frame: outer.append("outer"), 5.0):
        with pytest.raises(Hung, match=r"still running after 0\.2 s: a stuck wait"), bounded(0.2, "a stuck wait"):
            time.sleep(3)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 4.0 < left < 5.0
        with bounded(1.0, "quick work"):
            pass
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        time.sleep(0.5)
        assert outer == ["outer"]


def test_bounded_lets_an_earlier_outer_alarm_decide() -> None:
    """When the outer alarm is due before the bound, the outer handler runs, not Hung."""

    class Outer(BaseException):
        pass

    def outer_handler(signum: int, frame: object) -> None:
        raise Outer

    with _outer_alarm(outer_handler, 0.1), pytest.raises(Outer), bounded(5.0, "long work"):
        time.sleep(3)


def test_the_watchdog_ends_a_hung_run_with_every_stack_and_kills_its_children() -> None:
    """A run still going past its bound prints where each thread stands, kills its child processes and exits
    1, instead of running until CI's limit with nothing printed."""
    script = textwrap.dedent(
        f"""
        import subprocess, sys, time
        sys.path.insert(0, {str(TESTS)!r})
        import conftest
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print(child.pid, flush=True)
        conftest.start_watchdog(0.5)
        time.sleep(60)
        """
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert time.monotonic() - started < 20
    assert done.returncode == 1
    assert "still going after 0.5 s" in done.stderr
    assert "time.sleep(60)" in done.stderr or "<string>" in done.stderr  # the main thread's stack
    child = int(done.stdout.split()[0])
    for _ in range(50):
        if not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the watchdog left its child running")


def test_no_hypothesis_example_is_timed() -> None:
    """Every Hypothesis test runs without a per-example deadline, the ones that name no settings as well: an
    example that took over 200 ms on a loaded CI machine failed a property test that holds."""
    from hypothesis import settings

    assert settings.default is not None
    assert settings.default.deadline is None
