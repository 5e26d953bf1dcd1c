"""A send that gets no HTTP response says so in one wording, naming the endpoint, whichever HTTP stack sent
it: `Client` (httpx), `AsyncClient` (aiohttp directly) and `AsyncClient` on an httpx transport."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from typing import Any

import dms_rocketmq as dms
import httpx
import pytest

pytestmark = pytest.mark.integration

SETTINGS: dict[str, Any] = {
    "project_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    "instance_id": "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90",
    "ak": "AK",
    "sk": "SK",
    "max_retries": 0,
}


def _sync(endpoint: str, timeout: float) -> BaseException:
    with (
        dms.Client(endpoint=endpoint, timeout=timeout, **SETTINGS) as client,
        pytest.raises(dms.APIConnectionError) as caught,
    ):
        client.send("orders", "x")
    return caught.value


def _async(endpoint: str, timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> BaseException:
    async def run() -> BaseException:
        async with dms.AsyncClient(endpoint=endpoint, timeout=timeout, transport=transport, **SETTINGS) as client:
            with pytest.raises(dms.APIConnectionError) as caught:
                await client.send("orders", "x")
        return caught.value

    return asyncio.run(run())


PATHS: dict[str, Callable[[str, float], BaseException]] = {
    "httpx": _sync,
    "aiohttp": _async,
    "httpx-async": lambda endpoint, timeout: _async(endpoint, timeout, httpx.AsyncHTTPTransport()),
}


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def test_connection_refused_reads_the_same_on_every_path(closed_port: int) -> None:
    """Refused: `Cannot connect to <endpoint>: Connection refused.` on httpx, aiohttp and httpx async alike."""
    endpoint = f"http://127.0.0.1:{closed_port}"
    messages = {name: str(path(endpoint, 5.0)) for name, path in PATHS.items()}
    assert set(messages.values()) == {f"Cannot connect to {endpoint}: Connection refused."}, messages
    assert all(not path(endpoint, 5.0).request_sent for path in PATHS.values())  # type: ignore[attr-defined]


def test_read_timeout_reads_the_same_on_every_path(silent_server: int) -> None:
    """A server that never answers: one timeout wording naming the endpoint and the phase, on every path."""
    endpoint = f"http://127.0.0.1:{silent_server}"
    errors = {name: path(endpoint, 0.3) for name, path in PATHS.items()}
    assert all(isinstance(error, dms.APITimeoutError) for error in errors.values()), errors
    assert {str(error) for error in errors.values()} == {f"Timed out waiting for the response to {endpoint}."}
