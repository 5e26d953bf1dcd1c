"""What the emulator's gateway protocol class costs per request, against uvicorn's own httptools protocol.

In process, no socket: one keep-alive connection object of each class is fed the same signed SendMessage
request (head and body in one read, as a client on loopback sends it) N times, a trivial ASGI app answering
each; the CPU time per request is reported, the minimum over several interleaved runs (noise on a shared
machine only ever adds). What differs is only `dms_rocketmq_emulator._http.GatewayProtocol`'s work: counting
the head as it arrives, its parser callbacks, the read deadlines.

Run: `.venv/bin/python bench/protocol.py [--requests N] [--runs N]`. Prints; writes nothing; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import uvicorn
from dms_rocketmq_api.spec_rules import ENGINES, operation_path
from dms_rocketmq_emulator._config import DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID
from dms_rocketmq_emulator._http import gateway_protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

PATH = operation_path("SendMessage", engine=ENGINES[0], project_id=DEFAULT_PROJECT_ID, instance_id=DEFAULT_INSTANCE_ID)
BODY = b'{"topic":"orders","body":"' + b"x" * 100 + b'","property_list":[{"name":"KEYS","value":"order-1"}]}'
SIGNED = "content-type;host;x-project-id;x-sdk-date"
HEAD = (
    f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:8765\r\nContent-Type: application/json\r\n"
    f"X-Project-Id: {DEFAULT_PROJECT_ID}\r\nX-Sdk-Date: 20261207T120000Z\r\n"
    f"Authorization: SDK-HMAC-SHA256 Access=AK, SignedHeaders={SIGNED}, Signature={'a' * 64}\r\n"
    f"User-Agent: python-httpx/0.28.1\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\n"
    f"Content-Length: {len(BODY)}\r\n\r\n"
).encode()


class _Transport(asyncio.Transport):
    """Takes writes and drops them."""

    def write(self, data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8765)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _answer(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})


async def _microseconds_per_request(protocol_class: type[asyncio.Protocol], requests: int) -> float:
    config = uvicorn.Config(_answer, log_level="critical", lifespan="off")
    protocol: Any = protocol_class(config=config, server_state=ServerState(), app_state={})  # type: ignore[call-arg]
    protocol.connection_made(_Transport())
    request = HEAD + BODY
    start = time.process_time()
    for _ in range(requests):
        protocol.data_received(request)
        await asyncio.sleep(0)  # the app's task reads the body
        await asyncio.sleep(0)  # and answers
    elapsed = time.process_time() - start
    protocol.connection_lost(None)
    return elapsed / requests * 1e6


async def _main(requests: int, runs: int) -> None:
    contenders: dict[str, type[asyncio.Protocol]] = {
        "uvicorn HttpToolsProtocol": HttpToolsProtocol,
        "GatewayProtocol": gateway_protocol(),
    }
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(runs):
        for name, protocol_class in contenders.items():
            best[name] = min(best[name], await _microseconds_per_request(protocol_class, requests))
    for name, value in best.items():
        print(f"{name:28} {value:6.1f} µs CPU/request (min of {runs} runs of {requests:,})")
    extra = best["GatewayProtocol"] - best["uvicorn HttpToolsProtocol"]
    print(f"{'GatewayProtocol costs':28} {extra:+6.1f} µs CPU/request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(_main(args.requests, args.runs))


if __name__ == "__main__":
    main()
