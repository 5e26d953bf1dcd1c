"""AsyncClient.iter_send fed by an async iterable (as the CLI feeds it from a file): every input sent once
under its own index, read lazily; an error of the caller's iterable ends the sending and is raised after the
sends in flight are accounted for (no sockets: httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator
from typing import Any

import dms_rocketmq as dms
import httpx
import pytest
from _shared.fake_dms import async_client, stored
from dms_rocketmq._bulk import run_tasks
from dms_rocketmq._bulk_policy import FailFast, SendControl, outcome_state
from dms_rocketmq._rate import AdaptiveRate


def echo(request: httpx.Request) -> httpx.Response:
    return stored(request, int(json.loads(request.content)["body"]))


async def _messages(count: int, taken: list[int], fail_at: int | None = None) -> AsyncIterator[dict[str, str]]:
    for n in range(count):
        if n == fail_at:
            raise RuntimeError("the input file went away")
        taken[0] += 1
        await asyncio.sleep(0)  # a real async source yields to the loop between inputs
        yield {"topic": "orders", "body": str(n)}


@pytest.mark.parametrize("count", [1, 5, 300])
def test_async_iterable_inputs_each_sent_once_in_index_order(count: int) -> None:
    """Each input of an async generator is sent once, under the index of its place in the input."""
    taken = [0]

    async def main() -> list[tuple[int, dms.SendOutcome]]:
        async with async_client(echo) as client:
            return [pair async for pair in client.iter_send(_messages(count, taken), concurrency=4)]

    got = asyncio.run(main())
    assert sorted(index for index, _ in got) == list(range(count))
    assert all(outcome.ok and outcome.queue_offset == index for index, outcome in got)  # type: ignore[union-attr]
    assert taken[0] == count


def test_async_iterable_is_read_lazily() -> None:
    """Inputs of an async generator are taken only as the window frees, never read ahead by more."""
    taken = [0]

    async def main() -> None:
        async with async_client(echo) as client:
            stream = client.iter_send(_messages(10_000, taken), concurrency=4)
            seen = 0
            async for _ in stream:
                seen += 1
                if seen == 40:
                    break
            await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(main())
    assert taken[0] <= 40 + 3 * 4, taken[0]


def test_an_error_of_the_async_iterable_is_raised_after_the_inputs_before_it() -> None:
    """The caller's iterable failing ends the sending: the inputs before it come out, then its error."""
    taken = [0]

    got: list[int] = []

    async def main() -> None:
        async with async_client(echo) as client:
            async for index, outcome in client.iter_send(_messages(100, taken, fail_at=7), concurrency=3):
                assert outcome.ok
                got.append(index)

    with pytest.raises(RuntimeError, match="the input file went away"):
        asyncio.run(main())
    assert sorted(got) == list(range(7))


class _Source:
    """An async iterator over `count` messages that records every call made after it ended or failed; after
    a failure it would go on yielding (nothing in the protocol forbids it)."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count = count
        self.fail_at = fail_at
        self.position = 0
        self.calls_after_the_end = 0
        self.ended = False

    def __aiter__(self) -> _Source:
        return self

    async def __anext__(self) -> dict[str, str]:
        if self.ended:
            self.calls_after_the_end += 1
        position = self.position
        self.position += 1
        await asyncio.sleep(0)
        if position == self.fail_at:
            self.ended = True
            raise RuntimeError("the input file went away")
        if position >= self.count:
            self.ended = True
            raise StopAsyncIteration
        return {"topic": "orders", "body": str(position)}


def test_an_async_iterable_is_not_asked_again_after_its_end() -> None:
    """Once the caller's async iterator says it is done, no sender asks it again (a queue-fed iterator would
    block, another could yield more), however many senders there are."""
    source = _Source(5)

    async def main() -> list[int]:
        async with async_client(echo) as client:
            return [index async for index, _ in client.iter_send(source, concurrency=4)]

    assert sorted(asyncio.run(main())) == list(range(5))
    assert source.calls_after_the_end == 0


def test_nothing_after_an_error_of_the_async_iterable_is_taken() -> None:
    """After the caller's async iterator raised, it is not asked again: what it would yield next is not sent."""
    source = _Source(50, fail_at=3)
    got: list[int] = []

    async def main() -> None:
        async with async_client(echo) as client:
            async for index, _ in client.iter_send(source, concurrency=4):
                got.append(index)

    with pytest.raises(RuntimeError, match=r"^the input file went away$"):
        asyncio.run(main())
    assert sorted(got) == [0, 1, 2]
    assert source.calls_after_the_end == 0


def test_an_input_taken_after_a_stop_is_delivered_not_sent_with_itself() -> None:
    """An input whose await ended after a stop is not sent: `deliver` gets it, with its index and a
    not-sent failure quoting the stop's reason (the CLI records it by its line)."""
    control = SendControl()
    delivered: list[tuple[int, Any, dms.SendOutcome]] = []
    sent: list[Any] = []

    async def inputs() -> AsyncIterator[str]:
        yield "first"
        control.stop("the operator stopped it")
        yield "second"

    async def send(item: Any) -> dms.SendResult:
        sent.append(item)
        raise dms.APIConnectionError(request_sent=False)

    async def main() -> None:
        await run_tasks(
            send,
            inputs(),
            lambda index, item, outcome: delivered.append((index, item, outcome)),
            concurrency=1,
            rate=AdaptiveRate(None),
            fail_fast=FailFast(enabled=False, max_connection_failures=1),
            control=control,
        )

    asyncio.run(main())
    assert sent == ["first"]
    assert [(index, item, outcome_state(outcome)) for index, item, outcome in delivered] == [
        (0, "first", "failed"),
        (1, "second", "not_sent"),
    ]
    second = delivered[1][2]
    assert isinstance(second, dms.SendFailure)
    assert second.message == "second"
    assert str(second.exception) == "not sent: the operator stopped it"


def test_a_send_abandoned_by_a_second_cancellation_is_delivered_in_doubt(caplog: pytest.LogCaptureFixture) -> None:
    """Cancelling run_tasks once stops the taking of inputs; a second time abandons the send in flight: it is
    delivered with its index and input as in doubt, quoting the first reason, the cancellation propagates and
    no sender task ends in an error that asyncio would report as never retrieved."""
    control = SendControl()
    delivered: list[tuple[int, Any, dms.SendOutcome]] = []

    async def main() -> None:
        started = asyncio.Event()

        async def send(item: Any) -> dms.SendResult:
            started.set()
            await asyncio.Event().wait()  # the answer never comes
            raise AssertionError("unreachable")

        task = asyncio.create_task(
            run_tasks(
                send,
                ["only", "never taken"],
                lambda index, item, outcome: delivered.append((index, item, outcome)),
                concurrency=1,
                rate=AdaptiveRate(None),
                fail_fast=FailFast(enabled=False, max_connection_failures=1),
                control=control,
            )
        )
        stopped = asyncio.Event()
        control.listen(stopped.set)
        await started.wait()
        task.cancel()
        await stopped.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    gc.collect()  # a task that ended in an error nobody retrieved is reported when it is collected
    assert [record.getMessage() for record in caplog.records if record.name == "asyncio"] == []
    assert control.stop_reason == "cancelled"
    assert [(index, item) for index, item, _ in delivered] == [(0, "only")]
    outcome = delivered[0][2]
    assert isinstance(outcome, dms.SendFailure)
    assert outcome.message == "only"
    assert isinstance(outcome.exception, dms.SendCancelledError)
    assert outcome.exception.request_sent is True
    assert str(outcome.exception) == "abandoned in flight, it may have been stored: cancelled"


def test_closing_iter_send_early_gives_up_the_sends_in_flight_before_it_returns() -> None:
    """Closing AsyncClient.iter_send early abandons the sends still waiting for an answer: by the time
    aclose() returns, each of them has been cancelled, none is left running behind the consumer's back."""
    cancelled: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)["body"]
        if body == "0":
            return stored(request, 0)
        try:
            await asyncio.Event().wait()  # never answered
        except asyncio.CancelledError:
            cancelled.append(body)
            raise
        raise AssertionError("unreachable")

    async def main() -> None:
        async with async_client(handler) as client:
            stream = client.iter_send([{"topic": "orders", "body": str(n)} for n in range(3)], concurrency=3)
            index, outcome = await stream.__anext__()
            assert (index, outcome.ok) == (0, True)
            await stream.aclose()
            assert sorted(cancelled) == ["1", "2"]

    asyncio.run(main())
