"""A time bound on one piece of a test, for property tests whose examples run code that could hang.

pytest-timeout bounds a whole test with one SIGALRM. Inside a Hypothesis test that is not enough: after the alarm
fails one example, Hypothesis shrinks, and every example it then runs has no alarm left, so a hang found by chance
runs until CI's own limit. `bounded` arms an alarm of its own around one example and puts pytest-timeout's back
afterwards, with the time it had left, so each example that hangs fails alone, naming what hung.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from types import FrameType


class Hung(BaseException):
    """The bounded code ran past its bound. A BaseException, as pytest's own outcomes are: the code under test
    catches `Exception` where it turns errors into exit codes, and must not turn a hang into an answer."""


@contextlib.contextmanager
def bounded(seconds: float, what: str) -> Iterator[None]:
    """Run the block for at most `seconds` of wall time; past it, raise Hung naming `what`."""
    previous_handler = signal.getsignal(signal.SIGALRM)
    previous_left, _ = signal.getitimer(signal.ITIMER_REAL)
    started = time.monotonic()
    deadline = started + seconds

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        if time.monotonic() >= deadline - 0.01:
            raise Hung(f"still running after {seconds:g} s: {what}")
        if callable(previous_handler):  # the outer alarm (pytest-timeout's) came first: it decides
            previous_handler(signum, frame)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, min(seconds, previous_left) if previous_left else seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_left:
            signal.setitimer(signal.ITIMER_REAL, max(previous_left - (time.monotonic() - started), 0.001))
