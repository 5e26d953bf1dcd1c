"""Helpers shared by the wrapper's unit tests: a fake DMS behind httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from _shared.aiohttp_memory import MemoryConnector
from dms_rocketmq import AsyncClient, Client

REQUEST_ID = "5d0f0c2b8a6e4f1c9b7a3e2d1c0b9a8f"
SETTINGS: dict[str, Any] = {
    "endpoint": "http://dms.test",
    "project_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    "instance_id": "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90",
    "ak": "test-ak",
    "sk": "test-sk-secret",
    "environ": {},
}


def stored(request: httpx.Request, offset: int = 0) -> httpx.Response:
    """The 200 response the real service sends for the message in `request`."""
    sent = json.loads(request.content)
    return httpx.Response(
        200,
        json={
            "topic": sent["topic"],
            "body": sent["body"],
            "property_list": [*sent.get("property_list", []), {"name": "UNIQ_KEY", "value": "7F00000100C8A1B2"}],
            "msg_id": "7F00000100C8A1B2C3D4000A51E00001",
            "queue_id": 3,
            "queue_offset": offset,
            "broker_name": "broker-0",
        },
        headers={"X-Request-Id": REQUEST_ID},
    )


def error(
    status: int, code: str = "DMS.00400062", msg: str = "Invalid topic parameter in the request.", **headers: str
) -> httpx.Response:
    """A Huawei error response."""
    return httpx.Response(
        status, json={"error_code": code, "error_msg": msg}, headers={"X-Request-Id": REQUEST_ID, **headers}
    )


def sync_client(handler: Callable[[httpx.Request], httpx.Response], **overrides: Any) -> Client:
    """A Client whose requests go to `handler`."""
    return Client(**{**SETTINGS, **overrides}, transport=httpx.MockTransport(handler))


def async_client(
    handler: Callable[[httpx.Request], Any], *, generated_path: bool = False, **overrides: Any
) -> AsyncClient:
    """An AsyncClient whose requests go to `handler`: on its default path, as users run it (aiohttp, its
    connections answered in memory), or with `generated_path` on the generated path (`httpx.MockTransport`)."""
    if generated_path:
        return AsyncClient(**{**SETTINGS, **overrides}, transport=httpx.MockTransport(handler))
    client = AsyncClient(**{**SETTINGS, **overrides})
    limit = client.network.max_connections
    client.network.aiohttp_connector = lambda: MemoryConnector(handler, limit)  # type: ignore[method-assign]
    return client
