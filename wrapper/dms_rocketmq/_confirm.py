"""`confirm`: read a sent message back until the query shows it, then compare it with what was sent (no I/O).

The clients own the loop (`Client.confirm` sleeps, `AsyncClient.confirm` awaits); the deadline, the waits
between polls, the comparison and the errors live here, once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import httpx

from ._constants import CONFIRM_FIRST_POLL, CONFIRM_MAX_POLL
from ._exceptions import (
    APIError,
    APIStatusError,
    ConfigurationError,
    MessageMismatchError,
    MessageNotVisibleError,
    ValidationError,
)
from ._models import Message, SendResult, StoredMessage

__all__ = ["PollSchedule", "checked", "checked_result", "differences", "not_visible"]

#: The least time a poll is given, even at the deadline (`timeout=0` still makes one query).
_SHORTEST_POLL = 0.1


def checked_result(result: object) -> SendResult:
    """`result` when it is a SendResult (what `send` returned); a ValidationError otherwise."""
    if not isinstance(result, SendResult):
        raise ValidationError(f"confirm needs the SendResult that send returned, got {type(result).__name__}.")
    return result


def _sent_keys(keys: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if keys is None:
        return ()
    if isinstance(keys, str):
        return tuple(key for key in keys.split(" ") if key)
    return tuple(keys)


def _sent_body(body: str | bytes) -> str:
    return body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body


def differences(result: SendResult, stored: StoredMessage) -> dict[str, tuple[Any, Any]]:
    """Each field whose stored value differs from the sent one, mapped to `(sent, stored)`.

    The position (`topic`, `queue_id`, `queue_offset`) is compared with what the send's answer said; the
    content (`body`, `keys`, `tags`) with `result.sent`, when the result carries it.
    """
    expected: dict[str, Any] = {
        "topic": result.topic,
        "queue_id": result.queue_id,
        "queue_offset": result.queue_offset,
    }
    sent: Message | None = result.sent
    if sent is not None:
        expected["body"] = _sent_body(sent.body)
        expected["keys"] = _sent_keys(sent.keys)
        expected["tags"] = sent.tags or None
    return {name: (value, getattr(stored, name)) for name, value in expected.items() if getattr(stored, name) != value}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def checked(result: SendResult, stored: StoredMessage) -> StoredMessage:
    """`stored` when it equals what was sent; else raise `MessageMismatchError` listing the differences."""
    found = differences(result, stored)
    if not found:
        return stored
    listed = "; ".join(f"{name}: sent {_short(sent)}, stored {_short(kept)}" for name, (sent, kept) in found.items())
    raise MessageMismatchError(
        f"message {result.msg_id} in topic {result.topic!r} is stored differently from how it was sent: {listed}.",
        msg_id=result.msg_id,
        topic=result.topic,
        differences=found,
        stored=stored,
    )


def not_visible(result: SendResult, schedule: PollSchedule) -> MessageNotVisibleError:
    """The error for a message the query did not show before the deadline (raise it `from schedule.last_error`)."""
    last = schedule.last_error
    failed = f"; the last query failed: {type(last).__name__}: {last}" if last is not None else ""
    return MessageNotVisibleError(
        f"message {result.msg_id} in topic {result.topic!r} was acknowledged but the query did not find it "
        f"within {schedule.timeout:g} s ({schedule.attempts} queries{failed}); it may appear later if the "
        "service indexes slowly (raise `timeout`).",
        msg_id=result.msg_id,
        topic=result.topic,
        timeout=schedule.timeout,
        attempts=schedule.attempts,
    )


class PollSchedule:
    """When to query again: after CONFIRM_FIRST_POLL seconds, then 1.5 times longer each time (at most
    CONFIRM_MAX_POLL), with a last query at the deadline, `timeout` seconds after the schedule is made.

    `timeout` is a deadline for the whole of `confirm`: each query gets only the time left (`poll_timeout`,
    without retries: polling again is the retry), and a query that fails in a way that may pass (no answer,
    a 5xx, a 429) is kept as `last_error` and polled again; one that cannot (another 4xx) is raised at once.
    """

    def __init__(self, timeout: object, clock: Callable[[], float] = time.monotonic) -> None:
        if (
            not isinstance(timeout, int | float)
            or isinstance(timeout, bool)
            or not math.isfinite(timeout)
            or timeout < 0
        ):
            raise ConfigurationError(f"timeout must be a finite number of seconds >= 0, got {timeout!r}.")
        self.timeout = float(timeout)
        self.attempts = 0
        self._clock = clock
        self._deadline = clock() + self.timeout
        self._interval = CONFIRM_FIRST_POLL
        self.last_error: APIError | None = None

    def poll_timeout(self) -> httpx.Timeout:
        """The timeout of the next query: what is left before the deadline (at least a short moment)."""
        return httpx.Timeout(max(self._deadline - self._clock(), _SHORTEST_POLL))

    def failed(self, error: APIError) -> None:
        """A query failed: keep the error if polling again may succeed, else raise it."""
        if isinstance(error, APIStatusError) and 400 <= error.status_code < 500 and error.status_code != 429:
            raise error
        self.last_error = error

    def next_wait(self) -> float | None:
        """Count the query just made; return the seconds to wait before the next one, or None at the deadline."""
        self.attempts += 1
        remaining = self._deadline - self._clock()
        if remaining <= 0:
            return None
        wait = min(self._interval, remaining)
        self._interval = min(self._interval * 1.5, CONFIRM_MAX_POLL)
        return wait
