"""send_many at its edges: 0 and 1 message, around the concurrency, and exceptions from outside the DMSError tree.

Both clients, through the public API only: whatever the inputs and whatever the transport raises, send_many
returns exactly one outcome per input, in input order, and calls on_outcome once for each.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import aiohttp
import dms_rocketmq as dms
import httpx
import pytest
from _shared.fake_dms import SETTINGS, async_client, stored, sync_client

CONCURRENCY = 8
Handler = Callable[[httpx.Request], httpx.Response]


def send_many(
    use_async: bool, handler: Handler, inputs: list[Any], *, generated_path: bool = False, **options: Any
) -> list[dms.SendOutcome]:
    """`send_many(inputs)` on a client whose requests go to `handler`, with on_outcome checked."""
    seen: list[dms.SendOutcome] = []
    lock = threading.Lock()

    def on_outcome(outcome: dms.SendOutcome) -> None:
        with lock:
            seen.append(outcome)

    if use_async:

        async def run() -> list[dms.SendOutcome]:
            async with async_client(handler, max_retries=0, generated_path=generated_path) as client:
                return await client.send_many(inputs, on_outcome=on_outcome, **options)

        outcomes = asyncio.run(run())
    else:
        with sync_client(handler, max_retries=0) as client:
            outcomes = client.send_many(inputs, on_outcome=on_outcome, **options)
    assert sorted(map(id, seen)) == sorted(map(id, outcomes))  # once per outcome, none invented
    return outcomes


def numbered(request: httpx.Request) -> httpx.Response:
    """A 200 whose queue offset is the number in the body: shows which input an outcome belongs to."""
    return stored(request, int(json.loads(request.content)["body"]))


both = pytest.mark.parametrize("use_async", [False, True], ids=["Client", "AsyncClient"])


@both
@pytest.mark.parametrize("count", [0, 1, 2, CONCURRENCY - 1, CONCURRENCY, CONCURRENCY + 1, 3 * CONCURRENCY + 1])
def test_every_input_gets_its_outcome_in_order(use_async: bool, count: int) -> None:
    """0, 1, around and above the concurrency: one SendResult per message, in input order, one request each."""
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return numbered(request)

    inputs = [dms.Message("orders", str(n)) for n in range(count)]
    outcomes = send_many(use_async, handler, inputs, concurrency=CONCURRENCY)
    assert [o.queue_offset for o in outcomes if isinstance(o, dms.SendResult)] == list(range(count))
    assert len(outcomes) == count
    assert len(requests) == count


@both
@pytest.mark.parametrize("concurrency", [1, 2, 64])
def test_one_message_is_sent_at_any_concurrency(use_async: bool, concurrency: int) -> None:
    """A single message is sent and returned, whatever the concurrency."""
    outcomes = send_many(use_async, numbered, [{"topic": "orders", "body": "0"}], concurrency=concurrency)
    assert len(outcomes) == 1
    assert isinstance(outcomes[0], dms.SendResult)


@both
def test_an_empty_input_sends_nothing(use_async: bool) -> None:
    """No input, no request, no outcome; a generator works as well as a list."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing should be sent")

    assert send_many(use_async, handler, []) == []
    assert send_many(use_async, handler, list(iter(()))) == []


FOREIGN_EXCEPTIONS = [
    RuntimeError("transport bug"),
    ValueError("bad value"),
    KeyError("missing"),
    OSError("disk on fire"),
    UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    ZeroDivisionError("division by zero"),
]


@both
@pytest.mark.parametrize("exception", FOREIGN_EXCEPTIONS, ids=lambda e: type(e).__name__)
def test_a_foreign_exception_from_the_transport_becomes_a_send_failure(use_async: bool, exception: Exception) -> None:
    """An exception outside the DMSError tree raised by the transport never escapes send_many: it is that
    input's SendFailure, and every other input is still sent, in order."""
    inputs = [{"topic": "orders", "body": str(n)} for n in range(2 * CONCURRENCY)]

    def handler(request: httpx.Request) -> httpx.Response:
        if int(json.loads(request.content)["body"]) % 3 == 1:
            raise exception
        return numbered(request)

    # An exception raised by an httpx transport: the generated path's (on the default path the handler is the
    # server, whose failures reach the client as HTTP or connection errors).
    outcomes = send_many(use_async, handler, inputs, concurrency=CONCURRENCY, generated_path=True)
    assert len(outcomes) == len(inputs)
    for n, outcome in enumerate(outcomes):
        if n % 3 == 1:
            assert isinstance(outcome, dms.SendFailure)
            assert outcome.message is inputs[n]
            # The exception itself, or the client's typed error for it with the exception as its cause.
            assert exception in (outcome.exception, outcome.exception.__cause__)
        else:
            assert isinstance(outcome, dms.SendResult)
            assert outcome.queue_offset == n


@pytest.mark.parametrize("count", [1, 5])
@pytest.mark.parametrize("exception", FOREIGN_EXCEPTIONS, ids=lambda e: type(e).__name__)
def test_a_foreign_exception_on_the_direct_aiohttp_path_becomes_a_send_failure(
    monkeypatch: pytest.MonkeyPatch, exception: Exception, count: int
) -> None:
    """The same on AsyncClient's own aiohttp path (no httpx transport): every input ends as a SendFailure."""

    def explode(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> Any:
        raise exception

    monkeypatch.setattr(aiohttp.ClientSession, "request", explode)

    async def run() -> list[dms.SendOutcome]:
        async with dms.AsyncClient(**{**SETTINGS, "endpoint": "http://127.0.0.1:9"}, max_retries=0) as client:
            return await client.send_many([dms.Message("orders", str(n)) for n in range(count)])

    outcomes = asyncio.run(run())
    assert len(outcomes) == count
    assert all(isinstance(o, dms.SendFailure) and exception in (o.exception, o.exception.__cause__) for o in outcomes)


@pytest.mark.parametrize("concurrency", [2, 3, CONCURRENCY])
def test_client_send_many_uses_the_full_concurrency(concurrency: int) -> None:
    """Client.send_many really has `concurrency` sends in flight at once: the first ones all meet at a barrier."""
    barrier = threading.Barrier(concurrency, timeout=10)

    def handler(request: httpx.Request) -> httpx.Response:
        if int(json.loads(request.content)["body"]) < concurrency:
            barrier.wait()  # BrokenBarrierError (a SendFailure) unless `concurrency` sends are in flight
        return numbered(request)

    outcomes = send_many(False, handler, [dms.Message("orders", str(n)) for n in range(20)], concurrency=concurrency)
    assert all(isinstance(o, dms.SendResult) for o in outcomes)


@pytest.mark.parametrize("concurrency", [2, 3, CONCURRENCY])
def test_async_client_send_many_uses_the_full_concurrency(concurrency: int) -> None:
    """AsyncClient.send_many, likewise, has `concurrency` sends in flight at once."""
    arrived = 0
    everyone = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal arrived
        if int(json.loads(request.content)["body"]) < concurrency:
            arrived += 1
            if arrived == concurrency:
                everyone.set()
            async with asyncio.timeout(10):
                await everyone.wait()
        return numbered(request)

    async def run() -> list[dms.SendOutcome]:
        async with dms.AsyncClient(**SETTINGS, max_retries=0, transport=httpx.MockTransport(handler)) as client:
            return await client.send_many([dms.Message("orders", str(n)) for n in range(20)], concurrency=concurrency)

    assert all(isinstance(o, dms.SendResult) for o in asyncio.run(run()))
