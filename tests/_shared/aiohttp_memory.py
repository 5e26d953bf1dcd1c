"""An aiohttp connector whose connections are answered in memory by an httpx handler (no sockets).

`AsyncClient`'s default path sends with aiohttp (its direct sender, and the read-back's httpx-aiohttp
transport), both on the connector its network settings make (`client.network.aiohttp_connector`). Replacing
that one factory with `MemoryConnector(handler)` lets the unit tests run the default path, aiohttp's HTTP/1.1
writer and parser included, against the same `httpx.MockTransport`-style handlers the generated path uses:
each request is parsed with h11, handed to the handler as an `httpx.Request` (a coroutine handler is
awaited), and its `httpx.Response` is written back as HTTP/1.1 bytes on the same keep-alive connection.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import aiohttp
import h11
import httpx
from aiohttp.client_proto import ResponseHandler

Handler = Callable[[httpx.Request], Any]


class MemoryTransport(asyncio.Transport):
    """One connection: the bytes aiohttp writes are a request for `handler`; its answer is fed back."""

    def __init__(self, protocol: ResponseHandler, handler: Handler, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._protocol = protocol
        self._handler = handler
        self._loop = loop
        self._server = h11.Connection(h11.SERVER)
        self._closing = False
        self._request: h11.Request | None = None
        self._body = bytearray()
        self._tasks: set[asyncio.Task[None]] = set()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing:
            return
        self._server.receive_data(bytes(data))
        self._process()

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _process(self) -> None:
        while True:
            event = self._server.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Request):
                self._request, self._body = event, bytearray()
            elif isinstance(event, h11.Data):
                self._body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert self._request is not None
                task = self._loop.create_task(self._answer(self._request, bytes(self._body)))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                return

    async def _answer(self, head: h11.Request, body: bytes) -> None:
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in head.headers]
        host = dict((k.lower(), v) for k, v in headers).get("host", "memory")
        request = httpx.Request(
            head.method.decode(), f"http://{host}{head.target.decode()}", headers=headers, content=body
        )
        response = self._handler(request)
        if inspect.isawaitable(response):
            response = await response
        assert isinstance(response, httpx.Response)
        content = response.read()
        response_headers = [
            (name, value)
            for name, value in response.headers.raw
            if name.lower() not in (b"content-length", b"transfer-encoding", b"connection")
        ]
        response_headers.append((b"content-length", str(len(content)).encode()))
        if self._closing:
            return
        data = self._server.send(h11.Response(status_code=response.status_code, headers=response_headers))
        data += self._server.send(h11.Data(data=content)) if content else b""
        data += self._server.send(h11.EndOfMessage())
        self._server.start_next_cycle()
        self._protocol.data_received(data)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            for task in self._tasks:
                task.cancel()
            self._loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_reading(self) -> bool:
        return not self._closing

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass


class MemoryConnector(aiohttp.BaseConnector):
    """A connector with aiohttp's pooling and limits, whose new connections are `MemoryTransport`s."""

    def __init__(self, handler: Handler, limit: int = 100) -> None:
        super().__init__(limit=limit, limit_per_host=0)
        self._handler = handler

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> ResponseHandler:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        protocol = ResponseHandler(loop)
        protocol.connection_made(MemoryTransport(protocol, self._handler, loop))
        return protocol
