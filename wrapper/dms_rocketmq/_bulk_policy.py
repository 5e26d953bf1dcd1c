"""The policy of a bulk send, apart from the engines that run it (`_bulk`): how many sends may be in flight,
what a failed send's outcome is (failed, in doubt, not sent), when sending must stop (`FailFast`), and how a
caller stops it (`SendControl`). Each piece is used by both engines, the CLI's journal and its summary.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Literal, TypeAlias

from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    SendCancelledError,
    ValidationError,
)
from ._models import SendOutcome, SendResult
from ._rate import AdaptiveRate, check_rate

__all__ = [
    "MAX_CONCURRENCY",
    "FailFast",
    "OutcomeState",
    "SendControl",
    "bulk_policy",
    "check_concurrency",
    "may_have_been_stored",
    "outcome_state",
]

OutcomeState: TypeAlias = Literal["sent", "failed", "in_doubt", "not_sent"]


#: The most sends in flight a bulk send takes: each is a thread (`Client`) or a task (`AsyncClient`) made up
#: front, so a mistyped huge number would exhaust memory; ten thousand is past any pool's useful width.
MAX_CONCURRENCY = 10_000


def check_concurrency(concurrency: object) -> int:
    """`concurrency` when it is a whole number from 1 to MAX_CONCURRENCY; a ConfigurationError otherwise."""
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or not 1 <= concurrency <= MAX_CONCURRENCY:
        shown = (
            concurrency
            if isinstance(concurrency, int) and concurrency.bit_length() < 64
            else type(concurrency).__name__
        )
        raise ConfigurationError(f"concurrency must be a whole number from 1 to {MAX_CONCURRENCY}, got {shown}.")
    return concurrency


def may_have_been_stored(exc: BaseException) -> bool:
    """Whether the message of a failed send may nevertheless have been stored (so re-sending may duplicate it).

    No: a refusal with a 4xx status, a connection never used, a local validation error. Yes (in doubt): no
    answer after the request left, any 5xx (a gateway may have forwarded the request, and a broker may have
    stored the message before failing; 503's real error code is not documented), a 200 whose body was
    unreadable, a send abandoned in flight, and anything unexpected.
    """
    if isinstance(exc, SendCancelledError | APIConnectionError):
        return exc.request_sent
    if isinstance(exc, MalformedResponseError):
        return True
    if isinstance(exc, APIStatusError):
        return exc.status_code >= 500
    return not isinstance(exc, ValidationError | ConfigurationError)


def outcome_state(outcome: SendOutcome) -> OutcomeState:
    """`sent`, `failed` (certainly not stored), `in_doubt` (may be stored) or `not_sent` (sending stopped first)."""
    if isinstance(outcome, SendResult):
        return "sent"
    exc = outcome.exception
    if isinstance(exc, SendCancelledError) and not exc.request_sent:
        return "not_sent"
    return "in_doubt" if may_have_been_stored(exc) else "failed"


class SendControl:
    """Stops a running bulk send from elsewhere (a signal handler, another thread, a fail-fast check).

    `stop(reason)`: take no new inputs, let the sends in flight finish. `abandon(reason)`: also give up
    waiting for the sends in flight (their outcomes are in doubt). The first reason given is kept.
    """

    def __init__(self) -> None:
        self.stop_reason: str | None = None
        self.abandoned = False
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def stop(self, reason: str) -> None:
        """Take no new inputs; the sends in flight finish."""
        with self._lock:
            if self.stop_reason is not None:
                return
            self.stop_reason = reason
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def abandon(self, reason: str) -> None:
        """Stop, and stop waiting for the sends in flight: they come back in doubt."""
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason = reason
            if self.abandoned:
                return
            self.abandoned = True
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def listen(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` on every stop or abandon; returns the function that removes it."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove


def _fatal_reason(exc: BaseException) -> str | None:
    if isinstance(exc, AuthenticationError):
        return f"the service refused the credentials, no message can be sent ({exc})"
    if isinstance(exc, PermissionDeniedError):
        return f"the credentials are not allowed to send, no message can be sent ({exc})"
    if isinstance(exc, NotFoundError):
        return f"the instance or the URL does not exist, no message can be sent ({exc})"
    return None


class FailFast:
    """Decides when sending cannot succeed: a 401, 403 or 404, or `max_connection_failures` in a row.

    Disabled (`enabled=False`), it never stops. Called from one thread at a time.
    """

    def __init__(self, *, enabled: bool, max_connection_failures: int) -> None:
        count = max_connection_failures
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ConfigurationError(f"max_connection_failures must be a whole number >= 1, got {count!r}.")
        self.enabled = enabled
        self.max_connection_failures = max_connection_failures
        self._consecutive = 0

    def on_sent(self) -> None:
        """A message was stored: the run of connection failures is broken."""
        self._consecutive = 0

    def reason_to_stop(self, exc: BaseException) -> str | None:
        """Why sending must stop after this failure, or None to go on."""
        if not self.enabled or isinstance(exc, SendCancelledError):
            return None
        fatal = _fatal_reason(exc)
        if fatal is not None:
            return fatal
        if isinstance(exc, APIConnectionError):
            self._consecutive += 1
            if self._consecutive >= self.max_connection_failures:
                return f"{self._consecutive} connection failures in a row, the service cannot be reached (last: {exc})"
        else:
            self._consecutive = 0
        return None


def bulk_policy(rate: float | None, fail_fast: bool, max_connection_failures: int) -> tuple[AdaptiveRate, FailFast]:
    """The pace and the fail-fast rule of one bulk send, from its arguments (each checked)."""
    if not isinstance(fail_fast, bool):
        raise ConfigurationError(f"fail_fast must be True or False, got {type(fail_fast).__name__}.")
    return AdaptiveRate(check_rate(rate)), FailFast(enabled=fail_fast, max_connection_failures=max_connection_failures)
