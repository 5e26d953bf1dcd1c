"""send_many's and iter_send's policy in process: what counts as possibly stored, how stopping and fail-fast
decide, how far ahead of a slow consumer inputs are read, and what the sending threads are (no sockets)."""

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
from _shared.fake_dms import async_client, error, stored, sync_client
from dms_rocketmq._bulk_policy import FailFast, SendControl, may_have_been_stored, outcome_state


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    """Python's own Ctrl-C handling (a test runner may have installed its own SIGINT handler)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def echo(request: httpx.Request) -> httpx.Response:
    return stored(request, int(json.loads(request.content)["body"]))


def _inputs(taken: list[int], count: int = 1000, fail_at: int | None = None) -> Iterator[dict[str, str]]:
    for n in range(count):
        if n == fail_at:
            raise RuntimeError("the input went away")
        taken[0] += 1
        yield {"topic": "orders", "body": str(n)}


def _status(status: int) -> dms.APIStatusError:
    response = httpx.Response(status, request=httpx.Request("POST", "http://h/"))
    cls = {401: dms.AuthenticationError, 429: dms.RateLimitError, 500: dms.InternalServerError}[status]
    return cls("x", response=response, error_code="E", error_msg="m", request_id=None)


@pytest.mark.parametrize(
    ("exc", "stored_maybe", "state"),
    [
        (dms.MalformedResponseError("unreadable", response=httpx.Response(200)), True, "in_doubt"),
        (dms.APIConnectionError(request_sent=True), True, "in_doubt"),
        (dms.APIConnectionError(request_sent=False), False, "failed"),
        (dms.APITimeoutError(request_sent=True), True, "in_doubt"),
        (dms.SendCancelledError("stop", request_sent=True), True, "in_doubt"),
        (dms.SendCancelledError("stop", request_sent=False), False, "not_sent"),
        (_status(500), True, "in_doubt"),
        (_status(429), False, "failed"),
        (_status(401), False, "failed"),
        (dms.ValidationError("bad"), False, "failed"),
        (dms.ConfigurationError("bad"), False, "failed"),
        (RuntimeError("unexpected"), True, "in_doubt"),
    ],
)
def test_what_may_have_been_stored(exc: Exception, stored_maybe: bool, state: str) -> None:
    """Only a refusal, a connection never used or a local error is certainly not stored; the rest is in doubt."""
    assert may_have_been_stored(exc) is stored_maybe
    assert outcome_state(dms.SendFailure({"topic": "t", "body": "b"}, exc)) == state


def test_send_control_keeps_the_first_reason_and_calls_listeners() -> None:
    """abandon() without a stop still stops (with its reason); the first reason stays; each call notifies."""
    control, calls = SendControl(), []
    remove = control.listen(lambda: calls.append(control.stop_reason))
    control.abandon("gone")
    assert (control.stop_reason, control.abandoned, calls) == ("gone", True, ["gone"])
    control.stop("later")
    control.abandon("later")
    assert (control.stop_reason, calls) == ("gone", ["gone"])
    other = SendControl()
    other.listen(lambda: calls.append("other"))
    other.stop("first")
    other.abandon("second")
    assert (other.stop_reason, other.abandoned, calls[-2:]) == ("first", True, ["other", "other"])
    remove()
    remove()  # removing twice is harmless


def test_fail_fast_counts_connection_failures_in_a_row_only() -> None:
    """Another kind of failure, or a success, breaks a run of connection failures."""
    policy = FailFast(enabled=True, max_connection_failures=2)
    down = dms.APIConnectionError(request_sent=False)
    assert policy.reason_to_stop(down) is None
    assert policy.reason_to_stop(_status(500)) is None
    assert policy.reason_to_stop(down) is None
    policy.on_sent()
    assert policy.reason_to_stop(down) is None
    reason = policy.reason_to_stop(down)
    assert reason is not None
    assert reason.startswith("2 connection failures in a row")
    assert FailFast(enabled=False, max_connection_failures=1).reason_to_stop(down) is None


@pytest.mark.parametrize("concurrency", [2, 4])
def test_sync_iter_send_reads_at_most_a_window_ahead(concurrency: int) -> None:
    """With a consumer that stops reading, at most 2 x concurrency outcomes wait for it, and a send per sender."""
    taken = [0]
    with sync_client(echo) as client:
        stream = client.iter_send(_inputs(taken), concurrency=concurrency)
        next(stream)
        # The senders run ahead until the window is full, then wait on the consumer: wait for the count to
        # settle (unchanged over 20 looks) rather than for a fixed time a slow machine could outlast.
        deadline, last, unchanged = time.monotonic() + 30, -1, 0
        while unchanged < 20:
            assert time.monotonic() < deadline, f"the senders never settled ({taken[0]} taken)"
            unchanged = unchanged + 1 if taken[0] == last else 0
            last = taken[0]
            time.sleep(0.01)
        # the hand-over queue (2 x concurrency), the one being handed over, one held by each other sender
        assert 2 * concurrency <= taken[0] <= 3 * concurrency + 1
        stream.close()


@pytest.mark.parametrize("concurrency", [2, 4])
def test_async_iter_send_reads_at_most_a_window_ahead(concurrency: int) -> None:
    """The async window: at most 2 x concurrency inputs taken and not yet handed to the consumer."""
    taken = [0]

    async def main() -> None:
        async with async_client(echo) as client:
            stream = client.iter_send(_inputs(taken), concurrency=concurrency)
            await stream.__anext__()
            for _ in range(500):  # every task runs until it waits on the consumer: no wall clock involved
                await asyncio.sleep(0)
            assert 2 * concurrency <= taken[0] <= 2 * concurrency + 1
            await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(main())


def _refuse(request: httpx.Request) -> httpx.Response:
    return error(401, "APIGW.0301", "refused")


def test_iter_send_fail_fast_stops_both_clients() -> None:
    """iter_send(fail_fast=True) stops taking inputs after a 401 (sync and async); without it, all are tried."""
    taken = [0]
    with sync_client(_refuse) as client:
        assert len(list(client.iter_send(_inputs(taken, 200), concurrency=2, fail_fast=True))) <= 4
        assert len(list(client.iter_send(_inputs([0], 50), concurrency=2))) == 50

    async def main() -> tuple[int, int]:
        async with async_client(_refuse) as client:
            stopped = [pair async for pair in client.iter_send(_inputs([0], 200), concurrency=2, fail_fast=True)]
            every = [pair async for pair in client.iter_send(_inputs([0], 50), concurrency=2)]
        return len(stopped), len(every)

    stopped, every = asyncio.run(main())
    assert stopped <= 4
    assert every == 50


def test_sync_iter_send_raises_the_inputs_error_after_their_outcomes() -> None:
    """An error of the caller's iterable ends iter_send: the outcomes before it come out, then the error."""
    got: list[int] = []

    def consume() -> None:
        with sync_client(echo) as client:
            for index, outcome in client.iter_send(_inputs([0], 100, fail_at=5), concurrency=2):
                assert outcome.ok
                got.append(index)

    with pytest.raises(RuntimeError, match="the input went away"):
        consume()
    assert sorted(got) == list(range(5))


def test_async_iterator_closed_early_gives_up_held_sends_at_once() -> None:
    """Closing the async iterator while sends are held abandons them: aclose returns without waiting."""

    async def main() -> None:
        gate = asyncio.Event()  # never set while the stream closes: a close that waited for it would hang
        holding = asyncio.Semaphore(0)

        async def held(request: httpx.Request) -> httpx.Response:
            if json.loads(request.content)["body"] != "0":  # the first send is answered, the others held
                holding.release()
                await gate.wait()
            return echo(request)

        async with async_client(held) as client:
            stream = client.iter_send(_inputs([0]), concurrency=3)
            index, outcome = await stream.__anext__()
            assert (index, outcome.ok) == (0, True)
            for _ in range(2):  # both other senders hold a send
                await asyncio.wait_for(holding.acquire(), 30)
            await asyncio.wait_for(stream.aclose(), 30)  # type: ignore[attr-defined]
            assert not gate.is_set()
            gate.set()

    asyncio.run(main())


def test_sending_threads_are_daemons() -> None:
    """The sync engine's senders (and iter_send's driver) are named daemon threads: an abandoned send never
    keeps the process alive."""
    seen: list[threading.Thread] = []

    def spy(request: httpx.Request) -> httpx.Response:
        seen.append(threading.current_thread())
        return echo(request)

    with sync_client(spy) as client:
        client.send_many([{"topic": "orders", "body": str(n)} for n in range(4)], concurrency=2)
        stream = client.iter_send(_inputs([0], 50), concurrency=2)  # more than its queue holds: the driver waits
        next(stream)
        drivers = [t for t in threading.enumerate() if t.name == "dms-rocketmq-iter-send"]
        list(stream)
    assert seen
    assert all(t.daemon and t.name.startswith("dms-rocketmq-send-") for t in seen)
    assert drivers
    assert all(t.daemon for t in drivers)


def test_sync_send_many_ctrl_c_once_accounts_for_every_input(ctrl_c: None) -> None:
    """One Ctrl-C: the sends in flight are stored, every other input comes back not sent, naming the Ctrl-C."""
    gate = threading.Event()

    def held(request: httpx.Request) -> httpx.Response:
        gate.wait(10)
        return echo(request)

    inputs: list[Any] = [{"topic": "orders", "body": str(n)} for n in range(20)]
    threading.Timer(0.3, _thread.interrupt_main).start()
    threading.Timer(0.6, gate.set).start()
    with sync_client(held) as client:
        outcomes = client.send_many(inputs, concurrency=2)
    assert [o.ok for o in outcomes] == [True, True] + [False] * 18
    for item, outcome in zip(inputs[2:], outcomes[2:], strict=True):
        assert isinstance(outcome, dms.SendFailure)
        assert outcome.message is item
        error = outcome.exception
        assert isinstance(error, dms.SendCancelledError)
        assert (error.request_sent, error.reason) == (False, "interrupted (Ctrl-C)")


def _timed_sends(count: int, rate: float) -> tuple[float, list[bool]]:
    started = time.monotonic()
    with sync_client(echo) as client:
        outcomes = client.send_many([{"topic": "orders", "body": str(n)} for n in range(count)], rate=rate)
    return time.monotonic() - started, [o.ok for o in outcomes]


def test_rate_spaces_the_sends_of_every_api() -> None:
    """`rate` is a cap in messages per second for send_many and iter_send, sync and async: 6 sends at 20/s
    take at least the 5 gaps of 50 ms between them, and all are stored."""
    elapsed, oks = _timed_sends(6, 20.0)
    assert oks == [True] * 6
    assert elapsed >= 0.2
    inputs = [{"topic": "orders", "body": str(n)} for n in range(6)]
    started = time.monotonic()
    with sync_client(echo) as client:
        assert len(list(client.iter_send(inputs, rate=20.0))) == 6
    assert time.monotonic() - started >= 0.2

    async def main() -> float:
        begun = time.monotonic()
        async with async_client(echo) as client:
            assert all(o.ok for o in await client.send_many(inputs, rate=20.0))
            assert len([pair async for pair in client.iter_send(inputs, rate=20.0)]) == 6
        return time.monotonic() - begun

    assert asyncio.run(main()) >= 0.4


def test_no_more_sending_threads_than_inputs() -> None:
    """A short list is sent by as many threads as it has inputs, not by `concurrency` of them."""
    names: set[str] = set()

    def spy(request: httpx.Request) -> httpx.Response:
        names.update(t.name for t in threading.enumerate() if t.name.startswith("dms-rocketmq-send-"))
        return echo(request)

    with sync_client(spy) as client:
        client.send_many([{"topic": "orders", "body": "0"}], concurrency=16)
    assert names == {"dms-rocketmq-send-0"}
