"""`send_many`: many messages with bounded concurrency, one outcome per input (threads or asyncio tasks)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeAlias

from ._exceptions import ConfigurationError
from ._models import Message, SendFailure, SendOutcome, SendResult
from ._validation import message_from

__all__ = ["OnOutcome", "send_many_tasks", "send_many_threads"]

logger = logging.getLogger("dms_rocketmq")

OnOutcome: TypeAlias = Callable[[SendOutcome], object]
Inputs: TypeAlias = Iterable[Message | Mapping[str, Any]]


def _check_concurrency(concurrency: object) -> None:
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise ConfigurationError(f"concurrency must be a whole number >= 1, got {concurrency!r}.")


def _call_on_outcome(on_outcome: OnOutcome, outcome: SendOutcome) -> None:
    """Run a send_many callback; its failure is logged, never allowed to cost the other messages."""
    try:
        on_outcome(outcome)
    except Exception:
        logger.exception("send_many: on_outcome raised; the error is ignored and sending goes on")


def _outcome_of(item: object, send: Callable[[Message], SendResult]) -> SendOutcome:
    try:
        return send(message_from(item))
    except Exception as exc:  # every input must end as a result or a failure, whatever went wrong
        return SendFailure(item, exc)


def send_many_threads(
    send: Callable[[Message], SendResult],
    messages: Inputs,
    *,
    concurrency: int,
    on_outcome: OnOutcome | None,
) -> list[SendOutcome]:
    """`Client.send_many`: `concurrency` threads share the inputs; outcomes in input order."""
    _check_concurrency(concurrency)
    items = list(messages)
    outcomes: list[SendOutcome | None] = [None] * len(items)
    indexes = iter(range(len(items)))
    lock = threading.Lock()
    callback_lock = threading.Lock()  # on_outcome runs one call at a time, without blocking the senders

    def work() -> None:
        while True:
            with lock:
                index = next(indexes, None)
            if index is None:
                return
            outcome = _outcome_of(items[index], send)
            outcomes[index] = outcome
            if on_outcome is not None:
                with callback_lock:
                    _call_on_outcome(on_outcome, outcome)

    workers = min(concurrency, len(items))
    if workers <= 1:
        work()
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dms-rocketmq-send") as pool:
            for future in [pool.submit(work) for _ in range(workers)]:
                future.result()
    return [outcome for outcome in outcomes if outcome is not None]


async def send_many_tasks(
    send: Callable[[Message], Awaitable[SendResult]],
    messages: Inputs,
    *,
    concurrency: int,
    on_outcome: OnOutcome | None,
) -> list[SendOutcome]:
    """`AsyncClient.send_many`: `concurrency` tasks share the inputs; outcomes in input order."""
    _check_concurrency(concurrency)
    items = list(messages)
    outcomes: list[SendOutcome | None] = [None] * len(items)
    # One iterator shared by the workers: each index is taken by exactly one of them.
    indexes = iter(range(len(items)))

    async def work() -> None:
        for index in indexes:
            item = items[index]
            outcome: SendOutcome
            try:
                outcome = await send(message_from(item))
            except Exception as exc:  # every input must end as a result or a failure
                outcome = SendFailure(item, exc)
            outcomes[index] = outcome
            if on_outcome is not None:
                _call_on_outcome(on_outcome, outcome)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(items))):
            group.create_task(work())
    return [outcome for outcome in outcomes if outcome is not None]
