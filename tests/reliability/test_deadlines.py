"""Deadlines and cancellation are honoured on the default (aiohttp) path against real loopback servers:
`asyncio.timeout` around `send_many` or an `iter_send` loop raises TimeoutError once the sends in flight are
drained; a send given up while it waits for a connection is not sent (only the request that left is in
doubt); `confirm(timeout=...)` is a deadline for the whole call against a server that never answers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from dms_rocketmq import (
    APITimeoutError,
    AsyncClient,
    Client,
    MessageNotVisibleError,
    SendCancelledError,
    SendFailure,
    SendOutcome,
    SendResult,
)
from dms_rocketmq._bulk import run_threads
from dms_rocketmq._bulk_policy import FailFast, SendControl, outcome_state
from dms_rocketmq._rate import AdaptiveRate
from emulators import INSTANCE_ID, PROJECT_ID, TOKEN, EmulatorFactory, EmulatorProcess
from test_client_waits import options, stalling_server

TOPIC = "deadlines"


@pytest.fixture(scope="module")
def emulator(start_emulator: EmulatorFactory) -> EmulatorProcess:
    return start_emulator("--topic", f"{TOPIC}:4", auth=True)


@pytest.fixture
def control(emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, timeout=10) as client:
        client.post("/_emulator/faults", json={"count": 0}).raise_for_status()
        yield client
        client.post("/_emulator/faults", json={"count": 0}).raise_for_status()


def client_options(emulator: EmulatorProcess) -> dict[str, Any]:
    return {
        "endpoint": emulator.url,
        "project_id": PROJECT_ID,
        "instance_id": INSTANCE_ID,
        "token": TOKEN,
        "environ": {},
    }


def messages(count: int, tag: str) -> list[dict[str, str]]:
    return [{"topic": TOPIC, "body": f"{tag}-{n}"} for n in range(count)]


def stored(emulator: EmulatorProcess, tag: str) -> list[str]:
    return sorted(m["body"] for m in emulator.messages(TOPIC) if m["body"].startswith(f"{tag}-"))


@pytest.mark.timeout(60)
def test_asyncio_timeout_around_send_many_raises_after_draining_the_sends_in_flight(
    emulator: EmulatorProcess, control: httpx.Client
) -> None:
    """A deadline that passes while sends are slow: the sends in flight finish (their outcomes delivered),
    no new input is taken, and TimeoutError is raised instead of a normal return."""
    control.post("/_emulator/faults", json={"count": 50, "status": 200, "delay_ms": 1500}).raise_for_status()
    seen: list[SendOutcome] = []

    async def main() -> None:
        async with AsyncClient(**client_options(emulator)) as client:
            async with asyncio.timeout(0.3):
                await client.send_many(messages(50, "timeout-many"), concurrency=4, on_outcome=seen.append)

    with pytest.raises(TimeoutError):
        asyncio.run(main())
    assert [outcome_state(o) for o in seen] == ["sent"] * 4
    assert stored(emulator, "timeout-many") == sorted(o.sent.body for o in seen if isinstance(o, SendResult))  # type: ignore[union-attr]


@pytest.mark.timeout(60)
def test_asyncio_timeout_around_an_iter_send_loop_raises(emulator: EmulatorProcess, control: httpx.Client) -> None:
    """The same deadline around an `async for` over iter_send: TimeoutError, and the sends in flight were
    let finish (stored once each), nothing more taken."""
    control.post("/_emulator/faults", json={"count": 50, "status": 200, "delay_ms": 1500}).raise_for_status()
    yielded: list[tuple[int, SendOutcome]] = []

    async def main() -> None:
        async with AsyncClient(**client_options(emulator)) as client:
            async with asyncio.timeout(0.3):
                async for pair in client.iter_send(messages(50, "timeout-iter"), concurrency=4):
                    yielded.append(pair)

    with pytest.raises(TimeoutError):
        asyncio.run(main())
    assert yielded == []
    assert len(stored(emulator, "timeout-iter")) == 4


@pytest.mark.timeout(60)
def test_sends_waiting_for_the_only_connection_are_not_sent_when_abandoned() -> None:
    """max_connections=1, concurrency=4, cancelled twice: the one request that left is in doubt, the three
    that waited for the connection are not sent (safe to send again), and the cancellation propagates."""
    seen: list[SendOutcome] = []
    with stalling_server(reads=True) as server:

        async def main() -> None:
            async with AsyncClient(**options(server.endpoint, timeout=30, max_connections=1)) as client:
                task = asyncio.create_task(client.send_many(messages(4, "gate"), concurrency=4, on_outcome=seen.append))
                assert await asyncio.to_thread(server.accepted.wait, 10)
                task.cancel()
                for _ in range(5):  # let the task take its first cancellation (a stop) before the second
                    await asyncio.sleep(0)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task

        asyncio.run(main())
    states = sorted(outcome_state(o) for o in seen)
    assert states == ["in_doubt", "not_sent", "not_sent", "not_sent"]
    assert all(isinstance(o, SendFailure) and isinstance(o.exception, SendCancelledError) for o in seen)


@pytest.mark.timeout(60)
def test_a_client_send_abandoned_after_its_request_left_is_in_doubt() -> None:
    """Client on its default (direct) path: a send whose request reached the server, then abandoned, is in
    doubt (it may have been stored), never "not sent" (which --resume would send again)."""
    delivered: list[SendOutcome] = []
    control = SendControl()
    with stalling_server(reads=True) as server, Client(**options(server.endpoint, timeout=30)) as client:

        def abandon_once_the_request_arrived() -> None:
            server.accepted.wait(10)
            control.abandon("the operator gave up")

        threading.Thread(target=abandon_once_the_request_arrived, daemon=True).start()
        run_threads(
            client._send_input,
            messages(1, "left-sync"),
            lambda index, item, outcome: delivered.append(outcome),
            concurrency=1,
            rate=AdaptiveRate(None),
            fail_fast=FailFast(enabled=False, max_connection_failures=1),
            control=control,
            catch_interrupt=False,
        )
    for thread in threading.enumerate():
        if thread.name.startswith("dms-rocketmq-send-"):
            thread.join(10)
    assert [outcome_state(o) for o in delivered] == ["in_doubt"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("use_async", [False, True], ids=["Client", "AsyncClient"])
def test_confirm_timeout_is_a_deadline_for_the_whole_call(use_async: bool) -> None:
    """Against a server that accepts and never answers, confirm(timeout=0.3) ends in MessageNotVisibleError
    whose cause is the last query's APITimeoutError, instead of waiting out the client's timeout and retries."""
    result = SendResult(
        msg_id="7F00000100002A9F0000000000000001",
        queue_id=0,
        queue_offset=0,
        broker_name="broker",
        uniq_key=None,
        topic="orders",
        properties={},
        request_id=None,
    )
    with stalling_server(reads=True) as server:
        settings = options(server.endpoint, timeout=120, max_retries=5)
        if use_async:

            async def main() -> Any:
                async with AsyncClient(**settings) as client:
                    return await client.confirm(result, timeout=0.3)

            with pytest.raises(MessageNotVisibleError) as caught:
                asyncio.run(main())
        else:
            with Client(**settings) as client, pytest.raises(MessageNotVisibleError) as caught:
                client.confirm(result, timeout=0.3)
    assert isinstance(caught.value.__cause__, APITimeoutError)
    assert "the last query failed: APITimeoutError" in str(caught.value)
