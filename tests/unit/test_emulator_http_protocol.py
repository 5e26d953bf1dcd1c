"""The gateway protocol counts a request head exactly however its bytes are split across reads (no sockets)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import uvicorn
from dms_rocketmq_api.spec_rules import HEADER_MAX_BYTES
from dms_rocketmq_emulator._http import gateway_protocol
from hypothesis import given, settings
from hypothesis import strategies as st
from uvicorn.server import ServerState

PATH = "/v2/rocketmq/0a1b2c3d4e5f60718293a4b5c6d7e8f9/instances/11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90/messages"


class RecordingTransport(asyncio.Transport):
    """A transport that keeps what is written and whether it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False
        self.reading = asyncio.Event()
        self.reading.set()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True
        self.reading.set()

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8765)}.get(name, default)

    def pause_reading(self) -> None:
        self.reading.clear()

    def resume_reading(self) -> None:
        self.reading.set()


async def _answer(scope: Any, receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def head_of(size: int) -> bytes:
    """A GET whose request line and headers, blank line included, are exactly `size` bytes."""
    base = f"GET {PATH} HTTP/1.1\r\nHost: h\r\nX-Pad: \r\n\r\n".encode()
    return base.replace(b"X-Pad: ", b"X-Pad: " + b"p" * (size - len(base)))


async def feed(pieces: list[bytes]) -> RecordingTransport:
    protocol_class = gateway_protocol(header_timeout=60, body_timeout=60)
    config = uvicorn.Config(_answer, log_level="critical", lifespan="off")
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    for piece in pieces:
        await transport.reading.wait()  # paused while the app answers an earlier request
        if transport.closed:
            break
        protocol.data_received(piece)
    for _ in range(10):  # let the app answer
        await asyncio.sleep(0)
    protocol.connection_lost(None)
    return transport


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=200)
@given(cuts=st.lists(st.integers(0, HEADER_MAX_BYTES + 1), max_size=8), over=st.booleans())
def test_the_head_limit_holds_across_any_split(cuts: list[int], over: bool) -> None:
    """A head of exactly the limit is served and one byte more refused, however the bytes arrive."""
    data = head_of(HEADER_MAX_BYTES + over)
    transport = asyncio.run(feed(split(data, cuts)))
    if over:
        assert transport.written.startswith(b"HTTP/1.1 400 "), transport.written[:200]
        assert b"Request headers too large" in transport.written
    else:
        assert transport.written.startswith(b"HTTP/1.1 204 "), transport.written[:200]


@settings(max_examples=200)
@given(cuts=st.lists(st.integers(0, HEADER_MAX_BYTES + 200), max_size=8), over=st.booleans())
def test_a_pipelined_head_is_held_to_the_limit_across_any_split(cuts: list[int], over: bool) -> None:
    """A request pipelined behind another (in the same reads or not) is served at the limit and refused one
    byte over, after the first request's answer."""
    first = f"GET {PATH} HTTP/1.1\r\nHost: h\r\n\r\n".encode()
    data = first + head_of(HEADER_MAX_BYTES + over)
    transport = asyncio.run(feed(split(data, cuts)))
    assert transport.written.startswith(b"HTTP/1.1 204 "), transport.written[:200]
    second = transport.written[transport.written.index(b"\r\n\r\n") + 4 :]
    if over:
        assert second.startswith(b"HTTP/1.1 400 "), second[:200]
        assert b"Request headers too large" in second
    else:
        assert second.startswith(b"HTTP/1.1 204 "), second[:200]
