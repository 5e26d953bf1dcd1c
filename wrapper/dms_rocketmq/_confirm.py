"""`confirm`: read a sent message back until the query shows it, then compare it with what was sent (no I/O).

The clients own the loop (`Client.confirm` sleeps, `AsyncClient.confirm` awaits); the deadline, the waits
between polls, the comparison and the errors live here, once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from ._constants import CONFIRM_FIRST_POLL, CONFIRM_MAX_POLL
from ._exceptions import ConfigurationError, MessageMismatchError, MessageNotVisibleError
from ._models import Message, SendResult, StoredMessage

__all__ = ["PollSchedule", "checked", "differences", "not_visible"]


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
    """The error for a message the query did not show before the deadline."""
    return MessageNotVisibleError(
        f"message {result.msg_id} in topic {result.topic!r} was acknowledged but the query did not find it "
        f"within {schedule.timeout:g} s ({schedule.attempts} queries); it may appear later if the service "
        "indexes slowly (raise `timeout`).",
        msg_id=result.msg_id,
        topic=result.topic,
        timeout=schedule.timeout,
        attempts=schedule.attempts,
    )


class PollSchedule:
    """When to query again: after CONFIRM_FIRST_POLL seconds, then 1.5 times longer each time (at most
    CONFIRM_MAX_POLL), with a last query at the deadline, `timeout` seconds after the schedule is made."""

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

    def next_wait(self) -> float | None:
        """Count the query just made; return the seconds to wait before the next one, or None at the deadline."""
        self.attempts += 1
        remaining = self._deadline - self._clock()
        if remaining <= 0:
            return None
        wait = min(self._interval, remaining)
        self._interval = min(self._interval * 1.5, CONFIRM_MAX_POLL)
        return wait
