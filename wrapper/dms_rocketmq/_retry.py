"""The retry policy, as pure functions: what to retry and how long to wait.

Sending a message is not idempotent, so by default only failures after which the message was certainly not
stored are retried: connection failures before the request left the client, and the gateway's throttling
(429 APIG.0308). Other statuses are retried only when the caller names them (`retry_statuses`), accepting
that a retry may store a message twice. A query is idempotent: it is also retried after any connection
failure, any 429 and any 5xx. See docs/wrapper.md.
"""

from __future__ import annotations

import email.utils
import random
import time

from ._constants import INITIAL_RETRY_DELAY, MAX_RETRY_AFTER, MAX_RETRY_DELAY, RETRYABLE_ERRORS
from ._exceptions import APIConnectionError, APIStatusError

__all__ = ["backoff_delay", "retry_after_seconds", "retry_delay", "set_testing", "should_retry"]

_testing = False


def set_testing(enabled: bool) -> None:
    """Turn backoff off (True) or on again (False) for the whole process: retries then happen at once.

    Meant for test suites, like `stamina.set_testing`; the number of retries is unchanged.
    """
    global _testing  # one process-wide switch is the point, as in stamina
    _testing = enabled


def should_retry(error: Exception, extra_statuses: frozenset[int] = frozenset(), *, idempotent: bool = False) -> bool:
    """True when sending again cannot store the message twice (429 APIG.0308, a connection never used), or
    when the error's status is one of `extra_statuses`, which the caller chose to retry anyway.

    With `idempotent` (a query, which stores nothing): also any 429, any 5xx and any connection failure.
    """
    if isinstance(error, APIStatusError):
        status = error.status_code
        if (status, error.error_code) in RETRYABLE_ERRORS or status in extra_statuses:
            return True
        return idempotent and (status == 429 or status >= 500)
    if isinstance(error, APIConnectionError):
        return idempotent or not error.request_sent
    return False


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Parse a `Retry-After` header (seconds or an HTTP date) into seconds; None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        seconds = email.utils.mktime_tz(parsed) - (time.time() if now is None else now)
    if seconds != seconds or seconds < 0:  # NaN or in the past
        return None
    return seconds


def backoff_delay(retries_taken: int, *, jitter: float | None = None) -> float:
    """Exponential backoff for the next retry: 0.5 s, 1 s, 2 s, ... up to 8 s, times a jitter in [0.75, 1]."""
    # The exponent is capped: 2.0 ** 1024 overflows, and far fewer doublings already reach the cap.
    delay = min(INITIAL_RETRY_DELAY * (2.0 ** min(retries_taken, 64)), MAX_RETRY_DELAY)
    factor = 1.0 - 0.25 * (random.random() if jitter is None else jitter)  # noqa: S311 - not cryptographic
    return delay * factor


def retry_delay(retries_taken: int, retry_after: str | None = None) -> float:
    """Seconds to wait before retry number `retries_taken + 1`: `Retry-After` up to a cap, else backoff."""
    if _testing:
        return 0.0
    server_says = retry_after_seconds(retry_after)
    if server_says is not None and server_says <= MAX_RETRY_AFTER:
        return server_says
    return backoff_delay(retries_taken)
