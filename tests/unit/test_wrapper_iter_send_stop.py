"""iter_send stopped by its consumer, in process: Ctrl-C (sync) or cancellation (async) once stops the
taking of inputs and lets the sends in flight finish; twice gives them up, each back as a SendFailure in
doubt naming why sending stopped; closing the iterator early gives up the sends in flight (no sockets)."""

from __future__ import annotations

import _thread
import asyncio
import json
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import dms_rocketmq as dms
import httpx
import pytest
from _shared.fake_dms import async_client, stored, sync_client

CONCURRENCY = 3


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    """Python's own Ctrl-C handling (a test runner may have installed its own SIGINT handler)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _inputs(taken: list[int]) -> Iterator[dict[str, str]]:
    for n in range(1000):
        taken[0] += 1
        yield {"topic": "orders", "body": str(n)}


def _held(gate: threading.Event) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        gate.wait(10)
        return stored(request, int(json.loads(request.content)["body"]))

    return handler


def _interrupt_after(*delays: float) -> list[threading.Timer]:
    timers = [threading.Timer(delay, _thread.interrupt_main) for delay in delays]
    for timer in timers:
        timer.start()
    return timers


def test_sync_ctrl_c_once_lets_the_sends_in_flight_finish(ctrl_c: None) -> None:
    """A first Ctrl-C while the consumer waits: no input is taken after it, the ones in flight are stored."""
    gate, taken = threading.Event(), [0]
    release = threading.Timer(0.6, gate.set)
    with sync_client(_held(gate)) as client:
        _interrupt_after(0.3)
        release.start()
        got = list(client.iter_send(_inputs(taken), concurrency=CONCURRENCY))
    assert sorted(index for index, _ in got) == list(range(CONCURRENCY))
    assert all(outcome.ok for _, outcome in got)
    assert taken[0] == CONCURRENCY


def test_sync_ctrl_c_twice_gives_up_the_sends_in_flight(ctrl_c: None) -> None:
    """A second Ctrl-C abandons the sends in flight: each comes back in doubt, naming the first Ctrl-C."""
    gate, taken = threading.Event(), [0]
    try:
        with sync_client(_held(gate)) as client:
            _interrupt_after(0.3, 0.6)
            got = list(client.iter_send(_inputs(taken), concurrency=CONCURRENCY))
    finally:
        gate.set()
    assert sorted(index for index, _ in got) == list(range(CONCURRENCY))
    for _, outcome in got:
        assert isinstance(outcome, dms.SendFailure)
        error = outcome.exception
        assert isinstance(error, dms.SendCancelledError)
        assert error.request_sent is True
        assert error.reason == "interrupted (Ctrl-C)"
        assert str(error) == "abandoned in flight, it may have been stored: interrupted (Ctrl-C)"


def test_sync_iterator_closed_early_gives_up_at_once() -> None:
    """Closing the iterator while sends are held returns promptly; nothing more is taken from the input."""
    gate, taken = threading.Event(), [0]
    try:
        with sync_client(_held(gate)) as client:
            stream = client.iter_send(_inputs(taken), concurrency=CONCURRENCY)
            threading.Timer(0.2, gate.set).start()
            first = next(stream)
            started = time.monotonic()
            stream.close()
            closing = time.monotonic() - started
    finally:
        gate.set()
    assert first[1].ok
    assert closing < 4  # the driver notices at once; a blocked hand-over would hold close() for 5 s
    assert taken[0] <= 3 * CONCURRENCY + 1


def _async_held(gate: asyncio.Event, answered: list[int], arrived: list[int] | None = None) -> Any:
    async def handler(request: httpx.Request) -> httpx.Response:
        if arrived is not None:
            arrived[0] += 1
        await asyncio.wait_for(gate.wait(), 10)
        answered[0] += 1
        return stored(request, int(json.loads(request.content)["body"]))

    return handler


def _run_cancelled(times: int) -> tuple[int, int]:
    """Cancel a task consuming iter_send `times` times, then let the answers come: (answered, taken)."""
    taken = [0]
    answered = [0]
    arrived = [0]

    async def settle() -> None:
        """Let every task run until it waits on something that only the test can release (no wall clock)."""
        for _ in range(50):
            await asyncio.sleep(0)

    async def main() -> None:
        gate = asyncio.Event()
        async with async_client(_async_held(gate, answered, arrived)) as client:

            async def consume() -> None:
                async for _pair in client.iter_send(_inputs(taken), concurrency=CONCURRENCY):
                    raise AssertionError("no send is answered before the cancellations")

            task = asyncio.create_task(consume())
            for _ in range(1000):  # until every sender holds a send at the gate
                if arrived[0] == CONCURRENCY:
                    break
                await asyncio.sleep(0)
            assert arrived[0] == CONCURRENCY
            for _ in range(times):
                await settle()
                task.cancel()
            await settle()
            gate.set()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)

    asyncio.run(main())
    return answered[0], taken[0]


def test_async_cancel_once_lets_the_sends_in_flight_finish() -> None:
    """A first cancellation of the consuming task stops the taking of inputs, lets the sends in flight be
    answered, then propagates (the loop does not go on as if nothing happened)."""
    answered, taken = _run_cancelled(1)
    assert answered == CONCURRENCY
    assert taken <= 3 * CONCURRENCY


def test_async_cancel_twice_gives_up_the_sends_in_flight() -> None:
    """A second cancellation abandons the sends in flight (no answer is awaited) and propagates."""
    answered, _ = _run_cancelled(2)
    assert answered == 0
