"""The two uvicorn internals the emulator leans on still hold, so that an upgrade that breaks one fails here.

- `_responses._drop_connection` closes the connection through `receive.__self__.transport` (uvicorn's
  request cycle owns the transport; ASGI gives no way to drop a connection without a response).
- `_cli.main` reads `uvicorn.Server.started` to tell a server that ran from one that never started.

Both are checked on each HTTP implementation uvicorn may pick (h11, and httptools when installed, which is
what the emulator runs on by default).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
import uvicorn
from dms_rocketmq_emulator._cli import uvicorn_options

pytestmark = pytest.mark.integration


class _Probe:
    """An ASGI app that answers 200 and records, while a request is served, what `receive.__self__.transport`
    is and what its server's `started` says."""

    def __init__(self) -> None:
        self.server: uvicorn.Server | None = None
        self.seen: list[tuple[Any, bool]] = []

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        assert self.server is not None
        self.seen.append((getattr(getattr(receive, "__self__", None), "transport", None), self.server.started))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_receive_carries_the_transport_and_the_server_says_it_started(http: str) -> None:
    """Under uvicorn, `receive.__self__.transport` is the connection's asyncio transport, and `Server.started`
    is False before the server runs and True while it serves."""
    probe = _Probe()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # a request made now waits in the backlog until the server accepts it: no polling
    server = probe.server = uvicorn.Server(uvicorn.Config(probe, http=http, **uvicorn_options("warning")))
    assert server.started is False
    thread = threading.Thread(target=asyncio.run, args=(server.serve(sockets=[sock]),))
    thread.start()
    try:
        answer = httpx.get(f"http://127.0.0.1:{sock.getsockname()[1]}/", timeout=30)
        assert answer.status_code == 200
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
    [(transport, started)] = probe.seen
    assert isinstance(transport, asyncio.Transport)
    assert started is True
