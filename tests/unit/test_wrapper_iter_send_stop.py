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


def _async_held(gate: asyncio.Event) -> Any:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.wait_for(gate.wait(), 10)
        return stored(request, int(json.loads(request.content)["body"]))

    return handler


def _run_cancelled(times: int) -> tuple[list[tuple[int, dms.SendOutcome]], int]:
    taken = [0]

    async def main() -> list[tuple[int, dms.SendOutcome]]:
        gate = asyncio.Event()
        got: list[tuple[int, dms.SendOutcome]] = []
        async with async_client(_async_held(gate)) as client:

            async def consume() -> None:
                async for pair in client.iter_send(_inputs(taken), concurrency=CONCURRENCY):
                    got.append(pair)

            task = asyncio.create_task(consume())
            for _ in range(times):
                await asyncio.sleep(0.2)
                task.cancel()
            await asyncio.sleep(0.2)
            gate.set()
            await asyncio.wait_for(task, 10)
        return got

    return asyncio.run(main()), taken[0]


def test_async_cancel_once_lets_the_sends_in_flight_finish() -> None:
    """A first cancellation of the consuming task stops the taking of inputs; the sends in flight are stored."""
    got, taken = _run_cancelled(1)
    assert sorted(index for index, _ in got) == list(range(CONCURRENCY))
    assert all(outcome.ok for _, outcome in got)
    assert taken <= 3 * CONCURRENCY


def test_async_cancel_twice_gives_up_the_sends_in_flight() -> None:
    """A second cancellation abandons the sends in flight: each comes back in doubt, naming the cancellation."""
    got, _ = _run_cancelled(2)
    assert sorted(index for index, _ in got) == list(range(CONCURRENCY))
    for _, outcome in got:
        assert isinstance(outcome, dms.SendFailure)
        error = outcome.exception
        assert isinstance(error, dms.SendCancelledError)
        assert (error.request_sent, error.reason) == (True, "cancelled")
