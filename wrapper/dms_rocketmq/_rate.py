"""The send rate of `send_many`: an optional ceiling (messages per second) that 429s lower and time restores.

DMS instances have TPS limits; a sender that only retries its 429s keeps hitting the limit at full speed.
`AdaptiveRate` halves the rate on a 429 (once per burst of them) and raises it again by a quarter for every
second without one, up to the ceiling the caller gave (or back to unlimited when none was given). The retry
loop of `send` reports each 429 through `throttle_listener`, a context variable that `send_many` sets in its
workers, so that sends outside `send_many` pay nothing.
"""

from __future__ import annotations

import contextvars
import math
import threading
import time
from collections.abc import Callable

from ._exceptions import ConfigurationError

__all__ = ["RATE_RULE", "SLOWEST_RATE", "AdaptiveRate", "check_rate", "throttle_listener"]

#: Called by the retry loop of `send` with each 429 it sees; None outside `send_many`.
throttle_listener: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "dms_rocketmq_throttle_listener", default=None
)

#: The slowest ceiling a caller may give (messages per second): one message every 1,000 seconds. A slower one is
#: a mistake (a unit mix-up, a stray exponent) rather than a plan: 1e-200 would wait longer than the universe's age
#: before its second message, a hang that no deadline of the caller's ends.
SLOWEST_RATE = 0.001
#: What a rate must be, in the words of every error about one (the library's and the CLI's `--rate`).
RATE_RULE = f"a finite number of messages per second, at least {SLOWEST_RATE:g}"
#: The rate never drops below this (messages per second), however many 429s arrive, nor rises above the ceiling.
MIN_RATE = 1.0
#: One cut per this many seconds: a burst of 429s from sends that were already in flight is one signal.
CUT_INTERVAL = 0.5
#: Every second without a 429 the rate grows by this factor, up to the ceiling.
RECOVERY_FACTOR = 1.25


def check_rate(rate: object) -> float | None:
    """`rate` as a float, or None for no limit; anything else is a ConfigurationError."""
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate) or rate < SLOWEST_RATE:
        raise ConfigurationError(f"rate must be {RATE_RULE}, or None, got {rate!r}.")
    return float(rate)


class AdaptiveRate:
    """Paces sends to `ceiling` messages per second (None: no limit) and slows down on 429s.

    Thread-safe: the sync `send_many` shares one between its threads. `delay()` reserves the next send slot
    and returns how long to wait for it.
    """

    def __init__(self, ceiling: float | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        #: Seconds on a monotonic clock; tests give their own to step time without waiting.
        self._clock = clock
        self.ceiling = ceiling
        self.current = ceiling
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._last_change = clock()  # of the pace, by a cut or a recovery step
        self._last_cut = -math.inf
        self._window_start = self._last_change
        self._window_count = 0
        self._observed = 0.0  # successes per second over the last full second
        self.throttled = 0  # 429s seen

    @property
    def active(self) -> bool:
        """Whether sends are being paced (a ceiling was given, or a 429 arrived)."""
        return self.current is not None

    def delay(self) -> float:
        """Reserve the next send slot; seconds to wait before sending (0 when not paced)."""
        with self._lock:
            rate = self.current
            if rate is None:
                return 0.0
            now = self._clock()
            self._recover(now)
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1.0 / rate
            return slot - now

    def on_throttled(self) -> None:
        """A 429 arrived: halve the rate (from the rate achieved so far, when there was no limit yet)."""
        with self._lock:
            self.throttled += 1
            now = self._clock()
            if now - self._last_cut < CUT_INTERVAL:
                return
            base = self.current
            if base is None:
                base = self._observed or self._window_rate(now)
                if not base:
                    return  # nothing sent yet to measure a pace from: the retries' own waits are all there is
            floor = MIN_RATE if self.ceiling is None else min(MIN_RATE, self.ceiling)
            self.current = max(floor, base / 2.0)
            self._last_change = self._last_cut = now

    def on_sent(self) -> None:
        """A message was stored: counts toward the observed rate."""
        with self._lock:
            self._window_count += 1
            now = self._clock()
            if now - self._window_start >= 1.0:
                self._observed = self._window_rate(now)
                self._window_start = now
                self._window_count = 0

    def _window_rate(self, now: float) -> float:
        elapsed = now - self._window_start
        return self._window_count / elapsed if elapsed > 0 else 0.0

    def _recover(self, now: float) -> None:
        if self.current is None or now - self._last_change < 1.0:
            return
        if self.ceiling is not None and self.current >= self.ceiling:
            return
        self.current *= RECOVERY_FACTOR
        self._last_change = now
        if self.ceiling is not None:
            self.current = min(self.current, self.ceiling)
        elif self._observed and self.current > 2.0 * self._observed:
            self.current = None  # well above what the sender achieves: no limit any more
