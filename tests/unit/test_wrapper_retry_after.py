"""Retry-After as the wrapper reads it, at its edges: 0 means at once, fractions count, an HTTP date is read
against the real clock (no sockets)."""

from __future__ import annotations

import email.utils
import time

from dms_rocketmq import _retry


def test_retry_after_zero_and_fractions_are_kept() -> None:
    """`0` means retry at once (not a backoff) and `0.5` half a second; the server's value is used as given."""
    assert _retry.retry_after_seconds("0") == 0.0
    assert _retry.retry_after_seconds("0.5") == 0.5
    assert _retry.retry_after_seconds("-1") is None
    assert _retry.retry_delay(3, "0") == 0.0
    assert _retry.retry_delay(0, "0.25") == 0.25


def test_retry_after_http_date_against_the_clock() -> None:
    """An HTTP date is read as the seconds from now until then; a date in the past is no advice."""
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28.0 <= (_retry.retry_after_seconds(soon) or 0.0) <= 30.0
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert _retry.retry_after_seconds(past) is None
