"""Every wait of the clients has a bound, and AsyncClient leaks no connection pool across event loops.

The servers here are raw asyncio sockets on 127.0.0.1 that misbehave on purpose: they accept and never read
(a stalled upload), or read the request and never answer. Whatever they do, a send ends with a typed
`APITimeoutError` whose `request_sent` says whether the message can have left, never a hang.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import socket
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from dms_rocketmq import APITimeoutError, AsyncClient, Client, SendResult
from dms_rocketmq._fast_path import UPLOAD_CANNOT_STALL, DirectSender
from emulators import INSTANCE_ID, PROJECT_ID, EmulatorProcess


class StallingServer:
    """Accepts connections on a loopback port and never answers; `reads` says whether it reads the requests.

    Every connection is closed before the server's loop is, one accepted in the same moment as the stop too
    (asyncio still making its transport, or its handler not yet started): a connection left open would be
    collected later, with a ResourceWarning, in whichever test runs then.
    """

    def __init__(self, *, reads: bool) -> None:
        self.reads = reads
        self._loop = asyncio.new_event_loop()
        listener = socket.create_server(("127.0.0.1", 0))
        # A small receive window: a server that does not read stalls the client's upload after a few KB.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
        self.accepted = threading.Event()
        self._stop = asyncio.Event()
        self._handlers: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        started = threading.Event()

        async def serve() -> None:
            # A plain callable, not a coroutine function: asyncio calls it as the connection is made, so every
            # connection is known from its first moment.
            server = await asyncio.start_server(self._accept, sock=listener)
            started.set()
            await self._stop.wait()
            # asyncio finishes accepting a connection in a task of its own, which makes the transport; closing
            # the server under it fails (3.11) and leaks the socket. So those tasks end first, and the server is
            # closed with no await in between: no connection is accepted after.
            this = asyncio.current_task()
            while accepting := [t for t in asyncio.all_tasks() if t is not this and t not in self._handlers]:
                await asyncio.gather(*accepting, return_exceptions=True)
            server.close()
            for writer in self._handlers.values():
                writer.transport.abort()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await server.wait_closed()

        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(serve(),), daemon=True)
        self._thread.start()
        assert started.wait(10)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._handlers[asyncio.get_running_loop().create_task(self._handle(reader, writer))] = writer
        self.accepted.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while not self._stop.is_set():
                if self.reads:
                    if not await reader.read(65536):
                        break
                else:
                    await asyncio.sleep(0.05)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()


@contextlib.contextmanager
def stalling_server(*, reads: bool) -> Iterator[StallingServer]:
    server = StallingServer(reads=reads)
    try:
        yield server
    finally:
        server.close()


def options(endpoint: str, **overrides: Any) -> dict[str, Any]:
    return {
        "endpoint": endpoint,
        "project_id": PROJECT_ID,
        "instance_id": INSTANCE_ID,
        "ak": "AKEXAMPLE",
        "sk": "sk-example",
        "max_retries": 0,
        "environ": {},
        **overrides,
    }


def send_once(endpoint: str, use_async: bool, body: str, **overrides: Any) -> SendResult:
    """One send through a new Client or AsyncClient, closed afterwards."""
    if not use_async:
        with Client(**options(endpoint, **overrides)) as client:
            return client.send("orders", body)

    async def send() -> SendResult:
        async with AsyncClient(**options(endpoint, **overrides)) as client:
            return await client.send("orders", body)

    return asyncio.run(send())


def _resource_warnings_when_collected(make_garbage: Any) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_garbage()
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


# About 9 MB on the wire once JSON-escaped: far more than the kernel's buffers hold for a server that never reads.
STALLING_BODY = "\x01" * 1_500_000


@pytest.mark.parametrize("reads", [False, True], ids=["never-reads", "reads"])
def test_the_stalling_server_closes_every_connection_even_one_made_as_it_stops(
    reads: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The peer of the tests below leaves nothing behind: connections made just before it stops, their handlers
    not yet started, are closed with it (else a later test is blamed for the ResourceWarning)."""

    def connect_and_stop() -> None:
        for _ in range(20):
            server = StallingServer(reads=reads)
            with socket.create_connection(("127.0.0.1", int(server.endpoint.rsplit(":", 1)[1]))):
                server.close()

    assert _resource_warnings_when_collected(connect_and_stop) == []
    assert "Task was destroyed but it is pending" not in caplog.text


@pytest.mark.timeout(30)  # a hang fails fast here
@pytest.mark.parametrize("use_async", [False, True], ids=["Client", "AsyncClient"])
def test_a_stalled_upload_times_out(use_async: bool) -> None:
    """A server that never reads the body: the send raises APITimeoutError(request_sent=True), no hang.

    aiohttp closes a timed-out connection gracefully: its socket stays open while unsent bytes wait for the
    peer, so when the event loop ends first it is collected with a ResourceWarning (docs/wrapper.md). It is
    collected here, so that the warning is this test's, and only that one is accepted.
    """
    timeout = httpx.Timeout(1.0)

    def stall() -> None:
        with stalling_server(reads=False) as server, pytest.raises(APITimeoutError) as caught:
            send_once(server.endpoint, use_async, STALLING_BODY, timeout=timeout)
        assert caught.value.request_sent is True

    leaks = _resource_warnings_when_collected(stall)
    stalled_socket = ("unclosed transport <_SelectorSocketTransport closing", "unclosed <socket.socket")
    assert [leak for leak in leaks if not (use_async and leak.startswith(stalled_socket))] == []


@pytest.mark.timeout(30)  # a hang fails fast here
@pytest.mark.parametrize("use_async", [False, True], ids=["Client", "AsyncClient"])
def test_an_answer_that_never_comes_times_out(use_async: bool) -> None:
    """A server that reads the request and never answers: APITimeoutError(request_sent=True) after `read`."""
    timeout = httpx.Timeout(0.5)
    with stalling_server(reads=True) as server, pytest.raises(APITimeoutError) as caught:
        send_once(server.endpoint, use_async, "x", timeout=timeout)
    assert caught.value.request_sent is True


@pytest.mark.timeout(30)  # a hang fails fast here
@pytest.mark.parametrize("use_async", [False, True], ids=["Client", "AsyncClient"])
def test_a_send_waiting_for_a_pooled_connection_times_out_unsent(use_async: bool) -> None:
    """More sends than connections: the one waiting for the pool past `pool` gets APITimeoutError(request_sent=False)
    (the retryable kind), on both clients alike, while the one holding the connection waits for its answer."""
    timeout = httpx.Timeout(3.0, pool=0.3)
    with stalling_server(reads=True) as server:
        client_options = options(server.endpoint, timeout=timeout, max_connections=1)
        if use_async:

            async def send_two() -> list[Any]:
                async with AsyncClient(**client_options) as client:
                    holder = asyncio.create_task(client.send("orders", "holds the only connection"))
                    assert await asyncio.to_thread(server.accepted.wait, 10)
                    waiter = asyncio.create_task(client.send("orders", "waits for it"))
                    return list(await asyncio.gather(holder, waiter, return_exceptions=True))

            holder_outcome, waiter_outcome = asyncio.run(send_two())
        else:
            with Client(**client_options) as client, concurrent.futures.ThreadPoolExecutor(2) as pool:
                holder = pool.submit(client.send, "orders", "holds the only connection")
                assert server.accepted.wait(10)
                waiter = pool.submit(client.send, "orders", "waits for it")
                holder_outcome, waiter_outcome = (future.exception(timeout=30) for future in (holder, waiter))
    assert isinstance(waiter_outcome, APITimeoutError)
    assert waiter_outcome.request_sent is False
    assert isinstance(holder_outcome, APITimeoutError)
    assert holder_outcome.request_sent is True


def test_each_event_loop_closes_its_own_pool(open_emulator: EmulatorProcess) -> None:
    """One AsyncClient used in three asyncio.run calls, never aclosed: each loop's pool closes with its loop."""

    def use_in_three_loops() -> None:
        client = AsyncClient(**options(open_emulator.url))

        async def send(body: str) -> SendResult:
            return await client.send("orders", body)

        for body in ("one", "two", "three"):
            assert asyncio.run(send(body)).msg_id

    assert _resource_warnings_when_collected(use_in_three_loops) == []


def test_aclose_closes_the_pools_of_loops_in_other_threads(open_emulator: EmulatorProcess) -> None:
    """A client sending from two loops at once (two threads): aclose in one closes the other loop's pool too."""

    def use_from_two_threads() -> None:
        client = AsyncClient(**options(open_emulator.url))
        other_loop = asyncio.new_event_loop()
        runner = threading.Thread(target=other_loop.run_forever, daemon=True)
        runner.start()
        try:
            asyncio.run_coroutine_threadsafe(client.send("orders", "other thread"), other_loop).result(30)

            async def send_then_close() -> None:
                await client.send("orders", "this thread")
                await client.aclose()

            asyncio.run(send_then_close())
            with pytest.raises(RuntimeError, match="closed"):
                asyncio.run_coroutine_threadsafe(client.send("orders", "after aclose"), other_loop).result(30)
        finally:
            other_loop.call_soon_threadsafe(other_loop.stop)
            runner.join(10)
            other_loop.close()

    assert _resource_warnings_when_collected(use_from_two_threads) == []


@pytest.mark.timeout(15)  # with the write allowance (60 s) the deadline would come long after this
def test_async_a_body_that_cannot_stall_waits_connect_plus_read_for_its_answer() -> None:
    """A request body just under UPLOAD_CANNOT_STALL bytes to a server that never reads: it is handed to the
    socket without waiting, so the attempt's deadline is `connect + read` (1 s), not `connect + write + read`."""
    body = "x" * (UPLOAD_CANNOT_STALL - 100)
    timeout = httpx.Timeout(60.0, connect=0.5, read=0.5)
    with stalling_server(reads=False) as server, pytest.raises(APITimeoutError) as caught:
        send_once(server.endpoint, True, body, timeout=timeout)
    assert caught.value.request_sent is True


@pytest.mark.parametrize(
    ("timeout", "small", "large"),
    [
        (httpx.Timeout(5.0, connect=1.0, write=2.0, read=3.0), 4.0, 6.0),
        (httpx.Timeout(5.0, connect=1.0, write=None, read=3.0), 4.0, None),
        (httpx.Timeout(5.0, connect=1.0, write=2.0, read=None), None, None),
        (httpx.Timeout(None), None, None),
    ],
)
def test_async_deadline_is_connect_plus_read_plus_write_for_a_body_that_can_stall(
    timeout: httpx.Timeout, small: float | None, large: float | None
) -> None:
    """One deadline per attempt (no per-read timer); connecting is bounded by `connect` on its own."""
    for deadline, total in zip(DirectSender.aiohttp_timeouts(timeout), (small, large), strict=True):
        assert (deadline.total, deadline.sock_connect, deadline.sock_read) == (total, timeout.connect, None)
